"""Benchmark of dse sweep: members per second with 1 and 2 workers on each engine
(deselected by default; run with ``-m benchmark -s``; ``DSE_BENCH_SMOKE=1``: 4 small zoo
models, see tests/benchmarks/timing.py).

The family is ``nasbench101`` (5,000 members sampled) once it exists, else the whole zoo (19
models, chunks of 2). Each run starts cold: the per-process caches of built members are cleared
first, so the 2-worker local run does not inherit what the 1-worker run built. Members/s is over
the evaluation (:attr:`SweepResult.seconds`); Ray's start-up is printed apart. The goal for the
Edge TPU study (issue 14) is 2 workers >= 1.8x one. Figures are printed, never asserted.
"""

from __future__ import annotations

import time

import pytest

from dse.sweep import family_names, run_sweep
from dse.sweep.evaluate import open_family
from dse.sweep.zoo_family import _build
from tests.benchmarks.timing import finite, smoke

pytestmark = pytest.mark.benchmark

TARGETS = ["edgetpu_v1", "edgetpu_v2", "edgetpu_v3"]


def _setup() -> tuple[str, dict, int | None, int]:
    if smoke():
        return "zoo", {"models": "ds_cnn,fc_autoencoder,resnet8,squeezenet1_1"}, None, 1
    if "nasbench101" in family_names():
        return "nasbench101", {}, 5000, 250
    return "zoo", {}, None, 2


def test_members_per_second_one_and_two_workers(tmp_path):
    family, options, limit, chunk = _setup()
    engines = ["local"]
    try:
        import ray  # noqa: F401

        engines.append("ray")
    except ImportError:
        print("\nray not installed: the ray engine is not measured")
    rates: dict[tuple[str, int], float] = {}
    for engine in engines:
        for workers in (1, 2):
            _build.cache_clear()
            open_family.cache_clear()
            start = time.perf_counter()
            result = run_sweep(family, TARGETS, options=options, limit=limit, chunk=chunk,
                               out=tmp_path / f"{engine}{workers}", engine=engine,
                               workers=workers, calibration="datasheet")
            wall = time.perf_counter() - start
            assert result.complete
            rates[engine, workers] = result.members / result.seconds
            print(f"\n{family}: {result.members} members x {len(TARGETS)} Edge TPU classes, "
                  f"{engine} engine, {workers} worker(s): {rates[engine, workers]:,.1f} "
                  f"members/s over {result.seconds:.2f} s of evaluation ({wall:.2f} s in all, "
                  f"start-up included)")
    for engine in engines:
        ratio = rates[engine, 2] / rates[engine, 1]
        print(f"{engine}: 2 workers / 1 worker = {ratio:.2f}x (goal >= 1.8x)")
        finite(one=rates[engine, 1], two=rates[engine, 2], ratio=ratio)
