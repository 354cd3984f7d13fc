"""The roofline of a device and where each layer of a workload sits on it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dse.cost.compute import clock_scale, layer_table
from dse.cost.memory import place_weights
from dse.spec.device import DeviceSpec
from dse.spec.platform import LinkSpec
from dse.workloads.graph import Workload

__all__ = ["Roofline", "roofline"]


@dataclass(frozen=True)
class Roofline:
    """A device's ceilings at one precision and the workload's layers under them.

    Attributes:
        peak_ops_s: Compute ceiling (at the DVFS level's clock).
        mem_bw_bytes_s: Memory ceiling.
        ridge_intensity: Ops per byte where the two meet.
        class_peaks_ops_s: Compute ceiling of each op class present, at the device's
            efficiency for that class.
        placement_problem: Why the weights cannot be placed at all (the layers are still
            priced, as if they could); empty if they can.
        layers: Per layer: name, op, op_class, supported, weights (placement) and the columns of
            :func:`dse.cost.compute.layer_table`, plus ``achieved_ops_s`` (ops / time).
    """

    device: str
    workload: str
    precision: str
    peak_ops_s: float
    mem_bw_bytes_s: float
    layers: pd.DataFrame
    class_peaks_ops_s: dict[str, float]
    placement_problem: str = ""

    @property
    def ridge_intensity(self) -> float:
        return self.peak_ops_s / self.mem_bw_bytes_s


def roofline(workload: Workload, device: DeviceSpec, precision: str | None = None, *,
             link: LinkSpec | None = None, dvfs: str | None = None) -> Roofline:
    """Every layer of ``workload`` priced on ``device`` alone (no fallback), with its roofline.

    Layers the device does not support are still placed on the chart, flagged
    ``supported=False``: the chart shows where they would sit, :func:`dse.cost.model_cost` what
    happens to them.

    Raises:
        KeyError: The device does not run ``precision`` (the message lists what it runs).
    """
    precision = precision or workload.precision
    if precision not in device.peak_ops_s:
        raise KeyError(f"{device.name} does not run {precision}; it runs "
                       f"{', '.join(device.precisions)}")
    counts = workload.counts
    placement = place_weights(counts, device, precision)
    table = layer_table(counts, device, precision, placement.where, link=link, dvfs=dvfs)
    supported = [device.supports(op, cls) for op, cls in
                 zip(counts["op"], counts["op_class"], strict=True)]
    layers = pd.concat([counts[["name", "op", "op_class"]],
                        pd.DataFrame({"supported": supported, "weights": placement.where},
                                     index=counts.index), table], axis=1)
    layers["achieved_ops_s"] = (layers["ops"] / layers["time_s"]).where(layers["time_s"] > 0, 0.0)
    peak = device.peak_ops_s[precision] * clock_scale(device, dvfs)
    classes = {str(c): peak * device.efficiency_for(str(c)) for c in counts["op_class"].unique()}
    return Roofline(device.name, workload.name, precision, peak, device.mem_bw_bytes_s,
                    layers.reset_index(drop=True), classes, placement.infeasible)
