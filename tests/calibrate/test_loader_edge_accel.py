"""The ``edge_accel`` loader on the shared table edge_accel_small_tables.csv."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dse
from dse.calibrate.loaders import data_dir, load
from dse.calibrate.measurements import COLUMNS
from dse.devices import default_catalog

FILE = "edge_accel_small_tables.csv"
pytestmark = pytest.mark.skipif(not (data_dir() / FILE).is_file(),
                                reason=f"shared table {FILE} not found")
KEY = [c for c in COLUMNS if c not in ("value", "unit", "source", "dataset")]


@pytest.fixture(scope="module")
def result():
    return load("edge_accel")


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(data_dir() / FILE, comment="#")


def test_counts_and_reasons(result):
    m, u = result.measurements, result.unmapped
    assert len(m) == 36 and len(u) == 66
    reasons = u["reason"].value_counts()
    assert reasons["no zoo model"] == 27
    assert reasons[[r for r in reasons.index if r.startswith("desktop CPU")]].sum() == 18
    assert reasons[[r for r in reasons.index if "0.75" in r]].sum() == 15
    assert reasons[[r for r in reasons.index if r.startswith("SSD input size")]].sum() == 6
    # the Coral page gives 7 zoo models on 3 columns, Allan 15 SSD MobileNet v2 rows
    assert (m["source"].str.startswith("page:")).sum() == 21
    assert set(m.loc[~m["source"].str.startswith("page:"), "workload"]) == {"ssd_mobilenet_v2"}
    assert not m.duplicated(KEY).any()


def test_usb_links_hosts_and_precisions(result):
    m = result.measurements
    allan = m[~m["source"].str.startswith("page:")]
    sticks = allan[allan.device.isin(["coral_usb", "ncs", "ncs2"])]
    assert {(r.device, r.host, r.link) for r in sticks.itertuples()} == {
        (d, h, link) for d in ("coral_usb", "ncs", "ncs2")
        for h, link in (("raspberry_pi3bplus", "usb2"), ("raspberry_pi4", "usb3"))}
    assert set(sticks.loc[sticks.device != "coral_usb", "precision"]) == {"fp16"}
    nano = allan[allan.device == "jetson_nano_gpu"].set_index("precision")["value"].to_dict()
    assert nano == {"fp32": 309.3, "fp16": 72.3}
    pis = allan[allan.device.str.startswith("rpi")]
    assert len(pis) == 6 and set(pis.precision) == {"fp32", "int8"} and set(pis.threads) == {4}
    assert set(m["policy"]) == {"single"} and set(m["metric"]) == {"latency"}


def test_spot_checks_against_the_raw_table(result, raw):
    m = result.measurements

    def measured(device, host, link, workload, precision):
        hit = m[(m.device == device) & (m.host == host) & (m.link == link)
                & (m.workload == workload) & (m.precision == precision)]
        assert len(hit) == 1
        return hit.iloc[0]

    def source(device, model, framework=None):
        hit = raw[(raw.device == device) & (raw.model == model)]
        if framework:
            hit = hit[hit.note.str.contains(f"framework={framework};", regex=False)]
        assert len(hit) == 1
        return float(hit.iloc[0].value)

    row = measured("ncs2", "raspberry_pi3bplus", "usb2", "ssd_mobilenet_v2", "fp16")
    assert row.value == source("Intel NCS2 (Myriad X) (USB2)",
                               "SSD MobileNet v2 (COCO, 300x300)") == 118.6
    assert row.value_si == pytest.approx(0.1186)
    row = measured("rpi4_cpu", "raspberry_pi4", "", "ssd_mobilenet_v2", "int8")
    assert row.value == source("Raspberry Pi 4", "SSD MobileNet v2 (COCO, 300x300)",
                               "TensorFlow Lite") == 112.6
    assert row.value_si == pytest.approx(0.1126)
    row = measured("coral_devboard_tpu", "coral_devboard", "", "resnet50", "int8")
    assert row.value == source("Coral Dev Board Edge TPU", "ResNet-50 V1 (299x299)") == 56.0
    assert row.value_si == pytest.approx(0.056)
    assert json.loads(row.options) == {"resolution": 299}


def test_every_device_host_and_link_is_in_the_catalog(result):
    cat = default_catalog()
    m = result.measurements
    assert set(m["device"]) <= set(cat.devices)
    assert set(m["host"]) <= set(cat.platforms)
    assert set(m["link"]) - {""} <= set(cat.links)


def test_every_workload_builds(result):
    m = result.measurements
    for (zoo, options, precision), _ in m.groupby(["workload", "options", "precision"]):
        opts = json.loads(options) if options else {}
        assert dse.workload(zoo, precision=precision, **opts) is not None


def test_quantized_ssd_file_on_edge_tpu_and_tflite(result):
    """Allan's Edge TPU and TFLite SSD MobileNet v2 rows ran the quantized detection file
    (quantized config, with TFLite_Detection_PostProcess); the float frameworks the float
    config."""
    m = result.measurements
    ssd = m[m["workload"] == "ssd_mobilenet_v2"]
    for runtime, options in zip(ssd["runtime"], ssd["options"], strict=True):
        opts = json.loads(options) if options else {}
        if runtime in ("edgetpu", "tflite_cpu"):
            assert opts == {"box_kernel": 1, "depthwise_extras": False, "postprocess": True}
        else:
            assert "postprocess" not in opts
