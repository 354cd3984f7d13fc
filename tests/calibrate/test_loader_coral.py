"""The ``coral`` loader on the shared table coral_edgetpu_reference_benchmarks.csv."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dse
from dse.calibrate.loaders import data_dir, load
from dse.calibrate.measurements import COLUMNS
from dse.devices import default_catalog

FILE = "coral_edgetpu_reference_benchmarks.csv"
pytestmark = pytest.mark.skipif(not (data_dir() / FILE).is_file(),
                                reason=f"shared table {FILE} not found")
KEY = [c for c in COLUMNS if c not in ("value", "unit", "source", "dataset")]


@pytest.fixture(scope="module")
def result():
    return load("coral")


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(data_dir() / FILE, comment="#")


def test_counts_and_reasons(result):
    m, u = result.measurements, result.unmapped
    assert len(m) == 42 and len(u) == 268
    reasons = u["reason"].value_counts()
    assert reasons[[r for r in reasons.index if "decode/resize" in r]].sum() == 210
    assert reasons["two-model co-compilation rows: not yet loaded"] == 20
    assert reasons[[r for r in reasons.index if "Raspberry Pi 3B v1.2" in r]].sum() == 16
    assert reasons[[r for r in reasons.index if "Xeon E5-1650 v3 CPU" in r]].sum() == 7
    assert reasons["no zoo model"] == 11
    assert reasons[[r for r in reasons.index if r.startswith("duplicate")]].sum() == 4
    # every source row is accounted for, once
    assert len(m) + len(u) == 310


def test_devices_hosts_and_links(result):
    m = result.measurements
    per = m.groupby(["device", "host", "link"]).size().to_dict()
    assert per == {
        ("coral_devboard_tpu", "coral_devboard", ""): 6, ("imx8m_cpu", "coral_devboard", ""): 6,
        ("coral_usb", "raspberry_pi3bplus", "usb2"): 6,
        ("rpi3bplus_cpu", "raspberry_pi3bplus", ""): 6,
        ("coral_usb", "raspberry_pi4", "usb3"): 6, ("rpi4_cpu", "raspberry_pi4", ""): 6,
        ("coral_usb", "x86_desktop", "usb3"): 6,
    }
    assert set(m["precision"]) == {"int8"} and set(m["policy"]) == {"single"}
    assert set(m["metric"]) == {"latency"} and set(m["unit"]) == {"ms"}
    assert not m.duplicated(KEY).any()


def test_spot_checks_against_the_raw_table(result, raw):
    m = result.measurements

    def measured(device, host, link, workload):
        hit = m[(m.device == device) & (m.host == host) & (m.link == link)
                & (m.workload == workload)]
        assert len(hit) == 1
        return hit.iloc[0]

    def source(machine, model):
        hit = raw[(raw.machine_key == machine) & (raw.model == model)
                  & (raw.metric == "inference_latency")]
        assert len(hit) == 1
        return float(hit.iloc[0].value)

    row = measured("coral_usb", "raspberry_pi3bplus", "usb2", "inception_v4")
    assert row.value == source("rp3b+", "inception_v4_299_quant_edgetpu") == 1054.94
    assert row.value_si == pytest.approx(1.05494)
    row = measured("imx8m_cpu", "coral_devboard", "", "mobilenet_v1")
    assert row.value == source("aarch64", "mobilenet_v1_1.0_224_quant") == 184.99
    assert row.value_si == pytest.approx(0.18499)
    assert json.loads(row.options) == {"width": 1.0, "resolution": 224}
    row = measured("coral_usb", "raspberry_pi4", "usb3", "ssd_mobilenet_v2")
    assert row.value == pytest.approx(source("rp4b", "mobilenet_ssd_v2_coco_quant_postprocess_edgetpu"))
    assert row.value_si == pytest.approx(0.018179043)


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
