"""Runtimes in the catalog: ``<catalog folder>/runtimes/<name>.yaml``, one software stack each,
and those registered from Python (:data:`RUNTIMES`, entry-point group ``dse.runtimes``).

:func:`load_runtimes` reads and validates them (the file name is the name; a later folder may
add runtimes but not redefine one), then adds the registered ones (which may not redefine a
file's either), and :func:`default_runtime_problems` checks the ``default_runtime`` a device
names against them. :class:`~dse.devices.catalog.Catalog` calls both and reports their problems
with every other file's, so a registered runtime is found wherever a catalog runtime is (an
experiment's ``platform.runtimes``, ``dse predict --runtime``, the cost model).

What a runtime does to a network is data the cost model reads from its
:class:`~dse.spec.runtime.RuntimeSpec` (what it fuses, its kernels, its memory footprint and
scratch rule). A :class:`BaseRuntime` is the Python extension point that produces that spec:
the YAML-declared runtime is the default implementation (:class:`SpecRuntime`, a spec given as
it is), and a subclass may compute one, typically from a catalog runtime it changes.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dse.errors import Problem
from dse.plugins import Registry
from dse.spec.device import DeviceSpec
from dse.spec.loading import load_yaml, validate
from dse.spec.runtime import RuntimeSpec

__all__ = ["RUNTIMES", "BaseRuntime", "RuntimeLoad", "SpecRuntime", "default_runtime_problems",
           "load_runtimes", "register_runtime"]

SUBFOLDER = "runtimes"


class BaseRuntime(abc.ABC):
    """A runtime registered from Python: the extension point of :data:`RUNTIMES`.

    The call protocol: :meth:`spec` is called once each time a catalog is built
    (:class:`~dse.devices.catalog.Catalog`, :func:`~dse.devices.catalog.default_catalog`),
    after the catalog folders' runtime files are read, so a runtime must be registered before
    the catalog that should have it is built (the entry-point group ``dse.runtimes`` is read
    then). The spec it returns is validated like a file (every claim sourced) and becomes
    ``catalog.runtimes[name]``; from there on the cost model reads it as it reads any catalog
    runtime, so a runtime changes costs only through its spec's fields (``fuses``, ``kernels``,
    ``scratch``, ``code_bytes``, ...). It may not take the name of a runtime file.

    Attributes:
        name: The runtime's name, as experiments and devices name it.
    """

    name: str

    @abc.abstractmethod
    def spec(self, runtimes: Mapping[str, RuntimeSpec]) -> RuntimeSpec | Mapping[str, Any]:
        """What this runtime is, as a :class:`~dse.spec.runtime.RuntimeSpec` or as the mapping
        a runtime YAML file would hold (validated with the file's rules).

        Args:
            runtimes: The runtimes of the catalog's files, by name (read-only: a runtime may
                start from one, ``runtimes["tflite_cpu"].model_dump()``, and change a copy).

        Returns:
            The spec; its ``name`` must be :attr:`name` (a mapping without one gets it). It
            must not depend on anything but ``runtimes`` and the runtime's own attributes, and
            must not mutate ``runtimes`` or any spec in it.
        """


class SpecRuntime(BaseRuntime):
    """The default runtime: a stated spec, returned as it is (what a runtime YAML file is).

    Args:
        spec: A :class:`~dse.spec.runtime.RuntimeSpec`, or its YAML mapping (with a ``name``).
    """

    def __init__(self, spec: RuntimeSpec | Mapping[str, Any]) -> None:
        self._spec = spec
        name = spec.name if isinstance(spec, RuntimeSpec) else spec.get("name")
        if not isinstance(name, str):
            raise TypeError(f"a runtime needs a name, got {name!r}")
        self.name = name

    def __repr__(self) -> str:
        return f"SpecRuntime({self.name!r})"

    def spec(self, runtimes: Mapping[str, RuntimeSpec]) -> RuntimeSpec | Mapping[str, Any]:
        return self._spec


#: Runtimes registered from Python, by name; the catalog adds them to its files' runtimes.
#: None is built in (the built-in runtimes are the catalog's files); others come through
#: :func:`register_runtime` or the ``dse.runtimes`` entry-point group.
RUNTIMES: Registry[BaseRuntime] = Registry("dse.runtimes", what="runtime")


def register_runtime(runtime: BaseRuntime | RuntimeSpec | Mapping[str, Any], *,
                     replace: bool = False) -> BaseRuntime:
    """Add a runtime that catalogs built from now on will have (``replace=True`` to redefine
    one). A spec or a mapping is registered as a :class:`SpecRuntime`."""
    if not isinstance(runtime, BaseRuntime):
        runtime = SpecRuntime(runtime)
    return RUNTIMES.register(runtime, replace=replace)


@dataclass(frozen=True)
class RuntimeLoad:
    """The runtimes of some catalog folders.

    Attributes:
        runtimes: Name -> validated spec (broken files are absent).
        files: Name -> the file it came from.
        broken: Names whose file exists but did not validate (their problems are reported
            once, not again by every device naming them).
        problems: Every problem of every file.
    """

    runtimes: dict[str, RuntimeSpec] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    broken: frozenset[str] = frozenset()
    problems: list[Problem] = field(default_factory=list)


def load_runtimes(folders: Iterable[Path | str], *, label: Callable[[Path], str] = str,
                  registered: bool = True) -> RuntimeLoad:
    """Read and validate ``runtimes/*.yaml`` of each catalog folder, then add the registered
    runtimes (:data:`RUNTIMES`). Bad input never raises: it is a problem of the result.

    Args:
        folders: Catalog folders, in order; a folder without ``runtimes/`` has none.
        label: How a file is named in messages (the catalog's ``devices/runtimes/acl.yaml``).
        registered: Whether to add the registered runtimes (false: the files' only).
    """
    runtimes: dict[str, RuntimeSpec] = {}
    files: dict[str, Path] = {}
    broken: set[str] = set()
    problems: list[Problem] = []
    for folder in folders:
        for path in sorted((Path(folder) / SUBFOLDER).glob("*.yaml")):
            name, where = path.stem, label(path)
            if name in files:
                problems.append(Problem(where, "", f"{name!r} is already defined in "
                                        f"{label(files[name])}"))
                continue
            files[name] = path
            data, found = load_yaml(path, label=where)
            if not found and isinstance(data, dict) and data.setdefault("name", name) != name:
                found = [Problem(where, "name", f"must match the file name {name!r}, got "
                                 f"{data['name']!r}")]
            spec = None
            if not found:
                spec, found = validate(RuntimeSpec, data, file=where)
            problems += found
            if spec is None:
                broken.add(name)
            else:
                runtimes[name] = spec
    if registered:
        problems += _add_registered(runtimes, files, broken, label)
    return RuntimeLoad(runtimes, files, frozenset(broken), problems)


def _add_registered(runtimes: dict[str, RuntimeSpec], files: Mapping[str, Path],
                    broken: set[str], label: Callable[[Path], str]) -> list[Problem]:
    problems: list[Problem] = []
    from_files = MappingProxyType(dict(runtimes))
    for name, runtime in RUNTIMES.items():
        where = f"runtime plug-in {name!r} ({type(runtime).__name__})"
        if name in files:
            problems.append(Problem(where, "", f"{name!r} is already defined in "
                                    f"{label(files[name])}"))
            continue
        data = runtime.spec(from_files)
        spec: RuntimeSpec | None
        if isinstance(data, RuntimeSpec):
            spec, found = data, []
            if spec.name != name:
                found = [Problem(where, "name", f"must be {name!r}, got {spec.name!r}")]
        else:
            data = dict(data)
            found = []
            if data.setdefault("name", name) != name:
                found = [Problem(where, "name", f"must be {name!r}, got {data['name']!r}")]
            spec, more = validate(RuntimeSpec, data, file=where) if not found else (None, [])
            found += more
        problems += found
        if spec is None or found:
            broken.add(name)
        else:
            runtimes[name] = spec
    return problems


def default_runtime_problems(devices: Mapping[str, tuple[str, DeviceSpec]],
                             loaded: RuntimeLoad) -> list[Problem]:
    """One problem per device whose ``default_runtime`` is unknown or does not run on its kind.

    Args:
        devices: Device name -> (its file label, its validated spec).
        loaded: The catalog's runtimes.
    """
    problems = []
    for label, spec in devices.values():
        name = spec.default_runtime
        if name is None or name in loaded.broken:
            continue  # none named, or a broken runtime file, reported on its own
        runtime = loaded.runtimes.get(name)
        if runtime is None:
            problems.append(Problem(label, "default_runtime", f"unknown runtime {name!r}; "
                                    f"known runtimes: {', '.join(sorted(loaded.runtimes))}"))
        elif spec.kind not in runtime.device_kinds:
            problems.append(Problem(label, "default_runtime", f"runtime {name!r} runs on "
                                    f"{', '.join(runtime.device_kinds)} devices, not on a "
                                    f"{spec.kind}"))
    return problems
