"""The ``ncnn`` loader: benchncnn latencies from ncnn's benchmark README as dse measurements."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dse
from dse.calibrate.loaders import data_dir, load, ncnn
from dse.devices import default_catalog

FILE = data_dir() / ncnn.FILENAME
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason=f"{FILE} not present")

PI5 = "Raspberry Pi 5 Broadcom BCM2712, Cortex-A76 (ARMv8) (2.4GHz x 4)"
KIRIN = "Kirin 970 (Cortex-A73 2.4GHz x 4 + Cortex-A53 1.8GHz x 4)"
NANO = "NVIDIA Jetson Nano"
PI4 = "Raspberry Pi 4 Model B Broadcom BCM2711B0, Cortex-A72 (ARMv8) (1.8GHz x 4)"


@pytest.fixture(scope="module")
def result():
    return load("ncnn")


@pytest.fixture(scope="module")
def raw():
    # no comment character: a device string contains '#'
    return pd.read_csv(FILE, keep_default_na=False, dtype=str)


def test_counts_of_mapped_and_left_out_rows(result, raw):
    assert len(raw) == 8554
    assert len(result.measurements) == 151
    assert len(result.unmapped) == 8403
    reasons = result.unmapped["reason"].value_counts().to_dict()
    assert reasons[ncnn.NO_DEVICE] == 7942
    assert reasons["no zoo model"] == 149
    assert reasons[ncnn.LEFT_OUT[PI4]] == 70
    assert reasons[ncnn.SD855_PLUS_REASONS["big cores only"]] == 70
    assert reasons[ncnn.SD855_PLUS_REASONS["Vulkan GPU"]] == 25
    assert sum(n for r, n in reasons.items() if r.startswith("int8 model in a Vulkan run")) == 16
    assert sum(n for r, n in reasons.items() if r.startswith("Vulkan run with 4 CPU")) == 25
    assert sum(n for r, n in reasons.items() if r.startswith("anomalous")) == 1
    # every source row is either used or left out with a reason, once
    assert len(result.measurements) + len(result.unmapped) == len(raw)
    assert result.unmapped["row"].is_unique


def test_configurations_per_device(result):
    m = result.measurements
    counts = m.groupby(["device", "host", "precision", "threads"]).size().to_dict()
    assert counts == {
        ("jetson_nano_cpu", "jetson_nano", "fp32", 1): 10,
        ("jetson_nano_cpu", "jetson_nano", "fp32", 4): 10,
        ("jetson_nano_cpu", "jetson_nano", "int8", 1): 7,
        ("jetson_nano_cpu", "jetson_nano", "int8", 4): 7,
        ("jetson_nano_gpu", "jetson_nano", "fp16", 1): 10,
        ("kirin970_a73", "hikey970", "fp32", 1): 10,
        ("kirin970_a73", "hikey970", "fp32", 4): 10,
        ("kirin970_a73", "hikey970", "int8", 1): 7,
        ("kirin970_a73", "hikey970", "int8", 4): 7,
        ("mali_g72", "hikey970", "fp16", 1): 10,
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "fp32", 1): 9,
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "fp32", 4): 9,
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "int8", 1): 6,
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "int8", 4): 6,
        ("rpi5_cpu", "raspberry_pi5", "fp16", 1): 10,
        ("rpi5_cpu", "raspberry_pi5", "fp16", 4): 9,
        ("rpi5_cpu", "raspberry_pi5", "int8", 1): 7,
        ("rpi5_cpu", "raspberry_pi5", "int8", 4): 7,
    }
    assert set(m["policy"]) == {"single"}
    assert set(m["metric"]) == {"latency"}
    assert set(m["unit"]) == {"ms"}
    assert (m["streams"] == 1).all() and (m["count"] == 1).all()
    assert set(m["link"]) == {""}
    key = ["device", "host", "link", "workload", "options", "precision", "policy", "threads",
           "streams", "count", "metric"]
    assert not m.duplicated(key).any()


def _raw_value(raw, device, run_id, model):
    rows = raw[(raw["device"] == device) & (raw["run_id"] == run_id) & (raw["model"] == model)]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["metric"] == "latency_avg" and row["unit"] == "ms"
    return float(row["value"])


@pytest.mark.parametrize(
    ("device", "run_id", "model", "catalog", "workload", "options", "precision", "threads"),
    [
        (PI5, "47", "mobilenet_v2", "rpi5_cpu", "mobilenet_v2", "", "fp16", 4),
        (KIRIN, "21", "resnet50_int8", "kirin970_a73", "resnet50",
         json.dumps({"stride_1x1": True}), "int8", 1),
        (NANO, "104", "squeezenet", "jetson_nano_gpu", "squeezenet1_1",
         json.dumps({"resolution": 227}), "fp16", 1),
    ],
)
def test_spot_check_against_the_raw_table(result, raw, device, run_id, model, catalog, workload,
                                          options, precision, threads):
    value = _raw_value(raw, device, run_id, model)
    m = result.measurements
    rows = m[m["source"].str.endswith(f"{device}, run {run_id}") & (m["workload"] == workload)
             & (m["precision"] == precision)]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["device"] == catalog
    assert row["options"] == options
    assert row["threads"] == threads
    assert row["value"] == pytest.approx(value)
    assert row["value_si"] == pytest.approx(value * 1e-3)


def test_left_out_boards_and_runs(result, raw):
    u = result.unmapped
    assert set(u[u["device"] == PI4]["reason"]) == {ncnn.LEFT_OUT[PI4]}
    # the 4-thread Vulkan run and int8 models on Vulkan are never used
    m = result.measurements
    nano_gpu = m[m["device"] == "jetson_nano_gpu"]
    assert nano_gpu["source"].str.endswith("run 104").all()
    assert "int8" not in set(nano_gpu["precision"])
    anomalous = u[u["reason"].str.startswith("anomalous")]
    assert anomalous[["device", "model"]].values.tolist() == [[PI5, "mobilenet"]]


def test_devices_hosts_and_workloads_exist(result):
    catalog = default_catalog()
    m = result.measurements
    for device, host in set(zip(m["device"], m["host"], strict=True)):
        assert device in catalog.devices
        platform = catalog.platform(host)
        assert device in platform.host or device in platform.accelerators
    for zoo, options, precision in set(zip(m["workload"], m["options"], m["precision"],
                                           strict=True)):
        kwargs = json.loads(options) if options else {}
        assert dse.workload(zoo, precision=precision, **kwargs).macs > 0
