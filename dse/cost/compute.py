"""Time of a layer on a device: the roofline plus fixed overheads.

``time = max(ops / (peak x efficiency x utilisation), traffic / bandwidth) + streamed / link
+ overhead``

``efficiency`` is the layer's kernel class's (:mod:`dse.workloads.kernels`), ``utilisation`` the
share of the device's compute array the layer's shape fills (tile quantisation, from its
device kind), ``overhead`` a fixed cost per kernel launched (fused and shape-only layers launch
none).

where ``traffic`` is the activations read and written plus the weights read from memory, and
``streamed`` the weights a device without memory of its own receives over its link every
inference. Streaming is added, not overlapped: the host driver sends parameters in
request/response fashion between executions (Coral documents the latency cost of off-chip
parameters, not an overlap). Pure functions, vectorised over layers with numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dse.cost.memory import DRAM, LINK, ONCHIP, activation_bytes, no_pass, weight_read_bytes
from dse.devices.kinds import LayerShapes, ShapeColumns, device_kind
from dse.spec.device import DeviceSpec, KernelModel, lookup_efficiency
from dse.spec.platform import LinkSpec
from dse.workloads.kernels import KERNEL_CLASSES, kernel_class_index

__all__ = [
    "MAX_ALIGN",
    "KernelTerms",
    "LayerCost",
    "LayerTimes",
    "cache_resident",
    "channel_alignment",
    "clock_scale",
    "cold_layers",
    "cold_times",
    "efficiency_vector",
    "kernel_model_terms",
    "layer_alignment",
    "layer_table",
    "layer_time",
    "layer_times",
    "private_cache_bytes",
    "roofline_times",
    "unfolded",
    "weights_resident",
]


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer on one device (one row of :func:`layer_table`)."""

    ops: float
    traffic_bytes: float
    stream_bytes: float
    compute_s: float
    memory_s: float
    stream_s: float
    overhead_s: float
    time_s: float
    intensity: float
    attainable_ops_s: float
    bound: str


def clock_scale(device: DeviceSpec, dvfs: str | None = None) -> float:
    """Compute-peak scale of a DVFS level relative to the device's nominal clock (1 if none).

    Raises:
        KeyError: Unknown level (the message lists the known ones).
    """
    if dvfs is None:
        return 1.0
    for level in device.power.dvfs:
        if level.name == dvfs:
            if device.clock_hz is None:
                raise KeyError(f"{device.name} has dvfs levels but no clock_hz")
            return level.clock_hz / device.clock_hz
    known = ", ".join(level.name for level in device.power.dvfs) or "none"
    raise KeyError(f"unknown dvfs level {dvfs!r} of {device.name}; known: {known}")


def efficiency_vector(efficiency: DeviceSpec | Mapping[str, float]) -> np.ndarray:
    """Efficiency for every kernel class, in :data:`KERNEL_CLASSES` order, of a device (or of
    an ``efficiency`` mapping as a spec holds it)."""
    table = efficiency.efficiency if isinstance(efficiency, DeviceSpec) else efficiency
    return np.array([lookup_efficiency(table, c) for c in KERNEL_CLASSES])


def roofline_times(ops: np.ndarray, traffic: np.ndarray, launches: np.ndarray, *,
                   peak_ops_s: np.ndarray | float, efficiency: np.ndarray,
                   mem_bw_bytes_s: np.ndarray | float, overhead_per_kernel_s: np.ndarray | float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cost model's core: compute, memory and total time of every layer, vectorised.

    The one place a layer's time is computed: :func:`layer_table` (and so the simulator and the
    closed-form bound) and the calibration fitter (:class:`dse.calibrate.forward.Forward`, over the
    layers of many measurement rows and several targets at once) both call it.

    Args:
        ops: Arithmetic operations per layer.
        traffic: Bytes each layer moves through the device's memory.
        launches: 1 for layers that launch a kernel of their own, 0 for fused and shape-only
            layers.
        peak_ops_s: The peak at the layer's precision, clock and threads (scalar or per layer).
        efficiency: Per layer, its kernel class's efficiency times the share of the compute
            array its shape fills (tile utilisation).
        mem_bw_bytes_s: Sustained memory bandwidth (scalar or per layer).
        overhead_per_kernel_s: Fixed cost of each kernel launched (scalar or per layer).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        compute_s = np.where(ops > 0, ops / (peak_ops_s * efficiency), 0.0)
    memory_s = traffic / mem_bw_bytes_s
    return compute_s, memory_s, np.maximum(compute_s, memory_s) + overhead_per_kernel_s * launches


@dataclass(frozen=True)
class KernelTerms:
    """Per-layer inputs of :func:`roofline_times` from a device's kernel models.

    Attributes:
        modelled: Layers whose kernel class has a model (the other entries are unset there).
        efficiency: Efficiency relative to the all-cores peak at the layer's threads: the
            class's ``e(ops)`` times Amdahl's speed-up ``s_t(ops)`` over one core, divided by
            the cores.
        launch_s: Fixed cost per launch at the layer's threads.
        mem_bw_bytes_s: Bandwidth of the layer's traffic at its threads (``nan`` where the
            device's applies).
        cold_bw_bytes_s: Rate of the layer's bytes into cold caches (``nan``: no cold cost).
        cold_launch_s: The fixed part of that cost per launch.
    """

    modelled: np.ndarray
    efficiency: np.ndarray
    launch_s: np.ndarray
    mem_bw_bytes_s: np.ndarray
    cold_bw_bytes_s: np.ndarray | None = None
    cold_launch_s: np.ndarray | None = None


#: The largest channel alignment :func:`channel_alignment` reports.
MAX_ALIGN = 64


def channel_alignment(counts: pd.DataFrame) -> np.ndarray:
    """Per layer, the largest power of two (at most :data:`MAX_ALIGN`) that divides the channel
    count of its first input and of its output, when both are 4-D (N, C, H, W); ``MAX_ALIGN``
    for every other layer."""
    return layer_alignment(ShapeColumns.from_counts(counts))


def layer_alignment(shapes: LayerShapes) -> np.ndarray:
    """:func:`channel_alignment` of layers given as arrays (:class:`LayerShapes`)."""
    x, y = np.asarray(shapes.in_shape), np.asarray(shapes.out_shape)
    out = np.full(len(x), MAX_ALIGN, dtype=np.int64)
    both = (np.asarray(shapes.in_rank) == 4) & (np.asarray(shapes.out_rank) == 4)
    for c in (x[both, 1], y[both, 1]):
        c = c.astype(np.int64)
        out[both] = np.minimum(out[both], np.where(c > 0, c & -c, MAX_ALIGN))
    return out


def kernel_model_terms(models: Mapping[str, KernelModel], kernels: np.ndarray,
                       ops: np.ndarray, threads: np.ndarray | int, cores: int | None,
                       align: np.ndarray | None = None) -> KernelTerms:
    """Efficiency, launch cost and bandwidth of every layer whose kernel class has a
    :class:`~dse.spec.device.KernelModel` (see its docstring for the law).

    Args:
        models: Kernel class name -> model (``DeviceSpec.kernel_models``).
        kernels: Kernel class index per layer (:data:`KERNEL_CLASSES` order).
        ops: Operations per layer.
        threads: Intra-op threads of the inference each layer belongs to (scalar or per
            layer); more threads than ``cores`` help no further.
        cores: The cluster's cores (``None``: a device without cores, thread-independent).
        align: Per layer, :func:`channel_alignment` (default: every layer aligned).
    """
    n = len(ops)
    modelled = np.zeros(n, dtype=bool)
    eff, launch, bw, cold = np.ones(n), np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
    cold_launch = np.zeros(n)
    x = np.log10(np.maximum(ops, 1.0))
    t = np.broadcast_to(np.asarray(threads, dtype=float), (n,))
    # No (or zero) threads stated: all cores, as DeviceSpec.core_scale takes it.
    t = np.minimum(np.where(t > 0, t, cores or 1), float(cores) if cores else np.inf)
    names = list(KERNEL_CLASSES)
    for name, model in models.items():
        mask = kernels == names.index(name)
        if not mask.any():
            continue
        knots = np.asarray(model.log10_ops)
        e = np.exp(np.interp(x[mask], knots, np.log(model.efficiency)))
        if cores:
            p = np.interp(x[mask], knots, model.parallel_fraction)
            e = e / ((1.0 - p) + p / t[mask]) / cores
        if align is not None and model.channel_block > 1:
            e = np.where(align[mask] % model.channel_block != 0,
                         e * model.unaligned_efficiency, e)
        modelled[mask] = True
        eff[mask] = e
        extra = t[mask] - 1.0 if cores else 0.0
        launch[mask] = model.launch_s + model.launch_per_thread_s * extra
        if model.mem_bw_bytes_s is not None:
            q = model.mem_parallel_fraction if cores else 0.0
            bw[mask] = model.mem_bw_bytes_s / ((1.0 - q) + q / t[mask])
        if model.cold_bw_bytes_s is not None:
            cold[mask] = model.cold_bw_bytes_s
            cold_launch[mask] = model.cold_launch_s
    return KernelTerms(modelled, eff, launch, bw, cold, cold_launch)


def cold_times(traffic: np.ndarray, cold_bw_bytes_s: np.ndarray,
               cold_launch_s: np.ndarray | float = 0.0) -> np.ndarray:
    """Per launched layer, what running with cold caches costs beyond its warm time: its bytes
    at :attr:`KernelModel.cold_bw_bytes_s` plus :attr:`KernelModel.cold_launch_s` (0 where the
    class states no cold rate)."""
    none = np.isnan(cold_bw_bytes_s)
    return np.where(none, 0.0, traffic / np.where(none, 1.0, cold_bw_bytes_s) + cold_launch_s)


def private_cache_bytes(device: DeviceSpec, threads: int | np.ndarray | None
                        ) -> np.ndarray:
    """The L2 of the cores ``threads`` intra-op threads run on (the probed ``caches.l2`` per
    core; 0 for a device without probed caches)."""
    l2 = (device.caches or {}).get("l2")
    t = np.asarray(threads if threads is not None else device.cores or 1, dtype=float)
    if l2 is None:
        return np.zeros(t.shape)
    cores = float(device.cores or 1)
    return l2.size_bytes * np.clip(np.where(t > 0, t, cores), 1.0, cores)


def cold_layers(traffic: np.ndarray, resident: bool | np.ndarray, cache_bytes: np.ndarray | float
                ) -> np.ndarray:
    """Which layers find their bytes outside the cores' private caches: all of a model that
    does not stay in them (:func:`cache_resident`), and any layer whose own bytes do not fit
    them (a lone kernel run after run included)."""
    return ~np.asarray(resident) | (traffic > cache_bytes)


def cache_resident(counts: pd.DataFrame, device: DeviceSpec, precision: str,
                   threads: int | None) -> bool:
    """Whether a whole model stays in the private caches of the cores running it from one
    inference to the next: its weights fit in their L2 (the probed ``caches.l2`` of each of
    ``threads`` cores). Its layers then run as a lone kernel benchmarked run after run does;
    otherwise every layer finds its weights swept out by the layers since its last inference
    (:func:`cold_times`). A device without probed caches is taken as never resident."""
    weights = float(weight_read_bytes(counts, precision).sum())
    return bool(weights_resident(np.array([weights]), device, threads)[0])


def weights_resident(weight_bytes: np.ndarray, device: DeviceSpec, threads: int | None
                     ) -> np.ndarray:
    """:func:`cache_resident` of models given by the weight bytes each reads per inference."""
    if (device.caches or {}).get("l2") is None:
        return np.zeros(len(weight_bytes), dtype=bool)
    return np.asarray(weight_bytes <= private_cache_bytes(device, threads))


def unfolded(modelled: np.ndarray, launches: np.ndarray, ops: np.ndarray, traffic: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Ops and traffic a layer is priced for: none for a layer of a modelled kernel class that
    launches no kernel of its own (a BatchNorm folded into its conv, the sigmoid of a fused
    SiLU, a reshape). It is part of the kernel that runs it, and the class models are fitted on
    launched kernels' times, epilogues included (:mod:`dse.calibrate.kernel_fit`)."""
    folded = modelled & (launches == 0)
    return np.where(folded, 0.0, ops), np.where(folded, 0.0, traffic)


def _kernels(counts: pd.DataFrame) -> np.ndarray:
    """Kernel classes of a counts table: its ``kernel`` column, else taken from the op class
    (a table built without its graph, as :func:`layer_time` builds one)."""
    if "kernel" in counts:
        return counts["kernel"].to_numpy(dtype=np.int64)
    names = ["fc" if c == "matmul" else c if c in KERNEL_CLASSES else "other"
             for c in counts["op_class"]]
    return kernel_class_index(names)


@dataclass(frozen=True)
class LayerTimes:
    """Per-layer results of :func:`layer_times` (arrays over the layers given).

    Attributes:
        ops, traffic_bytes, stream_bytes, compute_s, memory_s, stream_s, overhead_s, time_s:
            As the columns of :func:`layer_table`.
        peak_ops_s, efficiency, mem_bw_bytes_s: The roofline each layer is priced on.
        launches: 1 for layers launching a kernel of their own, else 0.
        cold: Layers that pay the cold-cache cost (:func:`cold_layers`).
    """

    ops: np.ndarray
    traffic_bytes: np.ndarray
    stream_bytes: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    stream_s: np.ndarray
    overhead_s: np.ndarray
    time_s: np.ndarray
    peak_ops_s: np.ndarray | float
    efficiency: np.ndarray
    mem_bw_bytes_s: np.ndarray
    launches: np.ndarray
    cold: np.ndarray


def layer_times(*, ops: np.ndarray, weight_bytes: np.ndarray, activation_bytes: np.ndarray,
                in_dram: np.ndarray, on_link: np.ndarray, passless: np.ndarray,
                kernels: np.ndarray, utilization: np.ndarray, device: DeviceSpec,
                precision: str, link: LinkSpec | None = None, dvfs: str | None = None,
                threads: int | None = None, align: np.ndarray | None = None,
                resident: np.ndarray | None = None) -> LayerTimes:
    """The cost of layers given as plain arrays: the one computation behind :func:`layer_table`
    (one model, from its counts table) and :func:`dse.cost.batch.batch_cost` (many models' layers
    end to end). See :func:`layer_table` for the arguments it shares.

    Args:
        ops: Operations per layer.
        weight_bytes: Weight bytes each layer reads per inference
            (:func:`dse.cost.memory.weight_read_bytes`).
        activation_bytes: Activation bytes each layer reads and writes
            (:func:`dse.cost.memory.activation_bytes`).
        in_dram: Layers whose weights are read from memory every inference.
        on_link: Layers whose weights are streamed over the link every inference.
        passless: Layers that launch no kernel (:func:`dse.cost.memory.no_pass`).
        kernels: Kernel class index per layer.
        utilization: Per layer, the share of the compute array its shape fills (the device
            kind's :meth:`~dse.devices.kinds.DeviceKind.layer_utilization`).
        align: Per layer, :func:`channel_alignment` (read by kernel models only; default: every
            layer aligned).
        resident: Per layer, whether its model stays in the cores' private caches
            (:func:`cache_resident`; read by kernel models only; default: from ``weight_bytes``
            as one model).
    """
    ops = np.asarray(ops, dtype=float)
    n = len(ops)
    traffic = activation_bytes + np.where(in_dram, weight_bytes, 0.0)
    streamed = np.where(on_link, weight_bytes, 0.0)
    efficiency = efficiency_vector(device)[kernels] * utilization
    peak: np.ndarray | float = device.peak_ops_s[precision] * clock_scale(device, dvfs) * \
        device_kind(device.kind).thread_scale(device, threads)
    launches = (~passless).astype(float)
    cold_s: np.ndarray | float = 0.0
    cold = np.zeros(n, dtype=bool)
    priced_ops = ops
    overhead: np.ndarray | float = device.overhead_per_layer_s
    mem_bw: np.ndarray | float = device.mem_bw_bytes_s
    if device.kernel_models:
        # A modelled class carries its own thread scaling: price it against the all-cores peak.
        terms = kernel_model_terms(device.kernel_models, kernels, ops,
                                   threads or device.cores or 1, device.cores, align)
        m = terms.modelled
        # A class's bandwidth is fitted to every byte its kernels touch, weights included
        # wherever they are placed: a CPU's caches are not memory a runtime manages, and a
        # whole model's weights do not stay in them from one inference to the next.
        traffic = np.where(m & ~on_link, activation_bytes + weight_bytes, traffic)
        priced_ops, traffic = unfolded(m, launches, ops, traffic)
        all_cores = device.peak_ops_s[precision] * clock_scale(device, dvfs)
        peak = np.where(m, all_cores, peak)
        efficiency = np.where(m, terms.efficiency * utilization, efficiency)
        overhead = np.where(m, terms.launch_s, overhead)
        mem_bw = np.where(m & ~np.isnan(terms.mem_bw_bytes_s), terms.mem_bw_bytes_s, mem_bw)
        if resident is None:
            resident = np.repeat(weights_resident(np.array([weight_bytes.sum()]), device,
                                                  threads), n)
        cold = m & cold_layers(traffic, resident, private_cache_bytes(device, threads))
        if terms.cold_bw_bytes_s is not None:
            cold_s = np.where(cold, cold_times(traffic, terms.cold_bw_bytes_s,
                                               terms.cold_launch_s if terms.cold_launch_s
                                               is not None else 0.0), 0.0) * launches
    overhead = np.broadcast_to(overhead, (n,))
    mem_bw = np.broadcast_to(mem_bw, (n,))
    compute_s, memory_s, roofline_s = roofline_times(
        priced_ops, traffic, launches, peak_ops_s=peak, efficiency=efficiency,
        mem_bw_bytes_s=mem_bw, overhead_per_kernel_s=overhead)
    if streamed.any():
        if link is None:
            raise ValueError(f"{device.name} streams weights but no link was given")
        # The per-transfer latency is paid once per run of layers, where the weights of the run
        # go over the link in one bulk transfer (see dse.cost.model).
        stream_s = streamed / link.bandwidth_bytes_s
    else:
        stream_s = np.zeros(n)
    roofline_s = roofline_s + cold_s
    return LayerTimes(ops=ops, traffic_bytes=traffic, stream_bytes=streamed,
                      compute_s=compute_s, memory_s=memory_s, stream_s=stream_s,
                      overhead_s=overhead * launches, time_s=roofline_s + stream_s,
                      peak_ops_s=peak, efficiency=efficiency, mem_bw_bytes_s=mem_bw,
                      launches=launches, cold=cold)


def layer_table(counts: pd.DataFrame, device: DeviceSpec, precision: str, where: np.ndarray, *,
                link: LinkSpec | None = None, dvfs: str | None = None,
                threads: int | None = None, kernels: np.ndarray | None = None) -> pd.DataFrame:
    """Roofline cost of every layer on ``device`` (all layers, as if it ran them all).

    A table over :func:`layer_times`.

    Args:
        counts: :attr:`Workload.counts`.
        device: The device; must run ``precision`` (see :func:`dse.cost.model.model_cost`).
        precision: Precision of activations and weights.
        where: Weight placement per layer (:func:`dse.cost.memory.place_weights`).
        link: The link streamed weights come over (required if any are placed on ``link``).
        dvfs: DVFS level name, or ``None`` for the nominal clock.
        threads: Threads of one inference on a CPU cluster (default: all its cores); see
            :meth:`DeviceSpec.core_scale`.
        kernels: Kernel class index per layer (:func:`dse.workloads.kernels.workload_kernels`);
            default: the ``kernel`` column of ``counts``, else the op classes.

    Returns:
        One row per layer: ``ops``, ``traffic_bytes``, ``stream_bytes``, ``compute_s``,
        ``memory_s``, ``stream_s``, ``overhead_s``, ``time_s``, ``intensity`` (ops per byte of
        memory traffic), ``attainable_ops_s`` (the roofline at that intensity) and ``bound``
        (``compute``, ``memory``, ``stream`` or ``overhead``), and the inputs of
        :func:`roofline_times` that are not in ``counts``: ``kernel`` (class index),
        ``utilization``, ``launches``, ``channel_align`` (:func:`channel_alignment`) and
        ``resident`` (:func:`cache_resident`) and ``cold`` (:func:`cold_layers`), for a
        device with kernel models.
    """
    n = len(counts)
    kernels = _kernels(counts) if kernels is None else kernels
    utilization = device_kind(device.kind).utilization(device, counts)
    # only kernel models read the channel alignment and the cache residence
    align = channel_alignment(counts) if device.kernel_models else \
        np.full(n, MAX_ALIGN, dtype=np.int64)
    resident = cache_resident(counts, device, precision, threads) \
        if device.kernel_models else True
    t = layer_times(ops=counts["ops"].to_numpy(dtype=float),
                    weight_bytes=weight_read_bytes(counts, precision),
                    activation_bytes=activation_bytes(counts, precision),
                    in_dram=where == DRAM, on_link=where == LINK, passless=no_pass(counts),
                    kernels=kernels, utilization=utilization, device=device,
                    precision=precision, link=link, dvfs=dvfs, threads=threads, align=align,
                    resident=np.full(n, resident))
    ops, traffic = t.ops, t.traffic_bytes
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(traffic > 0, ops / traffic, np.inf)
    attainable = np.minimum(t.peak_ops_s * t.efficiency, intensity * t.mem_bw_bytes_s)
    parts = np.stack([t.compute_s, t.memory_s, t.stream_s, t.overhead_s])
    bound = np.array(["compute", "memory", "stream", "overhead"])[parts.argmax(axis=0)]
    return pd.DataFrame({
        "ops": ops, "traffic_bytes": traffic, "stream_bytes": t.stream_bytes,
        "compute_s": t.compute_s, "memory_s": t.memory_s, "stream_s": t.stream_s,
        "overhead_s": t.overhead_s, "time_s": t.time_s, "intensity": intensity,
        "attainable_ops_s": attainable, "bound": bound, "kernel": kernels,
        "utilization": utilization, "launches": t.launches, "channel_align": align,
        "resident": np.full(n, resident), "cold": t.cold,
    }, index=counts.index)


def layer_time(layer: Mapping[str, Any], device: DeviceSpec, precision: str, *,
               weights: str = DRAM, link: LinkSpec | None = None,
               dvfs: str | None = None) -> LayerCost:
    """Cost of one layer, given as a mapping of workload-graph node attributes.

    Args:
        layer: ``op``, ``op_class``, ``ops``, ``weight_elems``, ``in_elems``, ``out_elems``
            and optionally ``fused`` (runs in its producer's epilogue), ``in_shapes`` and
            ``out_shapes`` (what a device kind's tile utilisation reads; default: none).
        device: The device.
        precision: One of the device's precisions.
        weights: Where the layer's weights are: ``onchip``, ``dram`` or ``link``.
        link: The link, when ``weights="link"``.
        dvfs: DVFS level name.
    """
    if weights not in (ONCHIP, DRAM, LINK):
        raise ValueError(f"weights must be onchip, dram or link, got {weights!r}")
    counts = pd.DataFrame([{**{k: layer[k] for k in ("op", "op_class", "ops", "weight_elems",
                                                     "in_elems", "out_elems")},
                            "fused": bool(layer.get("fused", False)),
                            "in_shapes": layer.get("in_shapes", []),
                            "out_shapes": layer.get("out_shapes", [])}])
    where = np.array([weights if layer["weight_elems"] else "none"], dtype=object)
    row = layer_table(counts, device, precision, where, link=link, dvfs=dvfs).iloc[0]
    return LayerCost(
        ops=float(row["ops"]), traffic_bytes=float(row["traffic_bytes"]),
        stream_bytes=float(row["stream_bytes"]), compute_s=float(row["compute_s"]),
        memory_s=float(row["memory_s"]), stream_s=float(row["stream_s"]),
        overhead_s=float(row["overhead_s"]), time_s=float(row["time_s"]),
        intensity=float(row["intensity"]), attainable_ops_s=float(row["attainable_ops_s"]),
        bound=str(row["bound"]))
