"""``data_parallel``: M devices of a kind, each with its host threads, sharing the stream.

Frames are dispatched by work stealing or round robin, both as queues the engine only runs:

- work stealing: every worker takes frames from the one entry queue; a worker that is free
  takes the next frame, so faster devices take more;
- round robin: one entry queue per device; frame ``i`` enters queue ``i % M`` and waits for
  that device's threads even if another device is free.
"""

from __future__ import annotations

from dataclasses import dataclass

from dse.sim.context import PlanContext
from dse.sim.plan import Worker
from dse.sim.policies.base import ENTRY, BasePolicy

__all__ = ["DataParallel"]


@dataclass(frozen=True)
class DataParallel(BasePolicy):
    """M devices, ``threads`` host threads each; frames by work stealing or round robin."""

    name: str = "data_parallel"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        n = ctx.config.execution.threads
        steal = ctx.config.execution.dispatch == "work_stealing"
        workers = []
        for unit in units:
            routes = ctx.routes(unit)
            source = ENTRY if steal else f"{ENTRY}:{unit.name}"
            workers += [Worker(f"{unit.name}/{t}", source, None, routes, unit.name)
                        for t in range(n)]
        entry = [ENTRY] if steal else [f"{ENTRY}:{u.name}" for u in units]
        return workers, entry, False
