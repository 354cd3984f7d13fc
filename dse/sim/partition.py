"""A workload cut into parts: consecutive layer ranges (topological order) as workloads.

Pipelines run a part per stage and layer mappings a part per run of layers on one device; a
part is a workload of its own, so the cost model prices it as it prices a whole model.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from dse.sim import memo
from dse.workloads.graph import Workload

__all__ = ["cut_index", "part", "split_index"]


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


def cut_index(w: Workload, cut: str | float | None) -> int:
    """Layers before the cut: after the named layer, or where the cumulative weight bytes
    reach the fraction (0..1) of the model's."""
    if isinstance(cut, str):
        return split_index(w, cut)
    weights = w.counts["weight_elems"].to_numpy(dtype=float).cumsum()
    total = weights[-1] if len(weights) and weights[-1] > 0 else 1.0
    return int(np.searchsorted(weights / total, float(cut or 0.0), side="right"))


def split_index(w: Workload, layer: str) -> int:
    """Layers up to and including ``layer`` (-1: no layer of that name)."""
    names = [w.graph.nodes[n]["name"] for n in w.order]
    return names.index(layer) + 1 if layer in names else -1
