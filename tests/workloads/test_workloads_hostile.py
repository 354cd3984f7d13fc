"""Hostile workloads: ONNX files with confused attributes and paths, zoo options and names out of
bounds (issue 13). Each is a clear WorkloadError/OnnxError naming the input, never a crash."""

from __future__ import annotations

import os

import onnx
import pytest

import dse
from dse.cli import main
from dse.errors import OnnxError, WorkloadError
from dse.spec import loading
from dse.workloads import zoo
from dse.workloads.onnx_frontend import graph_from_model, load_onnx
from dse.workloads.zoo import registry


@pytest.fixture(scope="module")
def resnet8() -> onnx.ModelProto:
    return zoo.build("resnet8", weights=False)


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _first(model: onnx.ModelProto, op: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.op_type == op)


# ----- ONNX ------------------------------------------------------------------------------------

def test_a_string_conv_group_names_the_node(resnet8):
    model = _copy(resnet8)
    group = next(a for a in _first(model, "Conv").attribute if a.name == "group")
    group.type, group.s = onnx.AttributeProto.STRING, b"abc"
    with pytest.raises(OnnxError) as info:
        graph_from_model(model, source="m.onnx")
    assert [str(p) for p in info.value.problems] == [
        "m.onnx: node 'conv1' (Conv): attribute 'group' is of type STRING, expected INT"]


def test_an_attribute_without_a_type_and_one_beyond_64_bits_are_problems(resnet8):
    model = _copy(resnet8)
    conv = _first(model, "Conv")
    strides = next(a for a in conv.attribute if a.name == "strides")
    strides.type = onnx.AttributeProto.UNDEFINED
    group = next(a for a in conv.attribute if a.name == "group")
    group.i = 2**63 - 1  # in range for protobuf, out of range for dse
    with pytest.raises(OnnxError) as info:
        graph_from_model(model, source="m.onnx")
    text = str(info.value)
    assert "node 'conv1' (Conv): attribute 'strides' has no type" in text


def test_a_group_that_does_not_fit_the_shapes_is_a_problem_not_a_zero_division(resnet8):
    model = _copy(resnet8)
    next(a for a in _first(model, "Conv").attribute if a.name == "group").i = 0
    with pytest.raises(OnnxError, match=r"m.onnx: .*node 'conv1' \(Conv\)|m.onnx: shape "
                                        r"inference"):
        graph_from_model(model, source="m.onnx")


def _external(model: onnx.ModelProto, location: str) -> onnx.ModelProto:
    model = _copy(model)
    tensor = model.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    del tensor.float_data[:]
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return model


def test_a_nul_byte_in_an_external_data_path_is_a_problem(resnet8, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_external(resnet8, "w\0.bin"), str(path))
    with pytest.raises(OnnxError, match=r"external data location, got a path with a NUL byte"):
        load_onnx(path)


def test_an_external_data_name_too_long_for_the_os_is_a_problem(resnet8, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_external(resnet8, "x" * 5000), str(path))
    with pytest.raises(OnnxError, match=r"external data 'x{80}' cannot be checked"):
        load_onnx(path)


def test_onnx_files_are_read_bounded_and_regular_only(resnet8, tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    onnx.save(resnet8, str(path))
    monkeypatch.setattr(loading, "MAX_ONNX_BYTES", 1000)
    with pytest.raises(OnnxError, match=r"m.onnx: the file is [\d,]+ bytes; the limit is 1,000"):
        load_onnx(path)
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    with pytest.raises(OnnxError, match=r"pipe.onnx: expected a regular file, found a FIFO"):
        load_onnx(fifo)
    with pytest.raises(OnnxError, match=r"expected a regular file, found a directory"):
        load_onnx(tmp_path)


def test_a_tensor_of_2_63_elements_or_more_is_a_problem(resnet8):
    model = _copy(resnet8)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value = 2**62  # batch: every activation has 2**62 x ... elements
    with pytest.raises(OnnxError, match=r"has 2\*\*63 elements or more|inconsistent"):
        graph_from_model(model, source="m.onnx")


# ----- zoo -------------------------------------------------------------------------------------

def test_bert_with_a_thousand_layers_is_refused_before_anything_is_built():
    with pytest.raises(WorkloadError, match=r"zoo:bert_encoder: layers: expected an int from 1 "
                                            r"to 256, got 1000"):
        dse.workload("bert_encoder", layers=1000)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("resnet50", {"resolution": 100_000}, "resolution: expected an int from 1 to 4,096"),
    ("resnet50", {"classes": 10**9}, "classes: expected an int from 1 to 100,000"),
    ("mobilenet_v1", {"width": float("nan")}, "width: expected a float > 0 and <= 8, got nan"),
    ("mobilenet_v1", {"width": float("inf")}, "width: expected a float > 0 and <= 8, got inf"),
    ("bert_encoder", {"seq_len": 10**6}, "seq_len: expected an int from 1 to 65,536"),
    ("bert_encoder", {"intermediate": -1}, "intermediate: expected an int from 0 to 65,536"),
    ("fc_autoencoder", {"inputs": 10**7}, "inputs: expected an int from 1 to 1,000,000"),
])
def test_every_zoo_option_is_bounded(name, options, message):
    with pytest.raises(WorkloadError, match=message):
        zoo.build(name, weights=False, **options)


def test_a_model_over_the_memory_limit_is_refused_from_a_dry_build(monkeypatch):
    # 24 layers of 8,192 wide: 19 G parameters; counted without allocating them
    with pytest.raises(WorkloadError, match=r"zoo:bert_encoder: layers=24, hidden=8192, "
                                            r"heads=16: the model's weights would take [\d.]+ "
                                            r"GiB; the limit is 1 GiB"):
        dse.workload("bert_encoder", layers=24, hidden=8192, heads=16)
    # the estimate is the parameter count times 4 bytes
    model = zoo.get("resnet18")
    assert model.check_size(model.validate({})) == 4 * dse.workload("resnet18").weight_elems
    monkeypatch.setattr(registry, "MAX_MODEL_BYTES", 10 * 2**20)
    with pytest.raises(WorkloadError, match=r"zoo:resnet18: the model's weights would take "
                                            r"0.0 GiB; the limit is 0.00976562 GiB"):
        zoo.build("resnet18", weights=False)


def test_options_that_empty_a_layer_are_a_clear_error():
    with pytest.raises(WorkloadError, match=r"zoo:mobilenet_v1: width=0.25, resolution=12: "
                                            r"layer '\w+' would have the empty output shape"):
        dse.workload("mobilenet_v1_0.25_12")


@pytest.mark.parametrize("name", ["a" * 300, "mobilenet_v1_1.0_" + "9" * 5000, "x\0y"])
def test_long_and_odd_zoo_names_are_clear_errors(name):
    with pytest.raises(WorkloadError) as info:
        dse.workload(name)
    assert len(str(info.value)) < 2000
    assert "expected a zoo model name or an .onnx file" in str(info.value)


def test_unknown_zoo_names_and_options_say_what_was_meant():
    with pytest.raises(WorkloadError, match=r"unknown zoo model 'resnett'; did you mean "
                                            r"'resnet8' or 'resnet50' or 'resnet18'\? known zoo "
                                            r"models: alexnet, "):
        dse.workload("resnett")
    with pytest.raises(WorkloadError, match=r"zoo:bert_encoder: layer: unknown option; did you "
                                            r"mean 'layers'\? known options: layers, hidden"):
        dse.workload("bert_encoder", layer=2)


def test_the_cli_exits_2_on_each_without_a_traceback(capsys):
    for argv in (["workloads", "show", "a" * 300], ["workloads", "show", "bert_encoder", "-o",
                                                     "layers=1000"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.startswith("error: ")


@pytest.mark.parametrize("dims", [[10**23, 3, 32, 32], [0, 3, 32, 32], [-1, 3, 32, 32], []])
def test_input_shapes_out_of_range_are_a_problem(resnet8, dims):
    model = _copy(resnet8)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    with pytest.raises(OnnxError, match=r"m.onnx: input_shapes.input: expected sizes from 1 to "
                                        r"2\*\*63 - 1"):
        graph_from_model(model, source="m.onnx", input_shapes={"input": dims})


def test_a_node_name_that_is_not_utf8_is_a_problem(resnet8, tmp_path):
    # proto2 hands an invalid UTF-8 string over as bytes: node keys would mix bytes and str
    path = tmp_path / "m.onnx"
    data = resnet8.SerializeToString()
    assert data.count(b"\x12\x05conv1") >= 1
    path.write_bytes(data.replace(b"conv1", b"conv\xff"))
    with pytest.raises(OnnxError, match=r"m.onnx: node \d+: expected \w+ as UTF-8 text, got the "
                                        r"bytes b'conv\\xff'"):
        load_onnx(path)
