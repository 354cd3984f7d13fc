"""The fast forward model of a fit, the new fittable parameters, and the calibrated catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dse.calibrate import calibrate, predict, validate
from dse.calibrate.forward import Forward, overlay_values
from dse.calibrate.params import default_free
from dse.cost import model_cost
from dse.cost.concurrency import contention_slowdown
from dse.devices import default_catalog
from dse.devices.calibrated import calibrated_catalog, is_calibrated, shipped_overlays
from dse.devices.kinds import device_kind
from dse.devices.overlay import Overlay, apply_overlay
from dse.run import simulate
from dse.workloads import workload

MODELS = ["squeezenet1_1", "mobilenet_v1", "resnet18", "googlenet", "mobilenet_v2"]


def frame(device, *, host="raspberry_pi4", precision="fp32", metric="latency", link="",
          threads=(1,), streams=(1,), policy="single", models=MODELS):
    out = []
    for m in models:
        for t in threads:
            for k in streams:
                out.append({"device": device, "host": host, "link": link, "workload": m,
                            "options": "", "precision": precision,
                            "policy": policy if k == 1 else "threads", "threads": t,
                            "streams": k, "count": 1, "metric": metric, "value": 1.0,
                            "unit": {"latency": "s", "throughput": "fps", "power": "W",
                                     "energy": "J"}[metric],
                            "source": "synthetic", "dataset": "synthetic"})
    return validate(pd.DataFrame(out))


def fitted(name, values):
    spec = default_catalog().device(name)
    return apply_overlay(spec, Overlay(device=name, values=overlay_values(spec, values)))


@pytest.mark.parametrize("device,rows,values", [
    ("rpi4_cpu", dict(threads=(1, 2, 4)),
     {"efficiency.default": 0.3, "efficiency.dwconv": 0.1, "overhead_per_inference_s": 1e-3,
      "parallel_fraction": 0.9, "mem_bw_bytes_s": 2e9}),
    ("coral_usb", dict(precision="int8", link="usb3"),
     {"efficiency.default": 0.2, "overhead_per_inference_s": 2e-4,
      "host_overhead_per_inference_s": 1e-3, "overhead_per_layer_s": 1e-5}),
    ("rpi4_cpu", dict(metric="power"), {"efficiency.default": 0.3, "power.active_w": 2.0}),
])
def test_the_fast_path_is_the_cost_model(device, rows, values):
    cat = default_catalog()
    data = frame(device, **rows)
    forward = Forward(cat.device(device), data, list(values), cat)
    assert not forward.slow and not forward.replays
    expected = predict(fitted(device, values), data, catalog=cat)
    np.testing.assert_allclose(forward(values), expected, rtol=1e-9)


def test_concurrent_accelerator_rows_follow_the_closed_loop_law():
    cat = default_catalog()
    data = frame("ncs2", host="raspberry_pi4", precision="fp16", metric="throughput",
                 link="usb3", threads=(4,), policy="threads", models=MODELS[:3])
    values = {"efficiency.default": 0.3, "overhead_per_inference_s": 2e-3,
              "host_overhead_per_inference_s": 1e-3, "slot_scaling": 0.4}
    forward = Forward(cat.device("ncs2"), data, list(values), cat)
    assert len(forward.closed) == 3 and not forward.replays
    fast = forward(values)
    spec = fitted("ncs2", values)
    # the law from the row's own single-inference cost: 4 threads, 2 slots at speed-up 1.4
    for i, r in enumerate(data.itertuples(index=False)):
        cost = model_cost(workload(r.workload, precision="fp16"), spec, "fp16",
                          fallback=cat.device("rpi4_cpu"), link=cat.link("usb3"))
        latency, hold = cost.time_s, cost.device_s + cost.transfer_s
        moved = sum(s.nbytes for s in cost.segments if s.kind == "transfer")
        law = min(4 / latency, 1.4 / hold, 4 / (1e-3 + cost.device_s),
                  cat.link("usb3").bandwidth_bytes_s / moved)
        assert fast[i] == pytest.approx(law, rel=1e-9)
    # the simulator plays it out: never above the law, and near it
    simulated = predict(spec, data, catalog=cat)
    assert (simulated <= fast * (1 + 1e-9)).all()
    np.testing.assert_allclose(simulated, fast, rtol=0.15)


@pytest.mark.parametrize("contention", [None, {"knee": 0.2, "slope": 2.0}])
def test_dpu_cores_on_one_ddr_slow_by_the_contention_law(contention):
    # ZCU102: 3 x B4096 on one PS DDR (14.4 GB/s), 8 threads; the fitter's closed-loop rows and
    # the simulator both slow each core's layers by the DPU's contention law, given the demand
    # of the two other cores (the datasheet default, and a what-if law that bites harder)
    cat = default_catalog()
    base = cat.device("dpu_b4096_zcu102")
    if contention is not None:
        base = base.with_changes("test law", contention=contention)
        cat = cat.with_devices({base.name: base}, replace=True)
    data = frame("dpu_b4096_zcu102", host="zcu102", precision="int8", metric="throughput",
                 threads=(8,), policy="data_parallel", models=["vgg16", "resnet50"])
    data["count"] = 3
    values = {"efficiency.default": 0.8, "host_overhead_per_inference_s": 5e-4}
    forward = Forward(base, data, list(values), cat)
    assert len(forward.closed) == 2
    fast = forward(values)
    spec = apply_overlay(base, Overlay(device=base.name, values=overlay_values(base, values)))
    slowed = []
    for i, r in enumerate(data.itertuples(index=False)):
        w = workload(r.workload, precision="int8")
        cost = model_cost(w, spec, "int8", fallback=cat.device("zynqmp_a53"),
                          link=cat.link("zynq_axi"))
        on = cost.layers["runs_on"] == spec.name
        traffic = float(cost.layers.loc[on, "traffic_bytes"].sum())
        layers_s = cost.device_s - spec.overhead_per_inference_s
        busy = spec.speedup(min(spec.slots, 8))
        own = traffic / layers_s
        slow = contention_slowdown(own, own * (3 * busy - 1), 14.4e9, **spec.contention_law())
        slowed.append(slow)
        device_s = layers_s * slow + spec.overhead_per_inference_s
        time_s = cost.time_s - cost.device_s + device_s
        law = min(3 * 8 / (time_s + 5e-4), 3 * busy / (device_s + cost.transfer_s),
                  4 / (5e-4 + device_s), 14.4e9 / traffic)
        assert fast[i] == pytest.approx(law, rel=1e-9)
    if contention is not None:
        assert min(slowed) > 1.0  # the what-if law bites on both models
    simulated = predict(spec, data, catalog=cat)
    assert (simulated <= fast * (1 + 1e-9)).all()
    np.testing.assert_allclose(simulated, fast, rtol=0.1)


def test_intra_op_threads_scale_compute_by_amdahl():
    cat = default_catalog()
    spec = cat.device("rpi4_cpu")
    w = workload("resnet18")
    one = model_cost(w, spec, threads=1).layers
    four = model_cost(w, spec).layers
    compute = one["compute_s"] > 0
    np.testing.assert_allclose(one["compute_s"][compute] / four["compute_s"][compute], 4.0)
    amdahl = spec.with_changes("test", parallel_fraction=0.8)
    scale = device_kind(amdahl.kind).thread_scale
    assert scale(amdahl, 4) == pytest.approx(1 / (0.2 + 0.8 / 4) / 4)
    assert scale(amdahl, 8) == scale(amdahl, 4)  # no more than the cores


def test_sessions_of_one_thread_share_the_cluster():
    base = {"name": "t", "workload": {"zoo": "mobilenet_v2"},
            "platform": {"host": "raspberry_pi4"}, "calibration": "datasheet",
            "stream": {"frames": 40, "warmup": 8}}
    one = simulate({**base, "execution": {"intra_op_threads": 1}}).metrics.throughput_fps
    four = simulate({**base, "execution": {"policy": "threads", "threads": 4,
                                           "intra_op_threads": 1}}).metrics.throughput_fps
    two = simulate({**base, "execution": {"policy": "threads", "threads": 2,
                                          "intra_op_threads": 1}}).metrics.throughput_fps
    assert two == pytest.approx(2 * one, rel=0.05)
    assert 2 * one < four <= 4 * one * 1.001   # the DRAM is shared


def test_host_overhead_adds_latency_but_threads_overlap_it():
    cat = default_catalog()
    spec = cat.device("ncs2").with_changes("test", host_overhead_per_inference_s=0.01)
    cost = model_cost(workload("mobilenet_v1", precision="fp16"), spec, "fp16",
                      fallback=cat.device("rpi4_cpu"), link=cat.link("usb3"))
    assert cost.segments[0].what == "driver" and cost.time_s > cost.device_s + 0.01
    catalog = cat.with_devices({"ncs2": spec}, replace=True)
    base = {"name": "t", "workload": {"zoo": "mobilenet_v1", "precision": "fp16"},
            "platform": {"host": "raspberry_pi4", "accelerators": {"ncs2": 1}},
            "stream": {"frames": 60, "warmup": 10}}
    single = simulate({**base, "execution": {"policy": "single"}}, catalog=catalog)
    threads = simulate({**base, "execution": {"policy": "threads", "threads": 4,
                                              "infer_requests": 1}}, catalog=catalog)
    assert single.metrics.throughput_fps == pytest.approx(1 / cost.time_s, rel=0.02)
    assert threads.metrics.throughput_fps > 1.2 * single.metrics.throughput_fps


def test_power_and_thread_scaling_are_recovered():
    cat = default_catalog()
    truth = {"efficiency.default": 0.25, "overhead_per_inference_s": 2e-3,
             "parallel_fraction": 0.85, "power.active_w": 3.1}
    data = pd.concat([frame("rpi4_cpu", threads=(1, 4)), frame("rpi4_cpu", metric="power")],
                     ignore_index=True)
    data["value"] = predict(fitted("rpi4_cpu", truth), data, catalog=cat)
    data = validate(data.drop(columns="value_si"))
    assert default_free(cat.device("rpi4_cpu"), data) == tuple(truth)
    cal = calibrate(data, device="rpi4_cpu", free=list(truth), cross_validation=False)
    for k, v in truth.items():
        assert cal.overlay.values[k] == pytest.approx(v, rel=1e-3), k
    with pytest.raises(Exception, match=r"0 power/energy points for 1 free power"):
        calibrate(frame("rpi4_cpu"), device="rpi4_cpu", free=["efficiency.default",
                                                              "power.active_w"])


def test_the_shipped_overlays_make_the_calibrated_catalog():
    overlays = shipped_overlays()
    assert len(overlays) >= 20
    cat = calibrated_catalog()
    for name, overlay in overlays.items():
        assert is_calibrated(cat, name) and not is_calibrated(default_catalog(), name)
        if "hosts" in overlay.provenance:  # a host-independent summary of per-host fits
            assert all(f"{name}@{h}" in overlays for h in overlay.provenance["hosts"])
        else:
            assert {"data", "fitted_on", "uncertainty_log_sd", "points"} <= \
                set(overlay.provenance)
    exp = {"name": "t", "workload": {"zoo": "mobilenet_v2"},
           "platform": {"host": "odroid_xu4"}, "stream": {"frames": 30, "warmup": 5}}
    shipped = simulate(exp)
    datasheet = simulate({**exp, "calibration": "datasheet"})
    assert any("fitted overlays" in n for n in shipped.plan.notes)
    assert any("datasheet values for every device" in n for n in datasheet.plan.notes)
    assert shipped.metrics.throughput_fps != datasheet.metrics.throughput_fps


def test_calibrate_catalog_writes_one_overlay_per_device(tmp_path, capsys):
    from dse.cli import main
    from dse.devices.calibrated import shipped_overlays as overlays_in

    assert main(["calibrate-catalog", "--dataset", "mobile_soc", "--out-dir", str(tmp_path),
                 "--no-cv"]) == 0
    assert "kirin970_npu" in capsys.readouterr().out
    written = overlays_in(tmp_path)
    # one overlay per target: ARM Compute Library on the CPUs and GPUs, HiAI (whose timing
    # includes the host's work) on the NPU of its HiKey 970 board
    assert set(written) == {"exynos5422_a7@acl", "exynos5422_a15@acl", "mali_t628@acl",
                            "kirin970_a53@acl", "kirin970_a73@acl", "mali_g72@acl",
                            "kirin970_npu@hiai@hikey970", "kirin970_npu@hiai"}
    assert {o.runtime for o in written.values()} == {"acl", "hiai"}
    written.pop("kirin970_npu@hiai")  # the host-independent summary of the NPU's host fits
    for overlay in written.values():
        assert overlay.provenance["data"] == "mobile_soc"
        assert 0 < overlay.values["efficiency.default"] <= 1


def test_validate_reports_each_kind_of_point(capsys):
    from dse.cli import main

    assert main(["validate", "--dataset", "mobile_soc", "--json"]) == 0
    report = __import__("json").loads(capsys.readouterr().out)
    table = pd.DataFrame(report["rows"])
    assert set(table["kind"]) == {"single"} and len(table) == 7
    assert set(table["runtime"]) == {"acl", "hiai"}
    assert (table["mape"] > 0).all() and (table["within_10"] <= 1).all()
    assert (table["baseline_mape"] > 0).all()
    assert ((table["coverage_90"] >= 0) & (table["coverage_90"] <= 1)).all()
    single = report["overall"]["single"]
    assert single["points"] == table["points"].sum() == 34
    assert 0 <= single["beats_baseline"] <= single["rows_with_baseline"] == 7
    (by_table,) = report["datasets"]  # one table, one kind: the same figures as overall
    assert by_table["dataset"] == "mobile_soc" and by_table["points"] == 34
    assert by_table["mape"] == pytest.approx(single["mape"])
    assert main(["validate", "--dataset", "mobile_soc"]) == 0
    text = capsys.readouterr().out
    assert "kirin970_npu@hiai@hikey970" in text and "by table" in text


def test_predict_cli_reports_the_error_of_every_row(tmp_path, capsys):
    from dse.cli import main

    assert main(["predict", "mobile_soc", "--device", "kirin970_npu", "--json",
                 "--calibration", "datasheet"]) == 0
    datasheet = pd.read_json(__import__("io").StringIO(capsys.readouterr().out))
    assert len(datasheet) == 4 and (datasheet["rel_error"] > 1).all()  # datasheet: optimistic
    overlay = tmp_path / "npu.yaml"
    assert main(["calibrate", "mobile_soc", "--device", "kirin970_npu", "--no-cv",
                 "--out", str(overlay)]) == 0
    capsys.readouterr()
    assert main(["predict", "mobile_soc", "--device", "kirin970_npu", "--overlay",
                 str(overlay)]) == 0
    text = capsys.readouterr().out
    assert "single: 4 points, MAPE" in text
    assert main(["predict", "mobile_soc", "--device", "ncs2"]) == 2
    assert "no rows of 'ncs2'" in capsys.readouterr().err


@pytest.mark.parametrize("contention", [None, {"knee": 0.0, "slope": 100.0}])
def test_sessions_on_a_cpu_replay_latency_and_throughput(contention):
    # with the datasheet law, and with one that slows two sessions for any demand: the replay
    # applies the law on each trial's demands, as the plan of the fitted spec does
    cat = default_catalog()
    base = cat.device("rpi4_cpu")
    if contention is not None:
        base = base.with_changes("test law", contention=contention)
        cat = cat.with_devices({base.name: base}, replace=True)
    data = pd.concat([frame("rpi4_cpu", threads=(1, 2), streams=(2,), metric=metric,
                            models=MODELS[:2]) for metric in ("latency", "throughput")],
                     ignore_index=True)
    values = {"efficiency.default": 0.3, "overhead_per_inference_s": 1e-3,
              "parallel_fraction": 0.9}
    forward = Forward(base, data, list(values), cat)
    assert len(forward.replays) == 8
    spec = apply_overlay(base, Overlay(device=base.name, values=overlay_values(base, values)))
    expected = predict(spec, data, catalog=cat)
    np.testing.assert_allclose(forward(values), expected, rtol=1e-6)
    one = predict(spec, frame("rpi4_cpu", models=MODELS[:2]), catalog=cat)
    assert (expected[[0, 2]] >= one * 0.999).all()  # two sessions share DRAM: never faster
    if contention is not None:
        assert (expected[[0, 2]] > one * 1.01).all()  # and the law slows them
