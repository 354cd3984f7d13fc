"""The workload: a layer graph with element counts, viewed at one precision.

A :class:`Workload` wraps a ``networkx.DiGraph`` with one node per operator and one edge per
tensor passed between operators. Node attributes (all counts are per inference, batch included):

``name``, ``op`` (ONNX op type), ``op_class`` (see :data:`dse.workloads.ops.OP_CLASSES`),
``macs``, ``ops`` (arithmetic operations, one MAC = 2 ops), ``params`` (learned parameters),
``weight_elems`` (every constant element the operator reads: parameters plus statistics such as
BatchNorm running mean and variance), ``in_elems`` (activation elements read), ``out_elems``,
``in_shapes``, ``out_shapes``, ``weight_shapes``, ``inputs`` and ``outputs`` (tensor names).

Edge attributes: ``tensors`` (names of the tensors passed), ``elems`` (their elements). The graph attribute ``inputs`` / ``outputs`` map
the model's input and output tensors to their shapes.

Bytes are element counts times the bytes of the precision in use, so the same graph serves every
precision: :meth:`Workload.at` returns a view at another precision without copying the graph.

A workload's graph is shared (views at other precisions, the zoo's cache of built graphs), so it
is read-only: :class:`Workload` freezes it (``networkx.freeze``; node, edge and graph attributes
refuse writes with a :class:`TypeError`), and :attr:`Workload.counts` hands out a copy-on-write
copy of its table. Edit a copy: ``nx.DiGraph(w.graph)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import networkx as nx
import pandas as pd

from dse.errors import Problem, WorkloadError
from dse.spec.vocabulary import EPILOGUE_OPS, OP_CLASSES, PRECISION_BYTES

__all__ = ["EPILOGUE_OPS", "PRECISION_BYTES", "ReadOnlyAttrs", "Workload", "bytes_per_elem",
           "freeze_graph", "fused_layers", "gelu_groups", "skip_norm_pairs", "swish_pairs"]

LAYER_COLUMNS = (
    "name",
    "op",
    "op_class",
    "macs",
    "ops",
    "params",
    "weight_elems",
    "in_elems",
    "out_elems",
    "weight_bytes",
    "in_bytes",
    "out_bytes",
    "in_shapes",
    "out_shapes",
)


_COUNT_COLUMNS = ("name", "op", "op_class", "macs", "ops", "params", "weight_elems", "in_elems",
                  "out_elems", "in_shapes", "out_shapes")


_FUSE_INTO = frozenset({"conv", "dwconv", "matmul"})


def fused_layers(graph: nx.DiGraph, order: Any = None,
                 ops: frozenset[str] = EPILOGUE_OPS, *, residual: bool = False) -> set[Any]:
    """Layers computed in the epilogue of their producer rather than as a pass of their own.

    A layer is fused when its op is in ``ops`` (default :data:`EPILOGUE_OPS`; a runtime states
    its own, :attr:`dse.spec.runtime.RuntimeSpec.fuses`), it reads one activation, and that
    activation comes from a conv/matmul (or from a layer fused into one) that no other layer
    reads. A fused layer costs its arithmetic but moves no memory and launches no kernel.

    ``residual``: the runtime also folds a residual ``Add`` into the convolution that produces
    one of its two inputs (the convolution accumulates onto the other, skip, tensor: ONNX
    Runtime's Conv + Add fusion), when no other layer reads that convolution's output; the
    epilogue ops after such an Add then fuse as after the convolution itself.
    """
    fused: set[Any] = set()
    for node in order if order is not None else nx.topological_sort(graph):
        d = graph.nodes[node]
        preds = list(graph.predecessors(node))
        if residual and d["op"] == "Add" and len(preds) == 2 and any(
                graph.out_degree(p) == 1 and _conv_rooted(graph, p, fused) for p in preds):
            fused.add(node)
            continue
        if d["op"] not in ops or len(preds) != 1:
            continue
        (pred,) = preds
        if graph.out_degree(pred) == 1 and (
                graph.nodes[pred]["op_class"] in _FUSE_INTO or pred in fused):
            fused.add(node)
    return fused


def _conv_rooted(graph: nx.DiGraph, node: Any, fused: set[Any]) -> bool:
    """Whether ``node`` is a convolution, or a layer fused (transitively) into one."""
    while node in fused:
        preds = [p for p in graph.predecessors(node)]
        if len(preds) != 1:
            return False  # a fused residual Add: one sum per convolution
        (node,) = preds
    return bool(graph.nodes[node]["op_class"] in ("conv", "dwconv"))


def swish_pairs(graph: nx.DiGraph, order: Any = None) -> list[tuple[Any, Any]]:
    """``(sigmoid, mul)`` node pairs that compute x * sigmoid(x) (SiLU / swish): a Sigmoid read
    only by a Mul whose other input is the Sigmoid's own input."""
    pairs = []
    for node in order if order is not None else nx.topological_sort(graph):
        if graph.nodes[node]["op"] != "Mul":
            continue
        preds = list(graph.predecessors(node))
        if len(preds) != 2:
            continue
        for gate, x in (preds, preds[::-1]):
            if graph.nodes[gate]["op"] == "Sigmoid" and graph.out_degree(gate) == 1 and \
                    list(graph.predecessors(gate)) == [x]:
                pairs.append((gate, node))
                break
    return pairs


def gelu_groups(graph: nx.DiGraph, order: Any = None) -> list[tuple[Any, ...]]:
    """The nodes of every exact GELU exported as ``x * 0.5 * (1 + erf(x / sqrt(2)))``:
    ``(div, erf, add, mul[, mul])``, the Erf second: a Div read only by the Erf, the Erf read
    only by an Add of a constant, that Add read only by a Mul of it and the Div's input, and a
    last Mul of a constant when that Mul's only reader is one."""
    groups = []
    nodes = graph.nodes
    for erf in order if order is not None else nx.topological_sort(graph):
        if nodes[erf]["op"] != "Erf":
            continue
        div = list(graph.predecessors(erf))
        add = list(graph.successors(erf))
        if len(div) != 1 or nodes[div[0]]["op"] != "Div" or graph.out_degree(div[0]) != 1 or \
                len(add) != 1 or nodes[add[0]]["op"] != "Add" or \
                list(graph.predecessors(add[0])) != [erf] or graph.out_degree(add[0]) != 1:
            continue
        x = list(graph.predecessors(div[0]))
        (mul,) = graph.successors(add[0])
        if nodes[mul]["op"] != "Mul" or set(graph.predecessors(mul)) != {add[0], *x}:
            continue
        group: tuple[Any, ...] = (div[0], erf, add[0], mul)
        last = list(graph.successors(mul))
        if len(last) == 1 and graph.out_degree(mul) == 1 and nodes[last[0]]["op"] == "Mul" and \
                list(graph.predecessors(last[0])) == [mul]:
            group += (last[0],)
        groups.append(group)
    return groups


def skip_norm_pairs(graph: nx.DiGraph, order: Any = None) -> list[tuple[Any, Any]]:
    """``(add, layernorm)`` pairs of a residual Add read only by a LayerNormalization: the Add
    sums two activations, no constant (a transformer's x + sublayer(x), or token + position
    embeddings)."""
    pairs = []
    nodes = graph.nodes
    for norm in order if order is not None else nx.topological_sort(graph):
        if nodes[norm]["op"] != "LayerNormalization":
            continue
        preds = list(graph.predecessors(norm))
        if len(preds) == 1 and nodes[preds[0]]["op"] == "Add" and \
                graph.out_degree(preds[0]) == 1 and not nodes[preds[0]]["weight_elems"]:
            pairs.append((preds[0], norm))
    return pairs


def bytes_per_elem(precision: str, *, source: str = "precision") -> float:
    """Bytes per element at ``precision``.

    Raises:
        WorkloadError: If the precision is unknown (the message lists the known ones).
    """
    try:
        return PRECISION_BYTES[precision]
    except KeyError:
        known = ", ".join(PRECISION_BYTES)
        raise WorkloadError(
            [Problem(source, "precision", f"expected one of {known}, got {precision!r}")]
        ) from None


class ReadOnlyAttrs(dict[str, Any]):
    """The attributes of a node, an edge or a workload graph: a dict that refuses writes."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a workload graph is read-only (views at other precisions and the zoo's "
                        "cache share it); edit a copy: networkx.DiGraph(workload.graph)")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = setdefault = clear = _refuse

    def copy(self) -> dict[str, Any]:
        """A plain, writable copy (what ``networkx`` copies of the graph get)."""
        return dict(self)

    def __reduce__(self) -> Any:
        return (ReadOnlyAttrs, (dict(self),))


def freeze_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """Make a workload graph read-only in place (and return it): ``networkx.freeze`` for its
    structure, :class:`ReadOnlyAttrs` for its node, edge and graph attributes."""
    if isinstance(graph.graph, ReadOnlyAttrs):
        return graph
    nodes = graph._node
    for n in list(nodes):
        nodes[n] = ReadOnlyAttrs(nodes[n])
    if not graph.is_multigraph():
        mirror = graph._pred if graph.is_directed() else graph._adj
        for u, nbrs in graph._adj.items():
            for v in list(nbrs):
                if not isinstance(nbrs[v], ReadOnlyAttrs):
                    nbrs[v] = mirror[v][u] = ReadOnlyAttrs(nbrs[v])
    graph.graph = ReadOnlyAttrs({k: ReadOnlyAttrs(v) if isinstance(v, dict) else v
                                 for k, v in graph.graph.items()})
    return nx.freeze(graph)


@dataclass(frozen=True)
class Workload:
    """A workload graph at one precision.

    Attributes:
        name: Zoo name or file stem.
        graph: The layer graph (see the module docstring for its attributes), frozen when the
            workload is made: views at other precisions and the zoo's cache share it.
        precision: Precision used to turn element counts into bytes.
        source: Where the graph came from (zoo name with options, or file path).
    """

    name: str
    graph: nx.DiGraph
    precision: str = "fp32"
    source: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        bytes_per_elem(self.precision, source=self.source or self.name)
        freeze_graph(self.graph)

    def at(self, precision: str) -> Workload:
        """The same graph viewed at another precision (no copy)."""
        if precision == self.precision:
            return self
        return Workload(self.name, self.graph, precision, self.source, self._cache)

    @property
    def bytes_per_elem(self) -> float:
        return PRECISION_BYTES[self.precision]

    def _total(self, attr: str) -> int:
        key = f"total:{attr}"
        if key not in self._cache:
            self._cache[key] = int(sum(d[attr] for _, d in self.graph.nodes(data=True)))
        return int(self._cache[key])

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference."""
        return self._total("macs")

    @property
    def ops(self) -> int:
        """Arithmetic operations per inference (one MAC = 2 ops)."""
        return self._total("ops")

    @property
    def params(self) -> int:
        """Learned parameters (BatchNorm running statistics excluded)."""
        return self._total("params")

    @property
    def weight_elems(self) -> int:
        """Constant elements read per inference (parameters plus statistics)."""
        return self._total("weight_elems")

    @property
    def weight_bytes(self) -> float:
        return self.weight_elems * self.bytes_per_elem

    @property
    def nodes(self) -> int:
        return int(self.graph.number_of_nodes())

    @property
    def other_ops(self) -> dict[str, int]:
        """Op types recorded as class ``other``, with how many nodes each."""
        return dict(
            Counter(d["op"] for _, d in self.graph.nodes(data=True) if d["op_class"] == "other")
        )

    @property
    def order(self) -> tuple[Any, ...]:
        """Graph node keys in a deterministic topological order (cached)."""
        if "order" not in self._cache:
            self._cache["order"] = tuple(nx.lexicographical_topological_sort(self.graph))
        return tuple(self._cache["order"])

    @property
    def counts(self) -> pd.DataFrame:
        """Element counts per operator in topological order, indexed by graph node key.

        Precision-independent and cached: cost functions read it on every evaluation. Each call
        returns a shallow copy-on-write copy of the cached table (cheap: no data is copied), so
        editing it never changes the workload or its views at other precisions. ``fused`` marks
        layers that run in the epilogue of the layer before them (see :func:`fused_layers`).
        """
        if "counts" not in self._cache:
            fused = fused_layers(self.graph, self.order)
            rows = [{"node": n, **{c: self.graph.nodes[n][c] for c in _COUNT_COLUMNS},
                     "fused": n in fused} for n in self.order]
            self._cache["counts"] = pd.DataFrame(
                rows, columns=["node", *_COUNT_COLUMNS, "fused"]).set_index("node")
        table: pd.DataFrame = self._cache["counts"]
        return table.copy(deep=False)  # pandas copy-on-write: a write copies, never leaks

    def counts_fusing(self, ops: Iterable[str] | None, *, swish: bool = False,
                      residual: bool = False, gelu: bool = False,
                      skip_norm: bool = False) -> pd.DataFrame:
        """:attr:`counts` with ``fused`` as a runtime that folds ``ops`` into the epilogue of
        the conv/matmul before them computes it (``None``: :data:`EPILOGUE_OPS`); cached per set
        of ops, and copy-on-write like :attr:`counts`.

        ``swish``: the runtime computes x * sigmoid(x) as one elementwise kernel (a Swish layer,
        :func:`swish_pairs`): the Sigmoid makes no pass and launches nothing of its own, and the
        Mul reads x once (its ``in_elems`` become x's elements).

        ``residual``: residual Adds fold into the convolution before them (see
        :func:`fused_layers`).

        ``gelu``: the runtime computes an exported exact GELU (:func:`gelu_groups`) as one
        elementwise kernel: the Erf layer runs it (one pass over x), the Div, Add and Muls
        around it make no pass and launch nothing of their own.

        ``skip_norm``: a residual Add read only by a LayerNormalization (:func:`skip_norm_pairs`)
        runs inside the normalisation's kernel, which reads both of the Add's inputs."""
        if (ops is None or frozenset(ops) == EPILOGUE_OPS) and not swish and not residual \
                and not gelu and not skip_norm:
            return self.counts
        key = "counts-fusing:" + ",".join(sorted(set(EPILOGUE_OPS if ops is None else ops))) \
            + (":swish" if swish else "") + (":residual" if residual else "") \
            + (":gelu" if gelu else "") + (":skip_norm" if skip_norm else "")
        if key not in self._cache:
            fused = fused_layers(self.graph, self.order,
                                 EPILOGUE_OPS if ops is None else frozenset(ops),
                                 residual=residual)
            table = self.counts.assign(fused=[n in fused for n in self.order])
            if swish:
                pairs = swish_pairs(self.graph, self.order)
                gates = [gate for gate, _ in pairs]
                table.loc[gates, "fused"] = True
                for gate, mul in pairs:
                    table.loc[mul, "in_elems"] = self.graph.nodes[gate]["in_elems"]
            if gelu:
                around = [n for group in gelu_groups(self.graph, self.order)
                          for n in group if self.graph.nodes[n]["op"] != "Erf"]
                table.loc[around, "fused"] = True
            if skip_norm:
                for add, norm in skip_norm_pairs(self.graph, self.order):
                    table.loc[add, "fused"] = True
                    table.loc[norm, "in_elems"] = self.graph.nodes[add]["in_elems"]
            self._cache[key] = table
        table = self._cache[key]
        return table.copy(deep=False)

    @property
    def layers(self) -> pd.DataFrame:
        """One row per operator, in topological order, with element counts and bytes."""
        b = self.bytes_per_elem
        table = self.counts.reset_index(drop=True)
        for kind in ("weight", "in", "out"):
            table[f"{kind}_bytes"] = table[f"{kind}_elems"] * b
        return table[list(LAYER_COLUMNS)]

    def by_op_class(self) -> pd.DataFrame:
        """Totals per op class (every class listed, zeros included), with shares of MACs/ops."""
        layers = self.layers
        table = (
            layers.groupby("op_class")[["macs", "ops", "params", "weight_bytes"]]
            .sum()
            .join(layers.groupby("op_class").size().rename("nodes"))
            .reindex(list(OP_CLASSES), fill_value=0)
        )
        table["nodes"] = table["nodes"].astype(int)
        total_macs = max(int(table["macs"].sum()), 1)
        total_ops = max(int(table["ops"].sum()), 1)
        table["macs_share"] = table["macs"] / total_macs
        table["ops_share"] = table["ops"] / total_ops
        return table

    def summary(self) -> dict[str, Any]:
        """Totals and per-op-class breakdown as plain JSON-ready values."""
        classes = self.by_op_class()
        inputs = self.graph.graph.get("inputs", {})
        outputs = self.graph.graph.get("outputs", {})
        return {
            "name": self.name,
            "source": self.source,
            "precision": self.precision,
            "params": self.params,
            "macs": self.macs,
            "ops": self.ops,
            "nodes": self.nodes,
            "weight_bytes": self.weight_bytes,
            "inputs": {k: list(v) for k, v in inputs.items()},
            "outputs": {k: list(v) for k, v in outputs.items()},
            "other_ops": self.other_ops,
            "op_classes": {
                cls: {
                    "nodes": int(row["nodes"]),
                    "macs": int(row["macs"]),
                    "ops": int(row["ops"]),
                    "params": int(row["params"]),
                }
                for cls, row in classes.iterrows()
                if row["nodes"]
            },
        }

    def __repr__(self) -> str:
        return (
            f"Workload({self.name!r}, precision={self.precision!r}, nodes={self.nodes}, "
            f"params={self.params:,}, macs={self.macs:,})"
        )
