"""Time of a layer on a device: the roofline plus fixed overheads.

``time = max(ops / (peak x efficiency), traffic / bandwidth) + streamed / link + overhead``

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
from dse.devices.kinds import device_kind
from dse.spec.device import DeviceSpec
from dse.spec.platform import LinkSpec

__all__ = ["LayerCost", "clock_scale", "layer_table", "layer_time"]


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


def layer_table(counts: pd.DataFrame, device: DeviceSpec, precision: str, where: np.ndarray, *,
                link: LinkSpec | None = None, dvfs: str | None = None,
                threads: int | None = None) -> pd.DataFrame:
    """Roofline cost of every layer on ``device`` (all layers, as if it ran them all).

    Args:
        counts: :attr:`Workload.counts`.
        device: The device; must run ``precision`` (see :func:`dse.cost.model.model_cost`).
        precision: Precision of activations and weights.
        where: Weight placement per layer (:func:`dse.cost.memory.place_weights`).
        link: The link streamed weights come over (required if any are placed on ``link``).
        dvfs: DVFS level name, or ``None`` for the nominal clock.
        threads: Threads of one inference on a CPU cluster (default: all its cores); see
            :meth:`DeviceSpec.core_scale`.

    Returns:
        One row per layer: ``ops``, ``traffic_bytes``, ``stream_bytes``, ``compute_s``,
        ``memory_s``, ``stream_s``, ``overhead_s``, ``time_s``, ``intensity`` (ops per byte of
        memory traffic), ``attainable_ops_s`` (the roofline at that intensity) and ``bound``
        (``compute``, ``memory``, ``stream`` or ``overhead``).
    """
    ops = counts["ops"].to_numpy(dtype=float)
    weights = weight_read_bytes(counts, precision)
    traffic = activation_bytes(counts, precision) + np.where(where == DRAM, weights, 0.0)
    streamed = np.where(where == LINK, weights, 0.0)
    eff = counts["op_class"].map(device.efficiency_for).to_numpy(dtype=float) * \
        device_kind(device.kind).utilization(device, counts)
    peak = device.peak_ops_s[precision] * clock_scale(device, dvfs) * device.core_scale(threads)
    compute_s = ops / (peak * eff)
    memory_s = traffic / device.mem_bw_bytes_s
    if streamed.any():
        if link is None:
            raise ValueError(f"{device.name} streams weights but no link was given")
        # The per-transfer latency is paid once per run of layers, where the weights of the run
        # go over the link in one bulk transfer (see dse.cost.model).
        stream_s = streamed / link.bandwidth_bytes_s
    else:
        stream_s = np.zeros_like(ops)
    overhead_s = np.where(no_pass(counts), 0.0, device.overhead_per_layer_s)
    time_s = np.maximum(compute_s, memory_s) + stream_s + overhead_s
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(traffic > 0, ops / traffic, np.inf)
    attainable = np.minimum(peak * eff, intensity * device.mem_bw_bytes_s)
    parts = np.stack([compute_s, memory_s, stream_s, overhead_s])
    bound = np.array(["compute", "memory", "stream", "overhead"])[parts.argmax(axis=0)]
    return pd.DataFrame({
        "ops": ops, "traffic_bytes": traffic, "stream_bytes": streamed, "compute_s": compute_s,
        "memory_s": memory_s, "stream_s": stream_s, "overhead_s": overhead_s, "time_s": time_s,
        "intensity": intensity, "attainable_ops_s": attainable, "bound": bound,
    }, index=counts.index)


def layer_time(layer: Mapping[str, Any], device: DeviceSpec, precision: str, *,
               weights: str = DRAM, link: LinkSpec | None = None,
               dvfs: str | None = None) -> LayerCost:
    """Cost of one layer, given as a mapping of workload-graph node attributes.

    Args:
        layer: ``op``, ``op_class``, ``ops``, ``weight_elems``, ``in_elems``, ``out_elems``
            and optionally ``fused`` (runs in its producer's epilogue).
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
                            "fused": bool(layer.get("fused", False))}])
    where = np.array([weights if layer["weight_elems"] else "none"], dtype=object)
    row = layer_table(counts, device, precision, where, link=link, dvfs=dvfs).iloc[0]
    return LayerCost(
        ops=float(row["ops"]), traffic_bytes=float(row["traffic_bytes"]),
        stream_bytes=float(row["stream_bytes"]), compute_s=float(row["compute_s"]),
        memory_s=float(row["memory_s"]), stream_s=float(row["stream_s"]),
        overhead_s=float(row["overhead_s"]), time_s=float(row["time_s"]),
        intensity=float(row["intensity"]), attainable_ops_s=float(row["attainable_ops_s"]),
        bound=str(row["bound"]))
