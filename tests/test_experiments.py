"""Every experiment in experiments/ loads, says what it asks, and simulates (a few frames)."""

from __future__ import annotations

import json

import pytest

import dse
from dse.catalog import catalog_dir
from dse.spec.sweep import is_sweep_file

#: Sweep files (``dse sweep FILE``, dse.spec.sweep) sit beside the experiments; they state a
#: model family, not a workload.
SWEEPS = sorted(p for p in catalog_dir("experiments").glob("*.yaml") if is_sweep_file(p))
EXPERIMENTS = sorted(set(catalog_dir("experiments").glob("*.yaml")) - set(SWEEPS))
SEEDS = {"multi_ncs", "mobile_soc_coexec", "dpu_multithread", "edgetpu_pipeline",
         "unpu_compare", "ncs_vs_mobile"}


def test_one_experiment_per_seed_study():
    assert {p.stem for p in EXPERIMENTS} >= SEEDS


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_runs(path):
    text = path.read_text()
    assert text.lstrip().startswith("#"), "an experiment starts with comments saying its question"
    experiment = dse.load_experiment(path)
    short = {"stream.frames": 30, "stream.warmup": 3}
    # the bound holds exactly for deterministic service times (stream.jitter 0); with the
    # targets' spreads, 30 draws may average a little below the median
    report = dse.simulate(experiment, overrides={**short, "stream.jitter": 0})
    if report.infeasible:
        pytest.fail(f"{path.name}: first configuration is infeasible: {report.infeasible}")
    m = report.metrics
    assert m is not None and m.throughput_fps > 0
    assert len(m.frames) / m.makespan_s <= report.bound.throughput_fps * (1 + 1e-9)
    spread = dse.simulate(experiment, overrides=short).metrics
    assert spread is not None
    assert spread.latency_ms["p99"] > spread.latency_ms["p50"]


EXPLORED = ["multi_ncs", "mobile_soc_coexec", "edgetpu_pipeline", "what_to_buy"]


@pytest.mark.parametrize("name", EXPLORED)
def test_experiment_explores(name, tmp_path):
    path = catalog_dir("experiments") / f"{name}.yaml"
    experiment = dse.load_experiment(path, overrides={"stream.frames": 30, "stream.warmup": 3})
    assert experiment.dimensions, f"{name} has nothing to search"
    result = dse.explore(experiment, trials=4, out=tmp_path)
    assert len(result.trials) == 4
    report = (tmp_path / "report.md").read_text()
    asked = next(line for line in path.read_text().splitlines() if line.startswith("# Question:"))
    # the report opens with the answer to the question in the file's header
    assert report.index("## Answer") < report.index("## What was searched")
    assert asked.removeprefix("# Question:").strip() in report
    assert (tmp_path / "report.html").is_file()


def test_edgetpu_pipeline_cuts_are_in_order_and_one_tpu_is_searched(tmp_path):
    path = catalog_dir("experiments") / "edgetpu_pipeline.yaml"
    experiment = dse.load_experiment(path, overrides={"stream.frames": 30, "stream.warmup": 3})
    result = dse.explore(experiment, out=tmp_path)  # the grid: every combination
    trials = result.trials
    assert not trials["reason"].str.contains("out of order").any()
    stages = trials["param:execution.stages"].map(lambda s: len(json.loads(s)))
    count = trials["param:platform.accelerators.coral_usb.count"]
    # infeasible exactly when a split has more stages than TPUs bought
    assert (trials["feasible"] == (stages <= count)).all()
    baseline = trials[(count == 1) & (stages == 1)]
    assert len(baseline) == 2 and baseline["feasible"].all()  # on each host
    # an idle TPU changes nothing that runs: those trials are merged into fewer TPUs
    front = result.pareto
    assert (front["param:platform.accelerators.coral_usb.count"] ==
            front["param:execution.stages"].map(lambda s: len(json.loads(s)))).all()


def test_what_to_buy_finds_a_platform_that_sustains_30_fps(tmp_path):
    result = dse.explore(catalog_dir("experiments") / "what_to_buy.yaml", out=tmp_path)
    assert len(result.trials) == 40
    best = result.pareto.iloc[0]
    assert best["throughput_fps"] >= 29.7 and best["latency_p99_ms"] <= 100
    feasible = result.trials[result.trials["feasible"]]
    assert best["price_usd"] == feasible["price_usd"].min()


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_file_loads_and_says_what_it_asks(path):
    from dse.spec.sweep import load_sweep
    from dse.sweep.evaluate import Targets, family_names, resolve_targets

    assert path.read_text().startswith("# Question:")
    spec = load_sweep(path)
    assert spec.family in family_names()
    assert len(resolve_targets(Targets(tuple(spec.targets), calibration=spec.calibration))) \
        == len(spec.targets)
