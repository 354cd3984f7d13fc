"""Benchmark of the kernel suite (deselected by default; run with ``-m benchmark -s``, smoke mode
with ``DSE_BENCH_SMOKE=1``, see tests/benchmarks/timing.py).

``dse host kernels`` aims at a few hundred kernels at one and two threads within about ten
minutes, so what counts is (kernel, threads) pairs timed per second, everything included: spec
to ONNX graph, dse's features, two ONNX Runtime sessions (wall time, profiler), warm-up and
timed runs. That rate depends on this machine's speed and load, so it is reported beside a
baseline measured in the same run: how many 256x256 float32 numpy matrix products the machine
does per second (one thread's worth of BLAS work), as a ratio.
"""

from __future__ import annotations

import numpy as np
import pytest

from dse.measure.kernels import run_kernels
from tests.benchmarks.timing import best_of, finite, pick, smoke

pytestmark = pytest.mark.benchmark


def test_kernels_per_second_against_a_numpy_matmul(tmp_path):
    a = np.random.default_rng(0).standard_normal((256, 256), dtype=np.float32)
    products = 50

    def matmuls() -> None:
        for _ in range(products):
            a @ a

    matmul_s = best_of(matmuls) / products
    n = pick(24, 3)
    out = tmp_path / "k.csv"
    elapsed = best_of(lambda: run_kernels(out if not out.exists() else _fresh(out), zoo=False,
                                          random=n, adaptive=0, threads=(1,), seed=1,
                                          repeats=1 if smoke() else None), repeat=1)
    rate = n / elapsed
    print(f"\nkernel suite: {n} kernels at 1 thread in {elapsed:.2f} s = {rate:.2f} kernels/s; "
          f"numpy 256x256 matmul {matmul_s * 1e6:.0f} us; one kernel costs "
          f"{elapsed / n / matmul_s:.0f} matmuls")
    finite(kernels_per_s=rate, matmul_s=matmul_s, ratio=elapsed / n / matmul_s)


def _fresh(out):
    out.unlink()
    return out
