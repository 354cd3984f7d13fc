"""One calibration default everywhere: every command that predicts runs the devices with the
shipped overlays unless told ``--calibration datasheet``, and says which it used."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from dse.calibrate import predict
from dse.calibrate.loaders import load
from dse.cli import main
from dse.devices import default_catalog
from dse.devices.calibrated import (
    calibrated_catalog,
    calibration_line,
    catalog_for,
    overlay_dir,
    resolve_overlay,
)
from dse.devices.overlay import apply_overlay, load_overlay
from dse.errors import DseError, SpecError
from dse.run import simulate

MV2_ON_CORAL = """\
name: mv2_coral
workload: {zoo: mobilenet_v2}
platform:
  host: raspberry_pi4
  accelerators: {coral_usb: 1}
  link: usb3
execution:
  policy: single
  devices: [coral_usb]
stream: {frames: 12}
"""


def _roofline_ms(calibration: str, capsys: pytest.CaptureFixture[str]) -> tuple[float, str]:
    assert main(["roofline", "coral_usb", "mobilenet_v2", "--no-plot", "--json",
                 "--calibration", calibration]) == 0
    captured = capsys.readouterr()
    layers = pd.read_json(io.StringIO(captured.out))
    return float(layers["time_s"].sum()) * 1e3, captured.err


@pytest.mark.parametrize("calibration", ["shipped", "datasheet"])
def test_roofline_is_a_lower_bound_of_simulate_with_the_same_calibration(
        calibration, tmp_path, capsys):
    experiment = tmp_path / "mv2.yaml"
    experiment.write_text(MV2_ON_CORAL)
    roof_ms, said = _roofline_ms(calibration, capsys)
    report = simulate(experiment, overrides=[f"calibration={calibration}"])
    assert report.metrics is not None
    sim_ms = report.metrics.latency_ms["p50"]
    # the roofline leaves out the per-inference fixed cost, the USB transfers and the host's
    # work: a lower bound on one frame alone, and not an order of magnitude below it
    assert roof_ms <= sim_ms <= 8 * roof_ms, (roof_ms, sim_ms)
    if calibration == "shipped":
        assert said.startswith("devices: calibrated (shipped overlays: coral_usb)")
    else:
        assert said.startswith("devices: datasheet values")


def test_roofline_default_is_the_calibrated_device(capsys):
    default_ms, _ = _roofline_ms("shipped", capsys)
    assert main(["roofline", "coral_usb", "mobilenet_v2", "--no-plot", "--json"]) == 0
    assert float(pd.read_json(io.StringIO(capsys.readouterr().out))["time_s"].sum()) * 1e3 \
        == pytest.approx(default_ms)
    datasheet_ms, _ = _roofline_ms("datasheet", capsys)
    assert default_ms != pytest.approx(datasheet_ms, rel=0.1)


def _predicted(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[np.ndarray, str]:
    assert main(["predict", "mobile_soc", "--device", "kirin970_npu", "--json", *flags]) == 0
    captured = capsys.readouterr()
    return pd.read_json(io.StringIO(captured.out))["predicted"].to_numpy(), captured.err


def _npu_rows() -> pd.DataFrame:
    data = load("mobile_soc").measurements
    return data[data["device"] == "kirin970_npu"].reset_index(drop=True)


def test_predict_uses_the_shipped_overlay_by_default(capsys):
    rows = _npu_rows()
    # the overlay file below is these rows' target: hiai's timing includes the host's work
    assert set(rows["runtime"]) == {"hiai"} and set(rows["host"]) == {"hikey970"}
    fitted = apply_overlay(default_catalog().device("kirin970_npu"),
                           load_overlay(overlay_dir() / "kirin970_npu@hiai@hikey970.yaml"))
    expected = predict(fitted, rows, catalog=calibrated_catalog())
    default, said = _predicted(capsys)
    np.testing.assert_allclose(default, expected, rtol=1e-9)
    assert said.strip() == "devices: calibrated (shipped overlays: kirin970_npu@hiai@hikey970)"
    shipped, _ = _predicted(capsys, "--overlay", "shipped")
    np.testing.assert_allclose(shipped, default, rtol=1e-12)
    measured = rows["value_si"].to_numpy()
    datasheet, said = _predicted(capsys, "--calibration", "datasheet")
    assert said.startswith("devices: datasheet values")
    np.testing.assert_allclose(datasheet, predict(default_catalog().device("kirin970_npu"),
                                                  rows, catalog=default_catalog()), rtol=1e-9)
    # what calibration is for: the fitted device is far closer to the measurements
    assert np.mean(np.abs(default / measured - 1)) < np.mean(np.abs(datasheet / measured - 1)) / 5


def test_predict_text_says_which_values(capsys):
    assert main(["predict", "mobile_soc", "--device", "kirin970_npu"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("devices: calibrated (shipped overlays: kirin970_npu@hiai@hikey970)")
    assert "(shipped overlays)" in text
    assert main(["predict", "mobile_soc", "--device", "kirin970_npu", "--overlay", "shipped",
                 "--calibration", "datasheet"]) == 2
    assert "give one or the other" in capsys.readouterr().err


def test_overlay_shipped_in_devices_show(capsys):
    assert main(["devices", "show", "coral_usb", "--overlay", "shipped", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["fitted"] == json.loads(calibrated_catalog().device("coral_usb")
                                        .model_dump_json())
    assert data["fitted"] != data["spec"]
    assert "devices: calibrated (shipped overlays: coral_usb)" in captured.err
    # the target on one host has its own overlay
    assert main(["devices", "show", "coral_usb", "--overlay", "shipped", "--runtime", "edgetpu",
                 "--host", "raspberry_pi4", "--json"]) == 0
    on_pi = json.loads(capsys.readouterr().out)["fitted"]
    assert on_pi["overhead_per_inference_s"] != data["fitted"]["overhead_per_inference_s"]
    # a device without one: said so, exit 2
    assert main(["devices", "show", "ncs2", "--overlay", "shipped"]) == 2
    assert "no overlay shipped for 'ncs2'" in capsys.readouterr().err


def test_predict_names_each_target_and_refuses_a_missing_shipped_overlay(capsys):
    # ncnn's Jetson GPU rows: the target (runtime x host) has an overlay, the device's default
    # runtime has none; the rows are predicted with the target's and the line says so
    assert main(["predict", "ncnn", "--device", "jetson_nano_gpu", "--overlay", "shipped"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("devices: calibrated (shipped overlays: jetson_nano_gpu@ncnn_vulkan")
    # no overlay for any target of the NCS2 rows: --overlay shipped is refused, the default
    # says it runs on datasheet values
    assert main(["predict", "edge_accel", "--device", "ncs2", "--overlay", "shipped"]) == 2
    assert "no overlay shipped for 'ncs2'" in capsys.readouterr().err
    assert main(["predict", "edge_accel", "--device", "ncs2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("devices: datasheet values (ncs2@") and "(datasheet)" in text


def test_devices_show_fitted_column_follows_the_calibration(capsys):
    assert main(["devices", "show", "coral_usb", "--json"]) == 0
    assert "fitted" in json.loads(capsys.readouterr().out)
    assert main(["devices", "show", "coral_usb", "--json", "--calibration", "datasheet"]) == 0
    assert "fitted" not in json.loads(capsys.readouterr().out)
    assert main(["devices", "show", "coral_usb"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("devices: calibrated") and "fitted" in text


def test_devices_list_uses_the_calibrated_catalog(capsys):
    assert main(["devices", "--json"]) == 0
    captured = capsys.readouterr()
    devices = json.loads(captured.out)["devices"]
    assert devices["kirin970_npu"] == json.loads(
        calibrated_catalog().device("kirin970_npu").model_dump_json())
    assert captured.err.startswith("devices: calibrated (shipped overlays: ")
    assert main(["devices", "--json", "--calibration", "datasheet"]) == 0
    devices = json.loads(capsys.readouterr().out)["devices"]
    assert devices["kirin970_npu"] == json.loads(
        default_catalog().device("kirin970_npu").model_dump_json())


def test_catalog_for_is_the_one_choice(tmp_path):
    assert catalog_for() is calibrated_catalog()
    assert catalog_for("datasheet") is default_catalog()
    with pytest.raises(DseError, match="unknown calibration 'calibrated'; known calibrations: "
                                       "datasheet, shipped"):
        catalog_for("calibrated")  # type: ignore[arg-type]
    # an extra catalog folder keeps the overlays on the built-in devices (or leaves them off)
    (tmp_path / "mine.yaml").write_text("base: ncs2\nprice_usd: 1\n")
    shipped = catalog_for("shipped", folders=[tmp_path])
    assert "mine" in shipped.devices
    assert shipped.device("coral_usb") == calibrated_catalog().device("coral_usb")
    datasheet = catalog_for("datasheet", folders=[tmp_path])
    assert datasheet.device("coral_usb") == default_catalog().device("coral_usb")
    assert calibration_line(shipped, "shipped", ["coral_usb", "mine"]) == (
        "devices: calibrated (shipped overlays: coral_usb); datasheet values for mine "
        "(no overlay)")


def test_resolve_overlay():
    label, overlay = resolve_overlay("shipped", "kirin970_npu", host="hikey970")
    assert label.endswith("kirin970_npu@hiai@hikey970.yaml") and overlay.device == "kirin970_npu"
    with pytest.raises(SpecError, match="unknown device 'kirin970_np'"):
        resolve_overlay("shipped", "kirin970_np")
