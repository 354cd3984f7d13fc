"""One cost model: what the fitter predicted is what the simulator runs.

For every shipped overlay, the rows it was fitted to are predicted twice: by the fitter's fast
forward model with the overlay's fitted values (``provenance.fitted``), and by the calibrated
catalog's target spec through :func:`dse.calibrate.predict` (the model cost of one inference,
or the simulator) and :func:`dse.simulate`. One inference at a time they must agree to 1e-9;
with several in flight the simulator plays out what the fitter's closed-loop law bounds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dse.calibrate import predict
from dse.calibrate.forward import Forward, concurrency
from dse.calibrate.shipped import pooled_measurements
from dse.calibrate.targets import with_targets
from dse.devices import default_catalog
from dse.devices.calibrated import calibrated_catalog, shipped_overlays
from dse.run import simulate

ALL = shipped_overlays()
#: Overlays a fit wrote; the rest are host-independent summaries (dse.calibrate.shipped).
OVERLAYS = {n: o for n, o in ALL.items() if "fitted" in o.provenance}


@pytest.fixture(scope="module")
def rows():
    return with_targets(pooled_measurements(), default_catalog())


def _target_rows(rows, name):
    mine = rows[rows["target"] == name]
    return mine[mine["metric"].isin(["latency", "throughput", "power", "energy"])]


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_the_fitter_and_the_calibrated_catalog_predict_the_same(rows, name):
    overlay = OVERLAYS[name]
    data = _target_rows(rows, name).reset_index(drop=True)
    if "power.active_w" not in overlay.provenance["free"]:
        data = data[data["metric"].isin(["latency", "throughput"])].reset_index(drop=True)
    assert len(data) == overlay.provenance["points"]
    datasheet = default_catalog().device(overlay.device)
    fitted = overlay.provenance["fitted"]
    fast = Forward(datasheet, data, list(fitted))(fitted)
    spec = calibrated_catalog().target(overlay.device, overlay.runtime, overlay.host)
    reference = predict(spec, data, catalog=default_catalog())
    single = np.array([concurrency(spec, r) == "single" for r in data.itertuples()])
    np.testing.assert_allclose(fast[single], reference[single], rtol=1e-9)
    if (~single).any():
        # The closed-loop law bounds the simulation from above. The simulator stays within a
        # few percent of it where one resource saturates (most Vitis rows: 0.93-1.0) and falls
        # further below where fallback layers on the host queue behind the DPU threads
        # (EfficientNet-B0: 0.64-0.72): a known bias of the fitter on such rows.
        # Where two resources bind at once the simulator reaches the law, and its finite window
        # (some hundred measured frames) can overshoot by a fraction of a frame: mobilenet_v1
        # 0.25/128 on three ZCU102 cores is 1.0019 of it at 480 frames, 0.9999 at 4,000.
        ratio = reference[~single] / fast[~single]
        assert (ratio <= 1.005).all()
        assert np.median(ratio) > 0.9 and ratio.min() > 0.6


def test_host_independent_overlays_carry_the_shared_device_parameters():
    summaries = {n: o for n, o in ALL.items() if n not in OVERLAYS}
    assert "coral_usb@edgetpu" in summaries
    for name, summary in summaries.items():
        hosts = [OVERLAYS[f"{name}@{h}"] for h in summary.provenance["hosts"]]
        for path, value in summary.values.items():
            if path.startswith("efficiency."):
                assert all(h.values[path] == value for h in hosts)
            elif path == "overhead_per_inference_s":
                costs = [h.values[path] for h in hosts]
                assert min(costs) <= value <= max(costs)


def test_a_what_if_on_a_calibrated_device_inherits_its_fitted_values():
    cat = calibrated_catalog()
    fitted = cat.device("coral_usb")
    summary = ALL["coral_usb@edgetpu"].values
    assert fitted.efficiency_for("default") == summary["efficiency.default"] < 1.0
    assert fitted.overhead_per_inference_s == summary["overhead_per_inference_s"] > 0
    what_if = cat.device_from({"name": "big_tpu", "base": "coral_usb",
                               "onchip_mem_bytes": "16 MiB"}, file="what-if")
    assert what_if.onchip_mem_bytes == 16 * 2**20
    assert what_if.efficiency == fitted.efficiency
    assert what_if.overhead_per_inference_s == fitted.overhead_per_inference_s


def test_simulate_runs_the_fitted_single_inference_cost(rows):
    """dse.simulate of one inference at a time gives the same latency as the fitter."""
    name = next(n for n in sorted(OVERLAYS) if n.startswith("kirin970_a73@acl"))
    overlay = OVERLAYS[name]
    data = _target_rows(rows, name).reset_index(drop=True)
    fitted = overlay.provenance["fitted"]
    fast = Forward(default_catalog().device(overlay.device), data, list(fitted))(fitted)
    for i, r in enumerate(data.itertuples()):
        report = simulate({
            "name": "check",
            "workload": {"zoo": r.workload, "precision": r.precision,
                         "options": json.loads(r.options) if r.options else {}},
            "platform": {"host": r.host},
            "execution": {"policy": "single", "devices": [r.device],
                          "intra_op_threads": int(r.threads)},
            # jitter 0: the fitter predicts the median, without the target's spread
            "stream": {"frames": 5, "warmup": 1, "jitter": 0}})
        assert report.metrics.throughput_fps == pytest.approx(fast[i], rel=1e-6)


def test_the_shipped_catalog_reproduces_the_mobile_soc_table(rows):
    """The calibrated catalog on its own calibration table (in sample): a regression guard on
    the figure the closing note quotes."""
    data = rows[rows["dataset"] == "mobile_soc"].reset_index(drop=True)
    cat = calibrated_catalog()
    errors = []
    for (device, runtime, host), part in data.groupby(["device", "runtime", "target_host"]):
        spec = cat.target(device, runtime, host or None)
        pred = predict(spec, part, catalog=default_catalog())
        errors += list(np.abs(pred / part["value_si"].to_numpy() - 1))
    assert len(errors) == 34
    # 16.1% when the overlays were fitted; 13.8% before the priors on fixed costs, which cost
    # in-sample fit on 4-5 points per target (the Kirin NPU's fixed cost is pulled down).
    assert float(np.mean(errors)) < 0.18


def test_devices_show_a_target(capsys):
    from dse.cli import main

    assert main(["devices", "show", "coral_usb", "--runtime", "edgetpu", "--host",
                 "raspberry_pi4"]) == 0
    text = capsys.readouterr().out
    assert "target: coral_usb under edgetpu" in text and "fitted" in text
    assert main(["devices", "show", "ncs2", "--runtime", "openvino_myriad"]) == 0
    assert "no overlay fitted on this target" in capsys.readouterr().out
    assert main(["devices", "show", "coral_usb", "--runtime", "acl"]) == 2
    assert "runs on cpu, gpu devices" in capsys.readouterr().err
