"""``single``: one device, one frame at a time (the isolated measurements of the seeds)."""

from __future__ import annotations

from dataclasses import dataclass

from dse.sim.context import PlanContext
from dse.sim.plan import Worker
from dse.sim.policies.base import ENTRY, BasePolicy

__all__ = ["Single"]


@dataclass(frozen=True)
class Single(BasePolicy):
    """One device, one frame at a time: the seeds' isolated measurements."""

    name: str = "single"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        if len(units) > 1:
            ctx.notes.append(f"single runs on {units[0].name} only")
        unit = units[0]
        return [Worker(f"{unit.name}/0", ENTRY, None, ctx.routes(unit), unit.name)], \
            [ENTRY], False
