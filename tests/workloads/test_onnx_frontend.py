"""The ONNX frontend: counting, constant folding, and clear errors on bad or hostile files."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import dse
from dse.errors import OnnxError
from dse.workloads.onnx_frontend import graph_from_model
from tests.workloads.onnx_cases import conv_model, init, model, small_mlp, vi


def save(tmp_path, m, name="m.onnx"):
    path = tmp_path / name
    onnx.save(m, str(path))
    return path


def test_mlp_counts(tmp_path):
    w = dse.workload(save(tmp_path, small_mlp()))
    assert w.name == "m"
    assert w.params == 16 * 8 + 16 + 4 * 16 + 4
    assert w.macs == 8 * 16 + 16 * 4
    layers = w.layers.set_index("name")
    assert layers.loc["fc1", "op_class"] == "matmul"
    assert layers.loc["relu", "op_class"] == "activation"
    assert layers.loc["relu", "ops"] == 16  # element-wise work counts, it is not a zero
    assert layers.loc["fc1", "ops"] == 2 * 8 * 16 + 16


def test_bytes_follow_precision(tmp_path):
    w = dse.workload(save(tmp_path, small_mlp()), precision="int8")
    assert w.weight_bytes == w.weight_elems
    assert w.at("fp16").weight_bytes == 2 * w.weight_elems
    assert w.at("fp16").graph is w.graph


def test_depthwise_is_its_own_class():
    g = graph_from_model(conv_model(cin=8, cout=8, group=8), source="t")
    assert g.nodes["conv"]["op_class"] == "dwconv"
    g = graph_from_model(conv_model(cin=8, cout=8, group=2), source="t")
    assert g.nodes["conv"]["op_class"] == "conv"


def test_batchnorm_statistics_are_weights_not_params():
    c = 4
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")]
    inits = [init(n, (c,)) for n in "sbmv"]
    g = graph_from_model(model(nodes, [vi("x", [1, c, 2, 2])], [vi("y", None)], inits), source="t")
    assert g.nodes["bn"]["params"] == 2 * c
    assert g.nodes["bn"]["weight_elems"] == 4 * c


def test_dequantized_weights_fold_into_their_consumer():
    # QDQ format: int8 weights -> DequantizeLinear -> Conv. The DequantizeLinear runs on
    # constants only, so it is folded and the Conv sees a weight.
    wq = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=np.int8), "wq")
    scale = numpy_helper.from_array(np.array(0.1, dtype=np.float32), "scale")
    zp = numpy_helper.from_array(np.array(0, dtype=np.int8), "zp")
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "scale", "zp"], ["w"], name="dq"),
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1]),
    ]
    g = graph_from_model(
        model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)], [wq, scale, zp]), source="t"
    )
    assert set(g.nodes) == {"conv"}
    assert g.nodes["conv"]["params"] == 4 * 3 * 9
    assert g.nodes["conv"]["macs"] == 4 * 8 * 8 * 3 * 9


def test_attention_shaped_matmuls_and_einsum():
    q = vi("q", [1, 2, 5, 8])
    k = vi("k", [1, 2, 8, 7])
    nodes = [
        helper.make_node("MatMul", ["q", "k"], ["s"], name="qk"),
        helper.make_node("Softmax", ["s"], ["p"], name="softmax", axis=-1),
        helper.make_node("Einsum", ["p", "v"], ["o"], name="pv", equation="bhqk,bhkd->bhqd"),
    ]
    m = model(nodes, [q, k, vi("v", [1, 2, 7, 8])], [vi("o", None)])
    g = graph_from_model(m, source="t")
    assert g.nodes["qk"]["op_class"] == "attention"
    assert g.nodes["qk"]["macs"] == 2 * 5 * 8 * 7
    assert g.nodes["pv"]["op_class"] == "attention"
    assert g.nodes["pv"]["macs"] == 2 * 5 * 7 * 8


def test_onnx_attention_operator():
    nodes = [helper.make_node("Attention", ["q", "k", "v"], ["y"], name="attn")]
    m = model(nodes, [vi("q", [1, 4, 16, 8]), vi("k", [1, 4, 10, 8]), vi("v", [1, 4, 10, 8])],
              [vi("y", None)], opset=23)
    g = graph_from_model(m, source="t")
    assert g.nodes["attn"]["macs"] == 4 * 16 * 10 * (8 + 8)
    assert g.nodes["attn"]["op_class"] == "attention"


def test_symbolic_batch_defaults_to_one_and_other_dims_need_shapes(tmp_path):
    m = small_mlp()
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    assert dse.workload(save(tmp_path, m)).macs == 8 * 16 + 16 * 4
    m2 = conv_model()
    m2.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    path = save(tmp_path, m2, "sym.onnx")
    with pytest.raises(OnnxError, match=r"input 'x' dim 2: expected a fixed size, found symbolic 'H'"):
        dse.workload(path)
    w = dse.workload(path, input_shapes={"x": [1, 3, 8, 8]})
    assert w.macs == 4 * 8 * 8 * 3 * 9
    with pytest.raises(OnnxError, match=r"input_shapes.nope: no model input of that name"):
        dse.workload(path, input_shapes={"nope": [1]})


# -- hostile and malformed files ---------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(OnnxError, match=r"no-such\.onnx: expected an ONNX file, found no such file"):
        dse.workload(tmp_path / "no-such.onnx")


def test_truncated_file(tmp_path):
    data = conv_model().SerializeToString()
    path = tmp_path / "trunc.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxError, match=r"trunc\.onnx"):
        dse.workload(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\xff\xfe not a protobuf \x00" * 10)
    with pytest.raises(OnnxError, match=r"garbage\.onnx"):
        dse.workload(path)


def test_empty_graph(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(OnnxError, match=r"empty\.onnx: graph: expected at least one node"):
        dse.workload(path)


def test_cycle_is_named(tmp_path):
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
    ]
    path = save(tmp_path, model(nodes, [vi("x", [1, 4])], [vi("b", [1, 4])]), "cyclic.onnx")
    with pytest.raises(OnnxError, match=r"cyclic\.onnx: graph: expected an acyclic graph, found "
                       r"the cycle '(first|second)' -> '(first|second)' -> '(first|second)'"):
        dse.workload(path)


def test_unknown_ops_are_named_all_at_once(tmp_path):
    nodes = [
        helper.make_node("FancyOp", ["x"], ["a"], name="f1", domain="com.example"),
        helper.make_node("Relu", ["a"], ["b"], name="r"),
        helper.make_node("OtherOp", ["b"], ["y"], name="o1", domain="com.example"),
    ]
    m = model(nodes, [vi("x", [1, 4])], [vi("y", [1, 4])])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    path = save(tmp_path, m, "custom.onnx")
    with pytest.raises(OnnxError) as info:
        dse.workload(path)
    text = str(info.value)
    assert "node 'f1': op type 'com.example::FancyOp' is not known to dse" in text
    assert "node 'o1': op type 'com.example::OtherOp' is not known to dse" in text
    assert len(info.value.problems) == 2


def test_unknown_ops_as_other_are_recorded(tmp_path):
    # Shape inference cannot see through a custom op, so give it value_info as exporters do.
    nodes = [helper.make_node("FancyOp", ["x"], ["a"], name="f1", domain="com.example"),
             helper.make_node("Relu", ["a"], ["y"], name="r")]
    m = model(nodes, [vi("x", [1, 4])], [vi("y", [1, 4])])
    m.graph.value_info.append(vi("a", [1, 4]))
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    w = dse.workload(save(tmp_path, m), unknown_ops="other")
    assert w.other_ops == {"com.example::FancyOp": 1}
    assert w.summary()["other_ops"] == {"com.example::FancyOp": 1}
    assert w.summary()["op_classes"]["other"]["nodes"] == 1


def test_tensor_produced_twice_and_undefined_input(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Relu", ["x"], ["a"], name="r2"),
        helper.make_node("Add", ["a", "ghost"], ["y"], name="add"),
    ]
    path = save(tmp_path, model(nodes, [vi("x", [1, 4])], [vi("y", [1, 4])]), "dup.onnx")
    with pytest.raises(OnnxError) as info:
        dse.workload(path)
    text = str(info.value)
    assert "node 'r2' (Relu): tensor 'a' is already produced by r1" in text
    assert "node 'add' (Add): input 'ghost' is not a graph input" in text


def _external(tmp_path, location, *, write=True, length=None):
    m = conv_model(bias=False)
    t = m.graph.initializer[0]
    raw = numpy_helper.to_array(t).tobytes()
    if write:
        (tmp_path / "weights.bin").write_bytes(raw)
    t.ClearField("float_data")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"),
                       ("length", str(length if length is not None else len(raw)))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return save(tmp_path, m, "ext.onnx")


def test_external_data_inside_folder_is_accepted_and_never_read(tmp_path):
    w = dse.workload(_external(tmp_path, "weights.bin"))
    assert w.params == 4 * 3 * 9


@pytest.mark.parametrize("location", ["../weights.bin", "/etc/passwd", "sub/../../x.bin"])
def test_external_data_outside_folder_is_refused(tmp_path, location):
    with pytest.raises(OnnxError, match=r"initializer 'w': expected external data at a relative "
                       r"path inside the model's folder"):
        dse.workload(_external(tmp_path, location))


def test_external_data_symlink_escaping_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"\0" * 432)
    inside = tmp_path / "model"
    inside.mkdir()
    (inside / "link.bin").symlink_to(outside / "w.bin")
    with pytest.raises(OnnxError, match=r"resolves to .*outside the model's folder"):
        dse.workload(_external(inside, "link.bin", write=False))


def test_external_data_missing_or_short(tmp_path):
    with pytest.raises(OnnxError, match=r"external data file 'nothere.bin' does not exist"):
        dse.workload(_external(tmp_path, "nothere.bin"))
    with pytest.raises(OnnxError, match=r"external data 'weights.bin' is 432 bytes, but the tensor "
                       r"claims offset 0 and length 9999"):
        dse.workload(_external(tmp_path, "weights.bin", length=9999))


def test_inconsistent_shapes_are_reported(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
    m = model(nodes, [vi("x", [1, 8])], [vi("y", None)], [init("w", (4, 5))])
    with pytest.raises(OnnxError, match=r"bad\.onnx: shape inference: the model is inconsistent"):
        dse.workload(save(tmp_path, m, "bad.onnx"))


def test_newer_opset_is_reported(tmp_path):
    m = small_mlp()
    m.opset_import[0].version = onnx.defs.onnx_opset_version() + 5
    with pytest.raises(OnnxError, match=r"opset_import: expected ONNX opset <= \d+"):
        dse.workload(save(tmp_path, m, "future.onnx"))
