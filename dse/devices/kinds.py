"""Device kinds: a registry of what differs between a CPU cluster, a GPU, an NPU, a DPU core
and a microcontroller NPU.

A kind checks the fields particular to it and may derive values from more basic ones before the
spec is validated (a CPU cluster's peak from cores x clock x ops per cycle, a DPU core's from its
size and clock), so that a spec built on another with ``base:`` and a different clock gets a
consistent peak. The engine looks kinds up by name and never imports a concrete one; subclass
:class:`BaseDeviceKind` (its docstring gives the call protocol) or build a :class:`DeviceKind`,
and register it with :func:`register_kind`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from dse.spec.kinds import KINDS as _SPEC_KINDS
from dse.spec.kinds import kind_names
from dse.spec.units import parse_quantity
from dse.workloads.layers import fold_shape
from dse.workloads.ops import OP_CLASSES

if TYPE_CHECKING:
    import pandas as pd

    from dse.spec.device import DeviceSpec

__all__ = [
    "DPU_ARCHS",
    "KINDS",
    "BaseDeviceKind",
    "DeviceKind",
    "LayerShapes",
    "ShapeColumns",
    "amdahl_core_scale",
    "device_kind",
    "kind_names",
    "register_kind",
]


def amdahl_core_scale(cores: int | None, threads: int | None,
                      parallel_fraction: float | None) -> float:
    """Share of a CPU cluster's all-cores peak that ``threads`` intra-op threads of one
    inference reach: Amdahl's speed-up ``1 / ((1 - p) + p / t)`` over one core, divided by the
    cores (linear in ``t`` when ``parallel_fraction`` is ``None``; 1 for a device without
    cores). More threads than cores help no further."""
    if not cores:
        return 1.0
    t = min(threads or cores, cores)
    p = parallel_fraction
    speedup = float(t) if p is None else 1.0 / ((1.0 - p) + p / t)
    return speedup / cores


class LayerShapes(Protocol):
    """The per-layer columns a tile-utilisation rule reads, as arrays: ``op_class`` (index into
    :data:`dse.workloads.ops.OP_CLASSES`), ``weight_elems``, and the first input's and output's
    shape folded to four axes (``in_shape``, ``out_shape``, ``(layers, 4)``, as
    :func:`dse.workloads.layers.fold_shape` folds them) with their ranks (``in_rank``,
    ``out_rank``; 0: no tensor). A :class:`dse.workloads.layers.LayerBatch` is one."""

    @property
    def op_class(self) -> np.ndarray: ...
    @property
    def weight_elems(self) -> np.ndarray: ...
    @property
    def in_shape(self) -> np.ndarray: ...
    @property
    def out_shape(self) -> np.ndarray: ...
    @property
    def in_rank(self) -> np.ndarray: ...
    @property
    def out_rank(self) -> np.ndarray: ...


@dataclass(frozen=True)
class ShapeColumns:
    """:class:`LayerShapes` of a counts table (:attr:`dse.workloads.Workload.counts`).

    The ranks are the shapes' own (a 5-D tensor has rank 5 here, its four folded axes beside
    it), so a rule that asks for a 4-D tensor sees what the table holds. A
    :class:`~dse.workloads.layers.LayerBatch` states the rank after folding (at most 4): there a
    5-D layer (a 3-D convolution) reads as 4-D, the one case where the two forms differ; no zoo
    model has one.
    """

    op_class: np.ndarray
    weight_elems: np.ndarray
    in_shape: np.ndarray
    out_shape: np.ndarray
    in_rank: np.ndarray
    out_rank: np.ndarray

    @classmethod
    def from_counts(cls, counts: pd.DataFrame) -> ShapeColumns:
        """The columns of a counts table (``op_class``, ``weight_elems`` and the first of
        ``in_shapes`` / ``out_shapes``; a missing column reads as unknown class, no weights, no
        shape)."""
        n = len(counts)
        index = {c: i for i, c in enumerate(OP_CLASSES)}
        columns: list[np.ndarray] = []
        for key in ("in_shapes", "out_shapes"):
            shapes = counts[key] if key in counts else [None] * n
            firsts = [s[0] if s else None for s in shapes]
            columns.append(np.array([fold_shape(s)[0] for s in firsts],
                                    dtype=np.int64).reshape(n, 4))
            columns.append(np.array([len(s) if s is not None else 0 for s in firsts],
                                    dtype=np.int64))
        classes = counts["op_class"] if "op_class" in counts else [None] * n
        return cls(op_class=np.array([index.get(str(c), -1) for c in classes], dtype=np.int64),
                   weight_elems=counts["weight_elems"].to_numpy(dtype=float)
                   if "weight_elems" in counts else np.zeros(n),
                   in_shape=columns[0], in_rank=columns[1], out_shape=columns[2],
                   out_rank=columns[3])


class BaseDeviceKind:
    """How devices of one kind behave: the extension point of :data:`KINDS`.

    A kind is looked up by a device's ``kind`` name whenever a spec is validated or a cost is
    computed; the engine never imports a concrete one. Subclass this (or build a
    :class:`DeviceKind` from functions) and :func:`register_kind` an instance; check it with
    :class:`dse.testing.kinds.DeviceKindConformance`.

    The call protocol:

    - :meth:`derive` is called on a device's raw YAML mapping, before validation, every time a
      spec is validated (also for a what-if copy, with the values it derived before removed).
    - :meth:`check` is called once per validation, on the validated spec.
    - :meth:`utilization` / :meth:`layer_utilization` are called by the cost model
      (:func:`dse.cost.compute.layer_times`, :func:`dse.cost.batch.batch_cost`) for every
      costing, possibly many times on the same arrays.
    - :meth:`resident_weights` is called by the weight placement
      (:func:`dse.cost.memory.place_weights`, :func:`dse.cost.batch.batch_cost`).
    - :meth:`thread_scale` is called by :meth:`dse.spec.device.DeviceSpec.core_scale`, which
      the cost model uses for the intra-op threads of one inference.

    Every method is a pure function of its arguments: it must not mutate them (specs are
    frozen; mappings and arrays are shared with caches), must not keep state between calls,
    and must return the same answer for the same input, since results are memoised
    (:mod:`dse.sim.memo` keys on the registered kind's identity, so re-registering a kind
    misses the caches). An instance is registered once and shared across threads.

    Attributes:
        name: Registry key used in YAML (``kind: cpu``).
        description: One line for listings.
        is_host: Whether devices of this kind can be a platform's host (run threads, drive
            accelerators, take fallback layers); a device that is not runs its
            ``host_overhead_per_inference_s`` on the host.
        onchip: How on-chip memory holds weights (:meth:`resident_weights`). ``scratchpad``:
            the compiler places layers' weights in order until it is full (Edge TPU, DPU,
            micro-NPUs). ``cache``: weights stay only if the whole model fits, since streaming
            a larger model evicts them. ``buffer``: a working buffer that weights pass through;
            they are read from memory again every inference (the Xilinx DPU reloads every
            layer's weights from DDR).
        streams_weights: Whether weights that do not fit on chip can be read from elsewhere
            every inference; if not, such a model is infeasible (MAX78000).
        required: Fields a spec of this kind must state (:meth:`check` reports them).
    """

    name: str
    description: str = ""
    is_host: bool = False
    onchip: Literal["cache", "scratchpad", "buffer"] = "scratchpad"
    streams_weights: bool = True
    required: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')!r}>"

    def derive(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Fill values this kind derives from more basic ones (a peak from cores x clock x
        ops per cycle).

        Args:
            data: A device's raw mapping (not yet validated: any value may be of any type;
                leave bad ones for the field validators to report).

        Returns:
            A new mapping (``data`` itself must not be changed) and the dotted paths of the
            values derived (``peak_ops_s.int8``), which the spec records as ``derived``. A
            value the mapping states must never be overwritten. Default: nothing derived.
        """
        return data, []

    def check(self, spec: DeviceSpec) -> list[str]:
        """Kind-specific problems of a validated spec: one ``field: message`` line each, empty
        if none (never raise). Default: the :attr:`required` fields that are missing; an
        override should start from ``super().check(spec)``."""
        return [f"{name}: required for a device of kind {self.name!r}"
                for name in self.required if getattr(spec, name) is None]

    def layer_utilization(self, spec: DeviceSpec, shapes: LayerShapes) -> np.ndarray:
        """Per layer, the share of the compute array its shape can keep busy, in (0, 1] (a
        layer whose channels are not a multiple of the array's channel parallelism leaves
        lanes idle); it multiplies the efficiency.

        Reads :class:`LayerShapes` arrays, so one rule serves a workload's counts table and a
        batch of many models' layers. Default: every layer can use the whole array.
        """
        return np.ones(len(shapes.op_class))

    def utilization(self, spec: DeviceSpec, counts: pd.DataFrame) -> np.ndarray:
        """:meth:`layer_utilization` of the layers of a counts table
        (:attr:`dse.workloads.Workload.counts`); not to be overridden on its own, since both
        forms must agree."""
        if type(self).layer_utilization is BaseDeviceKind.layer_utilization:
            return np.ones(len(counts))  # NOTE: skips building the shape columns
        return self.layer_utilization(spec, ShapeColumns.from_counts(counts))

    def resident_weights(self, footprint: np.ndarray, capacity: np.ndarray,
                         offsets: np.ndarray) -> np.ndarray:
        """Per layer, whether its weights stay resident on chip across inferences; the rest
        are read again every inference (:func:`dse.cost.memory.place_weights` decides from
        where, and whether :attr:`streams_weights` allows it). Default: the :attr:`onchip`
        rule.

        Args:
            footprint: Weight bytes per layer (0 for layers that run elsewhere), of one or
                many models end to end, each in topological order.
            capacity: On-chip bytes for weights, one per model.
            offsets: Where each model's layers start and end (``models + 1`` entries).

        Returns:
            A boolean array like ``footprint``; false wherever ``footprint`` is 0.
        """
        has = footprint > 0
        if self.onchip == "buffer":
            return np.zeros_like(has)
        lengths = np.diff(offsets)
        # Weight bytes are whole numbers, so sums in any order are exact below 2**53 bytes.
        cum = np.cumsum(footprint)
        before = np.concatenate([[0.0], cum])[offsets[:-1]]
        if self.onchip == "cache":
            totals = np.concatenate([[0.0], cum])[offsets[1:]] - before
            return has & np.repeat(totals <= np.broadcast_to(capacity, lengths.shape), lengths)
        cap = np.repeat(np.broadcast_to(capacity, lengths.shape), lengths)
        # A prefix of the layers in order stays resident; from the first layer that does not
        # fit on, weights stream. Coral documents only that the compiler caches "as much as
        # fits"; the in-order prefix is our assumption. The running sum never falls, so the
        # layers that fit are that prefix.
        return has & (cum - np.repeat(before, lengths) <= cap)

    def thread_scale(self, spec: DeviceSpec, threads: int | None) -> float:
        """Share of the all-cores peak that ``threads`` intra-op threads of one inference
        reach (``None``: all cores). Default: Amdahl's law over the spec's ``cores`` with its
        ``parallel_fraction`` (:func:`dse.cost.concurrency.amdahl_core_scale`): 1 for a
        device without cores, no gain beyond the cores."""
        return amdahl_core_scale(spec.cores, threads, spec.parallel_fraction)


@dataclass(frozen=True)
class DeviceKind(BaseDeviceKind):
    """A :class:`BaseDeviceKind` built from attributes and functions (how the built-ins are
    made).

    Attributes:
        name, description, is_host, onchip, streams_weights, required: As
            :class:`BaseDeviceKind`.
        derive_fn: ``(data) -> (data, derived paths)``: :meth:`~BaseDeviceKind.derive`.
        check_fn: ``(spec) -> problems``: extra checks after validation, run when no required
            field is missing.
        utilization_fn: ``(spec, shapes) -> array``:
            :meth:`~BaseDeviceKind.layer_utilization`. ``None``: every layer can use the
            whole array.
    """

    name: str
    description: str
    is_host: bool = False
    onchip: Literal["cache", "scratchpad", "buffer"] = "scratchpad"
    streams_weights: bool = True
    required: tuple[str, ...] = ()
    derive_fn: Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]] | None = None
    check_fn: Callable[[DeviceSpec], list[str]] | None = field(default=None)
    utilization_fn: Callable[[DeviceSpec, LayerShapes], np.ndarray] | None = None

    def utilization(self, spec: DeviceSpec, counts: pd.DataFrame) -> np.ndarray:
        if self.utilization_fn is None:
            return np.ones(len(counts))
        return self.utilization_fn(spec, ShapeColumns.from_counts(counts))

    def layer_utilization(self, spec: DeviceSpec, shapes: LayerShapes) -> np.ndarray:
        if self.utilization_fn is None:
            return np.ones(len(shapes.op_class))
        return self.utilization_fn(spec, shapes)

    def derive(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        if self.derive_fn is None:
            return data, []
        return self.derive_fn(data)

    def check(self, spec: DeviceSpec) -> list[str]:
        problems = super().check(spec)
        if self.check_fn is not None and not problems:
            problems += self.check_fn(spec)
        return problems


#: The device kinds, by name (:data:`dse.spec.kinds.KINDS`, where validation finds them): the
#: built-ins below, registered when this module is imported (before the first lookup), and
#: those of the ``dse.kinds`` entry-point group.
KINDS = _SPEC_KINDS


def register_kind(kind: BaseDeviceKind, *, replace: bool = False) -> BaseDeviceKind:
    """Add a device kind to the registry (``replace=True`` to redefine one)."""
    return KINDS.register(kind, replace=replace)


def device_kind(name: str) -> BaseDeviceKind:
    """The registered kind of this name.

    Raises:
        PluginNotFoundError: Unknown kind (a ``KeyError``); the message lists the known ones.
    """
    kind: BaseDeviceKind = KINDS.get(name)
    return kind


# ----- built-in kinds ---------------------------------------------------------------------------

def _number(value: Any, quantity: Any) -> float | None:
    try:
        return parse_quantity(value, quantity)
    except ValueError:
        return None  # the field validator reports it


def _derive_from_cycles(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """peak = cores x clock x ops per cycle per core, for each precision not stated."""
    cycles = data.get("ops_per_cycle_per_core")
    cores = data.get("cores")
    clock = _number(data.get("clock_hz"), "frequency") if "clock_hz" in data else None
    if not isinstance(cycles, dict) or not isinstance(cores, int) or clock is None:
        return data, []
    peak = dict(data.get("peak_ops_s") or {})
    derived = []
    for precision, per_cycle in cycles.items():
        if precision not in peak and isinstance(per_cycle, int | float):
            peak[precision] = cores * clock * float(per_cycle)
            derived.append(f"peak_ops_s.{precision}")
    return {**data, "peak_ops_s": peak}, derived


# Xilinx DPUCZDX8G sizes: pixel x input-channel x output-channel parallelism per clock; the
# size name is the peak ops per clock (one MAC = 2 ops). Source: Xilinx PG338 (DPUCZDX8G
# product guide), table "Deep-Learning Processor Unit Architectures", as quoted in
# ../shared/data/README.md.
DPU_ARCHS: dict[str, tuple[int, int, int]] = {
    "B512": (4, 8, 8), "B800": (4, 10, 10), "B1024": (8, 8, 8), "B1152": (4, 12, 12),
    "B1600": (8, 10, 10), "B2304": (8, 12, 12), "B3136": (8, 14, 14), "B4096": (8, 16, 16),
}


def _dpu_ops_per_clock(arch: str) -> int:
    pixel, icp, ocp = DPU_ARCHS[arch]
    return 2 * pixel * icp * ocp


def _lanes(n: np.ndarray, p: int) -> np.ndarray:
    """Share of ``p`` parallel lanes that ``n`` items keep busy over ceil(n / p) passes (1 where
    there are no items)."""
    n = np.asarray(n, dtype=float)
    if p <= 0:
        return np.ones(n.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, n / (p * np.ceil(n / p)), 1.0)


def _last_axis(shape: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per row, the last axis of a folded shape (0 where there is none)."""
    r = np.clip(np.minimum(rank, 4) - 1, 0, 3).astype(np.int64)
    return np.where(rank > 0, np.take_along_axis(shape, r[:, None], axis=1)[:, 0], 0)


def _dpu_utilization(spec: DeviceSpec, layers: LayerShapes) -> np.ndarray:
    """PG338's parallelism: a convolution runs PP output pixels (along the row) x ICP input
    channels x OCP output channels per cycle, so a layer uses the share of each dimension its
    shape fills. Depthwise convolution runs on PP/2 pixels x the channel parallelism only ("The
    parallelism of depthwise convolution is half that of the pixel parallelism", PG338 v3.4
    DepthwiseConv), 1 / (2 OCP) of the array. A fully connected layer fills the channel lanes
    with its input and output features and one pixel lane per row. A first layer with fewer
    input channels than ICP (an RGB image) is taken as channel-augmented (PG338 "channel
    augmentation", on in the Xilinx reference designs): its kernel columns fill the lanes."""
    pp, icp, ocp = DPU_ARCHS.get(str(spec.dpu_arch), (1, 1, 1))
    cls = np.asarray(layers.op_class)
    x, y = np.asarray(layers.in_shape), np.asarray(layers.out_shape)
    xr, yr = np.asarray(layers.in_rank), np.asarray(layers.out_rank)
    out = np.ones(len(cls))
    both = (xr > 0) & (yr > 0)
    # NOTE: columns are picked before rows are masked: much faster on many layers
    conv = np.flatnonzero(both & (cls == OP_CLASSES.index("conv")) & (xr == 4) & (yr == 4))
    if len(conv):
        cin, cout = x[:, 1][conv].astype(float), y[:, 1][conv].astype(float)
        kernel = np.asarray(layers.weight_elems, dtype=float)[conv] / np.maximum(cin * cout, 1)
        # channel augmentation packs kernel columns into the channel lanes
        cin = np.where(cin < icp, cin * np.maximum(np.round(np.sqrt(kernel)), 1), cin)
        out[conv] = _lanes(cin, icp) * _lanes(cout, ocp) * _lanes(y[:, 3][conv], pp)
    dw = np.flatnonzero(both & (cls == OP_CLASSES.index("dwconv")) & (yr == 4))
    if len(dw):
        half = max(pp // 2, 1)
        out[dw] = _lanes(y[:, 1][dw], icp) * _lanes(y[:, 3][dw], half) * half / (pp * ocp)
    mm = np.flatnonzero(both & (cls == OP_CLASSES.index("matmul")))
    if len(mm):
        ys, yk = y[mm], np.minimum(yr[mm], 4)
        # all axes but the last (the folded axes keep that product)
        rows = np.prod(np.where(np.arange(4) < (yk - 1)[:, None], ys, 1), axis=1)
        out[mm] = _lanes(_last_axis(x[mm], xr[mm]), icp) * _lanes(_last_axis(ys, yk), ocp) * \
            _lanes(rows, pp)
    return out


def _derive_dpu(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    arch = data.get("dpu_arch")
    clock = _number(data.get("clock_hz"), "frequency") if "clock_hz" in data else None
    peak = dict(data.get("peak_ops_s") or {})
    if arch not in DPU_ARCHS or clock is None or "int8" in peak:
        return data, []
    peak["int8"] = _dpu_ops_per_clock(str(arch)) * clock
    return {**data, "peak_ops_s": peak}, ["peak_ops_s.int8"]


def _check_dpu(spec: DeviceSpec) -> list[str]:
    problems = []
    if spec.dpu_arch not in DPU_ARCHS:
        problems.append(f"dpu_arch: expected one of {', '.join(DPU_ARCHS)}, "
                        f"got {spec.dpu_arch!r}")
    else:
        size = int(re.sub(r"\D", "", spec.dpu_arch))
        if _dpu_ops_per_clock(spec.dpu_arch) != size:
            problems.append(f"dpu_arch: {spec.dpu_arch} parallelism does not give "
                            f"{size} ops/clock")
    if set(spec.peak_ops_s) - {"int8"}:
        problems.append(f"peak_ops_s: a DPU core runs int8 only, got "
                        f"{', '.join(sorted(spec.peak_ops_s))}")
    return problems


def _check_cpu(spec: DeviceSpec) -> list[str]:
    if spec.link is not None:
        return [f"link: a CPU cluster is the host and sits on no link, got {spec.link!r}"]
    return []


def _check_micro(spec: DeviceSpec) -> list[str]:
    if spec.onchip_mem_bytes <= 0:
        return ["onchip_mem_bytes: a microcontroller NPU runs from on-chip memory; must be > 0"]
    return []


register_kind(DeviceKind(
    "cpu", "CPU cluster (cores of one type sharing a cache); a platform's host",
    is_host=True, onchip="cache", required=("cores", "clock_hz"), derive_fn=_derive_from_cycles,
    check_fn=_check_cpu))
register_kind(DeviceKind(
    "gpu", "GPU (integrated or discrete), driven by a host thread", onchip="cache",
    derive_fn=_derive_from_cycles))
register_kind(DeviceKind(
    "npu", "Neural accelerator: NPU, VPU (Myriad), TPU (Edge TPU), DSP (Hexagon)"))
register_kind(DeviceKind(
    "dpu", "Xilinx DPU core (DPUCZDX8G) in FPGA fabric; peak from size and clock",
    onchip="buffer", required=("dpu_arch", "clock_hz"), derive_fn=_derive_dpu,
    check_fn=_check_dpu, utilization_fn=_dpu_utilization))
register_kind(DeviceKind(
    "micro_npu", "Microcontroller NPU running from on-chip SRAM/flash (MAX78000, Ethos-U55)",
    streams_weights=False, check_fn=_check_micro))
register_kind(DeviceKind(
    "mcu", "Microcontroller CPU core without NPU (Cortex-M)", is_host=True, onchip="cache",
    required=("cores", "clock_hz"), derive_fn=_derive_from_cycles, check_fn=_check_cpu))
