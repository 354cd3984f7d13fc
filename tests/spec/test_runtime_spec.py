"""Runtimes: the shipped catalog's, their sources, and the messages for bad runtime files."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from dse.devices import Catalog, default_catalog
from dse.devices.kinds import kind_names
from dse.errors import SpecError
from dse.spec.runtime import CLAIMS, KERNELS, RuntimeSpec
from tests.spec.catalogs import CPU, NPU, source, write_catalog

#: The runtimes the issue asks for by name (more may ship).
REQUIRED = {"acl", "ncnn_cpu", "ncnn_vulkan", "tflite_cpu", "tflite_gpu", "tflite_nnapi",
            "edgetpu", "openvino_myriad", "openvino_cpu", "vitis_ai", "hiai", "onnxruntime_cpu",
            "tflm", "x_cube_ai", "ai8x", "syntiant_tdk", "gapflow", "ethos_u_vela",
            "eiq_neutron", "tensorrt"}

RUNTIME: dict[str, Any] = {
    "description": "a test stack", "vendor": "Test", "version": "1.0",
    "device_kinds": ["npu"], "precisions": ["int8"], "fuses": ["Relu", "BatchNormalization"],
    "kernels": ["int8", "depthwise"], "default_threads": 1, "timing_includes_host": True,
    "sources": [source("precisions", "fuses", "kernels", "default_threads",
                       "timing_includes_host")],
}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return default_catalog()


def test_the_catalog_ships_the_runtimes_the_issue_lists(cat):
    assert set(cat.runtimes) >= REQUIRED
    assert cat.runtime("acl").version == "18.05"
    assert set(cat.runtime("acl").device_kinds) == {"cpu", "gpu"}


def test_every_claim_of_every_runtime_is_sourced(cat):
    for name, runtime in cat.runtimes.items():
        assert runtime.name == name
        assert set(runtime.device_kinds) <= set(kind_names())
        claims = runtime.claims()
        assert {c.split(".")[0] for c in claims} >= {"precisions", "default_threads",
                                                     "timing_includes_host"}
        for path in claims:
            assert runtime.source_of(path) is not None, f"{name}: {path}"
        assert set(runtime.kernels or ()) <= set(KERNELS)


def test_acl_18_05_has_what_its_changelog_says(cat):
    acl = cat.runtime("acl")
    assert {"winograd_3x3", "depthwise", "im2col_gemm", "direct_conv"} <= set(acl.kernels)
    assert "Relu" in acl.fuses and "BatchNormalization" not in acl.fuses
    assert acl.default_threads is None          # the whole cluster


def test_accelerator_runtimes_that_depend_on_the_host_say_so(cat):
    for name in ("edgetpu", "openvino_myriad", "vitis_ai"):
        assert cat.runtime(name).timing_includes_host, name
    for name in ("ncnn_cpu", "tflite_cpu", "onnxruntime_cpu", "tflm"):
        assert not cat.runtime(name).timing_includes_host, name


def test_every_device_names_a_default_runtime_that_runs_on_its_kind(cat):
    for name, device in cat.devices.items():
        assert device.default_runtime is not None, name
        runtime = cat.runtime(device.default_runtime)
        assert device.kind in runtime.device_kinds, name


def test_every_device_file_states_its_default_runtime(root):
    for path in sorted((root / "devices").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        assert "default_runtime" in data, path.name


def test_unknown_runtime_lookup_lists_the_known_ones(cat):
    with pytest.raises(SpecError, match=r"unknown runtime 'tvm'; \d+ known runtimes, such as acl, "):
        cat.runtime("tvm")


def test_a_runtime_validates_on_its_own():
    spec = RuntimeSpec.model_validate({"name": "t", **RUNTIME})
    assert spec.claims() == ["precisions.int8", "fuses.Relu", "fuses.BatchNormalization",
                             "kernels.int8", "kernels.depthwise", "default_threads",
                             "timing_includes_host"]
    assert spec.source_of("kernels.int8").id == "ds"
    assert CLAIMS == ("precisions", "fuses", "kernels", "default_threads", "timing_includes_host",
                      "code_bytes", "ram_bytes", "ram_per_op_bytes", "ram_per_tensor_bytes",
                      "scratch")


def _catalog(tmp_path, runtimes: dict[str, Any], devices: dict[str, Any] | None = None):
    folder = write_catalog(tmp_path, devices=devices)
    (folder / "runtimes").mkdir()
    for name, data in runtimes.items():
        text = data if isinstance(data, str) else yaml.safe_dump(copy.deepcopy(data))
        (folder / "runtimes" / f"{name}.yaml").write_text(text)
    return Catalog(folder)


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(RUNTIME)
    for key, value in changes.items():
        if value is None and key not in ("fuses", "kernels", "default_threads"):
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_a_good_runtime_loads_into_a_catalog(tmp_path):
    cat = _catalog(tmp_path, {"stack": RUNTIME})
    assert set(cat.runtimes) == {"stack"}
    assert cat.files["runtimes/stack"].name == "stack.yaml"


@pytest.mark.parametrize(("changes", "message"), [
    ({"device_kinds": ["tpu"]},
     r"runtimes/stack.yaml: device_kinds.tpu: unknown device kind 'tpu'; did you mean .*'npu'.*\? known device kinds: cpu, "),
    ({"precisions": ["fp64"]}, r"runtimes/stack.yaml: precisions.fp64: unknown precision "
                               r"'fp64'; did you mean 'fp16'\? known precisions: bf16, fp16, "),
    ({"fuses": ["Relu", "Frobnicate"]},
     r"runtimes/stack.yaml: fuses.Frobnicate: unknown ONNX op type 'Frobnicate'; .*BatchNormalization"),
    ({"kernels": ["int8", "winograd_7x7"]},
     r"runtimes/stack.yaml: kernels.winograd_7x7: unknown kernel 'winograd_7x7'; did you mean "
     r"'winograd_3x3'\? known kernels: .*direct_conv, .*fused_attention"),
    ({"kernels": ["fp16"]}, r"kernels.fp16: fp16 kernels, but fp16 is not among precisions"),
    ({"default_threads": 0}, r"runtimes/stack.yaml: default_threads: must be > 0, got 0"),
    ({"timing_includes_host": None}, r"runtimes/stack.yaml: timing_includes_host: required"),
    ({"version": 18.05}, r"runtimes/stack.yaml: version: .*write the version as a string"),
    ({"sources": [source("precisions", "fuses", "default_threads", "timing_includes_host")]},
     r"runtimes/stack.yaml: kernels.int8: no source given for this claim"),
    ({"sources": [source("precisions", "fuses", "kernels", "default_threads",
                         "timing_includes_host", "speed")]},
     r"runtimes/stack.yaml: sources.ds: field 'speed' names no claim this runtime states"),
    ({"name": "other"}, r"runtimes/stack.yaml: name: must match the file name 'stack'"),
    ({"threads": 4}, r"runtimes/stack.yaml: threads: unknown key 'threads'; "),
])
def test_bad_runtime_files_name_file_and_path(tmp_path, changes, message):
    with pytest.raises(SpecError, match=message):
        _catalog(tmp_path, {"stack": _with(**changes)})


def test_unknown_fusions_are_not_claims(tmp_path):
    # null: not documented, so no source is needed; [] is a claim ("fuses nothing")
    cat = _catalog(tmp_path, {"stack": _with(fuses=None, kernels=None, sources=[source(
        "precisions", "default_threads", "timing_includes_host")])})
    assert cat.runtime("stack").fuses is None
    with pytest.raises(SpecError, match=r"stack.yaml: fuses: no source given for this claim"):
        _catalog(tmp_path / "b", {"stack": _with(
            fuses=[], sources=[source("precisions", "kernels", "default_threads",
                                      "timing_includes_host")])})


def test_invalid_yaml_in_a_runtime_file(tmp_path):
    with pytest.raises(SpecError, match=r"runtimes/stack.yaml: line 1, column \d+: invalid YAML"):
        _catalog(tmp_path, {"stack": "description: a: b\n"})


def test_a_device_default_runtime_must_exist_and_fit_its_kind(tmp_path):
    npu = {**NPU, "default_runtime": "stack"}
    cpu = {**CPU, "default_runtime": "stack"}          # stack runs on npu only
    ghost = {**NPU, "default_runtime": "ghost"}
    with pytest.raises(SpecError) as info:
        _catalog(tmp_path, {"stack": RUNTIME}, devices={"npu": npu, "cpu": cpu, "ghost": ghost})
    lines = str(info.value).splitlines()
    assert any(line.endswith("cpu.yaml: default_runtime: runtime 'stack' runs on npu devices, "
                             "not on a cpu") for line in lines), lines
    assert any(line.endswith("ghost.yaml: default_runtime: unknown runtime 'ghost'; known "
                             "runtimes: stack") for line in lines), lines
    assert not any("npu.yaml" in line for line in lines)


def test_a_broken_runtime_is_reported_once_not_by_every_device(tmp_path):
    npu = {**NPU, "default_runtime": "stack"}
    with pytest.raises(SpecError) as info:
        _catalog(tmp_path, {"stack": _with(precisions=["fp64"])}, devices={"npu": npu})
    assert [p.file.rsplit("/", 1)[-1] for p in info.value.problems] == ["stack.yaml"]


def test_a_later_folder_cannot_redefine_a_runtime(tmp_path):
    first = tmp_path / "a"
    second = tmp_path / "b"
    for folder in (first, second):
        (folder / "runtimes").mkdir(parents=True)
        (folder / "runtimes" / "stack.yaml").write_text(yaml.safe_dump(RUNTIME))
    write_catalog(first)
    with pytest.raises(SpecError, match=r"'stack' is already defined in"):
        Catalog(first, second)


def test_fuses_accepts_every_onnx_op_type_a_counter_knows_but_the_producers():
    """The spec layer validates ``fuses`` against the ONNX standard's op types (not the workload
    layer's counters, which sit above it): every counted standard op is accepted."""
    from dse.spec.vocabulary import onnx_op_types
    from dse.workloads.ops import COUNTERS

    standard = sorted(set(COUNTERS) & onnx_op_types() - {"Conv", "Gemm", "MatMul"})
    spec = RuntimeSpec.model_validate({"name": "t", **RUNTIME, "fuses": standard})
    assert set(spec.fuses or ()) == set(standard)
