"""The device catalog: devices, links and platforms loaded from YAML folders.

Layout of a catalog folder (the built-in one is ``devices/`` at the top of the repository)::

    devices/<name>.yaml             one device (DeviceSpec)
    devices/links/<name>.yaml       one link type (LinkSpec)
    devices/platforms/<name>.yaml   one platform (PlatformSpec)

A device may start from another with ``base: <name>`` and change some fields (the co-design
question "what if this accelerator had twice the on-chip memory?" is a three-line file). Its
sources are the base's plus its own, its own first.

Every file is validated when the catalog is loaded, and one :class:`~dse.errors.SpecError`
lists every problem of every file.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dse.catalog import catalog_dir
from dse.devices.kinds import device_kind
from dse.errors import Problem, SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import load_yaml, validate
from dse.spec.platform import AcceleratorGroup, LinkSpec, PlatformSpec

__all__ = ["Catalog", "default_catalog"]


class Catalog:
    """Devices, links and platforms from one or more catalog folders.

    Later folders may add entries but not redefine earlier ones (a user folder can add a what-if
    device built with ``base:`` on a catalog one).

    Args:
        folders: Catalog folders; default: the built-in ``devices/``.

    Raises:
        SpecError: Any file is invalid; the error lists every problem of every file.
    """

    def __init__(self, *folders: Path | str) -> None:
        self.folders = tuple(Path(f) for f in folders) or (catalog_dir("devices"),)
        self.files: dict[str, Path] = {}
        problems: list[Problem] = []
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
        self._raw_devices = raw_devices
        self.devices: dict[str, DeviceSpec] = {}
        for name, (label, _) in raw_devices.items():
            spec, found = self._build_device(name, label)
            problems += found
            if spec is not None:
                self.devices[name] = spec
        self.platforms: dict[str, PlatformSpec] = {}
        for name, (label, data) in raw_platforms.items():
            platform, found = validate(PlatformSpec, data, file=label)
            found += self.platform_problems(data, file=label)
            problems += found
            if platform is not None and not found:
                self.platforms[name] = platform
        if problems:
            raise SpecError(problems)

    # ----- lookup ----------------------------------------------------------------------------

    def device(self, name: str | DeviceSpec) -> DeviceSpec:
        """A device by name (a :class:`DeviceSpec` is returned as it is).

        Raises:
            SpecError: Unknown name; the message lists the known ones.
        """
        # "host" is the machine dse runs on (what `dse measure` times), detected at first use
        # when the catalog defines no device of that name; see dse.devices.host.
        if name == "host" and name not in self.devices:
            from dse.devices.host import detect_host

            return detect_host()
        return name if isinstance(name, DeviceSpec) else _lookup(self.devices, name, "device")

    def link(self, name: str | LinkSpec) -> LinkSpec:
        """A link type by name."""
        return name if isinstance(name, LinkSpec) else _lookup(self.links, name, "link")

    def platform(self, name: str | PlatformSpec) -> PlatformSpec:
        """A platform by name."""
        if isinstance(name, PlatformSpec):
            return name
        # "host": this machine as a platform (its CPU as the host cluster, no accelerators),
        # when the catalog defines no platform of that name; see dse.devices.host.
        if name == "host" and name not in self.platforms:
            from dse.devices.host import host_platform

            return host_platform()
        return _lookup(self.platforms, name, "platform")

    # ----- building ---------------------------------------------------------------------------

    def device_from(self, data: Mapping[str, Any], *, file: str, prefix: str = ""
                    ) -> DeviceSpec:
        """Validate an inline device (from an experiment), resolving ``base:`` in this catalog.

        Raises:
            SpecError: Listing every problem, with ``file`` and paths under ``prefix``.
        """
        merged, problems = self._merged(dict(data), file, prefix, seen=())
        spec = None
        if not problems:
            spec, problems = validate(DeviceSpec, merged, file=file, prefix=prefix)
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
                                     f"unknown host {host!r}; known: {', '.join(hosts)}")])
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

    def with_devices(self, devices: Mapping[str, DeviceSpec], *, replace: bool = False
                     ) -> Catalog:
        """A copy of this catalog with more devices (what-ifs of an experiment), or with some
        replaced (``replace=True``: a calibrated spec in place of the datasheet one).

        Raises:
            SpecError: A name is already in the catalog (unless ``replace``).
        """
        clash = sorted(set(devices) & set(self.devices))
        if clash and not replace:
            raise SpecError([Problem("catalog", name, "already a catalog device")
                             for name in clash])
        extended = copy.copy(self)
        extended.devices = {**self.devices, **devices}
        return extended

    def attached_link(self, platform: PlatformSpec, accelerator: str) -> LinkSpec:
        """The link type an accelerator group of a platform is attached to."""
        group = platform.accelerators[accelerator]
        return self.link(group.link or self.device(accelerator).link or "")

    # ----- internals --------------------------------------------------------------------------

    def _build_device(self, name: str, label: str) -> tuple[DeviceSpec | None, list[Problem]]:
        merged, problems = self._merged(self._raw_devices[name][1], label, "", seen=(name,))
        if problems:
            return None, problems
        return validate(DeviceSpec, merged, file=label)

    def _merged(self, data: Any, file: str, prefix: str, seen: tuple[str, ...]
                ) -> tuple[Any, list[Problem]]:
        if not isinstance(data, dict) or "base" not in data:
            return data, []
        data = dict(data)
        base_name = data.pop("base")
        where = ".".join(p for p in (prefix, "base") if p)
        if base_name in seen:
            return None, [Problem(file, where, f"'base' chain loops: "
                                  f"{' -> '.join([*seen, base_name])}")]
        if base_name not in self._raw_devices:
            return None, [Problem(file, where, _unknown(self._raw_devices, base_name, "device"))]
        base, problems = self._merged(dict(self._raw_devices[base_name][1]), file, prefix,
                                      seen=(*seen, base_name))
        if problems:
            return None, problems
        merged = _deep_merge(base, data)
        mine = data.get("sources") or []
        theirs = [s for s in base.get("sources") or []
                  if not any(isinstance(m, dict) and m.get("id") == s.get("id") for m in mine)]
        merged["sources"] = [*mine, *theirs]
        return merged, []


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _deep_merge(dict(result[key]), value)
        else:
            result[key] = value
    return result


def _label(path: Path) -> str:
    """``devices/ncs2.yaml`` for catalog files, the path as given otherwise."""
    parts = path.parts
    if "devices" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("devices") - 1:])
    return str(path)


def _unknown(known: Iterable[str], name: str, what: str) -> str:
    return f"unknown {what} {name!r}; known {what}s: {', '.join(sorted(known))}"


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise SpecError([Problem("catalog", what, _unknown(table, name, what))]) from None


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The built-in catalog, loaded once."""
    return Catalog()
