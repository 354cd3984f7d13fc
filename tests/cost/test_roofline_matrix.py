"""The roofline of every zoo model on every catalog device: tables always, plots sampled.

Rendering all ~800 plots takes minutes; the test renders every device on one model and every
model on one device, checks each file is a real PNG/SVG, and checks every table of the full
matrix for the roofline invariants. (The full matrix was rendered and looked at by hand; the
command is in the closing note of issue 3.)
"""

from __future__ import annotations

import numpy as np
import pytest

from dse import workload
from dse.cost import roofline
from dse.devices import default_catalog
from dse.report import plot_roofline
from dse.workloads import zoo


def _precision(device) -> str:
    return "int8" if "int8" in device.peak_ops_s else device.precisions[0]


@pytest.fixture(scope="module")
def cat():
    return default_catalog()


def _roof(cat, model, device_name):
    device = cat.device(device_name)
    precision = _precision(device)
    link = cat.link(device.link) if device.link else None
    return roofline(workload(model, precision=precision), device, precision, link=link)


@pytest.mark.parametrize("model", zoo.names())
def test_every_device_prices_every_layer_within_its_roofline(cat, model):
    for name in cat.devices:
        layers = _roof(cat, model, name).layers
        peak = cat.device(name).peak_ops_s[_precision(cat.device(name))]
        assert np.isfinite(layers["time_s"]).all() and (layers["time_s"] >= 0).all()
        busy = layers["time_s"] > 0
        assert (layers.loc[busy, "achieved_ops_s"] <= peak * (1 + 1e-9)).all(), (model, name)
        assert (layers["achieved_ops_s"] <= layers["attainable_ops_s"] * (1 + 1e-9)).all()
        assert set(layers["bound"]) <= {"compute", "memory", "stream", "overhead"}


def _check_files(paths):
    png, svg = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "</svg>" in text


def test_plot_every_device_on_mobilenet_v2(cat, tmp_path):
    for name in sorted(cat.devices):
        _check_files(plot_roofline(_roof(cat, "mobilenet_v2", name), tmp_path / name))
    assert not list(tmp_path.glob(".*.tmp"))


def test_plot_every_model_on_coral_usb(cat, tmp_path):
    for model in zoo.names():
        _check_files(plot_roofline(_roof(cat, model, "coral_usb"), tmp_path / model))
