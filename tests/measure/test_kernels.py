"""dse host kernels (dse.measure.kernels): timing code paths, the CSV, resuming, the recorded set.

Live runs here use the fast mode (one or two timed runs per kernel) on tiny suites and check
completeness and consistency, never speeds. Figures are checked on the recorded dataset
``calibration/host/kernels.csv`` only, for invariants that hold on any machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from dse.catalog import catalog_dir
from dse.cli import main
from dse.devices import Catalog
from dse.measure.kernels import (
    FEATURE_COLUMNS,
    KERNEL_COLUMNS,
    KernelsError,
    Machine,
    _kernel_sums,
    _read_journal,
    cost_model_predictor,
    journal_path,
    kernel_features,
    read_kernels,
    run_kernels,
    time_kernel,
)
from dse.workloads.kernel_suite import KernelSpec, random_specs

RECORDED = catalog_dir("calibration") / "host" / "kernels.csv"
RECORDED_HOST = catalog_dir("calibration") / "host"
TINY = KernelSpec("eltwise", {"op": "Add", "shape": [1, 8, 4, 4], "shape_b": [1, 8, 1, 1],
                              "const_b": True})


def _fake_predict(frame: pd.DataFrame) -> np.ndarray:
    """A predictor that is badly wrong on convolutions only."""
    return np.where(frame["family"] == "conv", 1.0, 1e-5)


def test_kernel_sums_per_run_from_a_profiler_trace():
    events = [{"cat": "Session", "name": "model_run", "ts": 0, "dur": 100},
              {"cat": "Node", "name": "a_kernel_time", "ts": 10, "dur": 20,
               "args": {"op_name": "Conv"}},
              {"cat": "Session", "name": "model_run", "ts": 200, "dur": 100},
              {"cat": "Node", "name": "a_kernel_time", "ts": 210, "dur": 30,
               "args": {"op_name": "Conv"}},
              {"cat": "Node", "name": "b_fence_before", "ts": 245, "dur": 0},
              {"cat": "Node", "name": "b_kernel_time", "ts": 250, "dur": 5,
               "args": {"op_name": "Relu"}},
              {"cat": "Session", "name": "model_run", "ts": 400, "dur": 100},
              {"cat": "Node", "name": "b_kernel_time", "ts": 420, "dur": 7,
               "args": {"op_name": "Relu"}},
              {"cat": "Node", "name": "a_kernel_time", "ts": 410, "dur": 8,
               "args": {"op_name": "FusedConv"}},
              {"cat": "Node", "name": "c_kernel_time", "ts": 405, "dur": 3,
               "args": {"op_name": "ReorderInput"}}]
    sums, layout, ops = _kernel_sums(events, runs=2)
    assert sums == pytest.approx([35e-6, 18e-6])
    assert layout == pytest.approx([0.0, 3e-6])  # the layout conversion's share
    assert ops == "ReorderInput+FusedConv+Relu"  # execution order of the last run


def test_time_kernel_fast_mode_is_complete():
    run = time_kernel(TINY, 1, warmup=1, repeats=2)
    cols = run.columns()
    assert cols["run_n"] == cols["kernel_n"] == 2 and cols["warmup"] >= 1
    assert cols["layout_median_s"] == 0.0  # an Add runs in the plain layout
    for kind in ("kernel", "run"):
        assert 0 < cols[f"{kind}_min_s"] <= cols[f"{kind}_p10_s"] <= cols[f"{kind}_median_s"] \
            <= cols[f"{kind}_p90_s"]
    assert cols["ort_ops"] == "Add"


def test_a_tiny_suite_then_a_rerun_that_skips_everything(tmp_path):
    out = tmp_path / "k.csv"
    seen = []
    result = run_kernels(out, threads=(1, 2), zoo=False, random=3, adaptive=2, seed=5,
                         predict=_fake_predict, warmup=1, repeats=1,
                         progress=lambda d, t, label: seen.append((d, t, label)))
    table = read_kernels(out)
    assert result.timed == len(table) == 10 and not result.failed and not result.stopped
    assert list(table.columns) == list(KERNEL_COLUMNS)
    assert Counter_of(table["source"]) == {"random": 6, "adaptive": 4}
    assert set(table["threads"]) == {1, 2} and table["key"].is_unique
    assert not journal_path(out).exists()
    assert seen[-1][0] == seen[-1][1] and seen[-1][2] == "done"
    machine = Machine.this()
    assert set(table["cpu"]) == {machine.cpu} and set(table["cores"]) == {machine.cores}
    # adaptive draws (two rounds of one) are perturbations of kernels timed before them
    assert set(table.loc[table["source"] == "adaptive", "family"]) <= set(
        table.loc[table["source"] == "random", "family"])
    again = run_kernels(out, threads=(1, 2), zoo=False, random=3, adaptive=2, seed=5,
                        predict=_fake_predict, warmup=1, repeats=1)
    assert again.timed == 0 and again.resumed == 10 and len(again.table) == 10
    more = run_kernels(out, threads=(1,), zoo=False, random=3, adaptive=3, seed=5,
                       predict=_fake_predict, warmup=1, repeats=1)
    assert more.timed == 1 and len(more.table) == 11  # the one adaptive kernel missing
    over = run_kernels(out, threads=(1,), zoo=False, random=2, adaptive=0, seed=5, repeats=1,
                       fresh=True)
    assert over.timed == 2 and over.resumed == 0 and len(read_kernels(out)) == 2


def Counter_of(values):
    from collections import Counter

    return dict(Counter(values))


def test_the_budget_stops_new_kernels_and_keeps_the_done(tmp_path):
    out = tmp_path / "k.csv"
    result = run_kernels(out, threads=(1,), zoo=False, random=4, adaptive=3, budget_min=1e-9,
                         predict=_fake_predict, repeats=1)
    assert result.stopped and result.timed == 0 and result.skipped_budget == 4
    assert read_kernels(out).empty


def test_killed_run_resumes_without_losing_finished_kernels(tmp_path):
    out = tmp_path / "k.csv"
    journal = journal_path(out)
    n = 40
    cmd = [sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())",
           "host", "kernels", "--no-zoo", "--random", str(n), "--adaptive", "0", "--threads",
           "1", "--repeats", "1", "--seed", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and journal.exists()
    finished = {r["key"] for r in _read_journal(journal)}
    assert len(finished) >= 3
    result = run_kernels(out, threads=(1,), zoo=False, random=n, adaptive=0, seed=2, repeats=1)
    table = read_kernels(out)
    assert len(table) == n and finished <= set(table["key"])
    assert result.resumed == len(finished) and result.timed == n - len(finished)
    assert not journal.exists()


def test_ctrl_c_writes_the_finished_kernels(tmp_path):
    out = tmp_path / "k.csv"
    journal = journal_path(out)
    cmd = [sys.executable, "-c", "import sys; from dse.cli import main; sys.exit(main())",
           "host", "kernels", "--no-zoo", "--random", "200", "--adaptive", "0", "--threads",
           "1", "--repeats", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and b"aborted" in err and b"Traceback" not in err
    assert not journal.exists() and 2 <= len(read_kernels(out)) < 200


def test_a_torn_journal_line_is_dropped_a_bad_one_named(tmp_path):
    journal = tmp_path / "k.csv.journal"
    journal.write_text('{"key": "a", "family": "x"}\n{"key": "b", "fam')
    assert [r["key"] for r in _read_journal(journal)] == ["a"]
    journal.write_text('{"key": "a"}\nnot json\n{"key": "c"}\n')
    with pytest.raises(KernelsError, match=r"k.csv.journal: line 2: expected a JSON row"):
        _read_journal(journal)


def _write(path, frame):
    frame.to_csv(path, index=False)
    return path


def test_read_kernels_names_file_line_and_every_problem(tmp_path):
    with pytest.raises(KernelsError, match="no such file"):
        read_kernels(tmp_path / "missing.csv")
    good = read_kernels(RECORDED).head(3).copy()
    bad = _write(tmp_path / "cols.csv", good.drop(columns=["kernel_median_s", "cpu"]))
    with pytest.raises(KernelsError, match=r"cols.csv: line 1: missing columns "
                                           r"kernel_median_s, cpu"):
        read_kernels(bad)
    broken = good.astype(object)
    broken.loc[0, "params"] = "{oops"
    broken.loc[1, "threads"] = "two"
    broken.loc[2, "run_median_s"] = "-1"
    broken.loc[2, "family"] = "convolution"
    path = _write(tmp_path / "rows.csv", broken)
    with pytest.raises(KernelsError) as info:
        read_kernels(path)
    text = str(info.value)
    assert "rows.csv: line 2: params: expected a JSON object" in text
    assert "rows.csv: line 3: threads: expected a whole number, got 'two'" in text
    assert "rows.csv: line 4: run_median_s: expected seconds >= 0, got '-1'" in text
    assert "rows.csv: line 4: family: unknown family name 'convolution'" in text
    assert len(info.value.problems) == 4


def test_bad_settings_are_one_error(tmp_path):
    with pytest.raises(KernelsError) as info:
        run_kernels(tmp_path / "k.csv", threads=(0,), runtime="tvm", budget_min=0, random=-1,
                    repeats=0)
    text = str(info.value)
    for part in ("threads: expected whole numbers >= 1", "runtime: expected one of "
                 "onnxruntime, got 'tvm'", "budget: expected minutes > 0",
                 "random: expected a count >= 0", "repeats: expected >= 1"):
        assert part in text
    assert not (tmp_path / "k.csv").exists()


def test_cli_bad_input_exits_2_without_traceback(capsys, tmp_path):
    assert main(["host", "kernels", "--threads", "1,x", "--out", str(tmp_path / "k.csv")]) == 2
    assert "--threads: 1,x: expected whole numbers" in capsys.readouterr().err
    assert main(["host", "kernels", "--runtime", "openvino", "--out",
                 str(tmp_path / "k.csv")]) == 2
    err = capsys.readouterr().err
    assert "runtime: expected one of onnxruntime, got 'openvino'" in err
    assert "Traceback" not in err


def test_cli_fast_run_writes_the_csv(capsys, tmp_path):
    out = tmp_path / "k.csv"
    assert main(["host", "kernels", "--no-zoo", "--random", "2", "--adaptive", "0",
                 "--threads", "1", "--repeats", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "timed 2 (kernel, threads) pairs" in text and f"wrote {out}" in text
    assert len(read_kernels(out)) == 2


def test_cost_model_predictor_prices_every_family():
    host = Catalog(catalog_dir("devices"), RECORDED_HOST).device("host")
    specs = random_specs(60, seed=4)
    frame = pd.DataFrame({"family": [s.family for s in specs],
                          "params": [s.params_json for s in specs], "threads": 1})
    one = cost_model_predictor(host)(frame)
    two = cost_model_predictor(host)(frame.assign(threads=2))
    assert np.isfinite(one).all() and (one > 0).all()
    assert (two <= one * (1 + 1e-9)).all()  # a second thread never makes a layer slower


# ----- the recorded dataset ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def recorded() -> pd.DataFrame:
    return read_kernels(RECORDED)


def test_recorded_dataset_names_its_machine_and_covers_the_suite(recorded):
    assert len(recorded) >= 300
    assert set(recorded["threads"]) == {1, 2}
    assert recorded["key"].is_unique
    assert (recorded["cpu"].str.len() > 0).all() and (recorded["cores"] >= 1).all()
    assert (recorded["ort_version"].str.len() > 0).all() and (recorded["date"] != "").all()
    assert recorded["source"].str.startswith("zoo:").sum() >= 100
    assert recorded["family"].nunique() >= 10


def test_recorded_timings_are_ordered_statistics(recorded):
    for kind in ("kernel", "run"):
        lo, p10, mid, p90 = (recorded[f"{kind}_{s}_s"] for s in ("min", "p10", "median", "p90"))
        assert (lo > 0).all() and (lo <= p10 * 1.0001).all() and (p10 <= mid * 1.0001).all()
        assert (mid <= p90 * 1.0001).all() and (recorded[f"{kind}_n"] >= 3).all()


def test_recorded_rows_rebuild_to_their_features(recorded):
    sample = recorded.drop_duplicates("params").sample(25, random_state=0)
    for _, row in sample.iterrows():
        spec = KernelSpec.from_json(row["family"], row["params"])
        features = kernel_features(spec)
        for col, value in features.items():
            assert row[col] == value, (row["family"], col)
        assert Machine(row["cpu"], int(row["cores"]), row["ort_version"],
                       row["runtime"]).key(spec, int(row["threads"])) == row["key"]
    assert set(FEATURE_COLUMNS) < set(KERNEL_COLUMNS)


def test_recorded_params_are_canonical_json(recorded):
    for text in recorded["params"].head(50):
        assert json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) == text


def test_time_kernel_separates_the_layout_conversions_of_a_lone_conv():
    spec = KernelSpec("conv", {"act": "relu", "bn": False, "cin": 16, "cout": 32, "dilation": 1,
                               "groups": 1, "h": 14, "w": 14, "kh": 3, "kw": 3,
                               "pads": [1, 1, 1, 1], "sh": 1, "sw": 1})
    cols = time_kernel(spec, 1, warmup=1, repeats=3).columns()
    reorders = [op for op in cols["ort_ops"].split("+") if op.startswith("Reorder")]
    if not reorders:
        pytest.skip("ONNX Runtime runs this conv without the NCHWc layout on this CPU")
    # the conversions are part of the kernel time, never all of it
    assert 0 < cols["layout_min_s"] <= cols["layout_median_s"] < cols["kernel_median_s"]
