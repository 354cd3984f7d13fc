"""Benchmark: a tiny live co-run on this machine (deselected by default; run with
``-m benchmark -s``; ``DSE_BENCH_SMOKE=1``: two MLPerf Tiny models, 0.3 s windows, one round,
a small hog buffer). It prints the slowdowns it measured and checks only that they came out
finite: the live figures depend on the machine and its load, never a pass/fail here. The
recorded dataset is ``calibration/host/corun.csv`` (``dse host corun``)."""

from __future__ import annotations

import pytest

from dse.measure.corun import HOG_BYTES, corun, corun_summary
from tests.benchmarks.timing import finite, pick

pytestmark = pytest.mark.benchmark


def test_tiny_corun():
    rounds = []
    raw = corun(pick(["mobilenet_v2", "squeezenet1_1"], ["resnet8", "ds_cnn"]),
                hog_gb_s=pick([2.0, "max"], ["max"]), window_s=pick(2.0, 0.3),
                rounds=pick(2, 1), warmup=pick(5, 1), hog_bytes=pick(HOG_BYTES, 64 << 20),
                on_round=rounds.append)
    assert len(rounds) == pick(2, 1) and len(rounds[-1]) == len(raw)
    summary = corun_summary(raw)
    for basis in ("wall", "cpu"):
        for _, r in corun_summary(raw, basis=basis).iterrows():
            print(f"{basis}: {r['workload']} beside {r['co_runner']} {r['level']}: slowdown "
                  f"{r['slowdown']:.3f}")
    assert set(summary["kind"]) == {"pair", "hog"}
    finite(**{f"slowdown_{i}": v for i, v in enumerate(summary["slowdown"])},
           hog_gb_s=float(summary["hog_achieved_gb_s"].max()))
