"""Benchmarks of the search (deselected by default; run with ``-m benchmark -s``, smoke mode
with ``DSE_BENCH_SMOKE=1``: 10 trials, see tests/benchmarks/timing.py).

- 1,000 trials of ``multi_ncs.yaml`` with the default storage (a journal file), one worker and
  two; the goal is <= 60 s for one worker on this 2-core machine.
- Overhead per trial (sampler + storage + simulation) against bare Optuna with an in-memory study
  sampling the same space and doing nothing, measured in the same run.
"""

from __future__ import annotations

import time

import optuna
import pytest

import dse
from dse.catalog import catalog_dir
from dse.search.space import suggest
from tests.benchmarks.timing import finite, pick

pytestmark = pytest.mark.benchmark

TRIALS = pick(1000, 10)


def _experiment():
    return dse.load_experiment(catalog_dir("experiments") / "multi_ncs.yaml")


def test_thousand_trials_one_and_two_workers(tmp_path):
    exp = _experiment()
    times = {}
    for workers in (1, 2):
        start = time.perf_counter()
        result = dse.explore(exp, trials=TRIALS, workers=workers, out=tmp_path / f"w{workers}",
                             sampler="random", seed=0)
        times[workers] = time.perf_counter() - start
        assert len(result.trials) == TRIALS
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bare = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                               sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    bare.optimize(lambda t: (suggest(t, exp.dimensions) and 0.0, 0.0, 0.0), n_trials=TRIALS)
    bare_s = time.perf_counter() - start
    print(f"\n{TRIALS} trials of multi_ncs (500 frames each), journal storage: 1 worker "
          f"{times[1]:.1f} s ({times[1] / TRIALS * 1e3:.1f} ms/trial; goal <= 60 ms), 2 workers "
          f"{times[2]:.1f} s (speed-up {times[1] / times[2]:.2f}x); bare Optuna in memory "
          f"{bare_s / TRIALS * 1e3:.2f} ms/trial, so dse's overhead per trial is "
          f"{(times[1] - bare_s) / TRIALS * 1e3:.1f} ms ({times[1] / bare_s:.0f}x bare)")
    finite(one_worker_s=times[1], two_workers_s=times[2], speed_up=times[1] / times[2],
           bare_s=bare_s, overhead_x=times[1] / bare_s)
