"""The one place a sweep meets model families and the cost model: :func:`evaluate_chunk`.

A chunk is a list of member indices of one family; its result is one row per member: ``index``,
``name``, the member's architecture features and, per target ``T``, the columns of
:data:`TARGET_COLUMNS` named ``<column>:T`` (``latency_s:edgetpu_v1``).

The families are the built-in ``zoo`` (:class:`~dse.sweep.zoo_family.ZooFamily`) and, where
this dse has them, the generated ones of :mod:`dse.workloads.families` (:func:`open_family`).
Members are priced by the batch cost model (``dse.cost.batch.batch_cost``) where this dse has
it, else one at a time by :func:`dse.cost.model_cost` (:func:`target_columns`).

A *target* is written ``DEVICE[@RUNTIME][+HOST]``:

- ``DEVICE``: a catalog device (``coral_usb``, ``ncs2``, ``dpu_b4096``, ``edgetpu_v1``);
- ``@RUNTIME``: the runtime it runs (default: the device's default runtime); the target's
  fitted overlay is the one of that runtime (:meth:`dse.devices.Catalog.target`);
- ``+HOST``: the platform (or host CPU device) whose first host CPU cluster takes the layers the
  device falls back on (default: the first platform, by name, that carries the device as an
  accelerator; none if no platform does, and then a model needing a fallback is infeasible).

The link is the device's own (``link:`` in its YAML).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from dse.errors import DseError, Problem, did_you_mean
from dse.workloads.graph import PRECISION_BYTES, Workload
from dse.workloads.layers import LayerBatch

__all__ = ["TARGET_COLUMNS", "FamilySpec", "ResolvedTarget", "Targets", "evaluate_chunk",
           "family_names", "open_family", "resolve_targets", "target_columns"]

logger = logging.getLogger(__name__)

#: Per target, the columns of a chunk's result (``<column>:<target>``): latency of one inference
#: on an idle platform, time on the device and in transfers (s), the device's energy per
#: inference (J: active power while it runs, idle power the rest of the inference; the fallback
#: host's share is not in it), whether the model runs at all
#: (``feasible``; ``reason`` says why not), whether all its weights stay on chip (``fits``), and
#: its weight bytes on and off chip.
TARGET_COLUMNS = ("latency_s", "device_s", "transfer_s", "energy_j", "feasible", "fits",
                  "onchip_weight_bytes", "offchip_weight_bytes", "reason")


class Family(Protocol):
    """What a sweep reads of a model family (:mod:`dse.workloads.families`)."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...

    def member_name(self, i: int) -> str: ...

    def member_names(self, indices: Sequence[int] | np.ndarray) -> list[str]: ...

    def features(self, indices: Sequence[int] | np.ndarray, *,
                 batch: LayerBatch | None = None) -> dict[str, np.ndarray]: ...

    def batch(self, indices: Sequence[int] | np.ndarray, *, edges: bool = True
              ) -> LayerBatch: ...

    def workload(self, i: int) -> Workload: ...


@dataclass(frozen=True)
class FamilySpec:
    """A family by name with its options (hashable: a worker opens it once).

    Attributes:
        name: ``zoo`` or a name of :func:`dse.workloads.families.families`.
        options: ``(key, value)`` pairs, sorted.
    """

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, options: Mapping[str, Any] | None = None) -> FamilySpec:
        """A spec from a name and an options mapping (list values become tuples)."""
        return cls(name, tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                      for k, v in (options or {}).items())))


@dataclass(frozen=True)
class Targets:
    """The targets of a sweep (hashable: a worker resolves them once).

    Attributes:
        names: Target strings, ``DEVICE[@RUNTIME][+HOST]``.
        calibration: ``shipped`` (fitted overlays applied, as ``dse simulate`` runs devices)
            or ``datasheet``.
        precision: The precision of every target, or ``auto``: per target, int8 if the device
            runs it, else the narrowest precision it runs (fp16 on a Myriad X).
    """

    names: tuple[str, ...]
    calibration: str = "shipped"
    precision: str = "auto"


@dataclass(frozen=True)
class ResolvedTarget:
    """One target with everything the cost model needs."""

    name: str
    device: Any  # DeviceSpec
    precision: str
    runtime: Any = None  # RuntimeSpec | None
    link: Any = None  # LinkSpec | None
    fallback: Any = None  # DeviceSpec | None
    host: str | None = None


def family_names() -> list[str]:
    """The families a sweep can run: ``zoo`` and the generated ones, sorted."""
    from dse.workloads.families import families

    return sorted({"zoo", *families()})


@functools.lru_cache(maxsize=8)
def open_family(spec: FamilySpec) -> Family:
    """The family a spec names, opened once per process.

    Raises:
        DseError: Unknown family (naming the close ones), or an option it refuses.
    """
    known = family_names()
    if spec.name not in known:
        message = did_you_mean(spec.name, known, what="family").replace("familys", "families")
        raise DseError([Problem("family", "", message)])
    if spec.name == "zoo":
        from dse.sweep.zoo_family import ZooFamily

        return ZooFamily(**dict(spec.options))
    from dse.workloads.families import family

    return family(spec.name, **dict(spec.options))


def _split(text: str) -> tuple[str, str | None, str | None]:
    rest, _, host = text.partition("+")
    device, _, runtime = rest.partition("@")
    return device.strip(), (runtime.strip() or None), (host.strip() or None)


def _default_host(catalog: Any, device: str) -> str | None:
    for name in sorted(catalog.platforms):
        if device in catalog.platforms[name].accelerators:
            return name
    return None


def _host_cluster(catalog: Any, host: str) -> Any:
    if host in catalog.platforms:
        return catalog.device(next(iter(catalog.platforms[host].host)))
    return catalog.device(host)


@functools.lru_cache(maxsize=8)
def _catalog(calibration: str) -> Any:
    from dse.devices.calibrated import catalog_for, check_calibration

    return catalog_for(check_calibration(calibration))


@functools.lru_cache(maxsize=8)
def resolve_targets(targets: Targets) -> tuple[ResolvedTarget, ...]:
    """Each target's device spec (with its target's overlay), runtime, link and fallback host
    cluster, from the catalog of ``targets.calibration``; resolved once per process.

    Raises:
        DseError: Every unknown device, runtime or host at once (naming the close ones), an
            empty list, or a target named twice.
    """
    from dse.devices.kinds import device_kind

    catalog = _catalog(targets.calibration)
    problems: list[Problem] = []
    out: list[ResolvedTarget] = []
    if not targets.names:
        raise DseError([Problem("--targets", "", "give at least one target, such as "
                                "--targets coral_usb,ncs2")])
    seen: set[str] = set()
    hosts = sorted([*catalog.platforms, *(n for n, d in catalog.devices.items()
                                          if device_kind(d.kind).is_host)])
    for text in targets.names:
        if text in seen:
            problems.append(Problem("--targets", text, "named twice"))
            continue
        seen.add(text)
        device, runtime, host = _split(text)
        if device not in catalog.devices:
            problems.append(Problem("--targets", text,
                                    did_you_mean(device, catalog.devices, what="device")))
            continue
        if runtime is not None and runtime not in catalog.runtimes:
            problems.append(Problem("--targets", text,
                                    did_you_mean(runtime, catalog.runtimes, what="runtime")))
            continue
        if host is not None and host not in hosts:
            problems.append(Problem("--targets", text, did_you_mean(host, hosts, what="host")))
            continue
        try:
            spec = catalog.target(device, runtime)
        except DseError as exc:
            problems += [Problem("--targets", text, p.message) for p in exc.problems] or \
                [Problem("--targets", text, str(exc))]
            continue
        runtime_name = runtime or spec.default_runtime
        fallback_host = host or _default_host(catalog, device)
        fallback = None
        if fallback_host is not None and not device_kind(spec.kind).is_host:
            fallback = _host_cluster(catalog, fallback_host)
        if targets.precision == "auto":
            runs = sorted(spec.precisions, key=lambda p: (p != "int8", PRECISION_BYTES[p], p))
            precision = runs[0] if runs else "int8"
        else:
            precision = targets.precision
        out.append(ResolvedTarget(
            name=text, device=spec, precision=precision,
            runtime=catalog.runtimes.get(runtime_name) if runtime_name else None,
            link=catalog.link(spec.link) if spec.link else None,
            fallback=fallback, host=fallback_host))
    if targets.precision != "auto" and targets.precision not in PRECISION_BYTES:
        problems.append(Problem("--precision", "", did_you_mean(
            targets.precision, ["auto", *PRECISION_BYTES], what="precision")))
    if problems:
        raise DseError(problems)
    return tuple(out)


def _empty_columns(n: int) -> dict[str, np.ndarray]:
    return {"latency_s": np.full(n, np.nan), "device_s": np.full(n, np.nan),
            "transfer_s": np.full(n, np.nan), "energy_j": np.full(n, np.nan),
            "feasible": np.zeros(n, dtype=bool), "fits": np.zeros(n, dtype=bool),
            "onchip_weight_bytes": np.full(n, np.nan),
            "offchip_weight_bytes": np.full(n, np.nan), "reason": np.full(n, "", dtype=object)}


def _per_model_columns(family: Family, indices: np.ndarray, target: ResolvedTarget
                       ) -> dict[str, np.ndarray]:
    from dse.cost import model_cost
    from dse.cost.power import energy_j

    cols = _empty_columns(len(indices))
    device = target.device
    for row, i in enumerate(indices):
        w = family.workload(int(i)).at(target.precision)
        cost = model_cost(w, device, target.precision, fallback=target.fallback,
                          link=target.link, runtime=target.runtime)
        if not cost.feasible:
            cols["reason"][row] = cost.reason
            continue
        time_s, device_s = cost.time_s, cost.device_s
        cols["latency_s"][row] = time_s
        cols["device_s"][row] = device_s
        cols["transfer_s"][row] = cost.transfer_s
        cols["energy_j"][row] = energy_j(device, min(device_s, time_s), time_s)
        cols["feasible"][row] = True
        cols["onchip_weight_bytes"][row] = cost.onchip_weight_bytes
        cols["offchip_weight_bytes"][row] = cost.offchip_weight_bytes
        cols["fits"][row] = cost.offchip_weight_bytes == 0
    return cols


#: Targets whose per-model path was reported in this process.
_WARNED: set[str] = set()


def target_columns(family: Family, indices: np.ndarray, target: ResolvedTarget, *,
                   batch: Callable[[], Any] | None = None) -> dict[str, np.ndarray]:
    """Per member of ``indices``, the :data:`TARGET_COLUMNS` of one target.

    ``batch`` gives the members' :class:`~dse.workloads.layers.LayerBatch` (built once for all
    targets of a chunk); default: ``family.batch(indices)``.

    With the batch cost model (``dse.cost.batch.batch_cost``), all members at once on the
    family's :class:`~dse.workloads.layers.LayerBatch` (members that fall back to the host
    included: a family's batch holds the graph's edges), and the members it leaves to the
    per-model path (a runtime's graph-pattern fusing, a device that declares its memories) one
    at a time by
    :func:`dse.cost.model_cost` on their workload graph (the same figures, about 100x slower
    per member). Energy is the device's alone, as
    :func:`dse.cost.power.energy_j` charges a lone inference: active power while it runs, idle
    power for the rest of the latency (the fallback host's share is not in it).
    """
    from dse.cost.batch import PER_MODEL as per_model
    from dse.cost.batch import batch_cost

    layers = batch() if batch is not None else family.batch(indices)
    cost = batch_cost(layers, target.device, target.precision, link=target.link,
                      fallback=target.fallback, runtime=target.runtime)
    ok = np.asarray(cost.feasible, dtype=bool)
    cols = _empty_columns(len(indices))
    for key, values in (("latency_s", cost.time_s), ("device_s", cost.device_s),
                        ("transfer_s", cost.transfer_s), ("energy_j", cost.energy_j),
                        ("onchip_weight_bytes", cost.onchip_weight_bytes),
                        ("offchip_weight_bytes", cost.offchip_weight_bytes)):
        cols[key] = np.where(ok, np.asarray(values, dtype=np.float64), np.nan)
    cols["feasible"] = ok
    cols["fits"] = ok & (np.asarray(cost.offchip_weight_bytes) == 0)
    cols["reason"] = np.asarray(cost.reason, dtype=object)
    redo = np.flatnonzero(cost.needs_model_path)
    if redo.size:
        if target.name not in _WARNED:
            _WARNED.add(target.name)
            logger.warning(
                "%d of %d members on %s need the per-model path (%s), each built as a "
                "workload graph: a few members per second instead of thousands",
                redo.size, len(indices), target.name,
                str(cols["reason"][redo[0]]).removeprefix(per_model + ": "))
        again = _per_model_columns(family, np.asarray(indices)[redo], target)
        for key, values in again.items():
            cols[key][redo] = values
    return cols


def evaluate_chunk(family_spec: FamilySpec, indices: Sequence[int] | np.ndarray,
                   targets: Targets) -> pd.DataFrame:
    """One chunk of a sweep: per member its index, name, features and, per target, the
    :data:`TARGET_COLUMNS` (``<column>:<target>``), sorted by index.

    Pure: the same arguments give the same frame in any process (what makes every engine and
    worker count agree).
    """
    idx = np.sort(np.asarray(indices, dtype=np.int64))
    family = open_family(family_spec)
    resolved = resolve_targets(targets)
    data: dict[str, Any] = {"index": idx,
                            "name": family.member_names(idx)}
    # the graph's edges price a fallback to a host; without one, no target reads them
    built = family.batch(idx, edges=any(t.fallback is not None for t in resolved))
    for key, values in family.features(idx, batch=built).items():
        data[key] = np.asarray(values, dtype=np.float64)
    layers = functools.cache(lambda: built)
    for target in resolved:
        for key, values in target_columns(family, idx, target, batch=layers).items():
            data[f"{key}:{target.name}"] = values
    frame = pd.DataFrame(data)
    for target in resolved:
        frame[f"reason:{target.name}"] = frame[f"reason:{target.name}"].astype(str)
    return frame
