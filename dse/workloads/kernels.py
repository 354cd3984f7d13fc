"""Kernel classes: what a runtime actually runs for each layer, after fusion.

An op class (``conv``, ``dwconv``, ``matmul``, ...) says what a layer computes; a *kernel class*
says which of a runtime's kernels computes it, and kernels of one op class run at very different
shares of a device's peak. On ncnn's ARM CPU backend, 3x3 stride-1 convolutions run Winograd and
reach above the direct-MAC roofline, 1x1 convolutions run as plain GEMM, depthwise and fully
connected layers are memory-starved, and a handful of ops (LRN, SiLU gating, squeeze-excite,
softmax, layer norm) cost out of all proportion to their arithmetic. The cost model gives every
kernel class its own efficiency (:meth:`dse.spec.device.DeviceSpec.efficiency_for` falls back from
a kernel class to its op class, then to ``default``).

Classes are derived from the graph alone (shapes and neighbours), so they are the same for every
device and precision; which kernels a runtime *has* is the runtime's business.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dse.spec.vocabulary import KERNEL_CLASSES
from dse.workloads.graph import gelu_groups, skip_norm_pairs

__all__ = ["KERNEL_CLASSES", "kernel_class_index", "kernel_classes", "workload_kernels"]


_NAMES = tuple(KERNEL_CLASSES)
_INDEX = {name: i for i, name in enumerate(_NAMES)}
_GATES = frozenset({"Sigmoid", "HardSigmoid"})
_SWISH = frozenset({"Swish", "HardSwish"})
_POOLED = frozenset({"GlobalAveragePool", "GlobalMaxPool", "ReduceMean"})
_SE_CHAIN = frozenset({"Conv", "Gemm", "MatMul", "Relu", "Clip", "Sigmoid", "HardSigmoid",
                       "HardSwish", "Swish", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Add",
                       "BatchNormalization", "Mul"})


def _spatial(shape: Any) -> int:
    """Elements per channel of an NCHW-like shape (1 for shapes without spatial axes)."""
    s = list(shape or ())
    return int(np.prod(s[2:])) if len(s) > 2 else 1


def _conv_class(d: dict[str, Any]) -> str:
    ins, outs, weights = d.get("in_shapes") or [], d.get("out_shapes") or [], \
        d.get("weight_shapes") or []
    x = list(ins[0]) if ins else []
    y = list(outs[0]) if outs else []
    k = list(weights[0][2:]) if weights and len(weights[0]) > 2 else []
    if d["op_class"] == "dwconv":
        if k == [3, 3]:
            return "dwconv3x3"
        return "dwconv5x5" if k == [5, 5] else "dwconv"
    if len(x) == 4 and x[1] <= 4:
        return "conv_first"
    if k and all(v == 1 for v in k):
        return "conv1x1"
    stride = round(x[2] / y[2]) if len(x) == 4 and len(y) == 4 and y[2] else 1
    return "conv3x3s1" if k == [3, 3] and stride == 1 else "conv"


def kernel_classes(graph: Any, order: Any) -> list[str]:
    """The kernel class of every node of a workload graph, in ``order``."""
    nodes = graph.nodes
    out: dict[Any, str] = {}
    skip_norms = {norm for _, norm in skip_norm_pairs(graph, order)}
    gelus = {group[1] for group in gelu_groups(graph, order)}
    for n in order:
        d = nodes[n]
        op, cls = d["op"], d["op_class"]
        if cls in ("conv", "dwconv"):
            out[n] = _conv_class(d)
        elif cls == "matmul":
            out[n] = "fc"
        elif op == "LRN":
            out[n] = "lrn"
        elif op == "Softmax":
            out[n] = "softmax"
        elif op == "LayerNormalization":
            out[n] = "skip_layernorm" if n in skip_norms else "layernorm"
        elif op in _SWISH:
            out[n] = "gating"
        elif n in gelus:
            out[n] = "gelu"
        else:
            out[n] = cls if cls in _INDEX else "other"
    for n in order:
        if nodes[n]["op"] != "Mul":
            continue
        preds = list(graph.predecessors(n))
        if len(preds) != 2:
            continue
        for gate, other in (preds, preds[::-1]):
            if nodes[gate]["op"] in _GATES and other in graph.predecessors(gate):
                out[n] = out[gate] = "gating"  # x * sigmoid(x)
                break
            chain = _se_chain(graph, gate, other)
            if chain:
                for m in (*chain, n):
                    out[m] = "se"
                break
    return [out[n] for n in order]


def _se_chain(graph: Any, start: Any, source: Any) -> list[Any]:
    """The squeeze-excite branch ending at ``start``: single-input layers on a pooled (1x1)
    tensor back to a global pool of ``source``; empty if ``start`` is not one."""
    chain: list[Any] = []
    node = start
    for _ in range(12):
        d = graph.nodes[node]
        if d["op"] in _POOLED:
            return [*chain, node] if source in graph.predecessors(node) else []
        if d["op"] not in _SE_CHAIN or any(_spatial(s) != 1 for s in d.get("out_shapes") or []):
            return []
        preds = list(graph.predecessors(node))
        if len(preds) == 2 and d["op"] == "Mul":  # a swish inside the branch: follow its input
            gates = [p for p in preds if graph.nodes[p]["op"] in _GATES]
            preds = [p for p in preds if p not in gates]
            if len(gates) != 1 or len(preds) != 1:
                return []
            chain.append(gates[0])
        elif len(preds) != 1:
            return []
        chain.append(node)
        node = preds[0]
    return []


def kernel_class_index(names: Any) -> np.ndarray:
    """Kernel class names as indices into :data:`KERNEL_CLASSES` (for array lookups)."""
    return np.fromiter((_INDEX[c] for c in names), dtype=np.int64)


def workload_kernels(workload: Any) -> np.ndarray:
    """Kernel class indices of a :class:`~dse.workloads.Workload`'s layers, in the order of its
    ``counts`` (cached with the workload's other derived tables; read-only)."""
    cache = workload._cache
    if "kernels" not in cache:
        index = kernel_class_index(kernel_classes(workload.graph, workload.order))
        index.setflags(write=False)
        cache["kernels"] = index
    kernels: np.ndarray = cache["kernels"]
    return kernels
