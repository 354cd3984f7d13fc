"""The ``tflite`` loader: TFLite's published phone latencies as dse measurements."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dse
from dse.calibrate.loaders import data_dir, load, tflite
from dse.devices import default_catalog

FILE = data_dir() / tflite.FILENAME
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason=f"{FILE} not present")


@pytest.fixture(scope="module")
def result():
    return load("tflite")


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(FILE, keep_default_na=False, dtype=str)


def test_counts_of_mapped_and_left_out_rows(result, raw):
    assert len(raw) == 181
    assert len(result.measurements) == 3
    assert result.unmapped["reason"].value_counts().to_dict() == {
        tflite.NO_DEVICE["Google Pixel 3 (Snapdragon 845), Android 10"]: 155,
        tflite.NO_DEVICE["Apple iPhone XS (A12)"]: 10,
        tflite.PIXEL4_CPU: 6,
        tflite.NNAPI: 6,
        "no zoo model": 1,
    }
    assert len(result.measurements) + len(result.unmapped) == len(raw)
    assert result.unmapped["row"].is_unique


@pytest.mark.parametrize(
    ("model", "workload", "options"),
    [
        ("Mobilenet_1.0_224(float)", "mobilenet_v1", {"resolution": 224, "width": 1.0}),
        ("SqueezeNet", "squeezenet1_0", {}),
        ("Inception_V4", "inception_v4", {}),
    ],
)
def test_spot_check_against_the_raw_table(result, raw, model, workload, options):
    rows = raw[(raw["device"] == tflite.PIXEL4) & (raw["backend"] == "GPU")
               & (raw["model"] == model)]
    assert len(rows) == 1
    value = float(rows.iloc[0]["value"])
    assert rows.iloc[0]["unit"] == "ms"
    m = result.measurements
    row = m[m["workload"] == workload].iloc[0]
    assert (row["device"], row["host"], row["link"]) == ("adreno640", "pixel4", "")
    assert row["options"] == (json.dumps(options, sort_keys=True) if options else "")
    # the GPU delegate's default on Android allows fp16
    assert row["precision"] == "fp16"
    assert (row["policy"], row["threads"], row["streams"], row["count"]) == ("single", 1, 1, 1)
    assert (row["metric"], row["unit"]) == ("latency", "ms")
    assert row["value"] == pytest.approx(value)
    assert row["value_si"] == pytest.approx(value * 1e-3)


def test_pixel4_cpu_and_nnapi_are_left_out(result):
    u = result.unmapped
    pixel4 = u[u["device"] == tflite.PIXEL4]
    assert set(pixel4["reason"]) == {tflite.PIXEL4_CPU, tflite.NNAPI, "no zoo model"}


def test_devices_hosts_and_workloads_exist(result):
    catalog = default_catalog()
    m = result.measurements
    for device, host in set(zip(m["device"], m["host"], strict=True)):
        assert device in catalog.devices
        assert device in catalog.platform(host).accelerators
    for zoo, options, precision in set(zip(m["workload"], m["options"], m["precision"],
                                           strict=True)):
        kwargs = json.loads(options) if options else {}
        assert dse.workload(zoo, precision=precision, **kwargs).macs > 0
