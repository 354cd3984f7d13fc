"""The throwaway PostgreSQL server works, including an Optuna study shared by two processes."""

from __future__ import annotations

import multiprocessing

import optuna
import sqlalchemy as sa

N_WORKERS = 2
TRIALS_PER_WORKER = 4


def test_roundtrip(postgres_url):
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT inet_server_addr()::text")).scalar() in (
                "127.0.0.1", "127.0.0.1/32")
            conn.execute(sa.text("CREATE TABLE fixture_check (id integer PRIMARY KEY, name text)"))
            conn.execute(sa.text("INSERT INTO fixture_check VALUES (1, 'edge')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM fixture_check")).all()
        assert [tuple(r) for r in rows] == [(1, "edge")]
    finally:
        engine.dispose()


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    return (x - 2.0) ** 2


def _worker(url: str, study_name: str) -> None:
    """Runs in a spawned process: load the shared study by name and add trials to it."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=url)
    study.optimize(_objective, n_trials=TRIALS_PER_WORKER)


def test_optuna_study_across_processes(postgres_url):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = "fixture-two-workers"
    optuna.create_study(storage=postgres_url, study_name=name)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_worker, args=(postgres_url, name)) for _ in range(N_WORKERS)]
    for proc in workers:
        proc.start()
    try:
        for proc in workers:
            proc.join(timeout=60)
    finally:
        for proc in workers:
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert [proc.exitcode for proc in workers] == [0] * N_WORKERS

    study = optuna.load_study(study_name=name, storage=postgres_url)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * (N_WORKERS * TRIALS_PER_WORKER)
    assert len({t.number for t in study.trials}) == N_WORKERS * TRIALS_PER_WORKER
