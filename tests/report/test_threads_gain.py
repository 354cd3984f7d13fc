"""The gain-from-threads characterisation (the multithreading study's shape) of a small study."""

from __future__ import annotations

import pandas as pd
import pytest

import dse
from dse.catalog import catalog_dir
from dse.report.threads_gain import threads_gain


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("threads")
    experiment = dse.load_experiment(
        catalog_dir("experiments") / "dpu_characterise.yaml",
        overrides={"workload.zoo": ["resnet8", "resnet50"], "stream.frames": 60,
                   "stream.warmup": 5, "stream.jitter": 0,
                   "platform.accelerators": {"choices": [{"dpu_b512": 1}, {"dpu_b4096": 1}]},
                   "execution.threads": [1, 2, 4]})
    return dse.explore(experiment, out=out), out


def test_one_row_per_model_and_accelerator_with_a_gain_per_thread_count(study):
    result, _ = study
    gain = threads_gain(result)
    assert gain is not None and gain.threads == (1, 2, 4)
    t = gain.table
    assert sorted(zip(t["workload"], t["device"], strict=True)) == [
        ("resnet50", "dpu_b4096"), ("resnet50", "dpu_b512"),
        ("resnet8", "dpu_b4096"), ("resnet8", "dpu_b512")]
    assert (t["gain:1"] == 1.0).all()
    assert ((t["off_share"] > 0) & (t["off_share"] < 1)).all()


def test_gain_never_beats_full_overlap_nor_the_thread_count(study):
    # Threads only overlap off-accelerator work with the one accelerator core: throughput can
    # reach at most the accelerator's own rate, 1 / (1 - h) times the single-thread rate (with
    # deterministic service times), and never more than the threads' count times it. With 4
    # threads on 4 cores, frames finish in bursts of 4: the steady-state window
    # (dse.metrics.summary) spans whole bursts, or it would read up to 5% above the bound.
    t = threads_gain(study[0]).table
    for threads in (2, 4):
        assert (t[f"gain:{threads}"] <= t["ideal_gain"] * (1 + 1e-9)).all()
        assert (t[f"gain:{threads}"] <= threads * (1 + 1e-9)).all()


def test_a_model_mostly_off_the_accelerator_gains_more(study):
    # resnet8 (25 MOPs) spends its frame in host pre/post-processing; resnet50 on a B512 is
    # nearly all DPU time
    t = threads_gain(study[0]).table.set_index(["workload", "device"])
    small, large = t.loc[("resnet8", "dpu_b512")], t.loc[("resnet50", "dpu_b512")]
    assert small["off_share"] > 0.8 > 0.2 > large["off_share"]
    assert small["best_gain"] > 2.0 and large["best_gain"] < 1.3


def test_the_report_has_the_section_figure_and_table(study):
    _, out = study
    report = (out / "report.md").read_text()
    assert "## What host threads gain, per model" in report
    assert report.index("What host threads gain") < report.index("## What was searched")
    assert (out / "threads_gain.png").is_file()
    table = pd.read_csv(out / "threads_gain.csv")
    assert len(table) == 4 and {"off_share", "best_gain", "gain:4"} <= set(table.columns)


def test_no_threads_dimension_no_section(tmp_path):
    experiment = dse.load_experiment(
        catalog_dir("experiments") / "dpu_characterise.yaml",
        overrides={"workload.zoo": ["resnet8", "ds_cnn"], "stream.frames": 20,
                   "execution.threads": 2, "platform.accelerators": {"dpu_b512": 1}})
    result = dse.explore(experiment, out=tmp_path)
    assert threads_gain(result) is None
    assert "What host threads gain" not in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "threads_gain.csv").exists()


@pytest.mark.parametrize("warmup", [3, 4, 5, 6])
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_steady_state_throughput_never_reads_above_the_bound(warmup, threads):
    # Frames finishing in bursts of one per thread: a window starting mid-burst used to count a
    # burst too many (1,139 fps against a bound of 1,085 with 4 threads, 60 frames, warm-up 5).
    report = dse.simulate(catalog_dir("experiments") / "dpu_characterise.yaml", overrides={
        "workload.zoo": "resnet8", "platform.accelerators": {"dpu_b512": 1},
        "execution.threads": threads, "stream.frames": 60, "stream.warmup": warmup,
        "stream.jitter": 0})
    assert report.metrics.throughput_fps <= report.bound.throughput_fps * (1 + 1e-9)
