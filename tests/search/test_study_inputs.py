"""What a study does with trouble: a trial that raises is an infeasible trial (the traceback
logged), an unreachable storage or an out-of-range setting is bad input (exit 2), never a
traceback labelled as a bug."""

from __future__ import annotations

import copy
import logging
import math

import pytest
import yaml

import dse.search.study as study_mod
from dse.api import explore
from dse.cli import main
from dse.errors import DseError, SpecError
from dse.search.storage import HEARTBEAT_S
from tests.search.test_explore import SMALL


def test_a_trial_that_raises_is_an_infeasible_trial(tmp_path, monkeypatch, caplog):
    real = study_mod.evaluate

    def flaky(experiment, params, *args, **kw):
        if params["execution.threads"] == 2:
            raise IndexError("list index out of range")
        return real(experiment, params, *args, **kw)

    monkeypatch.setattr(study_mod, "evaluate", flaky)
    data = {**copy.deepcopy(SMALL), "search": {"trials": 8, "sampler": "random", "seed": 3}}
    with caplog.at_level(logging.WARNING, logger="dse.search.study"):
        result = explore(data, out=tmp_path)
    trials = result.trials
    assert len(trials) == 8 and (trials["state"] == "COMPLETE").all()
    bad = trials[trials["param:execution.threads"] == 2]
    good = trials[trials["param:execution.threads"] == 1]
    assert len(bad) and len(good)
    assert not bad["feasible"].any()
    assert set(bad["reason"]) == {"IndexError: list index out of range"}
    assert good["feasible"].all()
    logged = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(logged) == len(bad)
    assert all(r.levelno == logging.WARNING and r.exc_info and r.exc_info[0] is IndexError
               for r in logged)
    assert "IndexError: list index out of range" in (tmp_path / "trials.csv").read_text()


@pytest.mark.parametrize(("url", "reason"), [
    ("sqlite:////nonexistent/dir/x.db", r"OperationalError.*unable to open database file"),
    ("postgresql+psycopg2://nobody:secret@127.0.0.1:1/x", r"OperationalError.*127.0.0.1.*"
                                                          r"port 1 failed"),
    ("not a url", r"ArgumentError: Could not parse"),
])
def test_an_unusable_storage_url_is_bad_input(tmp_path, url, reason):
    with pytest.raises(DseError, match=r"--storage: .*cannot open storage URL: " + reason):
        explore(SMALL, out=tmp_path, trials=1, storage=url)


def test_cli_storage_error_exits_2_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    code = main(["explore", str(path), "--trials", "1", "--out", str(tmp_path / "out"),
                 "--storage", "postgresql+psycopg2://nobody:secret@127.0.0.1:1/x"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot open storage URL" in err and "Traceback" not in err
    assert "secret" not in err and "nobody:***@" in err
    assert len(err.strip().splitlines()) <= 3


@pytest.mark.parametrize(("kw", "message"), [
    ({"trials": 0}, r"--trials: must be a whole number from 1 to 100,000, got 0"),
    ({"trials": 100_001}, r"--trials: must be a whole number from 1 to 100,000, got 100001"),
    ({"workers": 0}, r"--workers: must be from 1 to \d+ \(4 per CPU core\), got 0"),
    ({"workers": 10_000}, r"--workers: must be from 1 to \d+ .*got 10000"),
    ({"timeout_s": 0}, r"--timeout: must be a number of seconds > 0, got 0"),
    ({"timeout_s": -5.0}, r"--timeout: must be a number of seconds > 0, got -5.0"),
    ({"timeout_s": math.inf}, r"--timeout: must be a number of seconds > 0, got inf"),
    ({"sampler": "annealing"}, r"--sampler: unknown sampler 'annealing'"),
])
def test_settings_out_of_range(tmp_path, kw, message):
    with pytest.raises(SpecError, match=message):
        explore(SMALL, out=tmp_path, **kw)
    assert not (tmp_path / "small.journal").exists()  # refused before anything was opened


def test_search_trials_out_of_range_names_the_yaml_path(tmp_path):
    data = {**copy.deepcopy(SMALL), "search": {"trials": 10**6}}
    with pytest.raises(SpecError, match=r"search.trials: must be <= 100000, got 1000000"):
        explore(data, out=tmp_path)


def test_cli_bounds_exit_2(tmp_path, capsys):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    assert main(["explore", str(path), "--workers", "100000", "--out", str(tmp_path)]) == 2
    assert "--workers: must be from 1 to" in capsys.readouterr().err


def test_a_grid_larger_than_the_trial_limit_is_refused(tmp_path):
    data = {**copy.deepcopy(SMALL), "stream": {"frames": {"min": 1, "max": 100_000}},
            "search": {"sampler": "grid"}}
    with pytest.raises(SpecError, match=r"search.sampler: a grid of 1,200,000 configurations "
                                         r"is more than 100,000"):
        explore(data, out=tmp_path)


def test_a_storage_url_runs_with_optunas_heartbeat(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = explore(SMALL, out=tmp_path, trials=2, storage=url)
    assert len(result.trials) == 2 and not (tmp_path / "small.journal").exists()
    # the heartbeat lets Optuna fail the trials of dead workers (fail_stale_trials)
    assert result.study._storage.get_heartbeat_interval() == HEARTBEAT_S
    assert result.study.metric_names == ["throughput_fps", "price_usd"]
