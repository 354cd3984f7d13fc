"""Every experiment in experiments/ loads, says what it asks, and simulates (a few frames)."""

from __future__ import annotations

import pytest

import dse
from dse.catalog import catalog_dir

EXPERIMENTS = sorted(catalog_dir("experiments").glob("*.yaml"))
SEEDS = {"multi_ncs", "mobile_soc_coexec", "dpu_multithread", "edgetpu_pipeline",
         "unpu_compare", "ncs_vs_mobile"}


def test_one_experiment_per_seed_study():
    assert {p.stem for p in EXPERIMENTS} >= SEEDS


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_runs(path):
    text = path.read_text()
    assert text.lstrip().startswith("#"), "an experiment starts with comments saying its question"
    experiment = dse.load_experiment(path)
    report = dse.simulate(experiment, overrides={"stream.frames": 30, "stream.warmup": 3})
    if report.infeasible:
        pytest.fail(f"{path.name}: first configuration is infeasible: {report.infeasible}")
    m = report.metrics
    assert m is not None and m.throughput_fps > 0
    assert len(m.frames) / m.makespan_s <= report.bound.throughput_fps * (1 + 1e-9)
