"""Runtimes in the catalog: ``<catalog folder>/runtimes/<name>.yaml``, one software stack each.

:func:`load_runtimes` reads and validates them (the file name is the name; a later folder may
add runtimes but not redefine one), and :func:`default_runtime_problems` checks the
``default_runtime`` a device names against them. :class:`~dse.devices.catalog.Catalog` calls
both and reports their problems with every other file's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dse.errors import Problem
from dse.spec.device import DeviceSpec
from dse.spec.loading import load_yaml, validate
from dse.spec.runtime import RuntimeSpec

__all__ = ["RuntimeLoad", "default_runtime_problems", "load_runtimes"]

SUBFOLDER = "runtimes"


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


def load_runtimes(folders: Iterable[Path | str], *,
                  label: Callable[[Path], str] = str) -> RuntimeLoad:
    """Read and validate ``runtimes/*.yaml`` of each catalog folder (never raises).

    Args:
        folders: Catalog folders, in order; a folder without ``runtimes/`` has none.
        label: How a file is named in messages (the catalog's ``devices/runtimes/acl.yaml``).
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
    return RuntimeLoad(runtimes, files, frozenset(broken), problems)


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
