"""A small ONNX graph builder for the zoo.

:class:`Net` appends ONNX nodes and keeps track of every tensor's shape, so that model builders
read like the architecture tables in the papers::

    net = Net("tiny", input_shape=(1, 3, 32, 32))
    x = net.conv(net.input, 16, 3, pad=1, bias=False)
    x = net.relu(net.bn(x))
    model = net.model(net.fc(net.flatten(net.gap(x)), 10))

Weights are random (seeded), so the models can be run and timed with ONNX Runtime; their values
mean nothing. With ``weights=False`` the initializers are zero-filled, which is faster when only
the graph is wanted.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["OPSET", "EmptyTensorError", "Net", "dry_run"]

#: ONNX opset of every zoo model (LayerNormalization needs 17).
OPSET = 17

Pad = int | tuple[int, int] | tuple[int, int, int, int] | Literal["same", "valid"]

# Set by `dry_run`: nets record their weights' sizes but allocate none.
_DRY_RUN: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("_DRY_RUN",
                                                                           default=None)


class EmptyTensorError(ValueError):
    """A layer's output has a dimension below 1 (the options make the input too small)."""

    def __init__(self, node: str, shape: Sequence[int]) -> None:
        super().__init__(f"layer {node!r} would have the empty output shape {list(shape)}")
        self.node = node
        self.shape = tuple(shape)


@contextlib.contextmanager
def dry_run() -> Iterator[list[int]]:
    """Build nets without allocating weights: yields a list that receives the number of weight
    elements of every net built inside (what the zoo checks against its memory limit before
    building a model for real)."""
    sizes: list[int] = []
    token = _DRY_RUN.set(sizes)
    try:
        yield sizes
    finally:
        _DRY_RUN.reset(token)


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


class Net:
    """Builds one ONNX model, node by node.

    Args:
        name: Graph name.
        input_shape: Shape of the single float input, named ``input``.
        seed: Seed of the random weights.
        weights: Fill weights with random values (``True``) or zeros (``False``).
        input_dtype: ONNX element type of the input (float; int64 for token ids).
    """

    def __init__(
        self, name: str, input_shape: Sequence[int], *, seed: int = 0, weights: bool = True,
        input_dtype: int = TensorProto.FLOAT,
    ) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._counts: dict[str, int] = {}
        self._rng = np.random.default_rng(seed)
        self._random = weights
        self.input = "input"
        self.shapes["input"] = tuple(int(d) for d in input_shape)
        self.inputs = [helper.make_tensor_value_info("input", input_dtype, list(input_shape))]
        self._dry = _DRY_RUN.get()
        if self._dry is not None:
            self._dry.append(0)

    # -- plumbing ----------------------------------------------------------------------------

    def _name(self, kind: str) -> str:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        return f"{kind}{n}"

    def weight(self, shape: Sequence[int], *, name: str, fan_in: int | None = None,
               value: float | None = None) -> str:
        """Add a float initializer and return its name."""
        shape = tuple(int(d) for d in shape)
        if min(shape, default=1) < 1:
            raise EmptyTensorError(name, shape)
        arr: np.ndarray[Any, Any]
        if self._dry is not None:
            self._dry[-1] += math.prod(shape)
            self.shapes[name] = shape
            return name
        if value is not None:
            arr = np.full(shape, value, dtype=np.float32)
        elif self._random:
            scale = math.sqrt(2.0 / fan_in) if fan_in else 0.05
            arr = (self._rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))
        else:
            arr = np.zeros(shape, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(arr, name))
        self.shapes[name] = shape
        return name

    def const(self, values: float | Sequence[int] | Sequence[float], *, name: str,
              dtype: type = np.int64) -> str:
        """Add a small constant initializer (a shape, axes, a scalar) and return its name."""
        arr: np.ndarray[Any, Any] = np.asarray(values, dtype=dtype)
        self.initializers.append(numpy_helper.from_array(arr, name))
        self.shapes[name] = tuple(arr.shape)
        return name

    def node(self, op: str, inputs: Sequence[str], out_shape: Sequence[int], *,
             name: str | None = None, **attrs: Any) -> str:
        """Append a node with one output of the given shape and return the output's name."""
        name = name or self._name(op.lower())
        if min((int(d) for d in out_shape), default=1) < 1:
            raise EmptyTensorError(name, out_shape)
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        self.shapes[name] = tuple(int(d) for d in out_shape)
        return name

    def shape(self, x: str) -> tuple[int, ...]:
        return self.shapes[x]

    # -- convolution and linear layers -------------------------------------------------------

    def conv(self, x: str, cout: int, kernel: int | Sequence[int], stride: int | Sequence[int] = 1,
             *, pad: Pad = "same", groups: int = 1, bias: bool = True, dilation: int = 1,
             name: str | None = None) -> str:
        """2-D convolution. ``pad="same"`` pads like TensorFlow's SAME (asymmetric if needed)."""
        n, cin, h, w = self.shapes[x]
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        pads = self._pads(pad, (h, w), (kh, kw), (sh, sw), dilation)
        oh = (h + pads[0] + pads[2] - dilation * (kh - 1) - 1) // sh + 1
        ow = (w + pads[1] + pads[3] - dilation * (kw - 1) - 1) // sw + 1
        name = name or self._name("conv")
        wname = self.weight((cout, cin // groups, kh, kw), name=f"{name}.weight",
                            fan_in=cin // groups * kh * kw)
        inputs = [x, wname]
        if bias:
            inputs.append(self.weight((cout,), name=f"{name}.bias", value=0.0))
        return self.node("Conv", inputs, (n, cout, oh, ow), name=name, kernel_shape=[kh, kw],
                         strides=[sh, sw], pads=list(pads), group=groups,
                         dilations=[dilation, dilation])

    def dwconv(self, x: str, kernel: int | Sequence[int], stride: int | Sequence[int] = 1, *,
               pad: Pad = "same", bias: bool = False, name: str | None = None) -> str:
        """Depthwise 2-D convolution (one filter per channel)."""
        c = self.shapes[x][1]
        return self.conv(x, c, kernel, stride, pad=pad, groups=c, bias=bias, name=name)

    def fc(self, x: str, cout: int, *, bias: bool = True, name: str | None = None) -> str:
        """Fully connected layer (Gemm) on a 2-D input."""
        n, cin = self.shapes[x]
        name = name or self._name("fc")
        inputs = [x, self.weight((cout, cin), name=f"{name}.weight", fan_in=cin)]
        if bias:
            inputs.append(self.weight((cout,), name=f"{name}.bias", value=0.0))
        return self.node("Gemm", inputs, (n, cout), name=name, transB=1)

    def linear(self, x: str, cout: int, *, bias: bool = True, name: str | None = None) -> str:
        """Linear layer on the last axis of an N-D input (MatMul plus Add, as exporters emit)."""
        *lead, cin = self.shapes[x]
        name = name or self._name("linear")
        w = self.weight((cin, cout), name=f"{name}.weight", fan_in=cin)
        y = self.node("MatMul", [x, w], (*lead, cout), name=f"{name}.matmul")
        if bias:
            b = self.weight((cout,), name=f"{name}.bias", value=0.0)
            y = self.node("Add", [y, b], (*lead, cout), name=f"{name}.add")
        return y

    def matmul(self, a: str, b: str) -> str:
        sa, sb = self.shapes[a], self.shapes[b]
        return self.node("MatMul", [a, b], (*sa[:-1], sb[-1]))

    # -- normalization and activations -------------------------------------------------------

    def bn(self, x: str, *, eps: float = 1e-5, name: str | None = None) -> str:
        c = self.shapes[x][1]
        name = name or self._name("bn")
        ins = [x, self.weight((c,), name=f"{name}.scale", value=1.0),
               self.weight((c,), name=f"{name}.bias", value=0.0),
               self.weight((c,), name=f"{name}.mean", value=0.0),
               self.weight((c,), name=f"{name}.var", value=1.0)]
        return self.node("BatchNormalization", ins, self.shapes[x], name=name, epsilon=eps)

    def layernorm(self, x: str, *, eps: float = 1e-12, name: str | None = None) -> str:
        c = self.shapes[x][-1]
        name = name or self._name("layernorm")
        ins = [x, self.weight((c,), name=f"{name}.scale", value=1.0),
               self.weight((c,), name=f"{name}.bias", value=0.0)]
        return self.node("LayerNormalization", ins, self.shapes[x], name=name, axis=-1,
                         epsilon=eps)

    def lrn(self, x: str, size: int, *, alpha: float = 1e-4, beta: float = 0.75,
            bias: float = 1.0) -> str:
        return self.node("LRN", [x], self.shapes[x], size=size, alpha=alpha, beta=beta, bias=bias)

    def act(self, op: str, x: str, **attrs: Any) -> str:
        """An element-wise activation (Relu, Sigmoid, Tanh, HardSwish, ...)."""
        return self.node(op, [x], self.shapes[x], **attrs)

    def relu(self, x: str) -> str:
        return self.act("Relu", x)

    def relu6(self, x: str) -> str:
        lo = self.const(0.0, name=self._name("clip_min"), dtype=np.float32)
        hi = self.const(6.0, name=self._name("clip_max"), dtype=np.float32)
        return self.node("Clip", [x, lo, hi], self.shapes[x])

    def swish(self, x: str) -> str:
        """SiLU / swish: x * sigmoid(x), as exporters emit it."""
        return self.mul(x, self.act("Sigmoid", x))

    def gelu(self, x: str) -> str:
        """Exact GELU, x * 0.5 * (1 + erf(x / sqrt(2))), decomposed as exporters emit it."""
        s = self.shapes[x]
        sqrt2 = self.const(math.sqrt(2.0), name=self._name("gelu_sqrt2"), dtype=np.float32)
        one = self.const(1.0, name=self._name("gelu_one"), dtype=np.float32)
        half = self.const(0.5, name=self._name("gelu_half"), dtype=np.float32)
        e = self.node("Erf", [self.node("Div", [x, sqrt2], s)], s)
        return self.node("Mul", [self.node("Mul", [x, self.node("Add", [e, one], s)], s), half], s)

    def softmax(self, x: str, axis: int = -1) -> str:
        return self.node("Softmax", [x], self.shapes[x], axis=axis)

    # -- pooling -----------------------------------------------------------------------------

    def _pool(self, op: str, x: str, kernel: int | Sequence[int], stride: int | Sequence[int],
              pad: Pad, ceil: bool, **extra: Any) -> str:
        n, c, h, w = self.shapes[x]
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        pads = self._pads(pad, (h, w), (kh, kw), (sh, sw), 1)
        rnd = math.ceil if ceil else math.floor
        oh = int(rnd((h + pads[0] + pads[2] - kh) / sh)) + 1
        ow = int(rnd((w + pads[1] + pads[3] - kw) / sw)) + 1
        if ceil:
            # As in Caffe and PyTorch, the last window must start inside the (left-padded) input.
            oh -= int((oh - 1) * sh >= h + pads[0])
            ow -= int((ow - 1) * sw >= w + pads[1])
        attrs: dict[str, Any] = {"kernel_shape": [kh, kw], "strides": [sh, sw],
                                    "pads": list(pads), **extra}
        if ceil:
            attrs["ceil_mode"] = 1
        return self.node(op, [x], (n, c, oh, ow), **attrs)

    def maxpool(self, x: str, kernel: int | Sequence[int], stride: int | Sequence[int], *,
                pad: Pad = 0, ceil: bool = False) -> str:
        return self._pool("MaxPool", x, kernel, stride, pad, ceil)

    def avgpool(self, x: str, kernel: int | Sequence[int], stride: int | Sequence[int], *,
                pad: Pad = 0, ceil: bool = False, count_include_pad: bool = False) -> str:
        return self._pool("AveragePool", x, kernel, stride, pad, ceil,
                          count_include_pad=int(count_include_pad))

    def gap(self, x: str) -> str:
        n, c, *_ = self.shapes[x]
        return self.node("GlobalAveragePool", [x], (n, c, 1, 1))

    # -- tensor plumbing ---------------------------------------------------------------------

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b], _broadcast(self.shapes[a], self.shapes[b]))

    def mul(self, a: str, b: str) -> str:
        return self.node("Mul", [a, b], _broadcast(self.shapes[a], self.shapes[b]))

    def concat(self, xs: Sequence[str], axis: int = 1) -> str:
        shape = list(self.shapes[xs[0]])
        shape[axis] = sum(self.shapes[x][axis] for x in xs)
        return self.node("Concat", list(xs), shape, axis=axis)

    def flatten(self, x: str) -> str:
        s = self.shapes[x]
        return self.node("Flatten", [x], (s[0], math.prod(s[1:])), axis=1)

    def reshape(self, x: str, shape: Sequence[int]) -> str:
        target = self.const(list(shape), name=self._name("shape"))
        known = math.prod(d for d in shape if d > 0)
        out = [d if d > 0 else math.prod(self.shapes[x]) // known for d in shape]
        return self.node("Reshape", [x, target], out)

    def transpose(self, x: str, perm: Sequence[int]) -> str:
        s = self.shapes[x]
        return self.node("Transpose", [x], [s[p] for p in perm], perm=list(perm))

    def gather(self, table: str, indices: str) -> str:
        return self.node("Gather", [table, indices],
                         (*self.shapes[indices], *self.shapes[table][1:]), axis=0)

    # -- output ------------------------------------------------------------------------------

    def model(self, *outputs: str, extra_inputs: Sequence[onnx.ValueInfoProto] = ()) -> onnx.ModelProto:
        """The finished model with the given output tensors."""
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, list(self.shapes[o]))
                for o in outputs]
        graph = helper.make_graph(self.nodes, self.name, [*self.inputs, *extra_inputs], outs,
                                  initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="dse.zoo")
        model.ir_version = 8  # readable by every ONNX Runtime since 1.10
        return model

    @staticmethod
    def _pads(pad: Pad, hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int],
              dilation: int) -> tuple[int, int, int, int]:
        if pad == "valid":
            return (0, 0, 0, 0)
        if pad == "same":
            out = []
            for size, kk, ss in zip(hw, k, s, strict=True):
                o = -(-size // ss)
                total = max((o - 1) * ss + dilation * (kk - 1) + 1 - size, 0)
                out.append((total // 2, total - total // 2))
            return (out[0][0], out[1][0], out[0][1], out[1][1])
        if isinstance(pad, int):
            return (pad, pad, pad, pad)
        if len(pad) == 2:
            return (pad[0], pad[1], pad[0], pad[1])
        return tuple(pad)  # type: ignore[return-value]


def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    width = max(len(a), len(b))
    a = (1,) * (width - len(a)) + tuple(a)
    b = (1,) * (width - len(b)) + tuple(b)
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))
