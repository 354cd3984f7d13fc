"""The deepedgebench loader: DeepEdgeBench latency and board power as measurements."""

from __future__ import annotations

import csv
import json

import pytest

import dse
from dse.calibrate.loaders import data_dir, load
from dse.devices import default_catalog

FILE = data_dir() / "deepedgebench_latency_power.csv"
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason="../shared/data is not present")


@pytest.fixture(scope="module")
def result():
    return load("deepedgebench")


def _raw_row(row: int) -> dict[str, str]:
    with FILE.open() as f:
        return list(csv.DictReader(f))[row - 2]


def test_counts(result):
    assert len(result.measurements) == 24
    assert len(result.unmapped) == 67
    reasons = result.unmapped["reason"].value_counts().to_dict()
    assert reasons == {
        "no catalog device": 31,                                   # Tinker Edge R, Arduino
        "mean latency (the median is kept)": 18,
        "full TensorFlow runtime (thread use not stated; the TFLite/TensorRT run of the device "
        "is kept)": 10,
        "idle board power (no inference running)": 6,
        "TF-TRT: same GPU, model and precision as the ONNX->TensorRT run kept": 2,
    }
    m = result.measurements
    assert m.groupby("device").size().to_dict() == {
        "coral_devboard_tpu": 4, "imx8m_cpu": 6, "jetson_nano_gpu": 2, "jetson_nano_cpu": 6,
        "rpi4_cpu": 6}
    assert (m.groupby("metric").size().to_dict() == {"latency": 12, "power": 12})
    # one row per (device, host, link, model, precision, configuration, metric)
    key = ["device", "host", "link", "workload", "options", "precision", "policy", "threads",
           "streams", "count", "metric"]
    assert not m.duplicated(key).any()


def _one(m, **where):
    sel = m
    for col, value in where.items():
        sel = sel[sel[col] == value]
    assert len(sel) == 1, where
    return sel.iloc[0]


def test_spot_checks_against_the_raw_table(result):
    m = result.measurements
    # row 4: Coral Dev Board, Edge TPU, MobileNet v1 quantized, median 0.881 ms
    raw = _raw_row(4)
    assert (raw["metric"], raw["framework"]) == ("latency_median", "TFLite + Edge TPU delegate")
    r = _one(m, device="coral_devboard_tpu", workload="mobilenet_v1", metric="latency")
    assert (r.host, r.precision, r.unit) == ("coral_devboard", "int8", "ms")
    assert json.loads(r.options) == {"width": 0.25, "resolution": 128}
    assert r.value == pytest.approx(float(raw["value"]))
    assert r.value_si == pytest.approx(0.881e-3)
    # row 24: Jetson Nano ONNX->TensorRT MobileNet v2 board power 4.834 W
    raw = _raw_row(24)
    assert (raw["framework"], raw["metric"]) == ("ONNX->TensorRT", "board_power_mean_during_run")
    r = _one(m, device="jetson_nano_gpu", metric="power")
    assert (r.workload, r.options, r.precision, r.unit) == ("mobilenet_v2", "", "fp32", "W")
    assert r.value_si == pytest.approx(float(raw["value"]))
    # row 55: Raspberry Pi 4 TFLite MobileNet v2 quantized, median 127.9761 ms, one thread
    raw = _raw_row(55)
    assert (raw["framework"], raw["metric"], raw["precision"]) == (
        "TFLite (CPU)", "latency_median", "int8")
    r = _one(m, device="rpi4_cpu", workload="mobilenet_v2", precision="int8", metric="latency")
    assert (r.host, r.policy, r.threads, r.streams, r["count"]) == ("raspberry_pi4", "single", 1,
                                                                 1, 1)
    assert r.value_si == pytest.approx(float(raw["value"]) * 1e-3)


def test_idle_rows_are_listed_not_dropped(result):
    idle = result.unmapped[result.unmapped["reason"].str.startswith("idle")]
    assert sorted(idle["row"]) == [85, 86, 87, 88, 89, 90]


def test_devices_exist_and_workloads_build(result):
    catalog = default_catalog()
    m = result.measurements
    assert set(m["device"]) <= set(catalog.devices)
    assert set(m["host"]) <= set(catalog.platforms)
    for zoo, options in {(w, o) for w, o in zip(m["workload"], m["options"], strict=True)}:
        assert dse.workload(zoo, **(json.loads(options) if options else {})) is not None
