"""``coexec``: heterogeneous components co-executing one stream, as on a mobile SoC.

Where frames are dispatched: every component (each CPU cluster, the GPU, the NPU) gets workers
that take frames from the one entry queue (``frames``). A free worker takes the next frame, so
each component steals work in proportion to its speed; the engine (:mod:`dse.sim.engine`) only
runs the queue. Accelerator drivers are pinned to cores of the driver cluster
(:attr:`Coexec.pins_drivers`), which then computes that much slower as a unit; a cluster whose
every core drives an accelerator does not compute.

Frames finish out of order; a reorder buffer (:func:`reorder_buffer`) releases each one only
after every earlier frame, and that wait counts in its latency (:meth:`Coexec.release_times`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dse.sim.context import PlanContext
from dse.sim.plan import Worker
from dse.sim.policies.base import ENTRY, BasePolicy

__all__ = ["Coexec", "reorder_buffer"]


def reorder_buffer(done_s: np.ndarray) -> np.ndarray:
    """Release times of frames that must leave in stream order: a frame leaves when it and
    every earlier frame are done.

    Args:
        done_s: Finish times, in frame order.
    """
    return np.maximum.accumulate(done_s)


@dataclass(frozen=True)
class Coexec(BasePolicy):
    """Heterogeneous components (CPU clusters, GPU, NPU) pull frames from one stream by work
    stealing; a reorder buffer restores the output order, its wait counted in latency."""

    name: str = "coexec"
    pins_drivers: ClassVar[bool] = True

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        workers = []
        for unit in ctx.units("all"):
            if ctx.cluster_scale(unit) == float("inf"):
                ctx.notes.append(f"{unit.name}: every core drives an accelerator; it does not "
                                 f"compute")
                continue
            routes = ctx.routes(unit)
            n = ctx.config.execution.threads if not unit.is_host else 1
            workers += [Worker(f"{unit.name}/{t}", ENTRY, None, routes, unit.name)
                        for t in range(n)]
        return workers, [ENTRY], True

    def release_times(self, done_s: np.ndarray) -> np.ndarray:
        """The :func:`reorder_buffer`'s release times."""
        return reorder_buffer(done_s)
