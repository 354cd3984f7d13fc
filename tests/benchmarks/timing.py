"""Timing helpers shared by the benchmarks, and their smoke mode.

Benchmarks are deselected by default (``-m 'not benchmark'`` in pyproject). Run them with
``pytest -m benchmark -s``. With ``DSE_BENCH_SMOKE=1`` in the environment they run in *smoke
mode*: one repeat of every timing (:func:`best_of` applies :func:`repeats`) and the smallest
sizes (:func:`pick`), so that CI executes every benchmark's code paths and prints its figures
in seconds (``.ci/run``). Smoke figures are not meaningful as speeds. A benchmark never asserts
on speed either way: it checks that its figures came out finite (:func:`finite`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: The environment variable that switches the benchmarks to smoke mode (any value but ``0``).
SMOKE_ENV = "DSE_BENCH_SMOKE"


def smoke() -> bool:
    """Whether the benchmarks run in smoke mode (``DSE_BENCH_SMOKE`` set, and not ``0``)."""
    return os.environ.get(SMOKE_ENV, "0").strip() not in ("", "0")


def repeats(n: int) -> int:
    """``n`` repeats normally, one in smoke mode."""
    return 1 if smoke() else n


def pick(full: T, small: T) -> T:
    """The full-size setting normally, the small one in smoke mode."""
    return small if smoke() else full


def best_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    """The shortest of ``repeat`` wall-clock runs of ``fn`` (least disturbed by other load);
    one run in smoke mode."""
    best = float("inf")
    for _ in range(repeats(repeat)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_of_each(fns: dict[str, Callable[[], Any]], repeat: int = 5) -> dict[str, float]:
    """The shortest wall-clock run of each of ``fns``, run in turn ``repeat`` times: on a
    shared machine the figures being compared see the same load (one round in smoke mode)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats(repeat)):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def finite(**figures: float) -> None:
    """Check that every reported figure is a finite number (a benchmark ran to completion).

    Raises:
        AssertionError: Naming the figures that are not finite.
    """
    bad = {k: v for k, v in figures.items() if not math.isfinite(float(v))}
    assert not bad, f"benchmark figures not finite: {bad}"


def _spin(n: int) -> float:
    """A CPU-bound pure-Python loop (no memory traffic to speak of); returns its own seconds."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - start


def machine_scaling(workers: int = 2, n: int = 2_000_000) -> float:
    """How much ``workers`` processes running a CPU-bound loop get done, relative to one:
    what this machine's cores give right now (2.0 on two idle cores; on a shared virtual
    machine whose vCPUs are oversubscribed it has measured 1.2). The baseline a parallel
    speed-up measured in the same run is read against."""
    from concurrent.futures import ProcessPoolExecutor

    n = pick(n, n // 10)
    rates = {}
    for w in (1, workers):
        with ProcessPoolExecutor(w) as pool:
            list(pool.map(_spin, [n // 10] * w))  # workers started and warm
            start = time.perf_counter()
            list(pool.map(_spin, [n] * (2 * w)))
            rates[w] = 2 * w / (time.perf_counter() - start)
    return rates[workers] / rates[1]
