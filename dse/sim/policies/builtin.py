"""The built-in policies: single, threads, data_parallel, coexec, pipeline, mapping."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import networkx as nx
import numpy as np

from dse.errors import Problem, SpecError
from dse.sim import memo
from dse.sim.plan import Hold, Infeasible, PlanContext, Route, Unit, Worker
from dse.sim.policies import register_policy
from dse.workloads.graph import Workload

ENTRY = "frames"


def _routes(ctx: PlanContext, unit: Unit) -> dict[int, Route]:
    return {wid: ctx.route(unit, wid) for wid in range(len(ctx.config.workloads))
            if ctx.runs(wid, unit)}


@dataclass(frozen=True)
class Single:
    """One device, one frame at a time: the seeds' isolated measurements."""

    name: str = "single"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        if len(units) > 1:
            ctx.notes.append(f"single runs on {units[0].name} only")
        unit = units[0]
        return [Worker(f"{unit.name}/0", ENTRY, None, _routes(ctx, unit), unit.name)], \
            [ENTRY], False


@dataclass(frozen=True)
class Threads:
    """N host threads submitting to one device, overlapping host work, transfers and compute;
    concurrency inside the device is limited by its slots (``infer_requests``)."""

    name: str = "threads"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        if len(units) > 1:
            ctx.notes.append(f"threads runs on {units[0].name} only (data_parallel for more)")
        unit = units[0]
        routes = _routes(ctx, unit)
        n = ctx.config.execution.threads
        return [Worker(f"{unit.name}/{t}", ENTRY, None, routes, unit.name) for t in range(n)], \
            [ENTRY], False


@dataclass(frozen=True)
class DataParallel:
    """M devices, ``threads`` host threads each; frames by work stealing or round robin."""

    name: str = "data_parallel"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        units = ctx.units()
        n = ctx.config.execution.threads
        steal = ctx.config.execution.dispatch == "work_stealing"
        workers = []
        for unit in units:
            routes = _routes(ctx, unit)
            source = ENTRY if steal else f"{ENTRY}:{unit.name}"
            workers += [Worker(f"{unit.name}/{t}", source, None, routes, unit.name)
                        for t in range(n)]
        entry = [ENTRY] if steal else [f"{ENTRY}:{u.name}" for u in units]
        return workers, entry, False


@dataclass(frozen=True)
class Coexec:
    """Heterogeneous components (CPU clusters, GPU, NPU) pull frames from one stream by work
    stealing; a reorder buffer restores the output order, its wait counted in latency."""

    name: str = "coexec"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        ctx.pin_drivers = True
        workers = []
        for unit in ctx.units("all"):
            if ctx.cluster_scale(unit) == float("inf"):
                ctx.notes.append(f"{unit.name}: every core drives an accelerator; it does not "
                                 f"compute")
                continue
            routes = _routes(ctx, unit)
            n = ctx.config.execution.threads if unit.name not in ctx.clusters else 1
            workers += [Worker(f"{unit.name}/{t}", ENTRY, None, routes, unit.name)
                        for t in range(n)]
        return workers, [ENTRY], True


def part(w: Workload, start: int, end: int) -> Workload:
    """Layers ``start:end`` (topological order) of ``w`` as a workload of their own; tensors
    entering from earlier layers become its inputs, tensors leaving its outputs.

    The same part of the same workload is the same object (so its model costs are cached,
    :mod:`dse.sim.memo`)."""
    if not memo.enabled():
        return _part(w, start, end)
    return _PARTS.get((w, start, end), lambda: _part(w, start, end))


_PARTS: memo.LRU[Workload] = memo.LRU("part", memo.MAX_WORKLOADS)


def _part(w: Workload, start: int, end: int) -> Workload:
    nodes = list(w.order[start:end])
    sub = w.graph.subgraph(nodes).copy()
    inputs: dict[str, list[int]] = {}
    outputs: dict[str, list[int]] = {}
    for u, _, d in w.graph.in_edges(nodes, data=True):
        if u not in sub:
            inputs.update({t: [d["elems"]] for t in d.get("tensors", ())})
    for _, v, d in w.graph.out_edges(nodes, data=True):
        if v not in sub:
            outputs.update({t: [d["elems"]] for t in d.get("tensors", ())})
    reads = {t for n in nodes for t in w.graph.nodes[n]["inputs"]}
    writes = {t for n in nodes for t in w.graph.nodes[n]["outputs"]}
    inputs.update({t: list(s) for t, s in w.graph.graph.get("inputs", {}).items() if t in reads})
    outputs.update({t: list(s) for t, s in w.graph.graph.get("outputs", {}).items()
                    if t in writes})
    sub.graph.update(inputs=inputs, outputs=outputs)
    return Workload(f"{w.name}[{start}:{end}]", nx.freeze(sub), w.precision, w.source)


def _cut_index(w: Workload, cut: str | float | None) -> int:
    """Layers before the cut: after the named layer, or where the cumulative weight bytes
    reach the fraction (0..1) of the model's."""
    if isinstance(cut, str):
        return split_index(w, cut)
    weights = w.counts["weight_elems"].to_numpy(dtype=float).cumsum()
    total = weights[-1] if len(weights) and weights[-1] > 0 else 1.0
    return int(np.searchsorted(weights / total, float(cut or 0.0), side="right"))


def split_index(w: Workload, layer: str) -> int:
    names = [w.graph.nodes[n]["name"] for n in w.order]
    return names.index(layer) + 1 if layer in names else -1


def split(w: Workload, cuts: list[str], *, file: str = "experiment") -> list[Workload]:
    """The workload cut after each named layer, as consecutive parts (topological order).

    Raises:
        SpecError: A cut names no layer, or the cuts are out of order.
    """
    names = [w.graph.nodes[n]["name"] for n in w.order]
    index = {name: i for i, name in enumerate(names)}
    problems = [Problem(file, f"execution.stages.{i}.until",
                        f"no layer named {c!r} in {w.name}")
                for i, c in enumerate(cuts) if c not in index]
    if problems:
        raise SpecError(problems)
    bounds = [index[c] + 1 for c in cuts]
    if bounds != sorted(bounds) or len(set(bounds)) != len(bounds) or len(names) in bounds:
        raise SpecError([Problem(file, "execution.stages",
                                 f"cuts must follow the layer order and leave layers for the "
                                 f"last stage, got {cuts}")])
    edges = [0, *bounds, len(names)]
    return [part(w, a, b) for a, b in itertools.pairwise(edges)]


@dataclass(frozen=True)
class Pipeline:
    """The graph cut into stages on devices, bounded queues between them; each stage's
    intermediate tensors cross the links of both devices."""

    name: str = "pipeline"

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
        index = [_cut_index(whole, c) for c in cuts]
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


@dataclass(frozen=True)
class Mapping:
    """Layer-level mapping: each layer named in ``execution.mapping`` (by layer name, op type or
    op class) runs on its device, the rest on the first device; a frame visits the devices in
    layer order, tensors crossing through the host."""

    name: str = "mapping"

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


for _policy in (Single(), Threads(), DataParallel(), Coexec(), Pipeline(), Mapping()):
    register_policy(_policy)

__all__ = ["Coexec", "DataParallel", "Mapping", "Pipeline", "Single", "Threads", "part", "split"]
