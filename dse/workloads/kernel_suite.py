"""The kernel suite: small ONNX graphs of one kernel each, as JSON-able specs.

A *kernel spec* is a family plus its parameters (:class:`KernelSpec`), plain JSON, so that a
CSV row of ``dse host kernels`` (family, params) rebuilds the exact graph with :func:`build`.
Each family is the shape of work one runtime kernel does in a real network, with the epilogue
networks put after it (a convolution with or without its BatchNorm folded, with its ReLU / ReLU6
/ HardSwish / SiLU):

==============  ==========================================================================
family          parameters (all ``int`` unless said; batch 1, NCHW)
==============  ==========================================================================
``conv``        cin, cout, h, w, kh, kw, sh, sw, pads [t, l, b, r], groups, dilation,
                bn (bool: BatchNorm as its own node, i.e. not folded), act
                (``none``/``relu``/``clip``/``sigmoid``/``hardswish``/``silu``)
``dwconv``      c, h, w, k, stride, pads [t, l, b, r], bn, act: depthwise (groups = c)
``gemm``        m, k, n, act (``none``/``relu``): a fully connected layer (Gemm, transB)
``matmul``      batch (list), m, k, n, bias (bool): activations times a weight matrix
                (MatMul [+ Add], as transformer projections)
``attention``   heads, seq, kv_seq, dim, part (``qk``: Q K^T; ``av``: P V; ``full``: both
                with the scaled softmax between)
``pool``        kind (``max``/``avg``/``global_avg``/``global_max``), c, h, w, kh, kw, sh, sw,
                pads [t, l, b, r] (global pools: window 1, stride 1, no pads)
``eltwise``     op (``Add``/``Mul``/``Sub``/``Div``), shape, shape_b (broadcastable),
                const_b (bool: the second operand is a constant)
``activation``  op (``Relu``/``Clip``/``Sigmoid``/``HardSigmoid``/``HardSwish``/``Tanh``/
                ``Erf``), shape
``silu``        shape: x * sigmoid(x)
``gelu``        shape: x * 0.5 * (1 + erf(x / sqrt 2)), as BERT exports it
``lrn``         c, h, w, size
``se``          c, h, w, r, act (``relu``/``silu``), gate (``sigmoid``/``hardsigmoid``):
                squeeze-excite, global average pool -> 1x1 conv c->r -> act -> 1x1 conv r->c
                -> gate -> x * gate
``softmax``     shape (over the last axis)
``layernorm``   shape (over the last axis)
``skip_layernorm``  shape: a residual Add of two activations, then layer norm (a
                transformer's x + sublayer(x); ONNX Runtime runs SkipLayerNormalization)
``batchnorm``   shape: a BatchNorm no convolution absorbs
``concat``      channels (list), h, w: along the channel axis
``transpose``   shape, perm
==============  ==========================================================================

The suite is sampled three ways (:func:`zoo_specs`, :func:`random_specs`,
:func:`adaptive_specs`): every distinct layer shape of the zoo's models, seeded random draws
over the ranges real CNNs and transformers use, and perturbations of the specs a predictor gets
most wrong (as nn-Meter's adaptive data sampler does: Zhang et al., "nn-Meter: towards accurate
latency prediction of deep-learning model inference on diverse edge devices", MobiSys 2021,
section 4.2). Graphs are capped (:data:`MAX_MACS`, :data:`MAX_ELEMS`) so that one kernel is
timed in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper

from dse.errors import DseError, Problem, did_you_mean

__all__ = ["FAMILIES", "MAX_ELEMS", "MAX_MACS", "PROLOGUE", "KernelSpec", "SuiteError", "adaptive_specs",
           "build", "check_spec", "random_specs", "spec_macs", "zoo_specs"]

#: Largest multiply-accumulate count of a generated kernel (a VGG-16 3x3 conv at 224x224 with
#: 64 channels is 1.85e9, the zoo's largest layer).
MAX_MACS = 2.0e9
#: Largest element count of any one activation (input or output) of a generated kernel.
MAX_ELEMS = 1 << 23
#: Largest element count of a generated kernel's weights: VGG-16's first fully connected layer
#: (25088 x 4096, 103 M) is the zoo's largest, and a layer whose weights stream from memory is
#: the one a smaller stand-in cannot show.
MAX_WEIGHT_ELEMS = 1 << 27

#: The name of the Identity node that stands for "the layer before" in some kernels (see
#: ``_Graph.produced_input``).
PROLOGUE = "prologue"

_OPSET = 17  # as the zoo's (dse.workloads.zoo.builder.OPSET): LayerNormalization needs 17
_ACTS_CONV = ("none", "relu", "clip", "sigmoid", "hardswish", "silu")
_ACT_OPS = ("Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf")
_ELT_OPS = ("Add", "Mul", "Sub", "Div")
_POOLS = ("max", "avg", "global_avg", "global_max")

_INT, _BOOL, _STR, _INTS = "int", "bool", "str", "ints"

#: Family -> parameter name -> (type, allowed values or None).
FAMILIES: dict[str, dict[str, tuple[str, tuple[Any, ...] | None]]] = {
    "conv": {"cin": (_INT, None), "cout": (_INT, None), "h": (_INT, None), "w": (_INT, None),
             "kh": (_INT, None), "kw": (_INT, None), "sh": (_INT, None), "sw": (_INT, None),
             "pads": (_INTS, None), "groups": (_INT, None), "dilation": (_INT, None),
             "bn": (_BOOL, None), "act": (_STR, _ACTS_CONV)},
    "dwconv": {"c": (_INT, None), "h": (_INT, None), "w": (_INT, None), "k": (_INT, None),
               "stride": (_INT, None), "pads": (_INTS, None), "bn": (_BOOL, None),
               "act": (_STR, _ACTS_CONV)},
    "gemm": {"m": (_INT, None), "k": (_INT, None), "n": (_INT, None),
             "act": (_STR, ("none", "relu"))},
    "matmul": {"batch": (_INTS, None), "m": (_INT, None), "k": (_INT, None), "n": (_INT, None),
               "bias": (_BOOL, None)},
    "attention": {"heads": (_INT, None), "seq": (_INT, None), "kv_seq": (_INT, None),
                  "dim": (_INT, None), "part": (_STR, ("qk", "av", "full"))},
    "pool": {"kind": (_STR, _POOLS), "c": (_INT, None), "h": (_INT, None), "w": (_INT, None),
             "kh": (_INT, None), "kw": (_INT, None), "sh": (_INT, None), "sw": (_INT, None),
             "pads": (_INTS, None)},
    "eltwise": {"op": (_STR, _ELT_OPS), "shape": (_INTS, None), "shape_b": (_INTS, None),
                "const_b": (_BOOL, None)},
    "activation": {"op": (_STR, _ACT_OPS), "shape": (_INTS, None)},
    "silu": {"shape": (_INTS, None)},
    "gelu": {"shape": (_INTS, None)},
    "lrn": {"c": (_INT, None), "h": (_INT, None), "w": (_INT, None), "size": (_INT, None)},
    "se": {"c": (_INT, None), "h": (_INT, None), "w": (_INT, None), "r": (_INT, None),
           "act": (_STR, ("relu", "silu")), "gate": (_STR, ("sigmoid", "hardsigmoid"))},
    "softmax": {"shape": (_INTS, None)},
    "layernorm": {"shape": (_INTS, None)},
    "skip_layernorm": {"shape": (_INTS, None)},
    "batchnorm": {"shape": (_INTS, None)},
    "concat": {"channels": (_INTS, None), "h": (_INT, None), "w": (_INT, None)},
    "transpose": {"shape": (_INTS, None), "perm": (_INTS, None)},
}

#: Parameters that may be 0 (paddings); every other integer must be >= 1.
_MAY_BE_ZERO = frozenset({"pads", "perm"})


class SuiteError(DseError, ValueError):
    """A kernel spec that is not one (unknown family, missing or bad parameters)."""


@dataclass(frozen=True, eq=False)
class KernelSpec:
    """One kernel: a family and its parameters (see the module docstring).

    Two specs are equal when family and parameters are; :attr:`params_json` is the canonical
    text (sorted keys) that the CSV stores and :attr:`digest` hashes.
    """

    family: str
    params: Mapping[str, Any]

    @property
    def params_json(self) -> str:
        return json.dumps(dict(self.params), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        """A short hash of family and parameters."""
        text = f"{self.family}:{self.params_json}"
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KernelSpec) and (self.family, self.params_json) == (
            other.family, other.params_json)

    def __hash__(self) -> int:
        return hash((self.family, self.params_json))

    def __repr__(self) -> str:
        return f"KernelSpec({self.family!r}, {self.params_json})"

    @classmethod
    def from_json(cls, family: str, params: str, *, file: str = "kernel spec",
                  where: str = "") -> KernelSpec:
        """Parse and check a (family, params JSON) pair as a CSV row holds it.

        Raises:
            SuiteError: Naming ``file`` and ``where`` with every problem.
        """
        try:
            parsed = json.loads(params)
        except (TypeError, ValueError) as exc:
            raise SuiteError([Problem(file, where, f"params: expected a JSON object, got "
                                      f"{params!r} ({exc})")]) from None
        if not isinstance(parsed, dict):
            raise SuiteError([Problem(file, where, f"params: expected a JSON object, got "
                                      f"{params!r}")])
        spec = cls(family, parsed)
        problems = check_spec(spec, file=file, where=where)
        if problems:
            raise SuiteError(problems)
        return spec


def check_spec(spec: KernelSpec, *, file: str = "kernel spec", where: str = "") -> list[Problem]:
    """Every problem of a spec: unknown family (listing the known ones), missing, unknown or
    badly typed parameters, and shapes that do not fit together."""
    prefix = f"{where}: " if where else ""
    if spec.family not in FAMILIES:
        return [Problem(file, f"{prefix}family", did_you_mean(spec.family, FAMILIES,
                                                              what="family name"))]
    schema = FAMILIES[spec.family]
    problems = []
    for name in sorted(set(schema) - set(spec.params)):
        problems.append(Problem(file, f"{prefix}params.{name}", "missing"))
    for name in sorted(set(spec.params) - set(schema)):
        problems.append(Problem(file, f"{prefix}params.{name}",
                                f"unknown parameter of {spec.family}; " +
                                did_you_mean(name, schema, what="parameter").split("; ", 1)[1]))
    for name, (kind, allowed) in schema.items():
        if name not in spec.params:
            continue
        value = spec.params[name]
        low = 0 if name in _MAY_BE_ZERO else 1
        bad = ""
        if kind == _INT and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            bad = f"a whole number >= {low}"
        elif kind == _BOOL and not isinstance(value, bool):
            bad = "true or false"
        elif kind == _STR and (not isinstance(value, str) or (allowed and value not in allowed)):
            bad = f"one of {', '.join(allowed or ())}"
        elif kind == _INTS and (not isinstance(value, list) or any(
                isinstance(v, bool) or not isinstance(v, int) or v < low for v in value)):
            bad = f"a list of whole numbers >= {low}"
        if bad:
            problems.append(Problem(file, f"{prefix}params.{name}", f"expected {bad}, got "
                                    f"{value!r}"))
    if problems:
        return problems
    for message in _consistency(spec.family, spec.params):
        problems.append(Problem(file, f"{prefix}params", message))
    return problems


def _consistency(family: str, p: Mapping[str, Any]) -> list[str]:
    out = []
    if "pads" in p and len(p["pads"]) != 4:
        out.append(f"pads: expected 4 values [top, left, bottom, right], got {p['pads']}")
    if family == "conv" and (p["cin"] % p["groups"] or p["cout"] % p["groups"]):
        out.append(f"groups {p['groups']} must divide cin {p['cin']} and cout {p['cout']}")
    if family == "transpose" and sorted(p["perm"]) != list(range(len(p["shape"]))):
        out.append(f"perm {p['perm']} is not a permutation of the axes of shape {p['shape']}")
    if family == "eltwise":
        a, b = p["shape"], p["shape_b"]
        if len(b) > len(a) or any(y not in (1, x) for x, y in zip(a[::-1], b[::-1],
                                                                  strict=False)):
            out.append(f"shape_b {b} does not broadcast to shape {a}")
    if family in ("softmax", "layernorm", "skip_layernorm", "activation", "silu", "gelu",
                  "batchnorm", "transpose", "eltwise") and not p["shape"]:
        out.append("shape: expected at least one axis")
    if family == "batchnorm" and len(p["shape"]) < 2:
        out.append(f"shape: expected [N, C, ...], got {p['shape']}")
    if family == "concat" and not p["channels"]:
        out.append("channels: expected at least one input")
    if not out:
        out += _output_problems(family, p)
    return out


def _output_problems(family: str, p: Mapping[str, Any]) -> list[str]:
    if family in ("conv", "dwconv", "pool") and not (family == "pool" and "global" in p["kind"]):
        oh, ow = _conv_out(p)
        if oh < 1 or ow < 1:
            return [f"the window does not fit the input: output {oh}x{ow}"]
    return []


def _conv_out(p: Mapping[str, Any]) -> tuple[int, int]:
    if "kh" in p:
        kh, kw, sh, sw, d = p["kh"], p["kw"], p["sh"], p["sw"], p.get("dilation", 1)
    else:
        kh = kw = p["k"]
        sh = sw = p["stride"]
        d = 1
    t, left, b, r = p["pads"]
    oh = (p["h"] + t + b - d * (kh - 1) - 1) // sh + 1
    ow = (p["w"] + left + r - d * (kw - 1) - 1) // sw + 1
    return oh, ow


def spec_macs(spec: KernelSpec) -> float:
    """Multiply-accumulates of a spec's main kernel (what :data:`MAX_MACS` caps)."""
    p = spec.params
    if spec.family == "conv":
        oh, ow = _conv_out(p)
        return float(oh * ow * p["cout"] * p["cin"] // p["groups"] * p["kh"] * p["kw"])
    if spec.family == "dwconv":
        oh, ow = _conv_out(p)
        return float(oh * ow * p["c"] * p["k"] ** 2)
    if spec.family == "gemm":
        return float(p["m"] * p["k"] * p["n"])
    if spec.family == "matmul":
        return float(math.prod(p["batch"]) * p["m"] * p["k"] * p["n"])
    if spec.family == "attention":
        return float(p["heads"] * p["seq"] * p["kv_seq"] * p["dim"]) * (
            2 if p["part"] == "full" else 1)
    return 0.0


def _largest_tensors(spec: KernelSpec) -> tuple[int, int]:
    """Elements of a spec's largest activation and of its weights."""
    p = spec.params
    f = spec.family
    if f in ("conv", "dwconv"):
        cin = p.get("cin", p.get("c"))
        cout = p.get("cout", p.get("c"))
        oh, ow = _conv_out(p)
        weights = cout * (cin // p.get("groups", cin)) * p.get("kh", p.get("k")) * p.get(
            "kw", p.get("k"))
        return max(cin * p["h"] * p["w"], cout * oh * ow), weights
    if f == "gemm":
        return max(p["m"] * p["k"], p["m"] * p["n"]), p["k"] * p["n"]
    if f == "matmul":
        b = math.prod(p["batch"])
        return max(b * p["m"] * p["k"], b * p["m"] * p["n"]), p["k"] * p["n"]
    if f == "attention":
        return p["heads"] * max(p["seq"], p["kv_seq"]) * max(p["kv_seq"], p["dim"]), 0
    if f in ("pool", "lrn", "se"):
        return p["c"] * p["h"] * p["w"], 0
    if f == "concat":
        return sum(p["channels"]) * p["h"] * p["w"], 0
    return math.prod(p["shape"]), 0


def within_caps(spec: KernelSpec) -> bool:
    """Whether a spec is small enough to time quickly (:data:`MAX_MACS`, :data:`MAX_ELEMS`,
    :data:`MAX_WEIGHT_ELEMS`)."""
    activation, weights = _largest_tensors(spec)
    return spec_macs(spec) <= MAX_MACS and activation <= MAX_ELEMS and \
        weights <= MAX_WEIGHT_ELEMS


# ----- building ---------------------------------------------------------------------------------

class _Graph:
    """A tiny ONNX graph under construction: float32 tensors with known shapes."""

    def __init__(self, spec: KernelSpec) -> None:
        self.rng = np.random.default_rng(int(spec.digest, 16) % (2**32))
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.shapes: dict[str, list[int]] = {}

    def input(self, name: str, shape: Sequence[int]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self.shapes[name] = list(shape)
        return name

    def produced_input(self, name: str, shape: Sequence[int]) -> str:
        """An input passed through an Identity node, named :data:`PROLOGUE`: dse's kernel
        classes of x * sigmoid(x) and squeeze-excite need the node producing x (in a network,
        the layer before). ONNX Runtime removes the Identity; :mod:`dse.measure.kernels`
        leaves it out of the features."""
        x = self.input(name, shape)
        self.nodes.append(helper.make_node("Identity", [x], [PROLOGUE], name=PROLOGUE))
        self.shapes[PROLOGUE] = list(shape)
        return PROLOGUE

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def weight(self, name: str, shape: Sequence[int], scale: float = 0.1) -> str:
        return self.const(name, self.rng.standard_normal(shape, dtype=np.float32) * scale)

    def node(self, op: str, inputs: Sequence[str], shape: Sequence[int], **attrs: Any) -> str:
        name = f"k{len(self.nodes)}_{op.lower()}"
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        self.shapes[name] = list(shape)
        return name

    def model(self, output: str, family: str) -> onnx.ModelProto:
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT, self.shapes[output])
        graph = helper.make_graph(self.nodes, f"kernel_{family}", self.inputs, [out],
                                  initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)],
                                  producer_name="dse.workloads.kernel_suite")
        model.ir_version = 8
        return model

    # epilogues ---------------------------------------------------------------------------------

    def bn(self, x: str) -> str:
        c = self.shapes[x][1]
        scale = self.const(f"{x}_gamma", 1 + 0.1 * self.rng.standard_normal(c))
        bias = self.const(f"{x}_beta", 0.1 * self.rng.standard_normal(c))
        mean = self.const(f"{x}_mean", 0.1 * self.rng.standard_normal(c))
        var = self.const(f"{x}_var", 1 + self.rng.random(c))
        return self.node("BatchNormalization", [x, scale, bias, mean, var], self.shapes[x],
                         epsilon=1e-5)

    def act(self, x: str, act: str) -> str:
        shape = self.shapes[x]
        if act == "none":
            return x
        if act == "relu":
            return self.node("Relu", [x], shape)
        if act == "clip":
            lo, hi = self.const(f"{x}_min", np.array(0.0)), self.const(f"{x}_max", np.array(6.0))
            return self.node("Clip", [x, lo, hi], shape)
        if act == "sigmoid":
            return self.node("Sigmoid", [x], shape)
        if act == "hardsigmoid":
            return self.node("HardSigmoid", [x], shape)
        if act == "hardswish":
            return self.node("HardSwish", [x], shape)
        if act == "silu":
            return self.node("Mul", [x, self.node("Sigmoid", [x], shape)], shape)
        raise SuiteError(f"unknown activation {act!r}")  # check_spec rejects it first


def build(spec: KernelSpec) -> onnx.ModelProto:
    """The ONNX model of a kernel spec (weights seeded by the spec, so rebuilds are identical).

    Raises:
        SuiteError: A spec :func:`check_spec` rejects, with every problem.
    """
    problems = check_spec(spec)
    if problems:
        raise SuiteError(problems)
    g = _Graph(spec)
    p = spec.params
    out = _BUILDERS[spec.family](g, p)
    return g.model(out, spec.family)


def _b_conv(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", [1, p["cin"], p["h"], p["w"]])
    oh, ow = _conv_out(p)
    w = g.weight("w", [p["cout"], p["cin"] // p["groups"], p["kh"], p["kw"]])
    inputs = [x, w] if p["bn"] else [x, w, g.weight("b", [p["cout"]])]
    y = g.node("Conv", inputs, [1, p["cout"], oh, ow], kernel_shape=[p["kh"], p["kw"]],
               strides=[p["sh"], p["sw"]], pads=list(p["pads"]), group=p["groups"],
               dilations=[p["dilation"]] * 2)
    if p["bn"]:
        y = g.bn(y)
    return g.act(y, p["act"])


def _b_dwconv(g: _Graph, p: Mapping[str, Any]) -> str:
    return _b_conv(g, _dw_as_conv(p))


def _dw_as_conv(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"cin": p["c"], "cout": p["c"], "h": p["h"], "w": p["w"], "kh": p["k"], "kw": p["k"],
            "sh": p["stride"], "sw": p["stride"], "pads": p["pads"], "groups": p["c"],
            "dilation": 1, "bn": p["bn"], "act": p["act"]}


def _b_gemm(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", [p["m"], p["k"]])
    y = g.node("Gemm", [x, g.weight("w", [p["n"], p["k"]], 0.02), g.weight("b", [p["n"]])],
               [p["m"], p["n"]], transB=1)
    return g.act(y, p["act"])


def _b_matmul(g: _Graph, p: Mapping[str, Any]) -> str:
    shape = [*p["batch"], p["m"]]
    x = g.input("x", [*shape, p["k"]])
    y = g.node("MatMul", [x, g.weight("w", [p["k"], p["n"]], 0.02)], [*shape, p["n"]])
    if p["bias"]:
        y = g.node("Add", [y, g.weight("b", [p["n"]])], [*shape, p["n"]])
    return y


def _b_attention(g: _Graph, p: Mapping[str, Any]) -> str:
    h, s, t, d = p["heads"], p["seq"], p["kv_seq"], p["dim"]
    if p["part"] == "av":
        probs = g.input("p", [1, h, s, t])
        return g.node("MatMul", [probs, g.input("v", [1, h, t, d])], [1, h, s, d])
    scores = g.node("MatMul", [g.input("q", [1, h, s, d]), g.input("kt", [1, h, d, t])],
                    [1, h, s, t])
    if p["part"] == "qk":
        return scores
    scaled = g.node("Div", [scores, g.const("sqrt_d", np.array(math.sqrt(d)))], [1, h, s, t])
    probs = g.node("Softmax", [scaled], [1, h, s, t], axis=-1)
    return g.node("MatMul", [probs, g.input("v", [1, h, t, d])], [1, h, s, d])


def _b_pool(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", [1, p["c"], p["h"], p["w"]])
    if p["kind"].startswith("global"):
        op = "GlobalAveragePool" if p["kind"] == "global_avg" else "GlobalMaxPool"
        return g.node(op, [x], [1, p["c"], 1, 1])
    oh, ow = _conv_out(p)
    op = "MaxPool" if p["kind"] == "max" else "AveragePool"
    return g.node(op, [x], [1, p["c"], oh, ow], kernel_shape=[p["kh"], p["kw"]],
                  strides=[p["sh"], p["sw"]], pads=list(p["pads"]))


def _b_eltwise(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("a", p["shape"])
    b = g.const("b", 0.5 + g.rng.random(p["shape_b"])) if p["const_b"] else g.input(
        "b", p["shape_b"])
    return g.node(p["op"], [x, b], p["shape"])


def _b_activation(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", p["shape"])
    if p["op"] == "Clip":
        return g.act(x, "clip")
    return g.node(p["op"], [x], p["shape"])


def _b_silu(g: _Graph, p: Mapping[str, Any]) -> str:
    return g.act(g.produced_input("x", p["shape"]), "silu")


def _b_gelu(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", p["shape"])
    s = p["shape"]
    scaled = g.node("Div", [x, g.const("sqrt2", np.array(math.sqrt(2.0)))], s)
    erf = g.node("Erf", [scaled], s)
    one = g.node("Add", [erf, g.const("one", np.array(1.0))], s)
    gated = g.node("Mul", [x, one], s)
    return g.node("Mul", [gated, g.const("half", np.array(0.5))], s)


def _b_lrn(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", [1, p["c"], p["h"], p["w"]])
    return g.node("LRN", [x], [1, p["c"], p["h"], p["w"]], size=p["size"], alpha=1e-4,
                  beta=0.75, bias=1.0)


def _b_se(g: _Graph, p: Mapping[str, Any]) -> str:
    c, r = p["c"], p["r"]
    x = g.produced_input("x", [1, c, p["h"], p["w"]])
    pooled = g.node("GlobalAveragePool", [x], [1, c, 1, 1])
    squeezed = g.node("Conv", [pooled, g.weight("w1", [r, c, 1, 1]), g.weight("b1", [r])],
                      [1, r, 1, 1], kernel_shape=[1, 1])
    act = g.act(squeezed, p["act"])
    expanded = g.node("Conv", [act, g.weight("w2", [c, r, 1, 1]), g.weight("b2", [c])],
                      [1, c, 1, 1], kernel_shape=[1, 1])
    gate = g.act(expanded, p["gate"])
    return g.node("Mul", [x, gate], [1, c, p["h"], p["w"]])


def _b_softmax(g: _Graph, p: Mapping[str, Any]) -> str:
    return g.node("Softmax", [g.input("x", p["shape"])], p["shape"], axis=-1)


def _b_layernorm(g: _Graph, p: Mapping[str, Any], *, skip: bool = False) -> str:
    d = p["shape"][-1]
    x = g.input("x", p["shape"])
    if skip:  # the residual: the sublayer's output plus its input
        x = g.node("Add", [x, g.input("r", p["shape"])], p["shape"])
    return g.node("LayerNormalization", [x, g.const("gamma", 1 + 0.1 * g.rng.random(d)),
                                         g.const("beta", 0.1 * g.rng.random(d))],
                  p["shape"], axis=-1, epsilon=1e-5)


def _b_batchnorm(g: _Graph, p: Mapping[str, Any]) -> str:
    return g.bn(g.input("x", p["shape"]))


def _b_concat(g: _Graph, p: Mapping[str, Any]) -> str:
    xs = [g.input(f"x{i}", [1, c, p["h"], p["w"]]) for i, c in enumerate(p["channels"])]
    return g.node("Concat", xs, [1, sum(p["channels"]), p["h"], p["w"]], axis=1)


def _b_transpose(g: _Graph, p: Mapping[str, Any]) -> str:
    x = g.input("x", p["shape"])
    return g.node("Transpose", [x], [p["shape"][i] for i in p["perm"]], perm=list(p["perm"]))


_BUILDERS: dict[str, Callable[[_Graph, Mapping[str, Any]], str]] = {
    "conv": _b_conv, "dwconv": _b_dwconv, "gemm": _b_gemm, "matmul": _b_matmul,
    "attention": _b_attention, "pool": _b_pool, "eltwise": _b_eltwise,
    "activation": _b_activation, "silu": _b_silu, "gelu": _b_gelu, "lrn": _b_lrn, "se": _b_se,
    "softmax": _b_softmax, "layernorm": _b_layernorm,
    "skip_layernorm": lambda g, p: _b_layernorm(g, p, skip=True), "batchnorm": _b_batchnorm,
    "concat": _b_concat, "transpose": _b_transpose,
}
assert set(_BUILDERS) == set(FAMILIES)  # a bug if a family has no builder


# ----- (a) the zoo's layer shapes ---------------------------------------------------------------

def zoo_specs(models: Iterable[str] | None = None) -> list[tuple[KernelSpec, str]]:
    """Every distinct kernel of the zoo's models, with ``zoo:<model>`` of the first model that
    has it: the models' first kernels, then their second ones, and so on (round robin).

    Each layer of a model's dse graph becomes the spec of the kernel a runtime runs for it: a
    convolution with its BatchNorm and activation (the epilogue it fuses), x * sigmoid(x) as
    one SiLU, a squeeze-excite branch as one ``se``, BERT's erf-GELU as one ``gelu``, Q K^T and
    P V products as ``attention``. Shape-only layers (Reshape, Flatten, Shape, Gather, Expand)
    run no kernel of their own and make no spec; nor do layers beyond :func:`within_caps`.

    Args:
        models: Zoo names (default: every model of the zoo).
    """
    from dse.workloads import workload, zoo

    seen: set[KernelSpec] = set()
    per_model: list[list[tuple[KernelSpec, str]]] = []
    for name in models if models is not None else zoo.names():
        w = workload(name)
        proto = zoo.build(name, weights=False)
        attrs = _node_attrs(proto)
        mine: list[tuple[KernelSpec, str]] = []
        for spec in _graph_specs(w.graph, w.order, attrs):
            if spec not in seen and not check_spec(spec) and within_caps(spec):
                seen.add(spec)
                mine.append((spec, f"zoo:{name}"))
        per_model.append(mine)
    # Round robin over the models, so that a run stopped by its budget has covered every
    # model's kernels as evenly as it could (GoogLeNet alone has 72 distinct ones).
    out: list[tuple[KernelSpec, str]] = []
    for i in range(max((len(m) for m in per_model), default=0)):
        out += [m[i] for m in per_model if i < len(m)]
    return out


def _node_attrs(proto: onnx.ModelProto) -> dict[str, dict[str, Any]]:
    from dse.workloads.onnx_frontend import _node_ids  # the ids dse's graph gives nodes

    return {nid: {a.name: helper.get_attribute_value(a) for a in node.attribute}
            for node, nid in zip(proto.graph.node, _node_ids(proto.graph.node), strict=True)}


_SHAPE_ONLY = frozenset({"Reshape", "Flatten", "Shape", "Gather", "Expand", "Squeeze",
                         "Unsqueeze", "Identity", "Dropout", "Constant"})


def _graph_specs(graph: Any, order: Sequence[Any],
                 attrs: Mapping[str, Mapping[str, Any]]) -> list[KernelSpec]:
    from dse.workloads.graph import gelu_groups, skip_norm_pairs
    from dse.workloads.kernels import kernel_classes

    nodes = graph.nodes
    classes = dict(zip(order, kernel_classes(graph, order), strict=True))
    skips = dict(skip_norm_pairs(graph, order))  # residual Add -> the layer norm reading it
    # the Div, Add and Muls of an exported GELU run inside its Erf's kernel
    gelu_parts = {m for group in gelu_groups(graph, order) for m in group
                  if nodes[m]["op"] != "Erf"}
    done: set[Any] = set(skips) | gelu_parts
    specs: list[KernelSpec] = []

    def only_succ(n: Any) -> Any:
        succ = list(graph.successors(n))
        return succ[0] if len(succ) == 1 else None

    for n in order:
        if n in done:
            continue
        d = nodes[n]
        op = d["op"]
        if op in _SHAPE_ONLY:
            continue
        ins, outs = d["in_shapes"] or [], d["out_shapes"] or []
        if classes[n] == "se":
            if op == "Mul":  # the gate multiply ends the branch: one spec for it all
                specs.append(_se_spec(graph, n, classes))
            done.add(n)
            continue
        if op == "Conv" and n in attrs:
            a = attrs[n]
            chain = [n]
            nxt = only_succ(n)
            bn = nxt is not None and nodes[nxt]["op"] == "BatchNormalization"
            if bn:
                chain.append(nxt)
                nxt = only_succ(nxt)
            act = "none"
            if nxt is not None and graph.out_degree(chain[-1]) == 1:
                aop = nodes[nxt]["op"]
                if aop in ("Relu", "Clip", "HardSwish"):
                    act = {"Relu": "relu", "Clip": "clip", "HardSwish": "hardswish"}[aop]
                    chain.append(nxt)
                elif aop == "Sigmoid" and classes[nxt] == "gating":
                    mul = only_succ(nxt)
                    if mul is not None and classes.get(mul) == "gating":
                        act = "silu"
                        chain += [nxt, mul]
                elif aop == "Sigmoid":
                    act = "sigmoid"
                    chain.append(nxt)
            done.update(chain)
            specs.append(_conv_spec(d, a, bn, act))
            continue
        if op in ("Gemm", "MatMul") and d["op_class"] == "matmul":
            x, wshape = ins[0], (d["weight_shapes"] or [[]])[0]
            if op == "Gemm":
                nxt = only_succ(n)
                act = "relu" if nxt is not None and nodes[nxt]["op"] == "Relu" else "none"
                if act == "relu":
                    done.add(nxt)
                specs.append(KernelSpec("gemm", {"m": int(x[0]), "k": int(x[-1]),
                                                 "n": int(outs[0][-1]), "act": act}))
            else:
                nxt = only_succ(n)
                bias = nxt is not None and nodes[nxt]["op"] == "Add" and bool(
                    nodes[nxt]["weight_elems"])
                if bias:
                    done.add(nxt)
                specs.append(KernelSpec("matmul", {
                    "batch": [int(v) for v in x[:-2]], "m": int(x[-2]), "k": int(x[-1]),
                    "n": int(wshape[-1] if wshape else outs[0][-1]), "bias": bias}))
            continue
        if op == "MatMul":  # two activations: attention
            a, b = ins[0], ins[1]
            heads = int(np.prod(a[:-2]))
            # P V reads the softmax's probabilities; Q K^T reads projections
            if any(nodes[p]["op"] == "Softmax" for p in graph.predecessors(n)):
                part, s, t, dim = "av", int(a[-2]), int(a[-1]), int(b[-1])
            else:
                part, s, t, dim = "qk", int(a[-2]), int(b[-1]), int(a[-1])
            specs.append(KernelSpec("attention", {"heads": heads, "seq": s, "kv_seq": t,
                                                  "dim": dim, "part": part}))
            continue
        if classes[n] == "gelu":  # the Erf of an exported GELU: the group is one kernel
            specs.append(KernelSpec("gelu", {"shape": [int(v) for v in ins[0]]}))
            continue
        if classes[n] == "gating":
            if op == "Sigmoid":
                specs.append(KernelSpec("silu", {"shape": [int(v) for v in ins[0]]}))
            done.add(n)
            continue
        if op == "LayerNormalization" and n in skips.values():
            specs.append(KernelSpec("skip_layernorm", {"shape": [int(v) for v in ins[0]]}))
            continue
        spec = _simple_spec(d, attrs.get(n, {}))
        if spec is not None:
            specs.append(spec)
    return specs


def _conv_spec(d: Mapping[str, Any], a: Mapping[str, Any], bn: bool, act: str) -> KernelSpec:
    x, wshape = d["in_shapes"][0], d["weight_shapes"][0]
    cin, cout, kh, kw = int(x[1]), int(wshape[0]), int(wshape[2]), int(wshape[3])
    groups = int(a.get("group", 1))
    sh, sw = (int(v) for v in a.get("strides", [1, 1]))
    pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    pads = [pads[0], pads[1], pads[2], pads[3]]
    dil = int(a.get("dilations", [1, 1])[0])
    h, w = int(x[2]), int(x[3])
    if groups == cin == cout and kh == kw and sh == sw and dil == 1:
        return KernelSpec("dwconv", {"c": cin, "h": h, "w": w, "k": kh, "stride": sh,
                                     "pads": pads, "bn": bn, "act": act})
    return KernelSpec("conv", {"cin": cin, "cout": cout, "h": h, "w": w, "kh": kh, "kw": kw,
                               "sh": sh, "sw": sw, "pads": pads, "groups": groups,
                               "dilation": dil, "bn": bn, "act": act})


def _se_spec(graph: Any, mul: Any, classes: Mapping[Any, str]) -> KernelSpec:
    d = graph.nodes[mul]
    x = max(d["in_shapes"], key=lambda s: int(np.prod(s)))
    convs = []
    acts = []
    gate = "sigmoid"
    for n in nx_ancestors_in_class(graph, mul, classes, "se"):
        nd = graph.nodes[n]
        if nd["op"] in ("Conv", "Gemm", "MatMul"):
            convs.append(nd)
        elif nd["op"] in ("Relu", "Clip"):
            acts.append("relu")
        elif nd["op"] == "HardSigmoid":
            gate = "hardsigmoid"
    r = min((int(c["out_shapes"][0][1]) for c in convs), default=max(1, int(x[1]) // 4))
    sigmoids = sum(1 for n in nx_ancestors_in_class(graph, mul, classes, "se")
                   if graph.nodes[n]["op"] == "Sigmoid")
    act = "silu" if sigmoids >= 2 or (sigmoids == 1 and gate == "hardsigmoid") else (
        "relu" if acts else "silu")
    return KernelSpec("se", {"c": int(x[1]), "h": int(x[2]), "w": int(x[3]), "r": r,
                             "act": act, "gate": gate})


def nx_ancestors_in_class(graph: Any, node: Any, classes: Mapping[Any, str],
                          cls: str) -> list[Any]:
    """Ancestors of ``node`` reached through nodes of kernel class ``cls`` only."""
    found: list[Any] = []
    stack = [p for p in graph.predecessors(node) if classes.get(p) == cls]
    while stack:
        n = stack.pop()
        if n in found:
            continue
        found.append(n)
        stack += [p for p in graph.predecessors(n) if classes.get(p) == cls]
    return found


def _simple_spec(d: Mapping[str, Any], a: Mapping[str, Any]) -> KernelSpec | None:
    op = d["op"]
    ins, outs = d["in_shapes"] or [], d["out_shapes"] or []
    if not ins or not ins[0]:
        return None
    x = [int(v) for v in ins[0]]
    if op in ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"):
        kind = {"MaxPool": "max", "AveragePool": "avg", "GlobalAveragePool": "global_avg",
                "GlobalMaxPool": "global_max"}[op]
        kh, kw = (int(v) for v in a.get("kernel_shape", [1, 1]))
        sh, sw = (int(v) for v in a.get("strides", [1, 1]))
        pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        if a.get("ceil_mode"):  # as the zoo's ceil-mode pools: pad the far edges to match
            oh, ow = int(outs[0][2]), int(outs[0][3])
            pads[2] += max(0, (oh - 1) * sh + kh - (x[2] + pads[0] + pads[2]))
            pads[3] += max(0, (ow - 1) * sw + kw - (x[3] + pads[1] + pads[3]))
        if kind.startswith("global"):
            kh = kw = sh = sw = 1
            pads = [0, 0, 0, 0]
        return KernelSpec("pool", {"kind": kind, "c": x[1], "h": x[2], "w": x[3], "kh": kh,
                                   "kw": kw, "sh": sh, "sw": sw, "pads": pads})
    if op in _ELT_OPS:
        shapes = [list(map(int, s)) for s in ins]
        const = bool(d["weight_elems"]) or len(shapes) < 2
        b = ([int(v) for v in (d["weight_shapes"] or [[1]])[0]] if const else shapes[1])
        if const and not b:
            b = [1]
        a_shape = max(shapes, key=lambda s: int(np.prod(s)))
        return KernelSpec("eltwise", {"op": op, "shape": a_shape, "shape_b": b,
                                      "const_b": const})
    if op in _ACT_OPS:
        return KernelSpec("activation", {"op": op, "shape": x})
    if op == "LRN":
        return KernelSpec("lrn", {"c": x[1], "h": x[2], "w": x[3], "size": int(a.get("size", 5))})
    if op == "Softmax":
        return KernelSpec("softmax", {"shape": x})
    if op == "LayerNormalization":
        return KernelSpec("layernorm", {"shape": x})
    if op == "BatchNormalization":
        return KernelSpec("batchnorm", {"shape": x})
    if op == "Concat" and int(a.get("axis", 1)) in (1, -3) and len(x) == 4:
        return KernelSpec("concat", {"channels": [int(s[1]) for s in ins], "h": x[2], "w": x[3]})
    if op == "Transpose":
        perm = [int(v) for v in a.get("perm", list(range(len(x)))[::-1])]
        return KernelSpec("transpose", {"shape": x, "perm": perm})
    return None


# ----- (b) random sampling ----------------------------------------------------------------------

#: Family -> weight of random draws (convolutions dominate real CNN latency).
RANDOM_WEIGHTS: dict[str, float] = {
    "conv": 30, "dwconv": 12, "gemm": 5, "matmul": 6, "attention": 6, "pool": 6, "eltwise": 6,
    "activation": 6, "silu": 3, "gelu": 2, "lrn": 2, "se": 4, "softmax": 3, "layernorm": 3,
    "skip_layernorm": 3, "batchnorm": 1, "concat": 3, "transpose": 2,
}


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _channels(rng: np.random.Generator, lo: int = 8, hi: int = 2048) -> int:
    c = _logu(rng, lo, hi)
    return max(lo, round(c / 8) * 8) if c >= 16 else round(c)


def _spatial(rng: np.random.Generator, lo: int = 7, hi: int = 224) -> int:
    return round(_logu(rng, lo, hi))


def _same(k: int) -> list[int]:
    return [k // 2] * 4


def _random_spec(family: str, rng: np.random.Generator) -> KernelSpec:
    act = str(rng.choice(["none", "relu", "relu", "clip", "hardswish", "silu"]))
    if family == "conv":
        k = int(rng.choice([1, 3, 5, 7], p=[0.4, 0.4, 0.1, 0.1]))
        s = int(rng.choice([1, 2], p=[0.75, 0.25]))
        cin, cout = _channels(rng), _channels(rng)
        groups = 1
        if rng.random() < 0.1:
            groups = int(rng.choice([2, 4, 8, 32]))
            cin, cout = max(groups, cin // groups * groups), max(groups, cout // groups * groups)
        hw = _spatial(rng)
        return KernelSpec("conv", {"cin": cin, "cout": cout, "h": hw, "w": hw, "kh": k, "kw": k,
                                   "sh": s, "sw": s, "pads": _same(k), "groups": groups,
                                   "dilation": 1, "bn": bool(rng.random() < 0.5), "act": act})
    if family == "dwconv":
        k = int(rng.choice([3, 5, 7], p=[0.6, 0.3, 0.1]))
        return KernelSpec("dwconv", {"c": _channels(rng, 8, 1536), "h": (hw := _spatial(
            rng, 7, 160)), "w": hw, "k": k, "stride": int(rng.choice([1, 2], p=[0.7, 0.3])),
            "pads": _same(k), "bn": bool(rng.random() < 0.5), "act": act})
    if family == "gemm":
        return KernelSpec("gemm", {"m": int(rng.choice([1, 1, 1, 4, 16])),
                                   "k": _channels(rng, 16, 9216), "n": _channels(rng, 10, 4096),
                                   "act": str(rng.choice(["none", "relu"]))})
    if family == "matmul":
        return KernelSpec("matmul", {"batch": [1], "m": _channels(rng, 8, 512),
                                     "k": _channels(rng, 64, 4096), "n": _channels(rng, 64, 4096),
                                     "bias": bool(rng.random() < 0.7)})
    if family == "attention":
        seq = _channels(rng, 16, 512)
        return KernelSpec("attention", {"heads": int(rng.choice([1, 2, 4, 8, 12, 16])),
                                        "seq": seq, "kv_seq": seq,
                                        "dim": int(rng.choice([32, 64, 64, 128])),
                                        "part": str(rng.choice(["qk", "av", "full"]))})
    if family == "pool":
        kind = str(rng.choice(["max", "avg", "global_avg", "global_max"], p=[.4, .15, .35, .1]))
        k = int(rng.choice([2, 3]))
        stride = int(rng.choice([1, 2], p=[0.2, 0.8]))
        hw = _spatial(rng, 7, 112)
        if kind.startswith("global"):
            k, stride = 1, 1
        return KernelSpec("pool", {"kind": kind, "c": _channels(rng), "h": hw, "w": hw, "kh": k,
                                   "kw": k, "sh": stride, "sw": stride,
                                   "pads": [0] * 4 if kind.startswith("global") or k == 2 else
                                   [1] * 4})
    shape = _activation_shape(rng)
    if family == "eltwise":
        op = str(rng.choice(["Add", "Add", "Mul", "Sub", "Div"]))
        broadcast = rng.random()
        if broadcast < 0.6:
            b, const = list(shape), False
        elif broadcast < 0.8 and len(shape) == 4:
            b, const = [1, shape[1], 1, 1], bool(rng.random() < 0.5)
        else:
            b, const = [1], True
        return KernelSpec("eltwise", {"op": op, "shape": shape, "shape_b": b, "const_b": const})
    if family == "activation":
        return KernelSpec("activation", {"op": str(rng.choice(list(_ACT_OPS))), "shape": shape})
    if family in ("silu", "gelu"):
        return KernelSpec(family, {"shape": shape})
    if family == "lrn":
        hw = _spatial(rng, 7, 112)
        return KernelSpec("lrn", {"c": _channels(rng, 16, 512), "h": hw, "w": hw,
                                  "size": int(rng.choice([3, 5]))})
    if family == "se":
        c = _channels(rng, 16, 1536)
        hw = _spatial(rng, 7, 112)
        return KernelSpec("se", {"c": c, "h": hw, "w": hw,
                                 "r": max(4, c // int(rng.choice([4, 16, 24]))),
                                 "act": str(rng.choice(["relu", "silu"])),
                                 "gate": str(rng.choice(["sigmoid", "hardsigmoid"]))})
    if family == "softmax":
        seq = _channels(rng, 16, 512)
        shape = [1, int(rng.choice([1, 4, 8, 12])), seq, seq] if rng.random() < 0.7 else \
            [1, _channels(rng, 10, 4096)]
        return KernelSpec("softmax", {"shape": shape})
    if family in ("layernorm", "skip_layernorm"):
        return KernelSpec(family, {"shape": [1, _channels(rng, 8, 512),
                                             _channels(rng, 64, 2048)]})
    if family == "batchnorm":
        return KernelSpec("batchnorm", {"shape": shape if len(shape) == 4 else
                                        [1, _channels(rng), 14, 14]})
    if family == "concat":
        hw = _spatial(rng, 7, 112)
        n = int(rng.choice([2, 3, 4]))
        return KernelSpec("concat", {"channels": [_channels(rng, 8, 512) for _ in range(n)],
                                     "h": hw, "w": hw})
    if family == "transpose":
        seq = _channels(rng, 8, 512)
        heads = int(rng.choice([4, 8, 12, 16]))
        return KernelSpec("transpose", {"shape": [1, seq, heads, int(rng.choice([32, 64]))],
                                        "perm": [0, 2, 1, 3]})
    raise SuiteError(f"no random sampler for family {family!r}")


def _activation_shape(rng: np.random.Generator) -> list[int]:
    if rng.random() < 0.75:
        hw = _spatial(rng, 7, 112)
        return [1, _channels(rng, 8, 1024), hw, hw]
    return [1, _channels(rng, 8, 512), _channels(rng, 64, 4096)]


def random_specs(n: int, *, seed: int = 0,
                 weights: Mapping[str, float] | None = None) -> list[KernelSpec]:
    """``n`` distinct random specs over the ranges real networks use (seeded).

    Channels are log-uniform over 8-2048 (multiples of 8 above 16), spatial sizes log-uniform
    over 7-224, kernel sizes 1/3/5/7 and strides 1/2 at the frequencies CNNs use them;
    transformer shapes take sequence lengths 16-512 and widths 64-4096. Draws beyond
    :func:`within_caps` are redrawn.

    Args:
        n: How many specs.
        seed: The random seed.
        weights: Family -> relative frequency (default :data:`RANDOM_WEIGHTS`).
    """
    weights = dict(weights or RANDOM_WEIGHTS)
    families = list(weights)
    p = np.array([weights[f] for f in families], dtype=float)
    p /= p.sum()
    rng = np.random.default_rng(seed)
    out: list[KernelSpec] = []
    seen: set[KernelSpec] = set()
    tries = 0
    while len(out) < n and tries < 100 * max(n, 1):
        tries += 1
        spec = _random_spec(str(rng.choice(families, p=p)), rng)
        if spec in seen or check_spec(spec) or not within_caps(spec):
            continue
        seen.add(spec)
        out.append(spec)
    return out


# ----- (c) adaptive sampling --------------------------------------------------------------------

#: Parameters perturbed by :func:`adaptive_specs`, per family (sizes only; the kind of kernel,
#: its window and its epilogue stay those of the spec it perturbs).
_SIZE_PARAMS: dict[str, tuple[str, ...]] = {
    "conv": ("cin", "cout", "h"), "dwconv": ("c", "h"), "gemm": ("k", "n"),
    "matmul": ("m", "k", "n"), "attention": ("heads", "seq", "dim"), "pool": ("c", "h"),
    "eltwise": ("shape",), "activation": ("shape",), "silu": ("shape",), "gelu": ("shape",),
    "lrn": ("c", "h"), "se": ("c", "h", "r"), "softmax": ("shape",), "layernorm": ("shape",),
    "skip_layernorm": ("shape",), "batchnorm": ("shape",), "concat": ("channels", "h"), "transpose": ("shape",),
}


def perturb(spec: KernelSpec, rng: np.random.Generator, *, sigma: float = 0.35) -> KernelSpec:
    """A neighbour of ``spec``: its sizes scaled by log-normal factors (median 1, log-sd
    ``sigma``), with width and height kept equal where they were, groups still dividing."""
    p = dict(spec.params)
    for name in _SIZE_PARAMS[spec.family]:
        value = p[name]
        if isinstance(value, list):
            p[name] = [v if i == 0 or v == 1 else _scale(v, rng, sigma)
                       for i, v in enumerate(value)]
        else:
            p[name] = _scale(value, rng, sigma)
    if "w" in p and spec.params.get("w") == spec.params.get("h"):
        p["w"] = p["h"]
    elif "w" in p and "w" not in _SIZE_PARAMS[spec.family]:
        p["w"] = max(1, round(spec.params["w"] * p["h"] / spec.params["h"]))
    if spec.family == "conv" and p["groups"] > 1:
        if spec.params["groups"] == spec.params["cin"]:  # depthwise-like grouped conv
            p["groups"] = p["cin"] = p["cout"] = min(p["cin"], p["cout"])
        else:
            p["groups"] = math.gcd(p["groups"], math.gcd(p["cin"], p["cout"]))
    if spec.family == "attention":
        p["kv_seq"] = p["seq"] if spec.params["kv_seq"] == spec.params["seq"] else _scale(
            spec.params["kv_seq"], rng, sigma)
    if spec.family == "eltwise":
        a, b = p["shape"], spec.params["shape_b"]
        p["shape_b"] = [1 if y == 1 else x for x, y in zip(a[len(a) - len(b):], b, strict=True)]
    if spec.family == "se":
        p["r"] = min(p["r"], p["c"])
    return KernelSpec(spec.family, p)


def _scale(v: int, rng: np.random.Generator, sigma: float) -> int:
    scaled = v * math.exp(rng.normal(0.0, sigma))
    if v >= 16 and v % 8 == 0:
        return max(8, round(scaled / 8) * 8)
    return max(1, round(scaled))


def adaptive_specs(candidates: pd.DataFrame, errors: Sequence[float] | np.ndarray, n: int, *,
                   seed: int = 0, worst: float = 0.2,
                   exclude: Iterable[KernelSpec] = ()) -> list[KernelSpec]:
    """``n`` new specs around the candidates a predictor gets most wrong (nn-Meter's adaptive
    sampling).

    The ``worst`` share of candidates by absolute error (at least one) are perturbed
    (:func:`perturb`) in turn, worst first, until ``n`` distinct new specs within the caps are
    found.

    Args:
        candidates: Rows with ``family`` and ``params`` (JSON) columns, such as measured kernels.
        errors: The predictor's error per row (relative or log ratio; only the size counts;
            NaN rows are skipped).
        n: How many specs to return.
        seed: The random seed.
        worst: The share of candidates to sample around.
        exclude: Specs not to return (those already in the suite).
    """
    errs = np.abs(np.asarray(errors, dtype=float))
    if len(errs) != len(candidates):
        raise ValueError(f"{len(errs)} errors for {len(candidates)} candidates")
    valid = np.flatnonzero(np.isfinite(errs))
    if n <= 0 or not len(valid):
        return []
    order = valid[np.argsort(-errs[valid], kind="stable")]
    chosen = order[:max(1, math.ceil(worst * len(valid)))]
    seeds = [KernelSpec(candidates["family"].iloc[i], json.loads(candidates["params"].iloc[i]))
             for i in chosen]
    rng = np.random.default_rng(seed)
    seen = set(exclude) | set(seeds)
    out: list[KernelSpec] = []
    tries = 0
    while len(out) < n and tries < 50 * n:
        spec = perturb(seeds[tries % len(seeds)], rng)
        tries += 1
        if spec in seen or check_spec(spec) or not within_caps(spec):
            continue
        seen.add(spec)
        out.append(spec)
    return out
