"""NAS-Bench-101: every unique cell of the benchmark's space, inside its CIFAR-10 network.

Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture Search", ICML 2019;
the reference code is google-research/nasbench (``nasbench/lib/model_builder.py``,
``model_spec.py``, ``graph_util.py``, ``scripts/generate_graphs.py``, ``config.py``).

**The space.** A cell is a DAG of 2 to 7 vertices (input, up to 5 interior vertices, output) with
an upper-triangular adjacency matrix of at most 9 edges, every vertex on a path from input to
output, each interior vertex labelled ``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or
``maxpool3x3``. Cells equal up to a relabelling of the interior vertices are one cell. The
benchmark tells them apart with an iterated (Weisfeiler-Lehman style) MD5 hash that it verified
has no collisions on this space; here the classes are computed exactly instead: for each
unlabelled DAG the smallest adjacency bit pattern over the 5! interior permutations that keep it
upper triangular is its canonical form, and the labellings of a canonical DAG are taken up to its
automorphism group. This gives the benchmark's 423,624 cells in about a tenth of a second.

**Member order.** A member is the first of its class in the order ``generate_graphs.py``
visits graphs (vertex count, then the adjacency bit pattern of ``gen_is_edge_fn``, then the
labelling in ``itertools.product`` order), so member ``i`` is the very matrix and labelling the
benchmark kept and trained for that hash: the dataset's first record (adjacency bits 1205349,
ops conv3x3, maxpool, conv3x3, conv3x3, conv1x1) is such a member, stored as it is here, and
its 8,555,530 trainable parameters are a test.

**The network** (``model_builder.py`` with ``config.py``'s defaults): a 3x3 conv-BN-ReLU stem of
128 channels on a 1x3x32x32 image; 3 stacks of 3 cells, a 2x2 stride-2 max pool before stacks 2
and 3 doubling the channels; global average pooling and a 10-way dense layer. In a cell the
output channels are split over the vertices feeding the output (``compute_vertex_channels``:
the first ones get the remainder, the others take the largest of their successors); a vertex
sums its inputs (interior ones sliced to its channels when they have one more, the cell input
through a 1x1 conv-BN-ReLU projection), the output concatenates its interior inputs and adds a
projection of the cell input when the input feeds it (a 2-vertex cell is that projection
alone). In ONNX a sum of two tensors is an ``Add``, of more a ``Sum`` (TensorFlow's ``add_n``);
a slice is a ``Slice``; the mean over space is ``GlobalAveragePool`` + ``Flatten``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from dse.errors import Problem, WorkloadError
from dse.workloads.families.base import Family, Indices, Option
from dse.workloads.kernels import KERNEL_CLASSES
from dse.workloads.layers import LAYER_ARRAYS, LayerBatch
from dse.workloads.ops import OP_CLASSES
from dse.workloads.zoo.builder import Net

__all__ = ["OPS", "NasBench101", "enumerate_cells", "vertex_channels"]

#: The interior vertex labels, in the benchmark's order (``config.py`` ``available_ops``).
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
_OP_CHARS = "31m"
_BN_EPS = 1e-5  # base_ops.BN_EPSILON
_MAX_VERTICES = 7

# Keys of cells: vertex count << 32 | adjacency bits << 8 | labelling index (< 3**5 < 256).
_V_SHIFT, _BITS_SHIFT = 32, 8
_CHUNK = 1024  # members whose rows are made at once (bounded memory, cache-friendly)


def _edge_bit(x: int, y: int) -> int:
    """The bit of edge x -> y (x < y) in ``gen_is_edge_fn``'s column-major bit string."""
    return x + y * (y - 1) // 2


@functools.lru_cache(maxsize=8)
def enumerate_cells(max_vertices: int = 7, max_edges: int = 9) -> np.ndarray:
    """The unique cells of up to ``max_vertices`` vertices and ``max_edges`` edges, as sorted
    ``int64`` keys (see the module docstring for their order); read-only, cached per process.

    The default space has 423,624 cells.
    """
    keys = [np.zeros(0, dtype=np.int64)]
    for v in range(2, max_vertices + 1):
        keys.append(_cells_of(v, max_edges))
    out = np.concatenate(keys)
    out.setflags(write=False)
    return out


def _cells_of(v: int, max_edges: int) -> np.ndarray:
    """The keys of the unique cells of exactly ``v`` vertices, sorted."""
    nbits = v * (v - 1) // 2
    bits = np.arange(2**nbits, dtype=np.int64)
    bits = bits[np.bitwise_count(bits) <= max_edges]
    # Every vertex on an input -> output path: each but the output has an out-edge, each but
    # the input an in-edge (graph_util.is_full_dag).
    full = np.ones(len(bits), dtype=bool)
    for u in range(v):
        if u < v - 1:
            full &= (bits & sum(1 << _edge_bit(u, y) for y in range(u + 1, v))) != 0
        if u > 0:
            full &= (bits & sum(1 << _edge_bit(x, u) for x in range(u))) != 0
    bits = bits[full]
    if not len(bits):
        return np.zeros(0, dtype=np.int64)
    perms = np.array([(0, *p, v - 1) for p in itertools.permutations(range(1, v - 1))],
                     dtype=np.int64)
    # For every edge bit and permutation: the permuted edge's bit, or "leaves upper-triangular".
    target = np.zeros((nbits, len(perms)), dtype=np.int64)
    breaks = np.zeros((nbits, len(perms)), dtype=np.int64)
    for y in range(v):
        for x in range(y):
            px, py = perms[:, x], perms[:, y]
            upper = px < py
            target[_edge_bit(x, y)] = np.where(upper, 1 << np.where(upper, px + py * (py - 1)
                                                                    // 2, 0), 0)
            breaks[_edge_bit(x, y)] = ~upper
    matrix = (bits[:, None] >> np.arange(nbits)) & 1
    permuted = np.where(matrix @ breaks > 0, np.iinfo(np.int64).max, matrix @ target)
    canonical = permuted.min(axis=1) == bits
    reps, automorphic = bits[canonical], permuted[canonical] == bits[canonical, None]
    n_int = v - 2
    labels = np.array(list(itertools.product(range(len(OPS)), repeat=n_int)),
                      dtype=np.int64).reshape(3**n_int, n_int)
    place = 3 ** np.arange(n_int - 1, -1, -1, dtype=np.int64)
    first_of_orbit: dict[bytes, np.ndarray] = {}
    out = []
    for rep, auts in zip(reps, automorphic, strict=True):
        key = auts.tobytes()
        if key not in first_of_orbit:
            # A labelling is kept when no automorphism maps it to an earlier one.
            codes = np.empty((int(auts.sum()), len(labels)), dtype=np.int64)
            for a, p in enumerate(perms[auts]):
                moved = np.empty_like(labels)
                moved[:, p[1:v - 1] - 1] = labels
                codes[a] = moved @ place
            first_of_orbit[key] = np.flatnonzero(codes.min(axis=0) == np.arange(len(labels)))
        out.append((v << _V_SHIFT) | (int(rep) << _BITS_SHIFT) | first_of_orbit[key])
    return np.sort(np.concatenate(out))


def _decode(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return keys >> _V_SHIFT, (keys >> _BITS_SHIFT) & ((1 << 24) - 1), keys & 0xFF


def _adjacency(v: int, bits: np.ndarray) -> np.ndarray:
    """``(N, v, v)`` boolean adjacency matrices of the bit patterns."""
    a = np.zeros((len(bits), v, v), dtype=bool)
    for y in range(v):
        for x in range(y):
            a[:, x, y] = (bits >> _edge_bit(x, y)) & 1
    return a


def _labels(v: int, lab: np.ndarray) -> np.ndarray:
    """``(N, v - 2)`` interior labels (indices into :data:`OPS`) of labelling indices."""
    place = 3 ** np.arange(v - 3, -1, -1, dtype=np.int64)
    return (lab[:, None] // place) % 3


def _names(keys: np.ndarray) -> tuple[str, ...]:
    """Member names (:meth:`NasBench101.member_name`) of cell keys."""
    vs, bits, lab = _decode(keys)
    out = []
    for v, b, code in zip(vs.tolist(), bits.tolist(), lab.tolist(), strict=True):
        ops = "".join(_OP_CHARS[code // 3 ** (v - 3 - k) % 3] for k in range(v - 2))
        out.append(f"nb101-{v}v-{b:x}-{ops or 'none'}")
    return tuple(out)


def vertex_channels(adjacency: np.ndarray, input_channels: int | np.ndarray,
                    output_channels: int) -> np.ndarray:
    """``model_builder.compute_vertex_channels`` for ``(N, V, V)`` adjacency matrices at once:
    ``(N, V)`` channels per vertex."""
    a = np.asarray(adjacency, dtype=bool)
    n, v = a.shape[0], a.shape[1]
    vc = np.zeros((n, v), dtype=np.int64)
    vc[:, 0] = input_channels
    vc[:, v - 1] = output_channels
    if v == 2:
        return vc
    feeds = a[:, 1:v - 1, v - 1]
    k = feeds.sum(axis=1)
    base, extra = output_channels // k, output_channels % k
    rank = np.cumsum(feeds, axis=1)
    vc[:, 1:v - 1] = np.where(feeds, base[:, None] + (rank <= extra[:, None]), 0)
    for u in range(v - 3, 0, -1):
        widest = np.max(np.where(a[:, u, u + 1:v - 1], vc[:, u + 1:v - 1], 0), axis=1)
        vc[:, u] = np.where(feeds[:, u - 1], vc[:, u], np.maximum(vc[:, u], widest))
    return vc


# -- the network, described once on a Net (ONNX export and the reference recorder) ----------


def _conv_bn_relu(net: Net, x: str, cout: int, k: int) -> str:
    return net.relu(net.bn(net.conv(x, cout, k, pad="same", bias=False), eps=_BN_EPS))


def _truncate(net: Net, x: str, channels: int) -> str:
    n, c, h, w = net.shape(x)
    if c == channels:
        return x
    fresh = getattr(net, "fresh", None)
    names = [fresh(k) if fresh else f"{x}.{k}" for k in ("starts", "ends", "axes")]
    consts = [net.const([value], name=name) for value, name in zip((0, channels, 1), names,
                                                                    strict=True)]
    return net.node("Slice", [x, *consts], (n, channels, h, w))


def _sum(net: Net, xs: list[str]) -> str:
    if len(xs) == 1:
        return xs[0]
    if len(xs) == 2:
        return net.add(xs[0], xs[1])
    return net.node("Sum", xs, net.shape(xs[0]))


def build_cell(net: Net, x: str, channels: int, matrix: np.ndarray,
               labels: Sequence[int]) -> str:
    """One cell (``model_builder.build_module``) on ``net``; returns its output tensor."""
    v = len(matrix)
    vc = vertex_channels(np.asarray(matrix, dtype=bool)[None], net.shape(x)[1], channels)[0]
    tensors, concat = [x], []
    for t in range(1, v - 1):
        add_in = [_truncate(net, tensors[s], int(vc[t])) for s in range(1, t) if matrix[s][t]]
        if matrix[0][t]:
            add_in.append(_conv_bn_relu(net, x, int(vc[t]), 1))
        y = _sum(net, add_in)
        op = OPS[labels[t - 1]]
        y = net.maxpool(y, 3, 1, pad="same") if op == "maxpool3x3" else \
            _conv_bn_relu(net, y, int(vc[t]), 3 if op == "conv3x3-bn-relu" else 1)
        tensors.append(y)
        if matrix[t][v - 1]:
            concat.append(y)
    if not concat:
        return _conv_bn_relu(net, x, channels, 1)
    out = concat[0] if len(concat) == 1 else net.concat(concat)
    if matrix[0][v - 1]:
        out = net.add(out, _conv_bn_relu(net, x, channels, 1))
    return out


class NasBench101(Family):
    """The NAS-Bench-101 space (see the module docstring); member ``i`` is cell ``i`` in the
    benchmark's generation order inside the benchmark's network."""

    name = "nasbench101"
    summary = "NAS-Bench-101: 423,624 unique cells in a 3-stack CIFAR-10 network"
    reference = ("Ying et al., ICML 2019; google-research/nasbench model_builder.py, "
                 "graph_util.py, generate_graphs.py, config.py")
    OPTIONS: ClassVar = {
        "max_vertices": Option(7, 2, _MAX_VERTICES, doc="most vertices of a cell, input and "
                               "output included"),
        "max_edges": Option(9, 1, 9, doc="most edges of a cell"),
        "stem_channels": Option(128, 8, 1024, doc="channels of the stem and the first stack"),
        "stacks": Option(3, 1, 6, doc="stacks of cells; the channels double at each new one"),
        "cells_per_stack": Option(3, 1, 8, doc="cells in each stack"),
        "resolution": Option(32, 8, 512, doc="input height and width (CIFAR-10: 32)"),
        "classes": Option(10, 1, 100_000, doc="outputs of the dense layer"),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._keys = enumerate_cells(self.options["max_vertices"], self.options["max_edges"])

    @property
    def size(self) -> int:
        return len(self._keys)

    def cell(self, i: int) -> tuple[np.ndarray, list[str]]:
        """Member ``i``'s cell as the benchmark's ``ModelSpec`` takes it: the ``int8``
        adjacency matrix and the op of every vertex (``input`` and ``output`` included)."""
        (key,) = self._keys[self.indices(i)]
        v, bits, lab = (int(a[0]) for a in _decode(np.array([key])))
        matrix = _adjacency(v, np.array([bits]))[0].astype(np.int8)
        labels = _labels(v, np.array([lab]))[0] if v > 2 else []
        return matrix, ["input", *(OPS[k] for k in labels), "output"]

    def index_of(self, matrix: Sequence[Sequence[int]] | np.ndarray,
                 ops: Sequence[str]) -> int:
        """The member of a cell given as the benchmark's ``ModelSpec`` takes it (any vertex
        order, unpruned): the cell is pruned as ``ModelSpec._prune`` does and matched up to
        isomorphism.

        Raises:
            WorkloadError: A malformed cell, or one outside this family's space.
        """
        source = f"family:{self.name}"
        m = np.asarray(matrix)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or len(ops) != m.shape[0] or \
                m.shape[0] < 2 or np.any(np.tril(m) != 0):
            raise WorkloadError([Problem(source, "cell", "expected a square upper-triangular "
                                         "adjacency matrix with one op per vertex")])
        unknown = [o for o in ops[1:-1] if o not in OPS]
        if unknown:
            raise WorkloadError([Problem(source, "cell", f"unknown op {unknown[0]!r}; known "
                                         f"ops: {', '.join(OPS)}")])
        m = m != 0
        n = len(m)
        reach_in, reach_out = {0}, {n - 1}
        for t in range(n):
            if t in reach_in:
                reach_in.update(int(u) for u in np.flatnonzero(m[t]))
        for t in range(n - 1, -1, -1):
            if t in reach_out:
                reach_out.update(int(u) for u in np.flatnonzero(m[:, t]))
        keep = sorted(reach_in & reach_out)
        if 0 not in keep or n - 1 not in keep:
            raise WorkloadError([Problem(source, "cell", "the input does not reach the output")])
        m = m[np.ix_(keep, keep)]
        labels = [OPS.index(ops[k]) for k in keep[1:-1]]
        v = len(keep)
        best = -1
        inside = v <= self.options["max_vertices"] and m.sum() <= self.options["max_edges"]
        for p in itertools.permutations(range(1, v - 1)) if inside else ():
            perm = (0, *p, v - 1)
            moved = np.zeros_like(m)
            moved[np.ix_(perm, perm)] = m
            if np.any(np.tril(moved)):
                continue
            lab = [0] * v
            for k in range(1, v - 1):
                lab[perm[k]] = labels[k - 1]
            bits = sum(1 << _edge_bit(x, y) for y in range(v) for x in range(y) if moved[x, y])
            code = sum(lab[k] * 3 ** (v - 2 - k) for k in range(1, v - 1))
            key = (v << _V_SHIFT) | (bits << _BITS_SHIFT) | code
            best = key if best < 0 else min(best, key)
        pos = int(np.searchsorted(self._keys, best))
        if pos == len(self._keys) or self._keys[pos] != best:
            raise WorkloadError([Problem(source, "cell", f"a cell of {len(m)} vertices and "
                                         f"{int(m.sum())} edges is outside this family "
                                         f"(max_vertices={self.options['max_vertices']}, "
                                         f"max_edges={self.options['max_edges']})")])
        return pos

    def member_name(self, i: int) -> str:
        """``nb101-<vertices>v-<adjacency bits, hex>-<ops>``, one op character per interior
        vertex (``3`` conv3x3, ``1`` conv1x1, ``m`` maxpool3x3; ``none`` for 2 vertices)."""
        return _names(self._keys[self.indices(i)])[0]

    def member_names(self, indices: Indices) -> list[str]:
        return list(_names(self._keys[self.indices(indices)]))

    def input_shape(self, i: int) -> tuple[int, ...]:
        r = self.options["resolution"]
        return (1, 3, r, r)

    def build(self, net: Net, i: int) -> str:
        matrix, ops = self.cell(i)
        labels = [OPS.index(o) for o in ops[1:-1]]
        o = self.options
        x = _conv_bn_relu(net, net.input, o["stem_channels"], 3)
        channels = o["stem_channels"]
        for stack in range(o["stacks"]):
            if stack:
                x = net.maxpool(x, 2, 2, pad="same")
                channels *= 2
            for _ in range(o["cells_per_stack"]):
                x = build_cell(net, x, channels, matrix, labels)
        return net.fc(net.flatten(net.gap(x)), o["classes"])

    # -- the fast path: every member's rows as arrays --------------------------------------

    def batch(self, indices: Indices, *, edges: bool = True) -> LayerBatch:
        idx = self.indices(indices)
        if not len(idx):
            return LayerBatch.empty()
        keys = self._keys[idx]
        vs = keys >> _V_SHIFT
        parts, positions = [], []
        for v in np.unique(vs):
            group = np.flatnonzero(vs == v)
            for start in range(0, len(group), _CHUNK):
                pos = group[start:start + _CHUNK]
                parts.append(self._batch_of(int(v), keys[pos], edges=edges))
                positions.append(pos)
        rows = _Rows.gather(parts, np.argsort(np.concatenate(positions), kind="stable"))
        r = self.options["resolution"]
        n = len(idx)
        inputs, outputs = np.full(n, 3.0 * r * r), np.full(n, float(self.options["classes"]))
        reads: dict[str, Any] = {"input_read_elems": inputs, "output_write_elems": outputs} \
            if edges else {}
        return LayerBatch(names=_names(keys), **rows, input_elems=inputs, output_elems=outputs,
                          **reads)

    def _batch_of(self, v: int, keys: np.ndarray, *, edges: bool = True
                  ) -> dict[str, np.ndarray]:
        """The rows of members of ``v`` vertices, member after member (with their edges
        unless ``edges`` is false)."""
        _, bits, lab = _decode(keys)
        a = _adjacency(v, bits)
        labels = _labels(v, lab) if v > 2 else np.zeros((len(keys), 0), dtype=np.int64)
        o = self.options
        rows = _Rows(len(keys))
        h = o["resolution"]
        channels = o["stem_channels"]
        x: Value = _slots_conv(rows, True, 3, channels, 3, h, _NONE)  # reads the graph input
        cin = channels
        cells: dict[tuple[int, int, int], tuple[int, int, Value]] = {}
        for stack in range(o["stacks"]):
            if stack:
                h2 = -(-h // 2)
                x = rows.add(True, "MaxPool", h_in=h, h_out=h2, cin=cin, cout=cin, k=2,
                             kernel="pool", inputs=(x,))
                h, channels = h2, channels * 2
            for _ in range(o["cells_per_stack"]):
                config = (cin, channels, h)
                if config in cells:
                    x = rows.repeat(*cells[config], x)
                else:
                    start = len(rows.slots)
                    out = _slots_cell(rows, a, labels, cin, channels, h, x)
                    cells[config] = (start, len(rows.slots), out)
                    x = out
                cin = channels
        k = o["classes"]
        x = rows.add(True, "GlobalAveragePool", h_in=h, h_out=1, cin=cin, cout=cin,
                     kernel="pool", inputs=(x,))
        x = rows.add(True, "Flatten", h_in=1, h_out=1, cin=cin, cout=cin,
                     kernel="data-movement", out_rank=2, inputs=(x,))
        rows.add(True, "Gemm", h_in=1, h_out=1, cin=cin, cout=k, kernel="fc", in_rank=2,
                 out_rank=2, inputs=(x,))
        return rows.finish(edges=edges)

    def features(self, indices: Indices, *, network: bool = True,
                 batch: LayerBatch | None = None) -> dict[str, np.ndarray]:
        """Per member: ``vertices``, ``edges``, ``conv3x3``, ``conv1x1``, ``maxpool3x3``
        (interior vertices of each op), ``depth`` (edges on the longest input -> output path),
        ``width`` (vertices feeding the output), ``input_fanout``, ``input_to_output`` (the
        input feeds the output directly), and unless ``network`` is false (the cell alone,
        much faster) the network's ``layers``, ``params``, ``macs`` and ``weight_elems`` (read
        from ``batch``, the members' :meth:`batch`, when given)."""
        idx = self.indices(indices)
        keys = self._keys[idx]
        vs, bits, lab = _decode(keys)
        n = len(idx)
        out: dict[str, np.ndarray] = {
            "vertices": vs.astype(np.int64), "edges": np.bitwise_count(bits).astype(np.int64)}
        for name in ("conv3x3", "conv1x1", "maxpool3x3", "depth", "width", "input_fanout"):
            out[name] = np.zeros(n, dtype=np.int64)
        out["input_to_output"] = np.zeros(n, dtype=bool)
        for v in np.unique(vs):
            pos = np.flatnonzero(vs == v)
            v = int(v)
            a = _adjacency(v, bits[pos])
            if v > 2:
                labels = _labels(v, lab[pos])
                for k, name in enumerate(("conv3x3", "conv1x1", "maxpool3x3")):
                    out[name][pos] = (labels == k).sum(axis=1)
            dist = np.full((len(pos), v), -1, dtype=np.int64)
            dist[:, 0] = 0
            for t in range(1, v):
                dist[:, t] = np.max(np.where(a[:, :t, t], dist[:, :t] + 1, -1), axis=1)
            out["depth"][pos] = dist[:, v - 1]
            out["width"][pos] = a[:, 1:v - 1, v - 1].sum(axis=1)
            out["input_fanout"][pos] = a[:, 0].sum(axis=1)
            out["input_to_output"][pos] = a[:, 0, v - 1]
        if not network:
            return out
        totals: dict[str, list[np.ndarray]] = {"layers": [], "params": [], "macs": [],
                                               "weight_elems": []}
        for start in range(0, n, 4096):
            b = self.batch(idx[start:start + 4096]) if batch is None else \
                batch.select(np.arange(start, min(start + 4096, n))) if n > 4096 else batch
            totals["layers"].append(np.diff(b.offsets))
            for column in ("params", "macs", "weight_elems"):
                totals[column].append(b.totals(column))
        for name, parts in totals.items():
            out[name] = np.concatenate(parts) if parts else np.zeros(0)
        return out


# -- slots: rows that each member has or lacks, vectorised over members ----------------------

_OP_NAMES = ("Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "Sum", "Concat", "Slice",
             "GlobalAveragePool", "Flatten", "Gemm")
_OP_INDEX = {o: i for i, o in enumerate(_OP_NAMES)}
_OP_CLASS = {"Conv": "conv", "BatchNormalization": "norm", "Relu": "activation",
             "MaxPool": "pool", "Add": "eltwise", "Sum": "eltwise", "Concat": "data-movement",
             "Slice": "data-movement", "GlobalAveragePool": "pool", "Flatten": "data-movement",
             "Gemm": "matmul"}
_CLASS_INDEX = {c: i for i, c in enumerate(OP_CLASSES)}
_KERNEL_INDEX = {c: i for i, c in enumerate(KERNEL_CLASSES)}
_FIRST = _KERNEL_INDEX["conv_first"]

Value = int | np.ndarray
_NONE = -1  # no input from a slot (the graph input, or an input the member lacks)


class _Rows:
    """Layer slots for ``n`` members: each slot an op with its kernel size and spatial sizes
    (the same for every member) and, per member, whether the layer is there and its channels.

    A row's counts follow from ``(op, k, h_in, h_out, cin, cout)`` as the frontend's counters
    (:mod:`dse.workloads.ops`) and its rule for parameters (scalars are not) give them, so
    only three numbers per member and slot are stored. ``Add``/``Sum`` carry their number of inputs in
    ``cin``; ``Concat`` carries its first input's channels in ``cin``.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.slots: list[tuple[Any, ...]] = []
        # per slot, the slots producing its inputs (per member; _NONE: no such input)
        self.inputs: list[tuple[Value, ...]] = []

    def add(self, present: bool | np.ndarray, op: str, *, h_in: int, h_out: int, cin: Value,
            cout: Value, kernel: str, k: int = 1, fused: bool = False, in_rank: int = 4,
            out_rank: int = 4, inputs: tuple[Value, ...] = ()) -> int:
        """Add a slot reading the tensors the slots ``inputs`` produce; returns its index."""
        self.slots.append((present, cin, cout, _OP_INDEX[op], k, h_in, h_out,
                           _KERNEL_INDEX[kernel], fused, in_rank, out_rank))
        self.inputs.append(inputs)
        return len(self.slots) - 1

    def repeat(self, start: int, stop: int, out_then: Value, x: Value) -> Value:
        """Add again the slots ``start:stop`` (a cell made of the same rows), now reading
        ``x`` where they read the slot before them; returns the slot of the copy's output
        (``out_then``'s)."""
        shift = len(self.slots) - start
        self.slots.extend(self.slots[start:stop])
        for refs in self.inputs[start:stop]:
            self.inputs.append(tuple(_moved(r, start, shift, x) for r in refs))
        return _moved(out_then, start, shift, x)

    def finish(self, *, edges: bool = True) -> dict[str, np.ndarray]:
        """The present rows, member after member, slot order within a member (and the
        members' edges, unless ``edges`` is false)."""
        n, width = self.n, len(self.slots)

        # NOTE: grids are filled slot-major (one contiguous row per slot), then transposed to
        # member-major so that selecting the present rows reads memory in order.
        def grid(column: int, dtype: Any) -> np.ndarray:
            out = np.empty((width, n), dtype=dtype)
            for s, slot in enumerate(self.slots):
                out[s] = slot[column]
            return np.ascontiguousarray(out.T)

        present = grid(0, bool)
        slot = np.broadcast_to(np.arange(width, dtype=np.intp), (n, width))[present]
        cin = grid(1, np.int32)[present].astype(np.float64)
        cout = grid(2, np.int32)[present].astype(np.float64)
        both = cin * cout
        # Per slot, the coefficients of cin, cout and cin * cout in each count (one pass of
        # arithmetic over the rows instead of a mask per op).
        op, k, h_in, h_out, kernel, fused, in_rank, out_rank = np.array(
            [s[3:] for s in self.slots], dtype=np.int64).T
        is_op = {name: op == i for name, i in _OP_INDEX.items()}
        conv, gemm, bn = is_op["Conv"], is_op["Gemm"], is_op["BatchNormalization"]
        eltwise, concat = is_op["Add"] | is_op["Sum"], is_op["Concat"]
        hw_in, hw_out = (h_in * h_in).astype(np.float64), (h_out * h_out).astype(np.float64)
        kk = (k * k).astype(np.float64)

        def per_row(coefficient: Any) -> np.ndarray:
            return np.asarray(coefficient, dtype=np.float64)[slot]

        macs = per_row(np.where(conv, hw_out * kk, gemm)) * both
        ops = 2 * macs + per_row(np.select(
            [gemm, bn, is_op["Relu"] | eltwise, is_op["MaxPool"]],
            [1.0, 2 * hw_out, hw_out, hw_out * kk], 0.0)) * cout + \
            per_row(np.where(is_op["GlobalAveragePool"], hw_in, 0.0)) * cin
        in_elems = per_row(np.where(eltwise | concat, 0.0, hw_in)) * cin + \
            per_row(np.where(eltwise, hw_in, 0.0)) * both + \
            per_row(np.where(concat, hw_in, 0.0)) * cout
        weight_elems = per_row(np.where(conv, kk, gemm)) * both + \
            per_row(np.select([gemm, bn], [1.0, 4.0], 0.0)) * cout + \
            per_row(np.where(is_op["Slice"], 3.0, 0.0))
        conv_w = both * per_row(kk)
        params = per_row(conv | gemm) * _param(conv_w) + \
            per_row(np.select([gemm, bn], [1.0, 2.0], 0.0)) * _param(cout)
        rows = len(slot)
        in_shape = np.empty((rows, 4), dtype=np.int64)
        in_shape[:, 0] = 1
        in_shape[:, 1] = np.where(eltwise[slot], cout, cin)
        in_shape[:, 2] = in_shape[:, 3] = np.where(in_rank == 2, 0, h_in)[slot]
        out_shape = np.empty((rows, 4), dtype=np.int64)
        out_shape[:, 0] = 1
        out_shape[:, 1] = cout
        out_shape[:, 2] = out_shape[:, 3] = np.where(out_rank == 2, 0, h_out)[slot]
        op_class = np.array([_CLASS_INDEX[_OP_CLASS[o]] for o in _OP_NAMES], dtype=np.int8)
        return {
            "op": op.astype(np.int16)[slot], "op_class": op_class[op][slot],
            "kernel": np.where(conv[slot] & (cin <= 4), _FIRST, kernel[slot]).astype(np.int8),
            "macs": macs, "ops": ops, "params": params, "weight_elems": weight_elems,
            "in_elems": in_elems, "out_elems": per_row(hw_out) * cout,
            "fused": fused.astype(bool)[slot], "in_shape": in_shape, "out_shape": out_shape,
            "in_rank": in_rank.astype(np.int8)[slot], "out_rank": out_rank.astype(np.int8)[slot],
            "lengths": present.sum(axis=1),
            **(self._edges(present, per_row(hw_out) * cout) if edges else {})}

    def _edges(self, present: np.ndarray, out_elems: np.ndarray) -> dict[str, np.ndarray]:
        """Every member's edges: rows within the member (``edge_src``, ``edge_dst``), the
        elements passed (the source's one output, each read once), and their number per
        member (``edge_counts``)."""
        n = self.n
        dst_slot = np.array([s for s, refs in enumerate(self.inputs) for _ in refs],
                            dtype=np.intp)
        # NOTE: filled pair-major (one contiguous row per slot input, as they are made), the
        # validity transposed to member-major so that the edges come member after member
        src_slot = np.empty((len(dst_slot), n), dtype=np.int32)
        k = 0
        for refs in self.inputs:
            for r in refs:
                src_slot[k] = r
                k += 1
        valid = np.ascontiguousarray((present.T[dst_slot] & (src_slot >= 0)).T)
        member, pair = np.nonzero(valid)
        width = present.shape[1]
        local = (np.cumsum(present, axis=1, dtype=np.int32) - 1).ravel()  # row in the member
        src = local[member * width + src_slot.ravel()[pair * n + member]].astype(np.int64)
        dst = local[member * width + dst_slot[pair]].astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(present.sum(axis=1))[:-1]])
        return {"edge_src": src, "edge_dst": dst, "edge_elems": out_elems[starts[member] + src],
                "edge_counts": np.bincount(member, minlength=n)}

    @staticmethod
    def gather(parts: list[dict[str, np.ndarray]], order: np.ndarray) -> dict[str, Any]:
        """The rows of several parts' members, concatenated, with the members put in
        ``order`` (indices into the concatenated members)."""
        lengths = np.concatenate([p["lengths"] for p in parts])
        in_order = bool(np.all(order == np.arange(len(order))))
        length = lengths if in_order else lengths[order]
        offsets = np.concatenate([[0], np.cumsum(length)]).astype(np.int64)
        rows = None
        if not in_order:
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            rows = np.repeat(starts[order] - offsets[:-1], length) + np.arange(offsets[-1])
        out: dict[str, Any] = {"offsets": offsets, "op_names": _OP_NAMES}
        for key in ("op", "op_class", "kernel", *LAYER_ARRAYS, "fused", "in_shape",
                    "out_shape", "in_rank", "out_rank"):
            col = parts[0][key] if len(parts) == 1 else np.concatenate([p[key] for p in parts])
            out[key] = col if rows is None else col[rows]
        if "edge_counts" not in parts[0]:  # rows without their edges
            return out
        # the edges alike, their rows within a member made global
        counts = np.concatenate([p["edge_counts"] for p in parts])
        count = counts if in_order else counts[order]
        edge_offsets = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
        edges = None
        if not in_order:
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            edges = np.repeat(starts[order] - edge_offsets[:-1], count) + \
                np.arange(edge_offsets[-1])
        shift = np.repeat(offsets[:-1], count)
        for key in ("edge_src", "edge_dst", "edge_elems"):
            col = np.concatenate([p[key] for p in parts])  # a fresh array, even of one part
            col = col if edges is None else col[edges]
            if key != "edge_elems":
                col += shift
            out[key] = col
        # the stem's conv reads the graph input, the dense layer writes the output
        n = len(order)
        out["input_read_layer"] = offsets[:-1].copy()
        out["output_write_layer"] = offsets[1:] - 1
        out["input_read_tensor"] = out["output_write_tensor"] = np.zeros(n, dtype=np.int64)
        return out


def _moved(ref: Value, start: int, shift: int, x: Value) -> Value:
    """An input slot of a cell's copy: inside the cell (from ``start`` on), shifted; before it
    (only the cell's input is read from there), ``x``."""
    if isinstance(ref, int):  # NOTE: most are; numpy for them would dominate the copy
        return ref + shift if ref >= start else x if ref >= 0 else ref
    return np.where(ref >= start, ref + shift, np.where(ref >= 0, x, _NONE))


def _param(elems: np.ndarray) -> np.ndarray:
    """The elements of a float weight that count as parameters (the frontend skips scalars)."""
    return np.where(elems > 1, elems, 0.0)


def _slots_conv(rows: _Rows, present: bool | np.ndarray, cin: Value, cout: Value, k: int,
                h: int, x: Value) -> int:
    """A stride-1 ``same`` k x k convolution without bias, BatchNorm and ReLU, reading the
    output of slot ``x``; returns the ReLU's slot."""
    kernel = "conv1x1" if k == 1 else "conv3x3s1" if k == 3 else "conv"
    y = rows.add(present, "Conv", h_in=h, h_out=h, cin=cin, cout=cout, k=k, kernel=kernel,
                 inputs=(x,))
    for op, kind in (("BatchNormalization", "norm"), ("Relu", "activation")):
        y = rows.add(present, op, h_in=h, h_out=h, cin=cout, cout=cout, kernel=kind,
                     fused=True, inputs=(y,))
    return y


def _slots_cell(rows: _Rows, a: np.ndarray, labels: np.ndarray, cin: int, cout: int,
                h: int, x: Value) -> Value:
    """Every row a cell of these members can have, in :func:`build_cell`'s order, reading the
    output of slot ``x`` (per member); returns the slot of the cell's output (per member)."""
    v = a.shape[1]
    vc = vertex_channels(a, cin, cout)
    if v == 2:
        return _slots_conv(rows, True, cin, cout, 1, h, x)
    tensors: list[Value] = [x]
    for t in range(1, v - 1):
        ct = vc[:, t]
        add_in = []  # per possible input, its slot where the member has it
        for s in range(1, t):
            sliced = a[:, s, t] & (vc[:, s] > ct)
            cut = rows.add(sliced, "Slice", h_in=h, h_out=h, cin=vc[:, s], cout=ct,
                           kernel="data-movement", inputs=(tensors[s],))
            add_in.append(np.where(a[:, s, t], np.where(sliced, cut, tensors[s]), _NONE))
        proj = _slots_conv(rows, a[:, 0, t], cin, ct, 1, h, x)
        add_in.append(np.where(a[:, 0, t], proj, _NONE))
        fan_in = a[:, :t, t].sum(axis=1)
        summed = [rows.add(present, op, h_in=h, h_out=h, cin=fan_in, cout=ct,
                           kernel="eltwise", inputs=tuple(add_in))
                  for op, present in (("Add", fan_in == 2), ("Sum", fan_in > 2))]
        y = np.select([fan_in == 2, fan_in > 2], summed, np.max(add_in, axis=0))
        label = labels[:, t - 1]
        conv3 = _slots_conv(rows, label == 0, ct, ct, 3, h, y)
        conv1 = _slots_conv(rows, label == 1, ct, ct, 1, h, y)
        pool = rows.add(label == 2, "MaxPool", h_in=h, h_out=h, cin=ct, cout=ct, k=3,
                        kernel="pool", inputs=(y,))
        tensors.append(np.choose(label, [conv3, conv1, pool]))
    feeds = a[:, 1:v - 1, v - 1]
    first = vc[np.arange(len(vc)), 1 + np.argmax(feeds, axis=1)]
    fed = [np.where(feeds[:, t - 1], tensors[t], _NONE) for t in range(1, v - 1)]
    joined = rows.add(feeds.sum(axis=1) > 1, "Concat", h_in=h, h_out=h, cin=first, cout=cout,
                      kernel="data-movement", inputs=tuple(fed))
    out = np.where(feeds.sum(axis=1) > 1, joined, np.max(fed, axis=0))
    skip = a[:, 0, v - 1]
    proj = _slots_conv(rows, skip, cin, cout, 1, h, x)
    added = rows.add(skip, "Add", h_in=h, h_out=h, cin=2, cout=cout, kernel="eltwise",
                     inputs=(out, proj))
    return np.where(skip, added, out)
