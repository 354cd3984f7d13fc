"""Pure cost functions: layer time (roofline), weight placement, transfers, energy.

No simulation state: every function maps (workload, device, precision, link) to numbers or to an
infeasibility reason. The simulator calls these and only orchestrates. :func:`batch_cost` gives
:func:`model_cost`'s figures for many models at once, from their layers as arrays.
"""

from dse.cost.batch import BatchCost, batch_cost
from dse.cost.compute import LayerCost, clock_scale, layer_table, layer_time
from dse.cost.memory import Placement, place_weights
from dse.cost.model import ModelCost, Segment, model_cost
from dse.cost.power import active_power_w, energy_j
from dse.cost.roofline import Roofline, roofline
from dse.cost.transfer import transfer_time

__all__ = [
    "BatchCost",
    "LayerCost",
    "ModelCost",
    "Placement",
    "Roofline",
    "Segment",
    "active_power_w",
    "batch_cost",
    "clock_scale",
    "energy_j",
    "layer_table",
    "layer_time",
    "model_cost",
    "place_weights",
    "roofline",
    "transfer_time",
]
