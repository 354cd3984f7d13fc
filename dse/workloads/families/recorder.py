"""One architecture description, two outputs: an ONNX model or a :class:`LayerBatch` row set.

A family describes a member's network once, against the zoo's :class:`~dse.workloads.zoo.builder.Net`
API (``conv``, ``bn``, ``relu``, ``maxpool``, ``add``, ``concat``, ...), and runs that description
on one of two subclasses:

* :class:`OnnxNet` builds the ONNX model, naming every node with a zero-padded sequence number
  so that the frontend's deterministic topological order (:attr:`Workload.order`, lexicographic
  by node name) is exactly the order the layers were built in;
* :class:`LayerRecorder` builds nothing: each node becomes one row of counts, made by the same
  counters the frontend uses (:func:`dse.workloads.ops.count_node`), with the frontend's rule for
  which constant inputs are parameters, and the default fusing and kernel classes computed by the
  same functions the workload uses (:func:`~dse.workloads.graph.fused_layers`,
  :func:`~dse.workloads.kernels.kernel_classes`) on a light adjacency view.

So a member's recorded rows equal, column by column and in order, what
:meth:`LayerBatch.from_workloads` gives for its exported ONNX model read back by the frontend.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from onnx import TensorProto

from dse.workloads.graph import fused_layers
from dse.workloads.kernels import kernel_class_index, kernel_classes
from dse.workloads.layers import LAYER_ARRAYS, LayerBatch, fold_shape
from dse.workloads.onnx_frontend import _is_param  # the frontend's own rule, so both count alike
from dse.workloads.ops import OP_CLASSES, NodeView, count_node
from dse.workloads.zoo.builder import Net

__all__ = ["LayerRecorder", "OnnxNet"]

_CLASS_INDEX = {c: i for i, c in enumerate(OP_CLASSES)}


class OnnxNet(Net):
    """A zoo :class:`Net` whose node names sort in build order (``00012_conv``)."""

    def __init__(self, name: str, input_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(name, input_shape, **kwargs)
        self._seq = 0

    def _name(self, kind: str) -> str:
        self._seq += 1
        return f"{self._seq:05d}_{kind}"

    def fresh(self, kind: str) -> str:
        """A new name that sorts after every name given so far."""
        return self._name(kind)


class _Adjacency:
    """Just enough of a ``networkx.DiGraph`` for :func:`fused_layers` and
    :func:`kernel_classes`: ``nodes[n]``, ``predecessors``, ``successors``, ``out_degree``."""

    def __init__(self, nodes: list[dict[str, Any]], preds: list[list[int]]) -> None:
        self.nodes = nodes
        self._preds = preds
        self._succs: list[list[int]] = [[] for _ in nodes]
        for n, ps in enumerate(preds):
            for p in ps:
                self._succs[p].append(n)

    def predecessors(self, n: int) -> Iterator[int]:
        return iter(self._preds[n])

    def successors(self, n: int) -> Iterator[int]:
        return iter(self._succs[n])

    def out_degree(self, n: int) -> int:
        return len(self._succs[n])


class LayerRecorder(OnnxNet):
    """A :class:`Net` that records each node as a row of counts instead of building ONNX."""

    def __init__(self, name: str, input_shape: Sequence[int]) -> None:
        super().__init__(name, input_shape, weights=False)
        self._const_types: dict[str, int] = {}
        self._producer: dict[str, int] = {}
        self._rows: list[dict[str, Any]] = []
        self._preds: list[list[int]] = []
        self._edges: list[tuple[int, int, float]] = []  # (src, dst, elems), by dst then src
        self._reads: list[int] = []  # the rows reading the graph input

    def weight(self, shape: Sequence[int], *, name: str, fan_in: int | None = None,
               value: float | None = None) -> str:
        self.shapes[name] = tuple(int(d) for d in shape)
        self._const_types[name] = TensorProto.FLOAT
        return name

    def const(self, values: float | Sequence[int] | Sequence[float], *, name: str,
              dtype: type = np.int64) -> str:
        arr: np.ndarray = np.asarray(values, dtype=dtype)
        self.shapes[name] = tuple(arr.shape)
        self._const_types[name] = TensorProto.FLOAT if arr.dtype.kind == "f" else \
            TensorProto.INT64
        return name

    def node(self, op: str, inputs: Sequence[str], out_shape: Sequence[int], *,
             name: str | None = None, **attrs: Any) -> str:
        name = name or self._name(op.lower())
        out = tuple(int(d) for d in out_shape)
        self.shapes[name] = out
        shapes = tuple(self.shapes[i] for i in inputs)
        weights = tuple(i in self._const_types for i in inputs)
        count = count_node(NodeView(op, shapes, weights, (out,), attrs))
        if count is None:
            raise ValueError(f"op {op!r} has no counter")
        params = weight_elems = in_elems = 0
        acts, weight_shapes = [], []
        for k, (inp, shp, is_w) in enumerate(zip(inputs, shapes, weights, strict=True)):
            elems = math.prod(shp)
            if is_w:
                weight_elems += elems
                weight_shapes.append(list(shp))
                if _is_param(op, k, elems, self._const_types[inp]):
                    params += elems
            else:
                in_elems += elems
                acts.append(list(shp))
        preds: list[int] = []
        passed: dict[int, float] = {}  # the frontend's edge elems: every input occurrence
        for inp in inputs:
            p = self._producer.get(inp)
            if p is not None:
                passed[p] = passed.get(p, 0.0) + math.prod(self.shapes[inp])
                if p not in preds:
                    preds.append(p)
        row = len(self._rows)
        self._edges.extend((p, row, e) for p, e in sorted(passed.items()))
        if self.input in inputs:
            self._reads.append(row)
        self._producer[name] = row
        self._preds.append(preds)
        self._rows.append({
            "op": op, "op_class": count.op_class, "macs": count.macs, "ops": count.ops,
            "params": params, "weight_elems": weight_elems, "in_elems": in_elems,
            "out_elems": math.prod(out), "in_shapes": acts, "out_shapes": [list(out)],
            "weight_shapes": weight_shapes})
        return name

    def batch(self, *outputs: str, name: str | None = None) -> LayerBatch:
        """The recorded rows as a one-model :class:`LayerBatch` whose outputs are ``outputs``."""
        rows = self._rows
        graph = _Adjacency(rows, self._preds)
        order = range(len(rows))
        fused = fused_layers(graph, order)
        ops = sorted({r["op"] for r in rows})
        index = {o: i for i, o in enumerate(ops)}
        folded_in = [fold_shape(r["in_shapes"][0] if r["in_shapes"] else None) for r in rows]
        folded_out = [fold_shape(r["out_shapes"][0]) for r in rows]
        n = len(rows)
        edges = np.array(self._edges, dtype=np.float64).reshape(-1, 3)
        # (writer row, output number, elements) of the graph outputs a node writes
        written = sorted((self._producer[o], k, float(math.prod(self.shapes[o])))
                         for k, o in enumerate(dict.fromkeys(outputs)) if o in self._producer)
        return LayerBatch(
            names=(name or self.name,), offsets=np.array([0, n], dtype=np.int64),
            op=np.array([index[r["op"]] for r in rows], dtype=np.int16), op_names=tuple(ops),
            op_class=np.array([_CLASS_INDEX[r["op_class"]] for r in rows], dtype=np.int8),
            kernel=kernel_class_index(kernel_classes(graph, order)).astype(np.int8),
            **{c: np.array([float(r[c]) for r in rows]) for c in LAYER_ARRAYS},
            fused=np.array([i in fused for i in order], dtype=bool),
            in_shape=np.array([f[0] for f in folded_in], dtype=np.int64).reshape(n, 4),
            out_shape=np.array([f[0] for f in folded_out], dtype=np.int64).reshape(n, 4),
            in_rank=np.array([f[1] for f in folded_in], dtype=np.int8),
            out_rank=np.array([f[1] for f in folded_out], dtype=np.int8),
            input_elems=np.array([float(math.prod(self.shapes[self.input]))]),
            output_elems=np.array([float(sum(math.prod(self.shapes[o]) for o in outputs))]),
            edge_src=edges[:, 0].astype(np.int64), edge_dst=edges[:, 1].astype(np.int64),
            edge_elems=edges[:, 2].copy(),
            input_read_layer=np.array(self._reads, dtype=np.int64),
            input_read_tensor=np.zeros(len(self._reads), dtype=np.int64),
            input_read_elems=np.full(len(self._reads), float(math.prod(
                self.shapes[self.input]))),
            output_write_layer=np.array([w[0] for w in written], dtype=np.int64),
            output_write_tensor=np.array([w[1] for w in written], dtype=np.int64),
            output_write_elems=np.array([w[2] for w in written], dtype=np.float64))
