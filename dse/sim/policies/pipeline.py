"""``pipeline``: the graph cut into stages, one device each, bounded queues between them.

A frame enters the first stage's queue and each stage hands it to the next (``stage1``,
``stage2``, ...; ``execution.queue_depth`` bounds them). Cuts name a layer or a fraction of the
weights (:func:`~dse.sim.partition.cut_index`); each stage runs its part of the workload
(:func:`~dse.sim.partition.part`). Every device a frame visits holds it, so frames per device
count holds (:attr:`Pipeline.counts_holds`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

from dse.errors import Problem, SpecError
from dse.sim.context import PlanContext
from dse.sim.partition import cut_index, part
from dse.sim.plan import Hold, Infeasible, Unit, Worker
from dse.sim.policies.base import ENTRY, BasePolicy

__all__ = ["Pipeline"]


@dataclass(frozen=True)
class Pipeline(BasePolicy):
    """The graph cut into stages on devices, bounded queues between them; each stage's
    intermediate tensors cross the links of both devices."""

    name: str = "pipeline"
    counts_holds: ClassVar[bool] = True

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        stages = ctx.config.execution.stages
        if not stages:
            raise SpecError([Problem(ctx.file, "execution.stages",
                                     "the pipeline policy needs stages: [{device, until}, ...]")])
        if len(ctx.config.workloads) > 1:
            raise SpecError([Problem(ctx.file, "workloads",
                                     "the pipeline policy runs one workload")])
        cuts = [s.until for s in stages[:-1]]
        if any(c is None for c in cuts) or stages[-1].until is not None:
            raise SpecError([Problem(ctx.file, "execution.stages",
                                     "every stage but the last needs until: LAYER (or a "
                                     "fraction of the weights); the last runs to the end")])
        workers = []
        first = next((u for u in ctx.all_units.values()
                      if stages[0].device in (u.name, u.device)), None)
        if first is None:
            raise SpecError([Problem(ctx.file, "execution.stages.0.device",
                                     f"{stages[0].device!r} is not on the platform; it has: "
                                     f"{', '.join(ctx.all_units)}")])
        whole = ctx.workload(0, ctx.precision(0, first.spec))
        names = [whole.graph.nodes[n]["name"] for n in whole.order]
        missing = [Problem(ctx.file, f"execution.stages.{i}.until",
                           f"no layer named {c!r} in {whole.name}")
                   for i, c in enumerate(cuts) if isinstance(c, str) and c not in names]
        if missing:
            raise SpecError(missing)
        index = [cut_index(whole, c) for c in cuts]
        # Fractions make a compact search encoding of 1..N stages: cuts that coincide (or fall
        # at an end) leave empty stages, which are dropped with their devices.
        bounds = [0, *index, len(names)]
        keep = [i for i in range(len(stages)) if bounds[i + 1] > bounds[i]]
        if any(isinstance(c, str) for c in cuts) and len(keep) < len(stages):
            raise SpecError([Problem(ctx.file, "execution.stages",
                                     f"cuts must follow the layer order and leave layers for "
                                     f"every stage, got {cuts}")])
        if any(b < a for a, b in itertools.pairwise(bounds)):
            raise Infeasible(f"pipeline cuts out of order: {cuts}")
        units: list[Unit] = []
        for i in keep:
            stage = stages[i]
            match = [u for u in ctx.all_units.values()
                     if u.name == stage.device or u.device == stage.device]
            taken = [u for u in match if u not in units]
            if not taken:
                raise SpecError([Problem(ctx.file, f"execution.stages.{i}.device",
                                         f"no free instance of {stage.device!r} on the platform; "
                                         f"it has: {', '.join(ctx.all_units)}")])
            units.append(taken[0])
        parts = [part(whole, bounds[i], bounds[i + 1]) for i in keep]
        for i, (unit, piece) in enumerate(zip(units, parts, strict=True)):
            cost = ctx.cost(0, unit, piece.at(ctx.precision(0, unit.spec)))
            if not cost.feasible:
                raise Infeasible(f"stage {i} on {unit.name}: {cost.reason}")
            route: list[Hold] = []
            if i == 0 and ctx.host_steps("pre"):
                route.append(Hold(None, None, ctx.host_steps("pre")))
            route.extend(ctx.holds(unit, cost, 0))
            if i == len(units) - 1 and ctx.host_steps("post"):
                route.append(Hold(None, None, ctx.host_steps("post")))
            source = ENTRY if i == 0 else f"stage{i}"
            sink = f"stage{i + 1}" if i < len(units) - 1 else None
            workers.append(Worker(f"{unit.name}/stage{i}", source, sink, {0: tuple(route)},
                                  unit.name))
        return workers, [ENTRY], False
