"""dse measure: ONNX Runtime timings on this machine as measurement rows, and the host device.

Timings on a shared machine are noisy, so the tests that time this machine check properties
(positive, complete, consistent, readable by calibration), never speeds. Figures are checked on
recorded data only: the committed example measurements with the recorded probe of the machine
that took them (``calibration/host/``, written by ``dse host probe``).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pandas as pd
import pytest

import dse
from dse.calibrate import calibrate, predict, read_measurements
from dse.catalog import catalog_dir
from dse.cli import main
from dse.devices import Catalog
from dse.devices.overlay import apply_overlay
from dse.errors import SpecError
from dse.measure import MeasureError, graph_node, measure, node_times, nodes_path
from dse.spec.sources import coverage_problems
from tests.workloads.onnx_cases import small_mlp

TINY_MOBILENET = ("mobilenet_v1", {"width": 0.25, "resolution": 64})
WORKLOADS = ["ds_cnn", "fc_autoencoder", TINY_MOBILENET]
REPEATS = 4
#: The probe of the machine calibration/host_example.csv was measured on (`dse host probe`).
RECORDED_HOST = catalog_dir("calibration") / "host"


def recorded_host_catalog() -> Catalog:
    """The built-in catalog plus the recorded ``host`` device and platform (no probe)."""
    return Catalog(catalog_dir("devices"), RECORDED_HOST)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    result = measure(WORKLOADS, threads=(1, 2), streams=(1, 2), warmup=1, repeats=REPEATS,
                     profile=True)
    out = tmp_path_factory.mktemp("measure") / "host.csv"
    written = result.write(out)
    return result, out, written


def test_csv_reads_back_as_measurements(measured):
    result, out, written = measured
    assert written == [out, nodes_path(out)]
    frame = read_measurements(out)
    assert len(frame) == len(result.measurements) == 3 * 2 * 2 * 2
    assert (frame["value_si"] > 0).all()
    assert set(frame["device"]) == {"host"} and set(frame["host"]) == {"host"}
    assert set(frame["dataset"]) == {"host"} and set(frame["precision"]) == {"fp32"}
    assert set(frame["workload"]) == {"ds_cnn", "fc_autoencoder", "mobilenet_v1"}
    mobilenet = frame[frame["workload"] == "mobilenet_v1"]
    assert {json.loads(o)["width"] for o in mobilenet["options"]} == {0.25}
    assert set(frame.loc[frame["workload"] == "ds_cnn", "options"]) == {""}
    # the rows resolve to dse workloads again, as calibration needs
    assert dse.workload("mobilenet_v1", **json.loads(mobilenet["options"].iloc[0])).macs > 0


def test_a_latency_and_a_throughput_row_per_configuration(measured):
    _, out, _ = measured
    frame = read_measurements(out)
    for metric, unit in (("latency", "ms"), ("throughput", "fps")):
        rows = frame[frame["metric"] == metric]
        assert set(rows["unit"]) == {unit}
        for name in ("ds_cnn", "fc_autoencoder", "mobilenet_v1"):
            configs = set(zip(rows.loc[rows["workload"] == name, "threads"],
                              rows.loc[rows["workload"] == name, "streams"], strict=True))
            assert configs == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert set(frame.loc[frame["streams"] == 1, "policy"]) == {"single"}
    assert set(frame.loc[frame["streams"] == 2, "policy"]) == {"threads"}
    assert (frame["count"] == 1).all()
    assert frame["source"].str.contains("onnxruntime").all()
    assert frame["source"].str.contains(f"{REPEATS} timed runs").all()


def test_run_summary_is_consistent(measured):
    result, _, _ = measured
    runs = result.runs
    assert len(runs) == 12
    assert (runs["n"] == REPEATS * runs["streams"]).all()
    assert (runs["p10_ms"] <= runs["latency_ms"]).all()
    assert (runs["latency_ms"] <= runs["p90_ms"]).all()
    assert (runs["throughput_fps"] > 0).all() and (runs["window_s"] > 0).all()
    # with one stream the window holds exactly the timed runs, back to back
    single = runs[runs["streams"] == 1]
    assert (single["throughput_fps"] * single["window_s"]).round(6).eq(REPEATS).all()


def test_profile_sidecar_names_graph_nodes(measured):
    result, out, _ = measured
    nodes = pd.read_csv(nodes_path(out), keep_default_na=False)
    assert list(nodes.columns) == ["workload", "options", "threads", "node", "graph_node",
                                   "op_type", "median_us", "calls"]
    assert len(nodes) == len(result.nodes)
    assert set(zip(nodes["workload"], nodes["threads"], strict=True)) == {
        (w, t) for w in ("ds_cnn", "fc_autoencoder", "mobilenet_v1") for t in (1, 2)}
    assert (nodes["median_us"] >= 0).all() and (nodes["calls"] >= REPEATS).all()
    for name, opts in (("ds_cnn", {}), ("fc_autoencoder", {}), TINY_MOBILENET):
        graph = set(dse.workload(name, **opts).graph.nodes)
        mine = nodes[nodes["workload"] == name]
        matched = mine[mine["graph_node"] != ""]
        assert set(matched["graph_node"]) <= graph
        assert len(matched) >= 0.8 * len(mine)  # only ORT's own reorder nodes match nothing
    convs = nodes[(nodes["workload"] == "ds_cnn") & (nodes["op_type"] == "Conv")]
    assert len(convs) > 0 and (convs["graph_node"] != "").all()


def test_graph_node_rules():
    graph = {"conv1", "clip1", "mul1", "pooler.dense", "Gemm_0"}
    assert graph_node("conv1", graph) == "conv1"
    assert graph_node("clip1_nchwc", graph) == "clip1"
    assert graph_node("mul1/QuickGeluFusion/", graph) == "mul1"
    assert graph_node("fused pooler.dense", graph) == "pooler.dense"
    assert graph_node("conv1_token_12", graph) == "conv1"
    assert graph_node("ReorderOutput_token_5", graph) == ""
    assert graph_node("Gemm_0", graph) == "Gemm_0"


def test_node_times_keep_the_last_runs_only():
    def run(ts):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": 50}

    def kernel(ts, dur, name="conv1"):
        return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur,
                "args": {"op_name": "Conv"}}

    events = [run(0), kernel(1, 1000), run(100), kernel(101, 10), kernel(102, 5, "r"),
              run(200), kernel(201, 20), kernel(202, 7, "r")]
    table = node_times(events, runs=2, graph_nodes={"conv1"})
    assert table.to_dict("records") == [
        {"node": "conv1", "graph_node": "conv1", "op_type": "Conv", "median_us": 15.0,
         "calls": 2},
        {"node": "r", "graph_node": "", "op_type": "Conv", "median_us": 6.0, "calls": 2}]


def test_an_onnx_file_with_unnamed_nodes(tmp_path):
    proto = small_mlp()
    for node in proto.graph.node:
        node.name = ""
    path = tmp_path / "mlp.onnx"
    onnx.save(proto, str(path))
    result = measure([str(path)], warmup=1, repeats=3, profile=True)
    assert set(result.measurements["workload"]) == {str(path)}
    assert set(result.measurements["options"]) == {""}
    graph = set(dse.workload(str(path)).graph.nodes)
    assert set(result.nodes["graph_node"]) - {""} <= graph
    assert (result.nodes["graph_node"] != "").any()


def test_bad_settings_and_workloads_are_one_error():
    with pytest.raises(MeasureError, match="threads: expected whole numbers >= 1") as info:
        measure(["nosuch", "ds_cnn"], threads=(0, 1), repeats=0)
    text = str(info.value)
    assert "known zoo models" in text and "repeats" in text
    with pytest.raises(MeasureError, match="width"):
        measure(["ds_cnn"], options={"width": 0.5})


def test_cli_errors_without_traceback(capsys, tmp_path):
    assert main(["measure", "nosuch", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "known zoo models" in err and "Traceback" not in err
    assert main(["measure", "ds_cnn", "--threads", "0"]) == 2
    assert "threads" in capsys.readouterr().err
    assert main(["measure", "ds_cnn", "--streams", "1,x"]) == 2
    assert "--streams" in capsys.readouterr().err
    assert main(["measure", str(tmp_path / "missing.onnx")]) == 2
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    assert main(["measure", str(tmp_path / "bad.onnx")]) == 2
    err = capsys.readouterr().err
    assert "missing.onnx" in err and "bad.onnx" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_cli_writes_measurements(capsys, tmp_path):
    out = tmp_path / "out" / "host.csv"
    assert main(["measure", "fc_autoencoder", "--threads", "1,2", "--warmup", "1",
                 "--repeats", "3", "--profile", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fc_autoencoder" in text and f"wrote {out}" in text
    assert len(read_measurements(out)) == 4
    assert nodes_path(out).is_file()


def test_host_is_an_unknown_name_until_probed():
    cat = Catalog()
    assert "host" not in cat.devices and "host" not in cat.platforms
    for lookup in (cat.device, cat.platform, cat.target):
        with pytest.raises(SpecError, match=r"unknown .*'host'.*dse host probe"):
            lookup("host")
    with pytest.raises(SpecError, match=r"unknown host 'host'.*dse host probe"):
        cat.compose("host")
    assert cat.device("x86_avx2").name == "x86_avx2"  # the rest is untouched


def test_calibrate_fits_the_host(measured):
    _, out, _ = measured
    frame = read_measurements(out)
    assert frame["workload"].nunique() >= 3 and set(frame["streams"]) == {1, 2}
    # threads 1 and 2: the Amdahl fraction is freed; two sessions are simulated. The rows are
    # this machine's, the spec the recorded probe's: the fit's code path, not its figures.
    cal = calibrate(frame, device="host", catalog=recorded_host_catalog(),
                    cross_validation=False)
    own = tuple(p for p in cal.free if not p.startswith("shared:"))
    assert own == ("efficiency.default", "overhead_per_inference_s", "parallel_fraction")
    # kernel-class multipliers and the per-kernel cost are shared parameters of the fit
    assert all(p.startswith("shared:efficiency.") or p == "shared:overhead_per_layer_s"
               for p in cal.free if p not in own)
    assert cal.device == "host"
    assert 0 < cal.overlay.values["efficiency.default"] <= 1
    assert len(cal.table) == len(frame) and np.isfinite(cal.table["predicted"]).all()


def test_the_recorded_host_is_the_walk_through_machine():
    cat = recorded_host_catalog()
    spec = cat.device("host")  # the recorded probe, not a live one (conftest refuses that)
    assert cat.files["devices/host"] == RECORDED_HOST / "host.yaml"
    assert (spec.cores, spec.ops_per_cycle_per_core) == (2, {"fp32": 64})
    # the clock measured under load, above the 2.6-2.7 GHz /proc/cpuinfo reports
    assert spec.clock_hz is not None and 3.5e9 < spec.clock_hz < 4.5e9
    assert spec.source_of("clock_hz").kind == "measured"
    assert spec.peak_ops_s["fp32"] == pytest.approx(2 * spec.clock_hz * 64)
    assert coverage_problems(spec, spec.sources, derived=spec.derived) == []
    platform = cat.platform("host")
    assert dict(platform.host) == {"host": 1} and not platform.accelerators
    # the measurements say which machine they are from: the CPU the probe names
    frame = read_measurements(catalog_dir("calibration") / "host_example.csv")
    cpu = spec.description.split(",")[0]
    assert frame["source"].str.contains(cpu, regex=False).all()


def test_the_walk_through_predicts_held_out_models_threads_and_sessions():
    """docs/host_walkthrough.md section 3 on recorded data only: the committed example
    measurements and the recorded spec of the machine that took them, so the figures are
    deterministic."""
    cat = recorded_host_catalog()
    frame = read_measurements(catalog_dir("calibration") / "host_example.csv")
    train = frame["workload"].isin(["mobilenet_v1", "resnet18", "googlenet",
                                    "efficientnet_b0"])
    cal = calibrate(frame[train], device="host", catalog=cat, cross_validation=False)
    host = apply_overlay(cat.device("host"), cal.overlay)
    test = frame[~train].reset_index(drop=True)
    assert set(test["threads"]) == {1, 2} and set(test["streams"]) == {1, 2}
    err = np.abs(predict(host, test, catalog=cat) / test["value_si"].to_numpy() - 1)
    one = (test["streams"] == 1).to_numpy()
    # A regression guard, with the probe recorded on 2026-12-05 (clock 4.01 GHz under load,
    # 25.3 GB/s; the walk-through's section 3 figures were computed with the 2.7 GHz, 15 GB/s
    # detected spec before): MAPE 38.3% one inference at a time, 36.0% two sessions (37.2%
    # overall), worst 96.5%; bounds about 10% above them. Re-recording
    # calibration/host/host.yaml moves these figures.
    assert err[one].mean() < 0.42 and err[~one].mean() < 0.40
    assert err.mean() < 0.41 and err.max() < 1.06
