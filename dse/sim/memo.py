"""What planning reuses across configurations: workloads and model costs, in bounded caches.

A search plans hundreds of configurations that differ in a few numbers (sticks, threads, infer
requests) while the workload and the devices stay the same, and the cost of a model on a device
(:func:`dse.cost.model_cost`, milliseconds of pandas work) is what planning spends its time on.
Both are pure functions of frozen inputs, so :func:`model_cost` and :func:`workload` here keep
their results in least-recently-used caches of bounded size, one per process.

A cached result is never stale: its key holds *every* input of the function it stands for, by
value (equal inputs give the same result) or, for objects that are not values, by identity with
a reference held so the identity cannot be reused:

- a frozen spec (device, link, runtime) by value; specs whose fields are not hashable (a
  :class:`~dse.spec.device.DeviceSpec` holds dicts) through :class:`Same`, which compares them
  with ``==``;
- a :class:`~dse.workloads.Workload` by its name, precision, source and graph *object* (graphs
  are frozen when built; the zoo builds one graph per model and options);
- the registered :class:`~dse.devices.kinds.DeviceKind` of each device by identity, so that
  re-registering a kind (``register_kind(..., replace=True)``) misses the cache;
- an ONNX file by its path, size, modification time and inode, so an edited file is read again;
  a source by the registered workload frontends too.

:func:`caching` switches the caches off (``with caching(False):``), which the tests use to check
that cached and uncached planning give identical plans.
"""

from __future__ import annotations

import contextlib
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from dse.cost import ModelCost
from dse.cost import model_cost as _model_cost
from dse.devices.kinds import device_kind
from dse.spec.device import DeviceSpec
from dse.spec.platform import LinkSpec
from dse.spec.runtime import RuntimeSpec
from dse.workloads import Workload, frontends
from dse.workloads import workload as _workload

__all__ = ["LRU", "Ident", "Same", "cache_info", "caching", "clear", "enabled", "model_cost",
           "with_changes", "workload"]

V = TypeVar("V")
_CACHES: list[LRU[Any]] = []
_MISSING: Any = object()

#: Entries kept per cache: a study touches a handful of (workload, device) pairs; a sweep over
#: what-if devices many, each model cost holding a per-layer table (tens of kB).
MAX_COSTS = 256
MAX_WORKLOADS = 64
MAX_SPECS = 256


class LRU(Generic[V]):
    """A dict bounded to ``maxsize`` entries, the least recently used dropped first.

    Every instance is registered under ``name`` for :func:`clear` and :func:`cache_info`.
    """

    def __init__(self, name: str, maxsize: int) -> None:
        self.name = name
        self.maxsize = maxsize
        _CACHES.append(self)
        self.data: OrderedDict[Hashable, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of ``key``, made (and kept) on a miss."""
        data = self.data
        value = data.get(key, _MISSING)
        if value is _MISSING:
            self.misses += 1
            value = data[key] = make()
            if len(data) > self.maxsize:
                data.popitem(last=False)
            return value
        self.hits += 1
        data.move_to_end(key)
        return value

    def clear(self) -> None:
        self.data.clear()
        self.hits = self.misses = 0


class Same:
    """A key part for a frozen object that is not hashable: equal when ``==`` (by value)."""

    __slots__ = ("hash", "obj")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.hash = hash((type(obj), getattr(obj, "name", None)))

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and (self.obj is other.obj or (
            type(self.obj) is type(other.obj) and self.obj == other.obj))


class Ident:
    """A key part for an object compared by identity (held, so its ``id`` stays its own)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ident) and self.obj is other.obj


def _part(value: Any) -> Hashable:
    """``value`` as a part of a key: itself if hashable, else :class:`Same`."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        hash(value)
    except TypeError:
        return Same(value)
    return value


_COSTS: LRU[ModelCost] = LRU("model_cost", MAX_COSTS)
_WORKLOADS: LRU[Workload] = LRU("workload", MAX_WORKLOADS)
_SPECS: LRU[DeviceSpec] = LRU("with_changes", MAX_SPECS)
_enabled = [True]


@contextlib.contextmanager
def caching(on: bool) -> Iterator[None]:
    """Switch the caches on or off inside a ``with`` block (off: every call computes)."""
    before = _enabled[0]
    _enabled[0] = on
    try:
        yield
    finally:
        _enabled[0] = before


def enabled() -> bool:
    """Whether the caches are on (:func:`caching`)."""
    return _enabled[0]


def clear() -> None:
    """Empty every cache."""
    for cache in _CACHES:
        cache.clear()


def cache_info() -> dict[str, tuple[int, int, int]]:
    """Per cache: ``(hits, misses, entries)``."""
    return {c.name: (c.hits, c.misses, len(c.data)) for c in _CACHES}


def model_cost(workload: Workload, device: DeviceSpec, precision: str | None = None, *,
               fallback: DeviceSpec | None = None, link: LinkSpec | None = None,
               dvfs: str | None = None, threads: int | None = None,
               runtime: RuntimeSpec | None = None) -> ModelCost:
    """:func:`dse.cost.model_cost`, cached on all its inputs (see the module docstring).

    The result is shared between callers: treat it, and its ``layers`` table, as read-only.
    """

    def make() -> ModelCost:
        return _model_cost(workload, device, precision, fallback=fallback, link=link, dvfs=dvfs,
                           threads=threads, runtime=runtime)

    if not _enabled[0]:
        return make()
    key = (workload, Same(device), Ident(device_kind(device.kind)), precision,
           None if fallback is None else Same(fallback),
           None if fallback is None else Ident(device_kind(fallback.kind)),
           _part(link), dvfs, threads, _part(runtime))
    return _COSTS.get(key, make)


def workload(source: str | Path, *, precision: str = "fp32", **options: Any) -> Workload:
    """:func:`dse.workloads.workload`, the same object for the same source and options (so
    what a workload caches about itself, its layer tables, is computed once per process).

    An ONNX file is read again when its size, modification time or inode change.
    """
    if not _enabled[0]:
        return _workload(source, precision=precision, **options)
    stamp: tuple[Any, ...] = ()
    path = Path(source)
    try:
        if path.is_file():
            st = path.stat()
            stamp = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    except (OSError, ValueError):  # a name too long for a path, a NUL byte: a zoo name
        pass
    key = (str(source), stamp, json.dumps(options, sort_keys=True, default=repr),
           tuple(Ident(f) for f in frontends()))
    base = _WORKLOADS.get(key, lambda: _workload(source, precision=precision, **options))
    return base.at(precision)


def with_changes(spec: DeviceSpec, reason: str, **changes: Any) -> DeviceSpec:
    """:meth:`DeviceSpec.with_changes`, cached on the spec, the reason and the changes."""
    if not _enabled[0]:
        return spec.with_changes(reason, **changes)
    key = (Same(spec), reason, json.dumps(changes, sort_keys=True, default=repr))
    return _SPECS.get(key, lambda: spec.with_changes(reason, **changes))
