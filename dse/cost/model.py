"""Cost of a whole model on one device: layers, fallback, transfers, overheads.

:func:`model_cost` assigns every layer to the device or, for layers it does not support, to its
fallback device (following the device's ``on_unsupported`` rule), places the weights, prices every
layer with the roofline (:mod:`dse.cost.compute`) and lays the inference out as a sequence of
:class:`Segment` s: compute on a device, or a transfer over the link (the input in, tensors
crossing between device and fallback, the output back). The simulator replays these segments on
its resources; summed, they are the latency of one inference on an otherwise idle platform.

An infeasible combination (a precision the device cannot run, an unsupported layer with no
fallback, weights that cannot be placed, a model that does not fit the memories the device
declares: :mod:`dse.cost.footprint`) is a result with a reason, not an exception.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from dse.cost.compute import layer_table
from dse.cost.footprint import footprint
from dse.cost.layers import layers_on_device, runtime_counts, supported_layers
from dse.cost.memory import place_weights
from dse.cost.transfer import transfer_time
from dse.devices.kinds import device_kind
from dse.spec.device import DeviceSpec
from dse.spec.platform import LinkSpec
from dse.spec.runtime import RuntimeSpec
from dse.workloads.graph import PRECISION_BYTES, Workload
from dse.workloads.kernels import workload_kernels

__all__ = ["ModelCost", "Segment", "layers_on_device", "model_cost", "runtime_counts",
           "supported_layers"]


@dataclass(frozen=True)
class Segment:
    """One step of an inference: compute on a device, or a transfer over a link.

    Attributes:
        kind: ``compute`` or ``transfer``.
        resource: The device name (compute) or the link name (transfer).
        time_s: Duration on an otherwise idle platform.
        nbytes: Bytes moved (transfers) or memory traffic (compute).
        layers: Layers in a compute segment.
        what: ``input``, ``output``, ``crossing``, ``weights`` (streamed every inference),
            ``layers``, ``overhead`` or ``driver`` (host CPU work outside the device, see
            ``DeviceSpec.host_overhead_per_inference_s``).
    """

    kind: Literal["compute", "transfer"]
    resource: str
    time_s: float
    nbytes: float = 0.0
    layers: int = 0
    what: str = "layers"


@dataclass(frozen=True)
class ModelCost:
    """Cost of one inference of a workload on a device (with its fallback and link).

    Attributes:
        feasible: Whether it runs at all; if not, ``reason`` says why and the times are zero.
        layers: One row per layer: name, op, op_class, ``runs_on``, ``weights`` (placement) and
            the roofline columns of :func:`dse.cost.compute.layer_table`.
        segments: The inference as a sequence of compute and transfer steps.
    """

    workload: str
    device: str
    precision: str
    feasible: bool
    reason: str = ""
    layers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    segments: tuple[Segment, ...] = ()
    onchip_weight_bytes: float = 0.0
    offchip_weight_bytes: float = 0.0

    @property
    def time_s(self) -> float:
        """Latency of one inference on an idle platform (sum of the segments)."""
        return float(sum(s.time_s for s in self.segments))

    def busy_s(self, resource: str) -> float:
        """Time one device or link is busy during an inference."""
        return float(sum(s.time_s for s in self.segments if s.resource == resource))

    @property
    def device_s(self) -> float:
        """Time on the device itself (layers and per-inference overhead)."""
        return self.busy_s(self.device)

    @property
    def transfer_s(self) -> float:
        """Time in transfers over the link."""
        return float(sum(s.time_s for s in self.segments if s.kind == "transfer"))

    @property
    def fallback_layers(self) -> int:
        """Layers run on the fallback device."""
        if self.layers.empty:
            return 0
        return int((self.layers["runs_on"] != self.device).sum())


def model_cost(workload: Workload, device: DeviceSpec, precision: str | None = None, *,
               fallback: DeviceSpec | None = None, link: LinkSpec | None = None,
               dvfs: str | None = None, threads: int | None = None,
               runtime: RuntimeSpec | None = None) -> ModelCost:
    """Cost of one inference of ``workload`` on ``device``.

    Args:
        workload: The workload graph.
        device: The device running it.
        precision: Default: the workload's.
        fallback: The device taking unsupported layers (a host CPU), if the device falls back.
        link: The link between host and device: inputs, outputs, crossings and streamed
            weights go over it. Required if the device sits on a link (``device.link``).
        dvfs: DVFS level of the device.
        threads: Intra-op threads of one inference when ``device`` is a CPU cluster (default:
            all its cores).
        runtime: The runtime the device runs: which ops it folds into the epilogue of the
            conv/matmul before them (:attr:`RuntimeSpec.fuses`; default, or a runtime that does
            not document it: Conv+BatchNorm+activation, :data:`dse.workloads.graph.EPILOGUE_OPS`),
            and whether it runs x * sigmoid(x) as one kernel (``swish`` among its kernels).

    Raises:
        ValueError: A link is needed and not given (a programming error, not bad input).
    """
    precision = precision or workload.precision

    def infeasible(reason: str) -> ModelCost:
        return ModelCost(workload.name, device.name, precision, feasible=False, reason=reason)

    if precision not in device.peak_ops_s:
        return infeasible(f"{device.name} does not run {precision}; it runs "
                          f"{', '.join(device.precisions)}")
    if device.link is not None and link is None:
        raise ValueError(f"{device.name} sits on link {device.link!r}: pass its LinkSpec")
    counts = runtime_counts(workload, runtime)
    supported = supported_layers(counts, device)
    on_device = np.ones(len(counts), dtype=bool)
    host_precision = precision
    if not supported.all():
        missing = Counter(counts["op"][~supported])
        listing = ", ".join(f"{op} x{n}" for op, n in sorted(missing.items()))
        if device.on_unsupported == "infeasible":
            return infeasible(f"{device.name} does not support {listing}")
        if fallback is None:
            return infeasible(f"{device.name} falls back to {device.fallback_device!r} for "
                              f"{listing}, but no fallback device was given")
        if precision not in fallback.peak_ops_s:
            return infeasible(f"fallback {fallback.name} does not run {precision}")
        on_device = layers_on_device(counts, device, supported)
    placement = place_weights(counts, device, precision, mask=on_device)
    if device.declares_memories:
        # the fit check: weights, arena, scratch and runtime against the device's memories
        fits = footprint(workload, device, precision, runtime=runtime, counts=counts,
                         mask=on_device, placement=placement)
        if not fits.fits:
            return infeasible(fits.reason)
    if placement.infeasible:
        return infeasible(placement.infeasible)
    kernels = workload_kernels(workload)
    table = layer_table(counts, device, precision, placement.where, link=link, dvfs=dvfs,
                        threads=threads, kernels=kernels)
    runs_on = np.where(on_device, device.name, fallback.name if fallback else "")
    if not on_device.all():
        assert fallback is not None  # checked above
        host_where = place_weights(counts, fallback, host_precision, mask=~on_device).where
        host_table = layer_table(counts, fallback, host_precision, host_where, kernels=kernels)
        table = table.where(pd.Series(on_device, index=counts.index), host_table, axis=0)
        placement_where = np.where(on_device, placement.where, host_where)
    else:
        placement_where = placement.where
    layers = pd.concat([counts[["name", "op", "op_class"]],
                        pd.DataFrame({"runs_on": runs_on, "weights": placement_where},
                                     index=counts.index), table], axis=1)
    segments = _segments(workload, device, layers, precision, link)
    if device.host_overhead_per_inference_s and not device_kind(device.kind).is_host:
        # without a fallback device, the driver work is on the platform's host CPU, which the
        # spec names as its fallback (``fallback_device``, "host" = that role, not a device)
        segments = (Segment("compute", fallback.name if fallback else device.fallback_device,
                            device.host_overhead_per_inference_s, what="driver"), *segments)
    return ModelCost(workload.name, device.name, precision, feasible=True,
                     layers=layers.reset_index(drop=True),
                     segments=segments, onchip_weight_bytes=placement.onchip_bytes,
                     offchip_weight_bytes=placement.offchip_bytes)


def _segments(workload: Workload, device: DeviceSpec, layers: pd.DataFrame, precision: str,
              link: LinkSpec | None) -> tuple[Segment, ...]:
    b = PRECISION_BYTES[precision]
    graph = workload.graph
    runs_on = layers["runs_on"]
    segments: list[Segment] = []

    def move(nbytes: float, what: str) -> None:
        if link is not None and nbytes > 0:
            segments.append(Segment("transfer", link.name, transfer_time(nbytes, link), nbytes,
                                    what=what))

    shapes = graph.graph.get("inputs", {})
    consumed = {t for n in layers.index[runs_on == device.name]
                for t in graph.nodes[n]["inputs"]}
    move(sum(float(np.prod(s)) for t, s in shapes.items() if t in consumed) * b, "input")
    if device.overhead_per_inference_s:
        segments.append(Segment("compute", device.name, device.overhead_per_inference_s,
                                what="overhead"))
    # Runs of consecutive layers on one device become one compute segment each; tensors that
    # cross between device and fallback go over the link before the run that reads them.
    run_id = (runs_on != runs_on.shift()).cumsum()
    for _, run in layers.groupby(run_id, sort=False):
        owner = run["runs_on"].iloc[0]
        if segments and owner:
            crossing = sum(d["elems"] for u, v, d in graph.in_edges(run.index, data=True)
                           if runs_on[u] != owner)
            move(float(crossing) * b, "crossing")
        streamed = float(run["stream_bytes"].sum())
        if streamed and owner == device.name:
            # Weights that do not fit on chip go over the link before the run that needs
            # them, one bulk transfer per run (one link latency).
            move(streamed, "weights")
        compute_s = float((run["time_s"] - run["stream_s"]).sum()) if streamed else \
            float(run["time_s"].sum())
        segments.append(Segment("compute", owner, compute_s,
                                float(run["traffic_bytes"].sum()), len(run)))
    outputs = graph.graph.get("outputs", {})
    produced = {t for n in layers.index[runs_on == device.name]
                for t in graph.nodes[n]["outputs"]}
    move(sum(float(np.prod(s)) for t, s in outputs.items() if t in produced) * b, "output")
    return tuple(segments)
