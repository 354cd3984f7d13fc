"""Where a model's weights live on a device, and the bytes each layer moves.

Pure functions of a workload, a device and a precision. Weights are *resident* when they stay in
on-chip memory across inferences; the rest are read again every inference, from the device's own
DRAM (or the host's memory, for a CPU) or, for a device without memory of its own, streamed over
its link (the Edge TPU case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dse.devices.kinds import device_kind
from dse.spec.device import DeviceSpec
from dse.workloads.graph import PRECISION_BYTES

__all__ = [
    "METADATA_OPS",
    "Placement",
    "activation_bytes",
    "activation_working_set",
    "no_pass",
    "place_weights",
    "weight_footprint",
    "weight_read_bytes",
]

#: Ops that only relabel a tensor's shape: no data moves, no time beyond bookkeeping.
METADATA_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape",
                          "Constant", "Dropout"})

ONCHIP, DRAM, LINK = "onchip", "dram", "link"


@dataclass(frozen=True)
class Placement:
    """Where each layer's weights live on one device.

    Attributes:
        where: Per layer (in the order given): ``onchip`` (resident), ``dram`` (read every
            inference from memory), ``link`` (streamed over the link every inference) or ``none``
            (no weights).
        onchip_bytes: Bytes resident on chip.
        offchip_bytes: Bytes read again every inference (``dram`` plus ``link``).
        infeasible: Why the weights cannot be placed at all (empty when they can).
    """

    where: np.ndarray
    onchip_bytes: float
    offchip_bytes: float
    infeasible: str = ""


def weight_read_bytes(counts: pd.DataFrame, precision: str) -> np.ndarray:
    """Weight bytes each layer reads per inference.

    A Gather on a constant table (an embedding) reads the rows it outputs, not the table: the
    table counts toward the memory footprint but not toward per-inference traffic.
    """
    b = PRECISION_BYTES[precision]
    weights = weight_footprint(counts, precision) / b
    gathered = (counts["op"].to_numpy() == "Gather") & (weights > 0)
    out = counts["out_elems"].to_numpy(dtype=float)
    return np.where(gathered, np.minimum(weights, out), weights) * b


def weight_footprint(counts: pd.DataFrame, precision: str) -> np.ndarray:
    """Weight bytes each layer keeps in memory.

    A fused layer keeps none: BatchNorm is folded into the Conv's weights and bias, an
    activation's bounds become immediates of the Conv's epilogue.
    """
    weights = counts["weight_elems"].to_numpy(dtype=float) * PRECISION_BYTES[precision]
    fused = counts["fused"].to_numpy(dtype=bool) if "fused" in counts else False
    return np.where(fused, 0.0, weights)


def activation_bytes(counts: pd.DataFrame, precision: str) -> np.ndarray:
    """Activation bytes each layer reads and writes.

    Zero for shape-only ops and for layers fused into their producer's epilogue (a ReLU after a
    Conv), which work on the output while it is still on chip.
    """
    b = PRECISION_BYTES[precision]
    moved = (counts["in_elems"].to_numpy(dtype=float) + counts["out_elems"].to_numpy(dtype=float))
    return np.where(no_pass(counts), 0.0, moved * b)


def no_pass(counts: pd.DataFrame) -> np.ndarray:
    """Layers that make no pass over memory of their own: shape-only ops and fused layers."""
    metadata = np.isin(counts["op"].to_numpy(), list(METADATA_OPS))
    fused = counts["fused"].to_numpy(dtype=bool) if "fused" in counts else False
    return metadata | fused


def activation_working_set(counts: pd.DataFrame, precision: str,
                           mask: np.ndarray | None = None) -> float:
    """Bytes of the largest layer's inputs and outputs together (of the layers in ``mask``):
    what a device that runs one layer at a time out of on-chip memory must hold besides the
    weights."""
    live = (counts["in_elems"].to_numpy(dtype=float) + counts["out_elems"].to_numpy(dtype=float)) \
        * PRECISION_BYTES[precision]
    if mask is not None:
        live = live[mask]
    return float(live.max()) if len(live) else 0.0


def place_weights(counts: pd.DataFrame, device: DeviceSpec, precision: str,
                  mask: np.ndarray | None = None) -> Placement:
    """Decide which layers' weights stay resident on ``device``.

    A scratchpad (Edge TPU parameter cache, DPU, micro-NPU) is filled layer by layer in
    topological order, as the Edge TPU compiler does, until the next layer's weights do not fit.
    On a device whose on-chip memory also holds the activations
    (:attr:`DeviceSpec.onchip_holds_activations`), the weights get what the largest layer's
    input and output (:func:`activation_working_set`) leave free.
    A cache (CPU, GPU) keeps the weights only if the whole model fits; a larger model streams
    through it and evicts them. A buffer (the Xilinx DPU's BRAM) keeps none across inferences.

    Args:
        counts: :attr:`Workload.counts` (topological order).
        device: The device.
        precision: Precision of the weights.
        mask: Layers that run on this device (default: all); the others hold nothing here.
    """
    footprint = weight_footprint(counts, precision)
    if mask is not None:
        footprint = np.where(mask, footprint, 0.0)
    kind = device_kind(device.kind)
    where = np.full(len(footprint), "none", dtype=object)
    has = footprint > 0
    capacity = device.onchip_mem_bytes
    if device.onchip_holds_activations and capacity:
        capacity = max(0.0, capacity - activation_working_set(counts, precision, mask))
    if kind.onchip == "buffer":
        resident = np.zeros_like(has)
    elif kind.onchip == "cache":
        resident = has if footprint.sum() <= capacity else np.zeros_like(has)
    else:
        # A prefix of the layers in order stays resident; from the first layer that does not fit
        # on, weights stream. Coral documents only that the compiler caches "as much as fits";
        # the in-order prefix is our assumption.
        fits = np.cumsum(footprint) <= capacity
        first_miss = int(np.argmin(fits)) if not fits.all() else len(fits)
        resident = has & (np.arange(len(fits)) < first_miss)
    offchip_to = DRAM if device.dram_bytes is not None or device.link is None else LINK
    where[has & resident] = ONCHIP
    where[has & ~resident] = offchip_to
    onchip = float(footprint[resident].sum())
    offchip = float(footprint.sum() - onchip)
    infeasible = ""
    if offchip > 0 and offchip_to == LINK and not kind.streams_weights:
        infeasible = (f"weights need {_mib(footprint.sum())} but {device.name} holds "
                      f"{_mib(capacity)} on chip and cannot stream the rest "
                      f"({_mib(offchip)} over)")
    elif device.dram_bytes is not None and footprint.sum() > device.dram_bytes + capacity:
        infeasible = (f"weights need {_mib(footprint.sum())}, more than the "
                      f"{_mib(device.dram_bytes + capacity)} of memory of {device.name}")
    return Placement(where, onchip, offchip, infeasible)


def _mib(n: float) -> str:
    return f"{n / 2**20:.2f} MiB"
