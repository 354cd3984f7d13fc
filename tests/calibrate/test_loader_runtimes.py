"""Every loader's rows name the runtime they ran on, and it runs on the row's device kind."""

from __future__ import annotations

import pytest

from dse.calibrate.loaders import load, loader_names
from dse.devices import default_catalog


@pytest.mark.parametrize("name", loader_names())
def test_loader_rows_carry_a_known_runtime_that_fits_the_device(name):
    cat = default_catalog()
    rows = load(name).measurements
    if rows.empty:
        pytest.skip(f"{name}: no row maps to the catalog")
    assert (rows["runtime"] != "").all()
    for device, runtime in set(zip(rows["device"], rows["runtime"], strict=True)):
        kind = cat.device(device).kind
        assert kind in cat.runtime(runtime).device_kinds, (name, device, runtime)


@pytest.mark.parametrize(("name", "expected"), [
    ("mobile_soc", {"acl", "hiai"}),
    ("ncnn", {"ncnn_cpu", "ncnn_vulkan"}),
    ("coral", {"edgetpu", "tflite_cpu"}),
    ("vitis", {"vitis_ai"}),
    ("tflite", {"tflite_gpu"}),
    ("deepedgebench", {"edgetpu", "tensorrt", "tflite_cpu"}),
    ("edge_accel", {"edgetpu", "tflite_cpu", "openvino_myriad", "tensorflow_cpu",
                    "tensorflow_gpu", "tf_trt"}),
])
def test_loader_runtimes_follow_the_table(name, expected):
    assert set(load(name).measurements["runtime"]) == expected


def test_loader_runtime_per_backend():
    ncnn = load("ncnn").measurements
    gpus = {"jetson_nano_gpu", "mali_g72"}
    assert set(ncnn[ncnn["device"].isin(gpus)]["runtime"]) == {"ncnn_vulkan"}
    assert set(ncnn[~ncnn["device"].isin(gpus)]["runtime"]) == {"ncnn_cpu"}
    coral = load("coral").measurements
    tpu = coral["device"].isin(["coral_usb", "coral_devboard_tpu"])
    assert set(coral[tpu]["runtime"]) == {"edgetpu"}
    assert set(coral[~tpu]["runtime"]) == {"tflite_cpu"}
    soc = load("mobile_soc").measurements
    assert set(soc[soc["device"] == "kirin970_npu"]["runtime"]) == {"hiai"}


def test_loader_mobile_soc_cpu_rows_run_the_whole_cluster():
    cat = default_catalog()
    rows = load("mobile_soc").measurements
    cpu = rows[[cat.device(d).kind == "cpu" for d in rows["device"]]]
    assert len(cpu) == 20 and set(cpu["threads"]) == {4}
    assert all(cat.device(d).cores == 4 for d in set(cpu["device"]))
    assert set(rows[~rows.index.isin(cpu.index)]["threads"]) == {1}
    # the reason: one A73 core at its full peak is slower than the measured cluster
    a73 = cpu[(cpu["device"] == "kirin970_a73") & (cpu["workload"] == "resnet50")].iloc[0]
    one_core_s = 8.2e9 / (cat.device("kirin970_a73").peak_ops_s["fp32"] / 4)
    assert 1 / a73["value_si"] < one_core_s
