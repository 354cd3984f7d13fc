"""Many models' layers as flat arrays: what batch evaluation and sweeps over model families read.

A :class:`LayerBatch` holds the layers of many models end to end, one numpy column per count,
and ``offsets`` marking where each model's layers start (model ``i`` is rows
``offsets[i]:offsets[i + 1]``, in topological order). It carries exactly what the cost model
reads from :attr:`dse.workloads.Workload.counts` (and :func:`dse.workloads.kernels.workload_kernels`)
in array form, so a generator of a model family can produce it without building a graph, and
:meth:`LayerBatch.from_workloads` produces it from built workloads.

Shapes: the first input's and the first output's shape of each layer, folded to at most four
axes (leading axes multiplied into the first, which keeps the product of all but the last axis
and the last axis), zero-padded on the right, with their rank (0: no tensor) beside them. That is
what a device kind's tile utilisation and the channel alignment read.

Edges (optional: a producer may leave them out, and the cost model then leaves the models that
need them to the per-model path; :meth:`LayerBatch.from_workloads` and every model family fill
them). What :func:`dse.cost.model_cost` reads from the graph when a device falls back to a host
for some layers, as arrays of *items*, each item belonging to one model (its layer's) and the
items of a kind sorted by model:

- the graph's edges: ``edge_src`` and ``edge_dst`` (global layer rows of one model, the source
  before the destination: rows are in topological order) and ``edge_elems`` (the elements the
  edge passes, the graph's edge attribute ``elems``);
- the reads of graph inputs: ``input_read_layer`` (the reading layer), ``input_read_tensor``
  (which of its model's graph inputs, numbered within the model) and ``input_read_elems``
  (that input's elements). A graph input read by several layers has one item per reader, so
  "the inputs the device reads" counts each input once, as a set of tensor names does;
- the writes of graph outputs, alike: ``output_write_layer``, ``output_write_tensor``,
  ``output_write_elems``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dse.workloads.graph import Workload
from dse.workloads.kernels import KERNEL_CLASSES, workload_kernels
from dse.workloads.ops import OP_CLASSES

__all__ = ["ITEM_ARRAYS", "LAYER_ARRAYS", "LayerBatch", "fold_shape"]

#: The per-layer float columns of a :class:`LayerBatch` (counts per inference).
LAYER_ARRAYS = ("macs", "ops", "params", "weight_elems", "in_elems", "out_elems")

#: The optional item arrays of a :class:`LayerBatch` (see the module docstring), by kind: the
#: array naming each item's layer (which says its model) first, then the rest.
ITEM_ARRAYS: dict[str, tuple[str, ...]] = {
    "edge": ("edge_dst", "edge_src", "edge_elems"),
    "input": ("input_read_layer", "input_read_tensor", "input_read_elems"),
    "output": ("output_write_layer", "output_write_tensor", "output_write_elems"),
}
_ITEM_LAYERS = ("edge_dst", "edge_src", "input_read_layer", "output_write_layer")
_ALL_ITEMS = tuple(a for names in ITEM_ARRAYS.values() for a in names)


def fold_shape(shape: Sequence[int] | None) -> tuple[tuple[int, int, int, int], int]:
    """A shape as four axes (see the module docstring) and its rank (0 for ``None`` / empty)."""
    s = [int(v) for v in (shape or ())]
    if not s:
        return (0, 0, 0, 0), 0
    if len(s) > 4:
        s = [int(np.prod(s[:len(s) - 3])), *s[len(s) - 3:]]
    rank = len(s)
    return (*s, *([0] * (4 - rank))), rank  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class LayerBatch:
    """The layers of many models as flat arrays (see the module docstring).

    Attributes:
        names: One name per model.
        offsets: ``int64``, ``len(names) + 1`` entries; model ``i`` is rows
            ``offsets[i]:offsets[i + 1]``.
        op: Per layer, an index into ``op_names``.
        op_names: The ONNX op types ``op`` indexes.
        op_class: Per layer, an index into :data:`dse.workloads.ops.OP_CLASSES`.
        kernel: Per layer, an index into :data:`dse.workloads.kernels.KERNEL_CLASSES`.
        macs, ops, params, weight_elems, in_elems, out_elems: ``float64`` counts per layer, as
            in :attr:`Workload.counts`.
        fused: Per layer, whether it runs in the epilogue of the layer before it, as the default
            fusing (:data:`dse.workloads.graph.EPILOGUE_OPS`) marks it.
        in_shape, out_shape: ``int64`` ``(layers, 4)``: the first input's and first output's
            shape, folded (:func:`fold_shape`).
        in_rank, out_rank: ``int8``: their ranks (0: none).
        input_elems, output_elems: Per model, the elements of the model's graph inputs and
            outputs (what goes over a link in and out).
        edge_src, edge_dst, edge_elems, input_read_layer, input_read_tensor, input_read_elems,
            output_write_layer, output_write_tensor, output_write_elems: The graph's edges and
            the reads and writes of its inputs and outputs (see the module docstring): all
            given or all ``None``.
    """

    names: tuple[str, ...]
    offsets: np.ndarray
    op: np.ndarray
    op_names: tuple[str, ...]
    op_class: np.ndarray
    kernel: np.ndarray
    macs: np.ndarray
    ops: np.ndarray
    params: np.ndarray
    weight_elems: np.ndarray
    in_elems: np.ndarray
    out_elems: np.ndarray
    fused: np.ndarray
    in_shape: np.ndarray
    out_shape: np.ndarray
    in_rank: np.ndarray
    out_rank: np.ndarray
    input_elems: np.ndarray
    output_elems: np.ndarray
    edge_src: np.ndarray | None = None
    edge_dst: np.ndarray | None = None
    edge_elems: np.ndarray | None = None
    input_read_layer: np.ndarray | None = None
    input_read_tensor: np.ndarray | None = None
    input_read_elems: np.ndarray | None = None
    output_write_layer: np.ndarray | None = None
    output_write_tensor: np.ndarray | None = None
    output_write_elems: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, m = len(self.op), len(self.names)
        if self.offsets.shape != (m + 1,) or (m and (self.offsets[0] != 0
                                                     or self.offsets[-1] != n)):
            raise ValueError(f"offsets must run from 0 to {n} over {m} models")
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must not decrease")
        for name in ("op", "op_class", "kernel", *LAYER_ARRAYS, "fused", "in_rank", "out_rank"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, not {n}")
        for name in ("in_shape", "out_shape"):
            if getattr(self, name).shape != (n, 4):
                raise ValueError(f"{name} must be ({n}, 4), got {getattr(self, name).shape}")
        for name in ("input_elems", "output_elems"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, not {m}")
        given = [getattr(self, a) is not None for a in _ALL_ITEMS]
        if any(given) and not all(given):
            raise ValueError("the edge, input-read and output-write arrays must be given "
                             "all or none")
        if not self.has_edges:
            return
        model = self.model_of_layer
        for names in ITEM_ARRAYS.values():
            k = len(getattr(self, names[0]))
            for name in names[1:]:
                if len(getattr(self, name)) != k:
                    raise ValueError(f"{name} has {len(getattr(self, name))} entries, not {k}")
        for name in _ITEM_LAYERS:
            rows = getattr(self, name)
            if len(rows) and (rows.min() < 0 or rows.max() >= n):
                raise ValueError(f"{name} must hold layer rows from 0 to {n - 1}")
        for name in ("input_read_tensor", "output_write_tensor"):
            if np.any(getattr(self, name) < 0):
                raise ValueError(f"{name} must number tensors from 0")
        for names in ITEM_ARRAYS.values():
            if np.any(np.diff(model[getattr(self, names[0])]) < 0):
                raise ValueError(f"{names[0]}'s items must be sorted by model")
        src, dst = self.edge_src, self.edge_dst
        assert src is not None and dst is not None
        if np.any(src >= dst) or np.any(model[src] != model[dst]):
            raise ValueError("edges must join a layer to a later one of the same model")

    @property
    def has_edges(self) -> bool:
        """Whether the batch holds the graphs' edges and input and output items."""
        return self.edge_src is not None

    def item_offsets(self) -> dict[str, np.ndarray]:
        """Per item kind (:data:`ITEM_ARRAYS`), where each model's items start and end
        (``models + 1`` entries, as :attr:`offsets`); empty without edges."""
        if not self.has_edges:
            return {}
        out = {}
        for kind, names in ITEM_ARRAYS.items():
            # Items are sorted by model, so the running largest layer row is sorted, and a
            # model's first item is the first whose running largest row reaches the model's.
            reach = np.maximum.accumulate(getattr(self, names[0]))
            out[kind] = np.searchsorted(reach, self.offsets).astype(np.int64)
        return out

    def window(self, a: int, b: int, item_offsets: dict[str, np.ndarray] | None = None
               ) -> LayerBatch:
        """Models ``a:b``, as views of the arrays (the item arrays' layer rows shifted).

        Args:
            item_offsets: :meth:`item_offsets`, when the caller takes many windows (computed
                otherwise).
        """
        if a == 0 and b == self.models:
            return self
        lo, hi = int(self.offsets[a]), int(self.offsets[b])
        items: dict[str, Any] = dict.fromkeys(_ALL_ITEMS)
        if self.has_edges:
            item_offsets = self.item_offsets() if item_offsets is None else item_offsets
            for kind, names in ITEM_ARRAYS.items():
                ia, ib = int(item_offsets[kind][a]), int(item_offsets[kind][b])
                for name in names:
                    col = getattr(self, name)[ia:ib]
                    items[name] = col - lo if name in _ITEM_LAYERS else col
        # NOTE: not validated again (a window of a valid batch is valid): batch evaluation
        # takes one per chunk of a few thousand models
        window = object.__new__(LayerBatch)
        window.__dict__.update(
            names=self.names[a:b], offsets=self.offsets[a:b + 1] - lo, op=self.op[lo:hi],
            op_names=self.op_names, op_class=self.op_class[lo:hi], kernel=self.kernel[lo:hi],
            **{c: getattr(self, c)[lo:hi] for c in LAYER_ARRAYS}, fused=self.fused[lo:hi],
            in_shape=self.in_shape[lo:hi], out_shape=self.out_shape[lo:hi],
            in_rank=self.in_rank[lo:hi], out_rank=self.out_rank[lo:hi],
            input_elems=self.input_elems[a:b], output_elems=self.output_elems[a:b], **items)
        return window

    @property
    def models(self) -> int:
        """Number of models."""
        return len(self.names)

    @property
    def layers(self) -> int:
        """Number of layers over all models."""
        return len(self.op)

    @property
    def model_of_layer(self) -> np.ndarray:
        """Per layer, the index of its model."""
        return np.repeat(np.arange(self.models), np.diff(self.offsets))

    def totals(self, column: str) -> np.ndarray:
        """Per model, the sum of one of :data:`LAYER_ARRAYS`."""
        values = getattr(self, column)
        out = np.zeros(self.models)
        np.add.at(out, self.model_of_layer, values)
        return out

    def select(self, models: Sequence[int] | np.ndarray) -> LayerBatch:
        """A batch of some of the models (in the order given)."""
        idx = np.asarray(models, dtype=np.int64)
        starts, stops = self.offsets[idx], self.offsets[idx + 1]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)]) \
            if len(idx) else np.zeros(0, dtype=np.int64)
        lengths = stops - starts
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items: dict[str, Any] = dict.fromkeys(_ALL_ITEMS)
        if self.has_edges:
            shift = offsets[:-1] - starts  # per selected model, new row - old row
            for kind, io in self.item_offsets().items():
                ia, ib = io[idx], io[idx + 1]
                picked = np.concatenate([np.arange(x, y) for x, y in zip(ia, ib, strict=True)]) \
                    if len(idx) else np.zeros(0, dtype=np.int64)
                moved = np.repeat(shift, ib - ia)
                for name in ITEM_ARRAYS[kind]:
                    col = getattr(self, name)[picked]
                    items[name] = col + moved if name in _ITEM_LAYERS else col
        return LayerBatch(
            names=tuple(self.names[i] for i in idx),
            offsets=offsets,
            op=self.op[rows], op_names=self.op_names, op_class=self.op_class[rows],
            kernel=self.kernel[rows],
            **{c: getattr(self, c)[rows] for c in LAYER_ARRAYS},
            fused=self.fused[rows], in_shape=self.in_shape[rows],
            out_shape=self.out_shape[rows], in_rank=self.in_rank[rows],
            out_rank=self.out_rank[rows], input_elems=self.input_elems[idx],
            output_elems=self.output_elems[idx], **items)

    @classmethod
    def concat(cls, batches: Iterable[LayerBatch]) -> LayerBatch:
        """One batch of the models of several, in order (their op vocabularies merged)."""
        parts = list(batches)
        if not parts:
            return cls.empty()
        op_names: list[str] = []
        index: dict[str, int] = {}
        ops = []
        for b in parts:
            for name in b.op_names:
                if name not in index:
                    index[name] = len(op_names)
                    op_names.append(name)
            remap = np.array([index[n] for n in b.op_names], dtype=np.int16)
            ops.append(remap[b.op] if len(b.op) else b.op.astype(np.int16))
        lengths = np.concatenate([np.diff(b.offsets) for b in parts])
        items: dict[str, Any] = dict.fromkeys(_ALL_ITEMS)
        if all(b.has_edges for b in parts):
            starts = np.concatenate([[0], np.cumsum([b.layers for b in parts])[:-1]])
            for name in _ALL_ITEMS:
                cols = [getattr(b, name) for b in parts]
                if name in _ITEM_LAYERS:
                    cols = [c + int(start) for c, start in zip(cols, starts, strict=True)]
                items[name] = np.concatenate(cols)
        return cls(
            names=tuple(n for b in parts for n in b.names),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            op=np.concatenate(ops), op_names=tuple(op_names),
            op_class=np.concatenate([b.op_class for b in parts]),
            kernel=np.concatenate([b.kernel for b in parts]),
            **{c: np.concatenate([getattr(b, c) for b in parts]) for c in LAYER_ARRAYS},
            fused=np.concatenate([b.fused for b in parts]),
            in_shape=np.concatenate([b.in_shape for b in parts]),
            out_shape=np.concatenate([b.out_shape for b in parts]),
            in_rank=np.concatenate([b.in_rank for b in parts]),
            out_rank=np.concatenate([b.out_rank for b in parts]),
            input_elems=np.concatenate([b.input_elems for b in parts]),
            output_elems=np.concatenate([b.output_elems for b in parts]), **items)

    @classmethod
    def empty(cls) -> LayerBatch:
        """A batch of no models."""
        z = np.zeros(0)
        return cls(names=(), offsets=np.zeros(1, dtype=np.int64), op=np.zeros(0, np.int16),
                   op_names=(), op_class=np.zeros(0, np.int8), kernel=np.zeros(0, np.int8),
                   **{c: z for c in LAYER_ARRAYS}, fused=np.zeros(0, bool),
                   in_shape=np.zeros((0, 4), np.int64), out_shape=np.zeros((0, 4), np.int64),
                   in_rank=np.zeros(0, np.int8), out_rank=np.zeros(0, np.int8),
                   input_elems=z, output_elems=z,
                   **{a: np.zeros(0, np.int64 if a in _ITEM_LAYERS or a.endswith("_tensor")
                                  else np.float64) for a in _ALL_ITEMS})

    @classmethod
    def from_workloads(cls, workloads: Iterable[Workload]) -> LayerBatch:
        """The batch of built workloads, from their :attr:`~Workload.counts` (default fusing)."""
        models = list(workloads)
        if not models:
            return cls.empty()
        op_names: list[str] = []
        index: dict[str, int] = {}
        classes = {c: i for i, c in enumerate(OP_CLASSES)}
        cols: dict[str, list[np.ndarray]] = {c: [] for c in LAYER_ARRAYS}
        op: list[np.ndarray] = []
        op_class: list[np.ndarray] = []
        kernel: list[np.ndarray] = []
        fused: list[np.ndarray] = []
        in_shape: list[np.ndarray] = []
        out_shape: list[np.ndarray] = []
        in_rank: list[np.ndarray] = []
        out_rank: list[np.ndarray] = []
        lengths: list[int] = []
        inputs: list[float] = []
        outputs: list[float] = []
        items: dict[str, list[float]] = {a: [] for a in _ALL_ITEMS}
        start = 0
        for w in models:
            counts = w.counts
            lengths.append(len(counts))
            _graph_items(w, counts.index, start, items)
            start += len(counts)
            for name in counts["op"]:
                if name not in index:
                    index[name] = len(op_names)
                    op_names.append(name)
            op.append(np.array([index[o] for o in counts["op"]], dtype=np.int16))
            op_class.append(np.array([classes[c] for c in counts["op_class"]], dtype=np.int8))
            kernel.append(np.asarray(workload_kernels(w), dtype=np.int8))
            fused.append(counts["fused"].to_numpy(dtype=bool))
            for c in LAYER_ARRAYS:
                cols[c].append(counts[c].to_numpy(dtype=float))
            for shapes, out_s, out_r in ((counts["in_shapes"], in_shape, in_rank),
                                         (counts["out_shapes"], out_shape, out_rank)):
                folded = [fold_shape(s[0] if s else None) for s in shapes]
                out_s.append(np.array([f[0] for f in folded], dtype=np.int64).reshape(-1, 4))
                out_r.append(np.array([f[1] for f in folded], dtype=np.int8))
            g = w.graph.graph
            inputs.append(sum(float(np.prod(s)) for s in g.get("inputs", {}).values()))
            outputs.append(sum(float(np.prod(s)) for s in g.get("outputs", {}).values()))
        assert len(KERNEL_CLASSES) < 128 and len(OP_CLASSES) < 128  # int8 indices
        return cls(
            names=tuple(w.name for w in models),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            op=np.concatenate(op), op_names=tuple(op_names), op_class=np.concatenate(op_class),
            kernel=np.concatenate(kernel), **{c: np.concatenate(v) for c, v in cols.items()},
            fused=np.concatenate(fused), in_shape=np.concatenate(in_shape),
            out_shape=np.concatenate(out_shape), in_rank=np.concatenate(in_rank),
            out_rank=np.concatenate(out_rank), input_elems=np.array(inputs),
            output_elems=np.array(outputs),
            **{a: np.array(v, dtype=np.int64 if a in _ITEM_LAYERS or a.endswith("_tensor")
                           else np.float64) for a, v in items.items()})


def _graph_items(w: Workload, nodes: Sequence[object], start: int,
                 items: dict[str, list[float]]) -> None:
    """Append one workload's edges and graph-input reads and graph-output writes to
    ``items`` (layer rows from ``start``), in row order of the destination / reader / writer."""
    graph = w.graph
    row = {n: start + k for k, n in enumerate(nodes)}
    g = graph.graph
    ins = {t: (k, float(np.prod(s))) for k, (t, s) in enumerate(g.get("inputs", {}).items())}
    outs = {t: (k, float(np.prod(s))) for k, (t, s) in enumerate(g.get("outputs", {}).items())}
    for n in nodes:
        r = row[n]
        for u, _, d in sorted(graph.in_edges(n, data=True), key=lambda e: row[e[0]]):
            items["edge_src"].append(row[u])
            items["edge_dst"].append(r)
            items["edge_elems"].append(float(d["elems"]))
        attrs = graph.nodes[n]
        for names, table, kind in ((attrs["inputs"], ins, "input_read"),
                                   (attrs["outputs"], outs, "output_write")):
            for t in dict.fromkeys(names):  # a tensor read twice is read once
                if t in table:
                    items[f"{kind}_layer"].append(r)
                    items[f"{kind}_tensor"].append(table[t][0])
                    items[f"{kind}_elems"].append(table[t][1])
