"""Operator classes and operation counts for ONNX operators.

Each ONNX op type maps to a counter: a pure function from the node's tensor shapes and attributes
to its ``op_class``, its multiply-accumulates (``macs``) and its arithmetic operations (``ops``,
where one MAC counts as two ops and element-wise work counts one op per output element unless
stated). Counters are plug-ins registered by op type in :data:`COUNTERS` (a
:class:`dse.plugins.Registry`, entry-point group ``dse.ops``); an op type without a counter is
*unknown* and the ONNX frontend reports it rather than counting it as zero.

Add one in code with the decorator (a taken op type is refused unless ``replace=True``)::

    @register_counter("com.example::FancyOp")
    def fancy(n: NodeView) -> Count:
        return Count("eltwise", 0, n.out_elems)

or from another distribution, one entry point per op type, named by it (an op type outside the
standard domain is ``domain::OpType``, as the frontend keys it)::

    [project.entry-points."dse.ops"]
    "com.example::FancyOp" = "my_package.ops:fancy"

Op classes (DESIGN.md §2): ``conv``, ``dwconv``, ``matmul`` (fully connected and batched
matrix products), ``pool``, ``eltwise``, ``norm``, ``activation``, ``attention``,
``data-movement`` and ``other``.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dse.plugins import Registry
from dse.spec.vocabulary import OP_CLASSES

__all__ = [
    "COUNTERS",
    "OP_CLASSES",
    "Count",
    "NodeView",
    "count_node",
    "register_counter",
]


Shape = tuple[int, ...]


@dataclass(frozen=True)
class NodeView:
    """What a counter sees of one node.

    Attributes:
        op: ONNX op type.
        inputs: Shape of each input (``None`` for an omitted optional input).
        weights: For each input, whether it is a constant (initializer or Constant output).
        outputs: Shape of each output.
        attrs: Attributes as plain Python values.
    """

    op: str
    inputs: tuple[Shape | None, ...]
    weights: tuple[bool, ...]
    outputs: tuple[Shape, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def input(self, i: int) -> Shape | None:
        return self.inputs[i] if i < len(self.inputs) else None

    @property
    def out_elems(self) -> int:
        return sum(math.prod(s) for s in self.outputs)

    @property
    def in_elems(self) -> int:
        return sum(math.prod(s) for s in self.inputs if s is not None)


@dataclass(frozen=True)
class Count:
    """The result of counting one node."""

    op_class: str
    macs: int = 0
    ops: int = 0


Counter = Callable[[NodeView], Count]

#: The counters by ONNX op type: the built-ins below and the ``dse.ops`` entry-point group (an
#: entry point is named by its op type and names the counter function).
COUNTERS: Registry[Counter] = Registry("dse.ops", what="op type", instantiate=False)


def register_counter(*op_types: str, replace: bool = False) -> Callable[[Counter], Counter]:
    """Register a counter function for one or more ONNX op types (decorator).

    Raises:
        ValueError: An op type already has a counter and ``replace`` is false.
    """

    def deco(fn: Counter) -> Counter:
        for op in op_types:
            COUNTERS.register(fn, op, replace=replace)
        return fn

    return deco


def count_node(node: NodeView) -> Count | None:
    """Count one node, or return ``None`` if its op type has no counter."""
    return COUNTERS.get(node.op)(node) if node.op in COUNTERS else None


# ---------------------------------------------------------------------------------------------
# MAC-heavy operators


def _group(n: NodeView, x: Shape | None, w: Shape | None, *, weight_axis: int
           ) -> tuple[Shape, Shape, int]:
    """Input shape, weight shape and a convolution's ``group``, checked against its shapes: input channels = the weight's
    channels per group (axis 1; ConvTranspose: the weight's axis 0 holds all of them) x group.

    Raises:
        ValueError: A missing input or weight, or a group that does not fit the shapes (shape
            inference does not check it; the frontend reports the node).
    """
    if x is None or w is None or len(x) < 3 or len(w) < 3:
        raise ValueError(f"expected an input and a weight of rank >= 3, got {x} and {w}")
    group = int(n.attrs.get("group", 1))
    per_group = w[1] if weight_axis == 1 else w[0] // max(group, 1)
    if group < 1 or x[1] != per_group * group or (weight_axis == 0 and w[0] % group):
        raise ValueError(f"group {group} does not fit {x[1]} input channels and weight shape "
                         f"{list(w)}")
    return x, w, group


@register_counter("Conv", "ConvInteger", "QLinearConv")
def _conv(n: NodeView) -> Count:
    # QLinearConv carries (x, x_scale, x_zero_point, w, ...): find the weight as the 4-D input.
    x, w = (n.inputs[0], n.inputs[3]) if n.op == "QLinearConv" else (n.inputs[0], n.inputs[1])
    x, w, group = _group(n, x, w, weight_axis=1)
    cout, cin_per_group = w[0], w[1]
    kernel = math.prod(w[2:])
    out = n.outputs[0]
    macs = math.prod(out) * cin_per_group * kernel
    has_bias = (n.op == "Conv" and n.input(2) is not None) or (
        n.op == "QLinearConv" and n.input(8) is not None
    )
    ops = 2 * macs + (math.prod(out) if has_bias else 0)
    depthwise = group > 1 and cin_per_group == 1 and cout % group == 0
    return Count("dwconv" if depthwise else "conv", macs, ops)


@register_counter("ConvTranspose")
def _conv_transpose(n: NodeView) -> Count:
    x, w = n.inputs[0], n.inputs[1]
    x, w, group = _group(n, x, w, weight_axis=0)
    # Weight is (C_in, C_out / group, k...): every input element is multiplied into a
    # k-sized window of every output channel of its group.
    cout_per_group = w[1]
    kernel = math.prod(w[2:])
    macs = math.prod(x) * cout_per_group * kernel
    ops = 2 * macs + (math.prod(n.outputs[0]) if n.input(2) is not None else 0)
    depthwise = group > 1 and w[0] == group and cout_per_group == 1
    return Count("dwconv" if depthwise else "conv", macs, ops)


@register_counter("Gemm")
def _gemm(n: NodeView) -> Count:
    a, b = n.inputs[0], n.inputs[1]
    assert a is not None and b is not None
    m, k = (a[1], a[0]) if n.attrs.get("transA", 0) else (a[0], a[1])
    nn = b[0] if n.attrs.get("transB", 0) else b[1]
    macs = m * k * nn
    ops = 2 * macs + (m * nn if n.input(2) is not None else 0)
    return Count("matmul", macs, ops)


def matmul_macs(a: Shape, b: Shape) -> int:
    """MACs of ``numpy.matmul(a, b)`` for arrays of the given shapes (broadcast batch dims)."""
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    m, k = a2[-2], a2[-1]
    nn = b2[-1]
    batch_a, batch_b = a2[:-2], b2[:-2]
    width = max(len(batch_a), len(batch_b))
    batch_a = (1,) * (width - len(batch_a)) + batch_a
    batch_b = (1,) * (width - len(batch_b)) + batch_b
    batch = math.prod(max(x, y) for x, y in zip(batch_a, batch_b, strict=True))
    return batch * m * k * nn


@register_counter("MatMul", "MatMulInteger", "QLinearMatMul")
def _matmul(n: NodeView) -> Count:
    ia, ib = (0, 3) if n.op == "QLinearMatMul" else (0, 1)
    a, b = n.inputs[ia], n.inputs[ib]
    assert a is not None and b is not None
    macs = matmul_macs(a, b)
    # A product of two activations (no weight operand) is the QK^T or AV of attention.
    cls = "matmul" if (n.weights[ia] or n.weights[ib]) else "attention"
    return Count(cls, macs, 2 * macs)


def einsum_macs(equation: str, shapes: Sequence[Shape]) -> int:
    """MACs of an einsum: the product of the sizes of every distinct index letter.

    Raises:
        ValueError: If the equation uses an ellipsis or does not match the operand ranks.
    """
    lhs = equation.replace(" ", "").split("->")[0]
    if "." in lhs:
        raise ValueError(f"einsum equation {equation!r}: ellipsis is not supported")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum equation {equation!r} has {len(terms)} operands, got {len(shapes)}")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        if len(term) != len(shape) or any(c not in string.ascii_letters for c in term):
            raise ValueError(f"einsum term {term!r} does not match operand shape {list(shape)}")
        for letter, size in zip(term, shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), size)
    return math.prod(sizes.values())


@register_counter("Einsum")
def _einsum(n: NodeView) -> Count:
    shapes = [s for s in n.inputs if s is not None]
    macs = einsum_macs(str(n.attrs.get("equation", "")), shapes)
    cls = "matmul" if any(n.weights) else "attention"
    return Count(cls, macs, 2 * macs)


@register_counter("Attention")
def _attention(n: NodeView) -> Count:
    # ONNX Attention (opset 23): Q (B, Sq, Hq*D) or (B, Hq, Sq, D); K,V likewise for Skv.
    q, k, v = n.inputs[0], n.inputs[1], n.inputs[2]
    assert q is not None and k is not None and v is not None
    if len(q) == 4:
        b, hq, sq, d = q
        skv, dv = k[2], v[3]
        heads = hq
    else:
        heads = int(n.attrs.get("q_num_heads", 1))
        b, sq, d = q[0], q[1], q[2] // heads
        skv = k[1]
        dv = v[2] // int(n.attrs.get("kv_num_heads", heads))
    macs = b * heads * sq * skv * (d + dv)
    softmax_ops = 5 * b * heads * sq * skv
    return Count("attention", macs, 2 * macs + softmax_ops)


# ---------------------------------------------------------------------------------------------
# Pooling


@register_counter("MaxPool", "AveragePool", "LpPool")
def _pool(n: NodeView) -> Count:
    kernel = math.prod(int(k) for k in n.attrs.get("kernel_shape", [1]))
    return Count("pool", 0, math.prod(n.outputs[0]) * kernel)


@register_counter("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "MaxRoiPool", "RoiAlign")
def _global_pool(n: NodeView) -> Count:
    return Count("pool", 0, n.in_elems if n.op.startswith("Global") else n.out_elems)


# ---------------------------------------------------------------------------------------------
# Element-wise, activation and normalization operators: ops per output element.

_ELTWISE_OPS_PER_ELEM = {
    "Add": 1, "Sub": 1, "Mul": 1, "Div": 1, "Pow": 1, "Sqrt": 1, "Reciprocal": 1, "Neg": 1,
    "Abs": 1, "Max": 1, "Min": 1, "Mean": 1, "Sum": 1, "Equal": 1, "Less": 1, "Greater": 1,
    "LessOrEqual": 1, "GreaterOrEqual": 1, "And": 1, "Or": 1, "Xor": 1, "Not": 1, "Where": 1,
    "Floor": 1, "Ceil": 1, "Round": 1, "Sign": 1, "Mod": 1, "BitShift": 1, "IsNaN": 1,
    "IsInf": 1, "QuantizeLinear": 2, "DequantizeLinear": 2, "DynamicQuantizeLinear": 3,
    "QLinearAdd": 3, "QLinearMul": 3,
}
_ACTIVATION_OPS_PER_ELEM = {
    # Transcendentals are counted as a handful of ops each (a polynomial approximation).
    "Relu": 1, "LeakyRelu": 1, "PRelu": 1, "Clip": 1, "ThresholdedRelu": 1, "Elu": 4,
    "Selu": 4, "Celu": 4, "Sigmoid": 4, "HardSigmoid": 2, "HardSwish": 3, "Tanh": 4,
    "Softplus": 4, "Softsign": 2, "Gelu": 8, "Erf": 4, "Exp": 4, "Log": 4, "Mish": 8,
    "Sin": 4, "Cos": 4, "Swish": 5,
    "Softmax": 5, "LogSoftmax": 6, "Hardmax": 2,
}
_NORM_OPS_PER_ELEM = {
    # BatchNormalization at inference is a per-channel scale and shift; the others compute
    # statistics first (mean, variance) and then normalize, scale and shift.
    "BatchNormalization": 2, "InstanceNormalization": 7, "LayerNormalization": 7,
    "GroupNormalization": 7, "SkipLayerNormalization": 8, "MeanVarianceNormalization": 7,
    "LpNormalization": 3, "RMSNormalization": 5,
}


def _per_elem(op_class: str, table: Mapping[str, int]) -> Counter:
    def counter(n: NodeView) -> Count:
        return Count(op_class, 0, table[n.op] * n.out_elems)

    return counter


register_counter(*_ELTWISE_OPS_PER_ELEM)(_per_elem("eltwise", _ELTWISE_OPS_PER_ELEM))
register_counter(*_ACTIVATION_OPS_PER_ELEM)(_per_elem("activation", _ACTIVATION_OPS_PER_ELEM))
register_counter(*_NORM_OPS_PER_ELEM)(_per_elem("norm", _NORM_OPS_PER_ELEM))


@register_counter("LRN")
def _lrn(n: NodeView) -> Count:
    # Sum of squares over `size` channels, then a power and a division per element.
    size = int(n.attrs.get("size", 5))
    return Count("norm", 0, (size + 4) * n.out_elems)


@register_counter(
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "CumSum",
)
def _reduce(n: NodeView) -> Count:
    x = n.input(0)
    return Count("eltwise", 0, math.prod(x) if x is not None else 0)


# ---------------------------------------------------------------------------------------------
# Data movement: no arithmetic, but every byte read and written is counted by the graph.

_DATA_MOVEMENT = (
    "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements",
    "GatherND", "Squeeze", "Unsqueeze", "Pad", "Identity", "Dropout", "Cast", "CastLike",
    "Shape", "Size", "Expand", "Tile", "ConstantOfShape", "DepthToSpace", "SpaceToDepth",
    "Range", "ScatterND", "ScatterElements", "OneHot", "Trilu", "EyeLike", "ReverseSequence",
    "Compress", "NonZero",
)


@register_counter(*_DATA_MOVEMENT)
def _data_movement(n: NodeView) -> Count:
    return Count("data-movement", 0, 0)


@register_counter("Resize", "Upsample")
def _resize(n: NodeView) -> Count:
    # Linear interpolation blends 2^d neighbours; nearest only copies.
    mode = n.attrs.get("mode", "nearest")
    per_elem = 0 if mode == "nearest" else 2 ** max(len(n.outputs[0]) - 2, 1)
    return Count("data-movement", 0, per_elem * n.out_elems)


# Detection post-processing runs on scalar code paths; its cost is data-dependent, so it is
# recorded as class `other`, with one op per input element as a nominal count.
@register_counter("TopK", "Unique")
def _detection_postprocess(n: NodeView) -> Count:
    return Count("other", 0, n.in_elems)


#: Arithmetic of one intersection-over-union test of two corner boxes (TFLite
#: ``detection_postprocess.cc`` ``ComputeIntersectionOverUnion``: two areas, four min/max, two
#: clamped differences, the intersection, the union, a division and the comparison).
IOU_OPS = 20


@register_counter("NonMaxSuppression")
def _nms(n: NodeView) -> Count:
    """Greedy NMS at its worst case: the candidates sorted by score (``b log2 b`` comparisons per
    class), then every selected box tested against every other candidate of its class (the
    loop of TFLite's ``NonMaxSuppressionSingleClassHelper`` and ONNX Runtime's kernel). The
    number selected is the output's first dimension when the graph states it (a zoo graph sets
    it to the maximum); otherwise one op per input element, a nominal count."""
    boxes, scores = n.input(0), n.input(1)
    selected = n.outputs[0][0] if n.outputs and n.outputs[0] else 0
    if boxes is None or scores is None or len(boxes) != 3 or len(scores) != 3 or selected <= 0:
        return Count("other", 0, n.in_elems)
    b = boxes[1]
    classes = scores[0] * scores[1]
    sort = classes * b * max(1, math.ceil(math.log2(max(b, 2))))
    return Count("other", 0, sort + selected * b * IOU_OPS)
