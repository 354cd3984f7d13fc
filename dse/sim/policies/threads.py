"""``threads``: N host threads submitting to one device."""

from __future__ import annotations

from dataclasses import dataclass

from dse.sim.context import PlanContext
from dse.sim.plan import Worker
from dse.sim.policies.base import ENTRY, BasePolicy

__all__ = ["Threads"]


@dataclass(frozen=True)
class Threads(BasePolicy):
    """N host threads submitting to one device, overlapping host work, transfers and compute;
    concurrency inside the device is limited by its slots (``infer_requests``)."""

    name: str = "threads"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        if len(units) > 1:
            ctx.notes.append(f"threads runs on {units[0].name} only (data_parallel for more)")
        unit = units[0]
        routes = ctx.routes(unit)
        n = ctx.config.execution.threads
        return [Worker(f"{unit.name}/{t}", ENTRY, None, routes, unit.name) for t in range(n)], \
            [ENTRY], False
