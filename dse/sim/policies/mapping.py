"""``mapping``: layer-level mapping of one workload onto several devices.

Each frame's route visits the devices in layer order, one hold per run of consecutive layers on
one device (:func:`~dse.sim.partition.part`), tensors crossing through the host. Every device a
frame visits holds it, so frames per device count holds (:attr:`Mapping.counts_holds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dse.errors import Problem, SpecError
from dse.sim.context import PlanContext
from dse.sim.partition import part
from dse.sim.plan import Hold, Infeasible, Unit, Worker
from dse.sim.policies.base import ENTRY, BasePolicy

__all__ = ["Mapping"]


@dataclass(frozen=True)
class Mapping(BasePolicy):
    """Layer-level mapping: each layer named in ``execution.mapping`` (by layer name, op type or
    op class) runs on its device, the rest on the first device; a frame visits the devices in
    layer order, tensors crossing through the host."""

    name: str = "mapping"
    counts_holds: ClassVar[bool] = True

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        default = units[0]
        by_name = {u.name: u for u in ctx.all_units.values()}
        by_device = {u.device: u for u in reversed(list(ctx.all_units.values()))}
        problems = []
        target: dict[str, Unit] = {}
        for key, dev in ctx.config.execution.mapping.items():
            unit = by_name.get(dev) or by_device.get(dev)
            if unit is None:
                problems.append(Problem(ctx.file, f"execution.mapping.{key}",
                                        f"{dev!r} is not on the platform; it has: "
                                        f"{', '.join(ctx.all_units)}"))
            else:
                target[key] = unit
        if problems:
            raise SpecError(problems)
        w = ctx.workload(0, ctx.precision(0, default.spec))
        counts = w.counts
        owner = [target.get(r.name) or target.get(r.op) or target.get(r.op_class) or default
                 for r in counts.itertuples()]
        route: list[Hold] = []
        if ctx.host_steps("pre"):
            route.append(Hold(None, None, ctx.host_steps("pre")))
        start = 0
        while start < len(owner):
            end = start
            while end < len(owner) and owner[end] is owner[start]:
                end += 1
            unit = owner[start]
            cost = ctx.cost(0, unit, part(w, start, end).at(ctx.precision(0, unit.spec)))
            if not cost.feasible:
                raise Infeasible(f"layers {start}-{end - 1} on {unit.name}: {cost.reason}")
            route.extend(ctx.holds(unit, cost, 0))
            start = end
        if ctx.host_steps("post"):
            route.append(Hold(None, None, ctx.host_steps("post")))
        n = ctx.config.execution.threads
        return [Worker(f"mapping/{t}", ENTRY, None, {0: tuple(route)}, default.name)
                for t in range(n)], [ENTRY], False
