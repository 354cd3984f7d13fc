"""Several workers on one study: every worker runs the experiment as loaded (overrides
included), and a grid runs every configuration exactly once however many workers share it."""

from __future__ import annotations

import copy

import optuna
import pandas as pd
import yaml

from dse.api import explore
from dse.cli import main
from dse.search.space import suggest
from dse.search.storage import WORKER_DIED, Liveness, journal_storage
from dse.spec.experiment import load_experiment
from tests.search.test_explore import SMALL

GRID = {**copy.deepcopy(SMALL), "search": {"sampler": "grid", "seed": 0}}
GRID_SIZE = 3 * 2 * 2


def _params(trials: pd.DataFrame) -> list[tuple]:
    cols = sorted(c for c in trials.columns if c.startswith("param:"))
    return [tuple(r) for r in trials[cols].itertuples(index=False)]


def test_overrides_reach_every_worker(tmp_path, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))  # raspberry_pi4 in the file
    out = tmp_path / "out"
    code = main(["explore", str(path), "--workers", "2", "--trials", "4", "--out", str(out),
                 "--set", "platform.host=raspberry_pi5"])
    assert code == 0, capsys.readouterr().err
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4
    assert all(p.startswith("raspberry_pi5+") for p in trials["platform"]), \
        trials["platform"].tolist()


def test_an_experiment_object_goes_to_the_workers_as_it_is(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    exp = load_experiment(path, overrides=["stream.frames=20", "platform.host=raspberry_pi5"])
    trials = explore(exp, out=tmp_path / "out", trials=4, workers=2).trials
    assert all(p.startswith("raspberry_pi5+") for p in trials["platform"])


def test_a_grid_with_two_workers_runs_every_point_once(tmp_path):
    trials = explore(GRID, out=tmp_path, workers=2).trials
    assert len(trials) == GRID_SIZE
    assert (trials["state"] == "COMPLETE").all()
    assert len(set(_params(trials))) == GRID_SIZE


def test_a_resumed_grid_runs_only_the_missing_points(tmp_path):
    first = explore(GRID, out=tmp_path, trials=5).trials
    assert len(first) == 5 and len(set(_params(first))) == 5
    again = explore(GRID, out=tmp_path, workers=2).trials
    assert len(again) == GRID_SIZE and len(set(_params(again))) == GRID_SIZE
    assert set(_params(first)) <= set(_params(again))
    assert again[again["trial"] < 5]["trial"].tolist() == first["trial"].tolist()
    assert len(explore(GRID, out=tmp_path, workers=2).trials) == GRID_SIZE  # nothing to do


def test_a_grid_point_whose_worker_died_runs_again(tmp_path):
    explore(GRID, out=tmp_path, trials=4)
    # a worker took a queued point and died with it: the trial stays RUNNING in the journal
    study = optuna.load_study(study_name="small", storage=journal_storage(
        tmp_path / "small.journal"))
    done = {tuple(sorted(t.params.items())) for t in study.trials}
    space = {"platform.accelerators.ncs2.count": [1, 2, 3],
             "execution.policy": ["data_parallel", "threads"], "execution.threads": [1, 2]}
    point = next(p for p in ({"platform.accelerators.ncs2.count": n, "execution.policy": pol,
                              "execution.threads": th}
                             for n in space["platform.accelerators.ncs2.count"]
                             for pol in space["execution.policy"]
                             for th in space["execution.threads"])
                 if tuple(sorted(p.items())) not in done)
    study.enqueue_trial(point)
    zombie = study.ask()
    suggest(zombie, load_experiment(GRID).dimensions)  # and died simulating it
    assert zombie.params == point and study.trials[-1].state.name == "RUNNING"
    result = explore(GRID, out=tmp_path, workers=2)
    trials = result.trials
    failed = trials[trials["state"] == "FAIL"]
    assert failed["trial"].tolist() == [zombie.number]
    assert failed["reason"].tolist() == [WORKER_DIED]
    complete = trials[trials["state"] == "COMPLETE"]
    assert len(complete) == GRID_SIZE == len(set(_params(complete)))
    assert any("dead worker" in n for n in result.notes)


def test_running_trials_of_a_live_process_are_left_alone(tmp_path):
    explore(SMALL, out=tmp_path, trials=2)
    study = optuna.load_study(study_name="small", storage=journal_storage(
        tmp_path / "small.journal"))
    running = study.ask()
    suggest(running, load_experiment(SMALL).dimensions)
    alive = Liveness(tmp_path / "small.journal")  # that process, still alive
    try:
        result = explore(SMALL, out=tmp_path, trials=3)
        states = {t.number: t.state.name for t in result.study.trials}
        assert states[running.number] == "RUNNING"
        assert not result.notes
    finally:
        alive.close()
    # once it is gone, its trial is a zombie
    result = explore(SMALL, out=tmp_path, trials=3)
    states = {t.number: t.state.name for t in result.study.trials}
    assert states[running.number] == "FAIL"


def test_a_worker_killed_before_choosing_parameters_leaves_a_failed_trial_only(tmp_path):
    explore(SMALL, out=tmp_path, trials=3)
    study = optuna.load_study(study_name="small", storage=journal_storage(
        tmp_path / "small.journal"))
    zombie = study.ask()  # killed right after taking the trial: no parameters yet
    result = explore(SMALL, out=tmp_path, trials=4)
    trials = result.trials
    row = trials[trials["trial"] == zombie.number].iloc[0]
    assert row["state"] == "FAIL" and row["reason"] == WORKER_DIED
    assert row[[c for c in trials.columns if c.startswith("param:")]].isna().all()
    # whole-number parameters stay whole numbers (a gap must not turn 2 into 2.0)
    assert {type(v) for v in trials["param:execution.threads"].dropna()} == {int}
    assert "threads: 2" in (tmp_path / "best_1.yaml").read_text() or \
        "threads: 1" in (tmp_path / "best_1.yaml").read_text()
