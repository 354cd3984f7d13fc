"""The device catalog: devices, links and platforms loaded from YAML folders, and targets.

Layout of a catalog folder (the built-in one is ``devices/`` at the top of the repository)::

    devices/<name>.yaml             one device (DeviceSpec)
    devices/links/<name>.yaml       one link type (LinkSpec)
    devices/platforms/<name>.yaml   one platform (PlatformSpec)
    devices/runtimes/<name>.yaml    one runtime (RuntimeSpec; dse.devices.runtimes)

Runtimes registered from Python (:func:`dse.devices.runtimes.register_runtime`, the entry-point
group ``dse.runtimes``) join the files' runtimes when a catalog is built.

A device may start from another with ``base: <name>`` and change some fields (the co-design
question "what if this accelerator had twice the on-chip memory?" is a three-line file). Its
sources are the base's plus its own, its own first.

A *target* is a device under one runtime, optionally driven by one host
(:meth:`Catalog.target`): the device's spec with the overlay fitted on that target applied
(:mod:`dse.devices.overlay`). Overlays are applied to the YAML data of every device of a
``base:`` chain *before* the chain resolves, so a what-if built on a fitted device inherits
every fitted value it does not set itself (its sources say so). :meth:`Catalog.device` is a
device's default-runtime target.

Extra folders: ``Catalog()`` (and :func:`default_catalog`) load the built-in folder, then
every folder of the ``DSE_CATALOG`` environment variable (separated by ``os.pathsep``, ``:`` on
Linux), read when the catalog is built (:func:`catalog_folders`). That is how a probed machine
(``dse host probe`` writes ``<dir>/host.yaml`` and ``<dir>/platforms/host.yaml``) becomes the
device and platform ``host`` everywhere; without one, ``host`` is an unknown name like any
other, and the message says to run ``dse host probe``.

A catalog is built once and never changes: its mappings are read-only and
:meth:`Catalog.with_devices` returns a new catalog. Every file (and every overlay) is validated
when the catalog is loaded, and one :class:`~dse.errors.SpecError` lists every problem of every
file.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from dse.catalog import catalog_dir
from dse.devices.kinds import device_kind
from dse.devices.overlay import Overlay, apply_values, load_overlay_folder, target_name
from dse.devices.runtimes import default_runtime_problems, load_runtimes
from dse.errors import Problem, SpecError, did_you_mean
from dse.spec.device import DeviceSpec
from dse.spec.loading import load_yaml, validate
from dse.spec.platform import AcceleratorGroup, LinkSpec, PlatformSpec
from dse.spec.runtime import RuntimeSpec

__all__ = ["CATALOG_ENV", "Catalog", "catalog_folders", "default_catalog", "probe_hint"]

#: The environment variable naming extra catalog folders (``os.pathsep``-separated).
CATALOG_ENV = "DSE_CATALOG"


def probe_hint(name: str) -> str:
    """What to add to an "unknown name" message: for ``host`` (what ``dse measure`` rows are
    named), how to probe this machine; nothing for other names."""
    if name != "host":
        return ""
    return (f"; to describe this machine as 'host', run `dse host probe --out DIR/host.yaml` "
            f"and load DIR with --catalog DIR or {CATALOG_ENV}=DIR")


def catalog_folders() -> tuple[Path, ...]:
    """The built-in catalog folder, then the folders ``DSE_CATALOG`` names (read now)."""
    extra = os.environ.get(CATALOG_ENV, "")
    return (catalog_dir("devices"), *(Path(p) for p in extra.split(os.pathsep) if p.strip()))


#: A target: device, runtime (resolved: ``None`` only for a device without a default runtime)
#: and host (``None``: any host).
_Key = tuple[str, str | None, str | None]


class _Raw(NamedTuple):
    """A device's YAML data, with where it came from (for messages)."""

    file: str
    data: Any
    prefix: str = ""


class Catalog:
    """Devices, links and platforms from one or more catalog folders, and fitted overlays.

    Later folders may add entries but not redefine earlier ones (a user folder can add a what-if
    device built with ``base:`` on a catalog one).

    Args:
        folders: Catalog folders; default: :func:`catalog_folders` (the built-in ``devices/``
            and those of ``DSE_CATALOG``).
        overlays: Fitted overlays, each for one target (:class:`~dse.devices.overlay.Overlay`):
            a folder of overlay files (``<device>[@<runtime>[@<host>]].yaml``), or a mapping
            of labels naming where each came from (a file, for messages) to overlays.

    Attributes:
        devices: Name -> the device's default-runtime target (read-only).
        links / platforms / files: Read-only mappings of the catalog's entries and files.
        overlays: Target name (``coral_usb@edgetpu``) -> the overlay fitted on it (read-only).

    Raises:
        SpecError: Any file or overlay is invalid, or an overlay is for a device, runtime or
            host the catalog does not have; the error lists every problem of every file.
    """

    def __init__(self, *folders: Path | str,
                 overlays: Path | str | Mapping[str, Overlay] | None = None) -> None:
        problems: list[Problem] = []
        given = tuple(f for f in (tuple(Path(f) for f in folders) or catalog_folders())
                      if not _folder_problems(f, problems))
        # one folder named twice (--catalog DIR beside DSE_CATALOG=DIR) is read once
        self.folders = tuple(f for i, f in enumerate(given)
                             if f.resolve() not in {g.resolve() for g in given[:i]})
        self.files: dict[str, Path] = {}
        raw_devices: dict[str, tuple[str, dict[str, Any]]] = {}
        raw_links: dict[str, tuple[str, Any]] = {}
        raw_platforms: dict[str, tuple[str, Any]] = {}
        for folder in self.folders:
            for sub, into in (("", raw_devices), ("links", raw_links),
                              ("platforms", raw_platforms)):
                for path in sorted((folder / sub).glob("*.yaml")):
                    label = _label(path)
                    data, found = load_yaml(path, label=label)
                    problems += found
                    if found:
                        continue
                    name = path.stem
                    if isinstance(data, dict) and data.setdefault("name", name) != name:
                        problems.append(Problem(label, "name", f"must match the file name "
                                                f"{name!r}, got {data['name']!r}"))
                        continue
                    if name in into:
                        problems.append(Problem(label, "", f"{name!r} is already defined in "
                                                f"{into[name][0]}"))
                        continue
                    into[name] = (label, data)
                    self.files[f"{sub or 'devices'}/{name}"] = path
        self.links: dict[str, LinkSpec] = {}
        for name, (label, data) in raw_links.items():
            link, found = validate(LinkSpec, data, file=label)
            problems += found
            if link is not None:
                self.links[name] = link
        self._raw_devices = {name: _Raw(label, data) for name, (label, data) in
                             raw_devices.items()}
        self._platform_hosts = {name: _first_key(data) for name, (_, data) in
                                raw_platforms.items()}
        self._fixed: dict[str, DeviceSpec] = {}
        self._targets: dict[_Key, DeviceSpec] = {}
        self._datasheet: dict[str, DeviceSpec] = {}
        for name, raw in self._raw_devices.items():
            spec, _, found = self._build(raw, None, seen=(name,))
            problems += found
            if spec is not None:
                self._datasheet[name] = spec
        self.devices: Mapping[str, DeviceSpec] = self._datasheet  # targets: below
        self.platforms: dict[str, PlatformSpec] = {}
        for name, (label, data) in raw_platforms.items():
            platform, found = validate(PlatformSpec, data, file=label)
            found += self.platform_problems(data, file=label)
            problems += found
            if platform is not None and not found:
                self.platforms[name] = platform
        runtimes = load_runtimes(self.folders, label=_label)
        self.runtimes: dict[str, RuntimeSpec] = runtimes.runtimes
        self.files.update({f"runtimes/{n}": p for n, p in runtimes.files.items()})
        problems += runtimes.problems + default_runtime_problems(
            {n: (raw_devices[n][0], d) for n, d in self.devices.items()}, runtimes)
        # Overlays are checked against the devices, runtimes and hosts above; each target
        # they touch is built now, so that a bad value is reported before anything runs.
        self._overlays: dict[_Key, tuple[str, Overlay]] = {}
        problems += self._index_overlays(overlays)
        devices: dict[str, DeviceSpec] = {}
        for name in self._datasheet:
            spec, found = self._target_of(name, None, None)
            problems += found
            if spec is not None:
                devices[name] = spec
        for device, runtime, host in list(self._overlays):
            problems += self._target_of(device, runtime, host)[1]
        self.devices = MappingProxyType(devices)
        if problems:
            raise SpecError(problems)
        self._freeze()

    # ----- lookup ----------------------------------------------------------------------------

    def device(self, name: str | DeviceSpec) -> DeviceSpec:
        """A device by name: its default-runtime target (a :class:`DeviceSpec` is returned as
        it is).

        Raises:
            SpecError: Unknown name; the message lists the known ones.
        """
        return name if isinstance(name, DeviceSpec) else _lookup(self.devices, name, "device")

    def runtime(self, name: str | RuntimeSpec) -> RuntimeSpec:
        """A runtime by name (a :class:`RuntimeSpec` is returned as it is).

        Raises:
            SpecError: Unknown name; the message lists the known ones.
        """
        return name if isinstance(name, RuntimeSpec) else _lookup(self.runtimes, name,
                                                                  "runtime")

    def target(self, device: str, runtime: str | None = None, host: str | None = None
               ) -> DeviceSpec:
        """A device under one runtime: its spec with the overlay fitted on that target.

        The overlay is looked up for ``host`` exactly, then (``host`` being a platform) for its
        first host CPU cluster, then for no host; at every device of a ``base:`` chain. A target
        without an overlay is the datasheet spec. A spec given whole to :meth:`with_devices` is
        its own target under every runtime.

        Args:
            device: A catalog device name.
            runtime: A catalog runtime; ``None``: the device's default runtime.
            host: The host CPU device or platform driving it, if its overlay depends on it.

        Raises:
            SpecError: Unknown device, runtime or host (listing the known ones), or a runtime
                that does not run on this kind of device.
        """
        spec = _lookup(self.devices, device, "device")
        problems = []
        if runtime is not None and (error := self._runtime_error(runtime, spec)):
            problems.append(Problem("catalog", "runtime", error))
        if host is not None and (error := self._host_error(host)):
            problems.append(Problem("catalog", "host", error))
        if problems:
            raise SpecError(problems)
        target, problems = self._target_of(device, runtime, host)
        if target is None:
            raise SpecError(problems)
        return target

    def overlay_for(self, device: str, runtime: str | None = None, host: str | None = None
                    ) -> tuple[str, Overlay] | None:
        """The overlay fitted on this device's target itself (not one inherited through
        ``base:``), with its label (file), or ``None``; the same fallbacks as :meth:`target`."""
        return self._overlay_for(device, runtime or self._default_runtime(device), host)

    def link(self, name: str | LinkSpec) -> LinkSpec:
        """A link type by name."""
        return name if isinstance(name, LinkSpec) else _lookup(self.links, name, "link")

    def platform(self, name: str | PlatformSpec) -> PlatformSpec:
        """A platform by name."""
        if isinstance(name, PlatformSpec):
            return name
        return _lookup(self.platforms, name, "platform")

    # ----- building ---------------------------------------------------------------------------

    def device_from(self, data: Mapping[str, Any], *, file: str, prefix: str = "",
                    runtime: str | None = None, host: str | None = None) -> DeviceSpec:
        """Validate an inline device (from an experiment), resolving ``base:`` in this catalog
        with the overlays of the target (``runtime`` default: the device's default runtime).

        Raises:
            SpecError: Listing every problem, with ``file`` and paths under ``prefix``.
        """
        raw = _Raw(file, dict(data), prefix)
        datasheet, _, problems = self._build(raw, None, seen=())
        if datasheet is None:
            raise SpecError(problems)
        target = (runtime or datasheet.default_runtime, host)
        spec, _, problems = self._build(raw, target, seen=(), datasheet=datasheet)
        if spec is None:
            raise SpecError(problems)
        return spec

    def compose(self, host: str, accelerators: Mapping[str, int | Mapping[str, Any]] | None = None,
                *, link: str | None = None, name: str | None = None, file: str = "platform",
                prefix: str = "") -> PlatformSpec:
        """A platform from a host board (or CPU device) plus accelerators.

        ``compose("raspberry_pi4", {"ncs2": 4}, link="usb3_hub")`` is four NCS2 sticks on one
        USB 3.0 hub of a Raspberry Pi 4.

        Args:
            host: A platform (its host, accelerators and shared resources are kept) or a CPU
                device.
            accelerators: Device name -> count or ``{count, link}``, added to the host's.
            link: Link for the added accelerators that do not name one.
            name: Name of the result (default: derived from the parts).
            file / prefix: Where the request came from, for messages (an experiment file and
                ``platform``).

        Raises:
            SpecError: Unknown names (listing the known ones), or a group that cannot attach.
        """
        if host in self.platforms:
            base = self.platforms[host]
        elif host in self.devices and device_kind(self.devices[host].kind).is_host:
            base = PlatformSpec(name=host, host={host: 1})
        else:
            hosts = sorted([*self.platforms, *(n for n, d in self.devices.items()
                                                if device_kind(d.kind).is_host)])
            raise SpecError([Problem(file, ".".join(p for p in (prefix, "host") if p),
                                     did_you_mean(host, hosts, what="host")
                                     + probe_hint(host))])
        groups = dict(base.accelerators)
        for device, group in (accelerators or {}).items():
            at = ".".join(p for p in (prefix, "accelerators", device) if p)
            g, problems = validate(AcceleratorGroup, group if isinstance(group, Mapping) else
                                   {"count": group}, file=file, prefix=at)
            if g is None:
                raise SpecError(problems)
            groups[device] = AcceleratorGroup(count=g.count, link=g.link or link)
        parts = [base.name, *(f"{g.count}x{d}" for d, g in groups.items()
                              if d not in base.accelerators or groups[d] != base.accelerators[d])]
        data = base.model_dump(exclude_unset=True)
        data.update(name=name or "+".join(parts),
                    accelerators={d: g.model_dump() for d, g in groups.items()})
        platform, problems = validate(PlatformSpec, data, file=file, prefix=prefix)
        if platform is None:
            raise SpecError(problems)
        problems = self.platform_problems(platform, file=file, prefix=prefix)
        if problems:
            raise SpecError(problems)
        return platform

    def platform_problems(self, platform: PlatformSpec | Mapping[str, Any], *, file: str,
                          prefix: str = "") -> list[Problem]:
        """Names in a platform (validated, or raw YAML data) that this catalog does not know
        or that cannot go where they are."""
        if isinstance(platform, PlatformSpec):
            host: Any = platform.host
            groups: Any = {n: g.link for n, g in platform.accelerators.items()}
        else:
            host = platform.get("host") if isinstance(platform, Mapping) else None
            raw = platform.get("accelerators") if isinstance(platform, Mapping) else None
            groups = {n: g.get("link") if isinstance(g, Mapping) else None
                      for n, g in raw.items()} if isinstance(raw, Mapping) else {}
        problems = []

        def at(*parts: str) -> str:
            return ".".join(x for x in (prefix, *parts) if x)

        for name in host if isinstance(host, Mapping) else ():
            if name not in self.devices:
                if name not in self._raw_devices:  # a broken device is reported on its own
                    problems.append(Problem(file, at("host", name),
                                            _unknown(self._raw_devices, name, "device")))
            elif not device_kind(self.devices[name].kind).is_host:
                problems.append(Problem(file, at("host", name), f"a host must be a CPU "
                                        f"cluster, {name!r} is a {self.devices[name].kind}"))
        for name, link in groups.items():
            if name not in self.devices:
                if name not in self._raw_devices:
                    problems.append(Problem(file, at("accelerators", name),
                                            _unknown(self._raw_devices, name, "device")))
                continue
            link = link or self.devices[name].link
            if link is None:
                problems.append(Problem(file, at("accelerators", name, "link"),
                                        f"{name!r} names no link of its own; give one"))
            elif not isinstance(link, str) or link not in self.links:
                problems.append(Problem(file, at("accelerators", name, "link"),
                                        _unknown(self.links, str(link), "link")))
        return problems

    def runtime_problem(self, runtime: str, device: str | DeviceSpec) -> str | None:
        """Why ``runtime`` cannot run ``device`` (unknown, listing the known runtimes, or made
        for other kinds of device), or ``None`` if it can."""
        return self._runtime_error(runtime, self.device(device))

    def with_devices(self, devices: Mapping[str, DeviceSpec | Mapping[str, Any]], *,
                     replace: bool = False, file: str = "catalog", prefix: str = ""
                     ) -> Catalog:
        """A new catalog with more devices (what-ifs of an experiment), or with some replaced
        (``replace=True``: a calibrated spec in place of the datasheet one); this one is
        unchanged.

        Args:
            devices: Name -> a spec (its own target under every runtime), or device YAML data
                (``{base: coral_usb, onchip_mem_bytes: 16 MiB}``), validated and resolved in
                this catalog with the overlays of each target, like a catalog file.
            replace: Allow names the catalog has.
            file / prefix: Where YAML data came from, for messages (paths are
                ``<prefix>.<name>.<field>``).

        Raises:
            SpecError: A name is already in the catalog (unless ``replace``), or YAML data is
                invalid (every problem).
        """
        clash = sorted(set(devices) & {*self.devices, *self._raw_devices})
        if clash and not replace:
            raise SpecError([Problem("catalog", name, "already a catalog device")
                             for name in clash])
        extended = copy.copy(self)
        extended._raw_devices = dict(self._raw_devices)
        extended._fixed = dict(self._fixed)
        extended._datasheet = dict(self._datasheet)
        extended._targets = {}
        problems: list[Problem] = []
        for name, entry in devices.items():
            if isinstance(entry, DeviceSpec):
                extended._fixed[name] = entry
                continue
            raw = _Raw(file, {"name": name, **entry} if isinstance(entry, Mapping) else entry,
                       ".".join(p for p in (prefix, name) if p))
            spec, _, found = extended._build(raw, None, seen=(name,))
            problems += found
            if spec is not None:
                extended._raw_devices[name] = raw
                extended._datasheet[name] = spec
                extended._fixed.pop(name, None)
        if problems:
            raise SpecError(problems)
        # Devices built on a replaced one change too: rebuild every default target.
        rebuild = extended._datasheet if clash else {n: None for n in devices}
        built = dict(self.devices)
        built.update({n: s for n, s in extended._fixed.items() if n in devices})
        for name in rebuild:
            if name in extended._fixed:
                continue
            spec, found = extended._target_of(name, None, None)
            problems += found
            if spec is not None:
                built[name] = spec
        if problems:
            raise SpecError(problems)
        extended.devices = MappingProxyType(built)
        return extended

    def attached_link(self, platform: PlatformSpec, accelerator: str) -> LinkSpec:
        """The link type an accelerator group of a platform is attached to."""
        group = platform.accelerators[accelerator]
        return self.link(group.link or self.device(accelerator).link or "")

    # ----- internals --------------------------------------------------------------------------

    def _freeze(self) -> None:
        """Make every public mapping read-only (this catalog is never changed again)."""
        for attr in ("files", "links", "platforms", "runtimes"):
            value = getattr(self, attr, None)
            if isinstance(value, dict):
                setattr(self, attr, MappingProxyType(value))
        self.overlays: Mapping[str, Overlay] = MappingProxyType(
            {target_name(*key): overlay for key, (_, overlay) in self._overlays.items()})

    def _default_runtime(self, name: str) -> str | None:
        spec = self._fixed.get(name) or self._datasheet.get(name)
        return spec.default_runtime if spec is not None else None

    def _runtime_error(self, runtime: str, spec: DeviceSpec) -> str | None:
        runtimes = self.runtimes
        if runtime not in runtimes:
            return _unknown(runtimes, runtime, "runtime")
        kinds = runtimes[runtime].device_kinds
        if spec.kind not in kinds:
            return (f"runtime {runtime!r} runs on {', '.join(kinds)} devices; {spec.name!r} is "
                    f"a {spec.kind}")
        return None

    def _host_error(self, host: str) -> str | None:
        hosts = {*self._platform_hosts, *(n for n, s in self._datasheet.items()
                                                  if device_kind(s.kind).is_host),
                 *(n for n, s in self._fixed.items() if device_kind(s.kind).is_host)}
        return None if host in hosts else _unknown(hosts, host, "host")

    def _index_overlays(self, overlays: Path | str | Mapping[str, Overlay] | None
                        ) -> list[Problem]:
        if overlays is None:
            return []
        if isinstance(overlays, str | Path):
            try:
                overlays = load_overlay_folder(overlays)
            except SpecError as exc:
                return list(exc.problems)
        problems: list[Problem] = []
        for label, overlay in overlays.items():
            spec = self._datasheet.get(overlay.device)
            if spec is None:
                if overlay.device not in self._raw_devices:  # a broken one is reported itself
                    problems.append(Problem(label, "device", _unknown(
                        self._raw_devices, overlay.device, "device")))
                continue
            found = []
            if overlay.runtime is not None and (error := self._runtime_error(overlay.runtime,
                                                                             spec)):
                found.append(Problem(label, "runtime", error))
            if overlay.host is not None and (error := self._host_error(overlay.host)):
                found.append(Problem(label, "host", error))
            key = (overlay.device, overlay.runtime or self._default_runtime(overlay.device),
                   overlay.host)
            if not found and key in self._overlays:
                found.append(Problem(label, "", f"target {target_name(*key)} already has an "
                                     f"overlay: {self._overlays[key][0]} (a <device>.yaml "
                                     f"overlay is the default runtime's; keep one of them)"))
            problems += found
            if not found:
                self._overlays[key] = (label, overlay)
        return problems

    def _overlay_for(self, device: str, runtime: str | None, host: str | None
                     ) -> tuple[str, Overlay] | None:
        hosts = [host, self._platform_hosts.get(host or ""), None]
        for h in dict.fromkeys(hosts):
            found = self._overlays.get((device, runtime, h))
            if found is not None:
                return found
        return None

    def _target_of(self, name: str, runtime: str | None, host: str | None
                   ) -> tuple[DeviceSpec | None, list[Problem]]:
        """The target (built once, then cached), or the problems of building it."""
        key = (name, runtime or self._default_runtime(name), host)
        if key in self._targets:
            return self._targets[key], []
        if name in self._fixed:
            return self._fixed[name], []
        datasheet = self._datasheet.get(name)
        if datasheet is None:
            return None, []  # the device's own problems are reported on their own
        spec, _, problems = self._build(self._raw_devices[name], key[1:], seen=(name,),
                                        datasheet=datasheet)
        if spec is not None:
            self._targets[key] = spec
        return spec, problems

    def _build(self, raw: _Raw, target: tuple[str | None, str | None] | None, *,
               seen: tuple[str, ...], datasheet: DeviceSpec | None = None
               ) -> tuple[DeviceSpec | None, list[str], list[Problem]]:
        """Validate a device from its YAML data: with the overlays of ``target`` (runtime,
        host) at every device of its ``base:`` chain, or as the datasheet has it (``None``).

        Returns:
            The spec (or ``None``), the labels of the overlays applied, the problems.
        """
        merged, applied, problems = self._merged(raw.data, raw.file, raw.prefix, seen, target)
        if problems:
            return None, [], problems
        if not applied and datasheet is not None:
            return datasheet, [], []
        file, prefix = raw.file, raw.prefix
        if len(applied) == 1 and self._overlay_is_own(raw, applied[0], target):
            file, prefix = applied[0], "values"  # a value of the overlay itself is refused
        elif applied:
            file = f"{raw.file} (with {', '.join(applied)})"
        spec, problems = validate(DeviceSpec, merged, file=file, prefix=prefix)
        return spec, applied, problems

    def _overlay_is_own(self, raw: _Raw, label: str, target: Any) -> bool:
        name = raw.data.get("name") if isinstance(raw.data, dict) else None
        found = self._overlay_for(name, *target) if isinstance(name, str) and target else None
        return found is not None and found[0] == label

    def _merged(self, data: Any, file: str, prefix: str, seen: tuple[str, ...],
                target: tuple[str | None, str | None] | None
                ) -> tuple[Any, list[str], list[Problem]]:
        applied: list[str] = []
        if not isinstance(data, dict):
            return data, applied, []
        if target is not None and isinstance(data.get("name"), str):
            found = self._overlay_for(data["name"], *target)
            if found is not None:
                label, overlay = found
                data = apply_values(data, overlay, label=label)
                applied.append(label)
        if "base" not in data:
            return data, applied, []
        data = dict(data)
        base_name = data.pop("base")
        where = ".".join(p for p in (prefix, "base") if p)
        if not isinstance(base_name, str):
            return None, [], [Problem(file, where, f"expected the name of a catalog device, "
                                      f"got {type(base_name).__name__} {str(base_name)[:60]!r}")]
        if base_name in seen:
            return None, [], [Problem(file, where, f"'base' chain loops: "
                                      f"{' -> '.join([*seen, base_name])}")]
        if base_name not in self._raw_devices:
            return None, [], [Problem(file, where, _unknown(self._raw_devices, str(base_name),
                                                            "device"))]
        base, inherited, problems = self._merged(dict(self._raw_devices[base_name].data), file,
                                                 prefix, (*seen, base_name), target)
        if problems:
            return None, [], problems
        merged = _deep_merge(base, data)
        mine = data.get("sources") or []
        # str(): an id may be anything in a file not yet validated (a list is not hashable)
        ids = {str(m.get("id")) for m in mine if isinstance(m, dict)}
        theirs = [_inherited(s, data, str(base_name)) for s in base.get("sources") or []
                  if not (isinstance(s, dict) and str(s.get("id")) in ids)]
        merged["sources"] = [*mine, *(s for s in theirs if s is not None)]
        return merged, [*applied, *inherited], []


def _inherited(source: Any, own: Mapping[str, Any], base: str) -> Any:
    """A base's source as the device built on it has it: a fitted source loses the fields the
    device sets itself and says the rest was inherited (``None`` if nothing is left)."""
    if not isinstance(source, dict) or source.get("kind") != "fitted":
        return source
    fields = [f for f in source.get("fields") or () if not _sets(own, str(f))]
    if not fields:
        return None
    cite = str(source.get("cite", ""))
    if "inherited from" not in cite:
        cite = f"{cite}; inherited from {base} (base:)"
    return {**source, "fields": fields, "cite": cite}


def _sets(data: Mapping[str, Any], path: str) -> bool:
    """Whether ``data`` sets ``path`` whole (a mapping there is merged, not replaced)."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, Mapping)


def _first_key(data: Any) -> str | None:
    host = data.get("host") if isinstance(data, Mapping) else None
    return next(iter(host), None) if isinstance(host, Mapping) else None


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _deep_merge(dict(result[key]), value)
        else:
            result[key] = value
    return result


def _folder_problems(folder: Path, problems: list[Problem]) -> bool:
    """Add the problem of a catalog folder that cannot be read (missing, a file, a NUL byte in
    its name); whether there was one."""
    text = str(folder)
    if "\0" in text:
        problems.append(Problem(text.replace("\0", "\\0"), "", "expected a catalog folder, "
                                "got a path with a NUL byte"))
        return True
    try:
        if folder.is_dir():
            return False
        found = "a file" if folder.exists() else "no such folder"
    except OSError as exc:
        found = f"an unreadable path ({exc.strerror or exc})"
    problems.append(Problem(text, "", f"expected a catalog folder (devices/*.yaml, links/, "
                            f"platforms/, runtimes/), found {found}"))
    return True


def _label(path: Path) -> str:
    """``devices/ncs2.yaml`` for catalog files, the path as given otherwise."""
    parts = path.parts
    if "devices" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("devices") - 1:])
    return str(path)


def _unknown(known: Iterable[str], name: str, what: str) -> str:
    hint = probe_hint(name) if what in ("device", "host", "platform") else ""
    return did_you_mean(name, known, what=what) + hint


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise SpecError([Problem("catalog", what, _unknown(table, name, what))]) from None


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The built-in catalog and the ``DSE_CATALOG`` folders (datasheet values, no overlays),
    loaded once."""
    return Catalog()
