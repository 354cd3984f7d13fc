"""dse explore: a real study end to end, reproducible, resumable, robust to a kill, and
shared by workers (local processes on a journal file, and a real PostgreSQL server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

import dse
from dse.api import explore
from dse.errors import SpecError

SMALL = {
    "name": "small",
    "workload": {"zoo": "mobilenet_v1", "precision": "fp16", "options": {"width": 0.25,
                                                                         "resolution": 128}},
    "platform": {"host": "raspberry_pi4", "accelerators": {"ncs2": {"count": {"min": 1,
                                                                              "max": 3}}},
                 "link": "usb3_hub"},
    "execution": {"policy": ["data_parallel", "threads"], "threads": [1, 2],
                  "preprocess_s": 0.001},
    "stream": {"frames": 40},
    "objectives": [{"maximize": "throughput_fps"}, {"minimize": "price_usd"}],
    "constraints": {"latency_p99_ms": {"max": 200}},
    "search": {"trials": 6, "sampler": "random", "seed": 3},
}


def test_study_end_to_end(tmp_path):
    result = explore(SMALL, out=tmp_path)
    assert len(result.trials) == 6
    names = {p.name for p in tmp_path.iterdir()}
    assert {"trials.csv", "trials.parquet", "pareto.csv", "pareto.png", "pareto.svg",
            "report.md", "best_1.yaml", "small.journal"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    front = result.pareto
    assert len(front) >= 1 and front["feasible"].all()
    assert "# small: design-space exploration" in (tmp_path / "report.md").read_text()
    # best_1.yaml is runnable and reproduces its trial's metrics exactly
    report = dse.simulate(tmp_path / "best_1.yaml")
    row = front.iloc[0]
    assert report.metrics.throughput_fps == pytest.approx(row["value:throughput_fps"])
    assert report.metrics.price_usd == pytest.approx(row["value:price_usd"])
    assert "reproduce: dse simulate best_1.yaml" in (tmp_path / "best_1.yaml").read_text()


def test_a_seed_reproduces_the_study(tmp_path):
    a = explore(SMALL, out=tmp_path / "a").trials
    b = explore(SMALL, out=tmp_path / "b").trials
    cols = [c for c in a.columns if c.startswith(("param:", "value:"))]
    assert a[cols].equals(b[cols])


def test_resume_runs_only_what_is_missing(tmp_path):
    first = explore(SMALL, out=tmp_path, trials=3).trials
    again = explore(SMALL, out=tmp_path, trials=5).trials
    assert len(first) == 3 and len(again) == 5
    cols = [c for c in first.columns if c.startswith(("param:", "value:"))]
    assert again[cols].head(3).equals(first[cols])
    assert len(explore(SMALL, out=tmp_path, trials=5).trials) == 5  # nothing left to do


def test_infeasible_points_are_results_with_reasons(tmp_path):
    data = {**SMALL, "constraints": {"throughput_fps": {"min": 1e9}},
            "execution": {**SMALL["execution"], "devices": {"choices": [["ncs2"], ["rpi4_cpu"]]}}}
    result = explore(data, out=tmp_path, trials=6)
    trials = result.trials
    assert len(trials) == 6 and not trials["feasible"].any()
    reasons = " | ".join(trials["reason"])
    assert "throughput bound" in reasons          # pruned by the closed-form bound
    assert result.pareto.empty
    assert "No feasible configuration was found" in (tmp_path / "report.md").read_text()


def test_grid_is_exhaustive(tmp_path):
    data = {**SMALL, "search": {"sampler": "grid", "seed": 0}}
    trials = explore(data, out=tmp_path).trials
    combos = {tuple(r) for r in trials[[c for c in trials.columns if c.startswith("param:")]]
              .itertuples(index=False)}
    assert len(trials) == 3 * 2 * 2 == len(combos)


@pytest.mark.parametrize(("change", "message"), [
    ({"objectives": [{"maximize": "fps"}]}, r"objectives.0.maximize: unknown metric 'fps'; "
                                            r"known metrics: average_power_w, "),
    ({"objectives": [{"maximize": "throughput"}, {"minimize": "latency_p99ms"}]},
     r"objectives.1.minimize: unknown metric 'latency_p99ms'; did you mean 'latency_p99_ms'"),
    ({"objectives": [{"best": "throughput_fps"}]}, r"objectives.0.best: unknown key 'best'; known "
                                                   r"keys: maximize, minimize"),
    ({"objectives": [{"maximize": "throughput_fps", "minimize": "price_usd"}]},
     r"objectives.0: expected \{maximize: METRIC\} or \{minimize: METRIC\}"),
    ({"constraints": {"latency_p99_ms": {"below": 3}}},
     r"constraints.latency_p99_ms.below: unknown key 'below'; known keys: max, min"),
    ({"constraints": {"latency_p99_ms": {"max": float("inf")}}},
     r"constraints.latency_p99_ms.max: "),
    ({"constraints": {"fps": {"max": 3}}}, r"constraints.fps: unknown metric 'fps'"),
    ({"search": {"sampler": "annealing"}}, r"search.sampler: unknown sampler 'annealing'; known "
                                           r"samplers: grid, nsga2, random, tpe"),
    ({"search": {"seed": [[1]]}}, r"search.seed: expected an? int, got \[\[1\]\]"),
    ({"search": {"seed": -1}}, r"search.seed: must be >= 0, got -1"),
    ({"stream": {"frames": 40, "fps": {"min": 10.0, "max": 30.0}}, "search": {"sampler": "grid"}},
     r"stream.fps: a grid search needs a step for a float range"),
])
def test_bad_search_settings(tmp_path, change, message):
    with pytest.raises(SpecError, match=message):
        explore({**SMALL, **change}, out=tmp_path)


def test_two_local_workers_share_the_journal(tmp_path):
    result = explore(SMALL, out=tmp_path, trials=6, workers=2)
    assert len(result.trials) == 6
    assert result.trials["trial"].is_unique


def test_a_killed_search_loses_no_finished_trial(tmp_path):
    path = tmp_path / "exp.json"
    path.write_text(json.dumps({**SMALL, "search": {"trials": 400, "sampler": "random",
                                                     "seed": 1}}))
    code = ("import json, sys, dse.search as s; "
            f"s.explore(json.loads(open({str(path)!r}).read()), out={str(tmp_path / 'out')!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    journal = tmp_path / "out" / "small.journal"
    finished: dict[int, tuple[float, ...]] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(finished) < 5:
        time.sleep(0.5)
        if journal.exists():
            study = optuna.load_study(study_name="small", storage=_journal(journal))
            finished = {t.number: tuple(t.values) for t in study.trials
                        if t.state.name == "COMPLETE"}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(finished) >= 5, "the search did not get going"
    # every trial finished before the kill is still there, with the same values
    study = optuna.load_study(study_name="small", storage=_journal(journal))
    after = {t.number: tuple(t.values) for t in study.trials if t.state.name == "COMPLETE"}
    assert finished.items() <= after.items()
    target = len(after) + 3
    resumed = explore({**SMALL, "search": {"trials": target, "sampler": "random", "seed": 1}},
                      out=tmp_path / "out")
    complete = resumed.trials[resumed.trials["state"] == "COMPLETE"]
    assert len(complete) == target
    assert set(finished) <= set(complete["trial"])


def _journal(path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def test_two_workers_on_postgresql(tmp_path, postgres_url):
    result = explore(SMALL, out=tmp_path, trials=6, workers=2, storage=postgres_url)
    assert len(result.trials) == 6
    study = optuna.load_study(study_name="small", storage=postgres_url)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 6
    assert not (tmp_path / "small.journal").exists()
