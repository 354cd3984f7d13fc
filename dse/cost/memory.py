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
    "activation_bytes_array",
    "activation_working_set",
    "footprint_array",
    "no_pass",
    "offchip_place",
    "place_weights",
    "placement_fails",
    "placement_problem",
    "read_bytes_array",
    "resident_weights",
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
    return read_bytes_array(weight_footprint(counts, precision),
                            counts["op"].to_numpy() == "Gather",
                            counts["out_elems"].to_numpy(dtype=float), precision)


def read_bytes_array(footprint: np.ndarray, gather: np.ndarray, out_elems: np.ndarray,
                     precision: str) -> np.ndarray:
    """:func:`weight_read_bytes` of layers as arrays: their footprint, which are Gathers and
    their output elements."""
    b = PRECISION_BYTES[precision]
    weights = footprint / b
    return np.where(gather & (weights > 0), np.minimum(weights, out_elems), weights) * b


def weight_footprint(counts: pd.DataFrame, precision: str) -> np.ndarray:
    """Weight bytes each layer keeps in memory.

    A fused layer keeps none: BatchNorm is folded into the Conv's weights and bias, an
    activation's bounds become immediates of the Conv's epilogue.
    """
    fused = counts["fused"].to_numpy(dtype=bool) if "fused" in counts else False
    return footprint_array(counts["weight_elems"].to_numpy(dtype=float), fused, precision)


def footprint_array(weight_elems: np.ndarray, fused: np.ndarray | bool, precision: str
                    ) -> np.ndarray:
    """:func:`weight_footprint` of layers as arrays."""
    return np.where(fused, 0.0, weight_elems * PRECISION_BYTES[precision])


def activation_bytes(counts: pd.DataFrame, precision: str) -> np.ndarray:
    """Activation bytes each layer reads and writes.

    Zero for shape-only ops and for layers fused into their producer's epilogue (a ReLU after a
    Conv), which work on the output while it is still on chip.
    """
    return activation_bytes_array(counts["in_elems"].to_numpy(dtype=float),
                                  counts["out_elems"].to_numpy(dtype=float), no_pass(counts),
                                  precision)


def activation_bytes_array(in_elems: np.ndarray, out_elems: np.ndarray, passless: np.ndarray,
                           precision: str) -> np.ndarray:
    """:func:`activation_bytes` of layers as arrays (``passless``: :func:`no_pass`)."""
    return np.where(passless, 0.0, (in_elems + out_elems) * PRECISION_BYTES[precision])


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
    where = np.full(len(footprint), "none", dtype=object)
    has = footprint > 0
    capacity = device.onchip_mem_bytes
    if device.onchip_holds_activations and capacity:
        capacity = max(0.0, capacity - activation_working_set(counts, precision, mask))
    resident = resident_weights(footprint, capacity, device)
    offchip_to = offchip_place(device)
    where[has & resident] = ONCHIP
    where[has & ~resident] = offchip_to
    onchip = float(footprint[resident].sum())
    offchip = float(footprint.sum() - onchip)
    infeasible = placement_problem(device, float(footprint.sum()), offchip, capacity)
    return Placement(where, onchip, offchip, infeasible)


def offchip_place(device: DeviceSpec) -> str:
    """Where the weights that are not resident are read from every inference: ``dram`` (the
    device's own memory, or the host's for a device on no link) or ``link`` (streamed)."""
    return DRAM if device.dram_bytes is not None or device.link is None else LINK


def resident_weights(footprint: np.ndarray, capacity: np.ndarray | float, device: DeviceSpec,
                     offsets: np.ndarray | None = None) -> np.ndarray:
    """Per layer, whether its weights stay resident on chip (the rule of
    :func:`place_weights`), for one model or for many end to end.

    Args:
        footprint: Weight bytes per layer (:func:`weight_footprint`; 0 for layers that run
            elsewhere).
        capacity: On-chip bytes for weights: one model's, or one per model.
        device: The device (its kind's
            :meth:`~dse.devices.kinds.BaseDeviceKind.resident_weights` is the rule).
        offsets: Where each model's layers start and end (``models + 1`` entries, as
            :attr:`dse.workloads.layers.LayerBatch.offsets`); default: one model.
    """
    if offsets is None:
        offsets = np.array([0, len(footprint)])
    # the rule is the kind's (scratchpad, cache, buffer or its own)
    return device_kind(device.kind).resident_weights(footprint, np.asarray(capacity), offsets)


def placement_problem(device: DeviceSpec, total_bytes: float, offchip_bytes: float,
                      capacity: float) -> str:
    """Why weights of ``total_bytes`` (``offchip_bytes`` of them not resident, with
    ``capacity`` bytes on chip for weights) cannot be placed on ``device``; empty if they can
    (:func:`placement_fails` says which rule)."""
    code = int(placement_fails(device, np.array([total_bytes]), np.array([offchip_bytes]),
                               np.array([capacity]))[0])
    if code == 1:
        return (f"weights need {_mib(total_bytes)} but {device.name} holds "
                f"{_mib(capacity)} on chip and cannot stream the rest "
                f"({_mib(offchip_bytes)} over)")
    if code == 2:
        assert device.dram_bytes is not None  # placement_fails checked
        return (f"weights need {_mib(total_bytes)}, more than the "
                f"{_mib(device.dram_bytes + capacity)} of memory of {device.name}")
    return ""


def placement_fails(device: DeviceSpec, total_bytes: np.ndarray, offchip_bytes: np.ndarray,
                    capacity: np.ndarray) -> np.ndarray:
    """Per model (arrays of its weight bytes, of those not resident, and of the on-chip bytes
    for weights), why its weights cannot be placed: 0 they can, 1 they do not fit on chip and
    the device cannot stream the rest, 2 they exceed the device's memory."""
    streams = offchip_place(device) == LINK
    code = np.zeros(len(total_bytes), dtype=np.int8)
    if device.dram_bytes is not None:
        code[total_bytes > device.dram_bytes + capacity] = 2
    if streams and not device_kind(device.kind).streams_weights:
        code[offchip_bytes > 0] = 1
    return code


def _mib(n: float) -> str:
    return f"{n / 2**20:.2f} MiB"
