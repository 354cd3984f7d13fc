"""Benchmarks of the search (deselected by default; run with ``-m benchmark -s``, smoke mode
with ``DSE_BENCH_SMOKE=1``: 10 trials, see tests/benchmarks/timing.py).

- 1,000 trials of ``multi_ncs.yaml`` with the default storage (a journal file), one worker and
  two: the search loop (``write=False``: the study, its trials and the trials table; goal
  <= 30 s for one worker, two >= 1.8x one) and then the output files, timed apart (the same for
  any number of workers). Two workers need two idle cores to show their speed-up: on a loaded
  machine the figure says how loaded it was, so the CPU time of all processes is reported too
  (two workers against one: what the second worker costs, start-up and shared journal).
- A trial's phases (planning, the closed-form bound, simulation, metrics) on the same random
  configurations, in ms per trial.
- Overhead per trial (sampler + storage + simulation) against bare Optuna with an in-memory study
  sampling the same space and doing nothing, measured in the same run.
"""

from __future__ import annotations

import os
import random
import resource
import time

import optuna
import pytest

import dse
from dse.catalog import catalog_dir
from dse.metrics import summarize
from dse.report.study_outputs import write_outputs
from dse.search.space import grid_space, suggest
from dse.sim import Simulation, bound, build_plan
from tests.benchmarks.timing import finite, pick

pytestmark = pytest.mark.benchmark

TRIALS = pick(1000, 10)


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _experiment():
    return dse.load_experiment(catalog_dir("experiments") / "multi_ncs.yaml")


def test_thousand_trials_one_and_two_workers(tmp_path):
    exp = _experiment()
    times, cpu, results = {}, {}, {}
    for workers in (1, 2):
        start, start_cpu = time.perf_counter(), _cpu_s()
        results[workers] = dse.explore(exp, trials=TRIALS, workers=workers, write=False,
                                       out=tmp_path / f"w{workers}", sampler="random", seed=0)
        times[workers] = time.perf_counter() - start
        cpu[workers] = _cpu_s() - start_cpu
        assert len(results[workers].trials) == TRIALS
    start = time.perf_counter()
    write_outputs(results[1], tmp_path / "w1")
    outputs_s = time.perf_counter() - start
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bare = optuna.create_study(directions=["maximize", "minimize", "minimize"],
                               sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    bare.optimize(lambda t: (suggest(t, exp.dimensions) and 0.0, 0.0, 0.0), n_trials=TRIALS)
    bare_s = time.perf_counter() - start
    print(f"\n{TRIALS} trials of multi_ncs (500 frames each), journal storage: 1 worker "
          f"{times[1]:.1f} s ({TRIALS / times[1]:.1f} trials/s, {times[1] / TRIALS * 1e3:.1f} "
          f"ms/trial; goal <= 30 ms), 2 workers {times[2]:.1f} s ({TRIALS / times[2]:.1f} "
          f"trials/s; speed-up {times[1] / times[2]:.2f}x, goal >= 1.8x; CPU time of all "
          f"processes {cpu[2] / cpu[1]:.2f}x one worker's, what the second worker costs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); output files "
          f"{outputs_s:.1f} s; bare Optuna in memory {bare_s / TRIALS * 1e3:.2f} ms/trial, so "
          f"dse's overhead per trial is {(times[1] - bare_s) / TRIALS * 1e3:.1f} ms "
          f"({times[1] / bare_s:.0f}x bare)")
    finite(one_worker_s=times[1], two_workers_s=times[2], speed_up=times[1] / times[2],
           cpu_ratio=cpu[2] / cpu[1],
           outputs_s=outputs_s, bare_s=bare_s, overhead_x=times[1] / bare_s)


def test_phases_of_a_trial():
    exp = _experiment()
    space = grid_space(exp.dimensions, exp.file)
    rng = random.Random(0)
    points = [{p: rng.choice(v) for p, v in space.items()} for _ in range(pick(100, 5))]
    build_plan(exp.fixed(points[0]))  # the first plan of the workload: the caches fill
    phases = dict.fromkeys(("plan", "bound", "simulate", "metrics"), 0.0)
    for point in points:
        t0 = time.perf_counter()
        plan = build_plan(exp.fixed(point), base_dir=exp.base_dir, file=exp.file)
        t1 = time.perf_counter()
        bound(plan)
        t2 = time.perf_counter()
        if plan.infeasible:
            phases["plan"] += t1 - t0
            phases["bound"] += t2 - t1
            continue
        result = Simulation(plan).run()
        t3 = time.perf_counter()
        summarize(result)
        t4 = time.perf_counter()
        for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            phases[name] += dt
    per = {k: v / len(points) * 1e3 for k, v in phases.items()}
    total = sum(per.values())
    print("\nmulti_ncs, ms per trial: " + ", ".join(
        f"{k} {v:.2f} ({v / total:.0%})" for k, v in per.items()) + f"; total {total:.1f} "
        f"(planning goal <= 5 ms)")
    finite(**{f"{k}_ms": v for k, v in per.items()})
