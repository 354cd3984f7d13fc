"""Small ONNX models, well-formed and hostile, for frontend tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def model(nodes, inputs, outputs, initializers=(), opset=OPSET) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name, shape, value=0.1):
    return numpy_helper.from_array(np.full(shape, value, dtype=np.float32), name)


def conv_model(n=1, cin=3, h=8, w=8, cout=4, k=3, stride=1, pad=1, group=1, dilation=1,
               bias=True) -> onnx.ModelProto:
    ws = [init("w", (cout, cin // group, k, k))]
    ins = ["x", "w"]
    if bias:
        ws.append(init("b", (cout,)))
        ins.append("b")
    node = helper.make_node("Conv", ins, ["y"], name="conv", kernel_shape=[k, k],
                            strides=[stride, stride], pads=[pad] * 4, group=group,
                            dilations=[dilation, dilation])
    return model([node], [vi("x", [n, cin, h, w])], [vi("y", None)], ws)


def small_mlp() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2", transB=1),
    ]
    inits = [init("w1", (16, 8)), init("b1", (16,)), init("w2", (4, 16)), init("b2", (4,))]
    return model(nodes, [vi("x", [1, 8])], [vi("y", [1, 4])], inits)
