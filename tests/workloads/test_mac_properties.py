"""MAC formulas against brute-force oracles on small random layers.

Oracles: (1) ONNX Runtime on all-ones tensors: with no padding every multiply-accumulate adds
exactly 1 to some output, so the sum of the outputs *is* the number of MACs; (2) explicit loops
over every output position and kernel tap, padding included (padded taps are computed by
hardware too); (3) numpy's matmul on ones for broadcast batched products.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from dse.workloads.onnx_frontend import graph_from_model
from dse.workloads.ops import einsum_macs, matmul_macs
from tests.workloads.onnx_cases import model, vi

SETTINGS = settings(max_examples=40, deadline=None)


def _run_ones(m, x_shape):
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": np.ones(x_shape, dtype=np.float32)})[0]


@st.composite
def conv_cases(draw):
    group = draw(st.sampled_from([1, 1, 2, 3]))
    cin = group * draw(st.integers(1, 3))
    cout = group * draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    size = draw(st.integers(dilation * (k - 1) + 1, 11))
    batch = draw(st.integers(1, 2))
    return batch, cin, cout, k, stride, dilation, group, size


def _conv(batch, cin, cout, k, stride, dilation, group, size, pads):
    w = numpy_helper.from_array(np.ones((cout, cin // group, k, k), dtype=np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[k, k],
                            strides=[stride, stride], pads=list(pads), group=group,
                            dilations=[dilation, dilation])
    return model([node], [vi("x", [batch, cin, size, size + 1])], [vi("y", None)], [w])


@SETTINGS
@given(conv_cases())
def test_conv_macs_equal_onnxruntime_count_on_ones(case):
    batch, cin, *_, size = case
    m = _conv(*case, pads=(0, 0, 0, 0))
    macs = graph_from_model(m, source="t").nodes["conv"]["macs"]
    assert macs == int(_run_ones(m, (batch, cin, size, size + 1)).sum())


def _brute_force_conv(batch, cin, cout, k, stride, dilation, group, h, w, pads):
    top, left, bottom, right = pads
    count = 0
    oy = -top
    while oy + dilation * (k - 1) <= h - 1 + bottom:
        ox = -left
        while ox + dilation * (k - 1) <= w - 1 + right:
            count += batch * cout * (cin // group) * k * k
            ox += stride
        oy += stride
    return count


@SETTINGS
@given(conv_cases(), st.tuples(*[st.integers(0, 2)] * 4))
def test_conv_macs_equal_brute_force_with_padding(case, pads):
    batch, cin, cout, k, stride, dilation, group, size = case
    m = _conv(*case, pads=pads)
    macs = graph_from_model(m, source="t").nodes["conv"]["macs"]
    assert macs == _brute_force_conv(batch, cin, cout, k, stride, dilation, group, size,
                                     size + 1, pads)


@SETTINGS
@given(conv_cases())
def test_conv_transpose_macs_equal_onnxruntime_count_on_ones(case):
    batch, cin, cout, k, stride, dilation, group, size = case
    size = min(size, 6)
    w = numpy_helper.from_array(np.ones((cin, cout // group, k, k), dtype=np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="convt",
                            kernel_shape=[k, k], strides=[stride, stride], group=group,
                            dilations=[dilation, dilation])
    m = model([node], [vi("x", [batch, cin, size, size])], [vi("y", None)], [w])
    macs = graph_from_model(m, source="t").nodes["convt"]["macs"]
    assert macs == int(_run_ones(m, (batch, cin, size, size)).sum())


shapes = st.lists(st.integers(1, 4), min_size=0, max_size=2)


@SETTINGS
@given(shapes, shapes, st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))
def test_batched_matmul_macs_equal_numpy_on_ones(batch_a, batch_b, m_, k, n):
    # Make the batch dims broadcast-compatible: where both have a dim, one of them is 1 or equal.
    width = min(len(batch_a), len(batch_b))
    for i in range(1, width + 1):
        if batch_a[-i] != batch_b[-i]:
            batch_b[-i] = 1
    a, b = (*batch_a, m_, k), (*batch_b, k, n)
    assert matmul_macs(a, b) == int(np.matmul(np.ones(a), np.ones(b)).sum())
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    w = numpy_helper.from_array(np.ones(b, dtype=np.float32), "w")
    g = graph_from_model(model([node], [vi("x", list(a))], [vi("y", None)], [w]), source="t")
    assert g.nodes["mm"]["macs"] == matmul_macs(a, b)
    assert g.nodes["mm"]["op_class"] == "matmul"


def test_vector_matmul_edge_cases():
    assert matmul_macs((5,), (5,)) == int(np.matmul(np.ones(5), np.ones(5)))
    assert matmul_macs((3, 5), (5,)) == int(np.matmul(np.ones((3, 5)), np.ones(5)).sum())


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_einsum_macs_equal_numpy_on_ones(b, i, j, k):
    a, c = np.ones((b, i, k)), np.ones((b, k, j))
    assert einsum_macs("bik,bkj->bij", [a.shape, c.shape]) == int(
        np.einsum("bik,bkj->bij", a, c).sum())
