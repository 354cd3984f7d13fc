"""Benchmark of the live host probe (deselected by default; run with ``-m benchmark -s``, smoke
mode with ``DSE_BENCH_SMOKE=1``, see tests/benchmarks/timing.py).

Runs :func:`dse.devices.host.measure_probe` on this machine and prints its figures: the clock
under load (all CPUs and one), the GEMM cross-check, the copy bandwidth at one and all threads,
and the time the probe took. Baseline, measured in the same run: one numpy ``float64`` copy of
the probe's bandwidth array size and a numpy 512 x 512 FP32 matmul, the cheapest things that
touch the same memory and FMA units; the probe's time is reported as a ratio to them. Smoke mode
runs the probe's short settings (a fraction of a second).
"""

from __future__ import annotations

import numpy as np
import pytest

from dse.devices.host import device_data, measure_probe
from dse.spec.device import DeviceSpec
from dse.spec.loading import validate
from tests.benchmarks.timing import best_of, finite, pick, smoke

pytestmark = pytest.mark.benchmark


def test_live_probe_figures():
    nbytes = pick(256 * 2**20, 4 * 2**20)
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    a = np.ones((512, 512), dtype=np.float32)
    baseline = best_of(lambda: np.copyto(dst, src)) + best_of(lambda: a @ a)
    took = best_of(lambda: measure_probe(quick=smoke()), repeat=1)
    f = measure_probe(quick=smoke())
    spec, problems = validate(DeviceSpec, device_data(f), file="probe")
    assert problems == [] and spec is not None
    clock_all = f.clock_all.value if f.clock_all else float("nan")
    clock_one = f.clock_one.value if f.clock_one else float("nan")
    print(f"\nprobe of {f.cpu.model} ({f.cpu.cores} cores, {len(f.cpu.cpus)} CPUs): "
          f"{took:.2f} s, {took / baseline:.0f}x a numpy copy + matmul ({baseline * 1e3:.1f} ms)"
          f"\n  clock under load, all CPUs: "
          + (f.clock_all.spread(1e9, "GHz") if f.clock_all else f"no chain ({f.chain_note})")
          + "\n  clock under load, one CPU:  "
          + (f.clock_one.spread(1e9, "GHz") if f.clock_one else "-")
          + f"\n  reported cpu MHz {f.cpu.reported_mhz}"
          f"\n  FP32 GEMM, one thread: {f.gemm.spread(1e9, 'GFLOP/s')}"
          f"\n  copy bandwidth, all CPUs: {f.bw_all.spread(1e9, 'GB/s')}"
          f"\n  copy bandwidth, one thread: {f.bw_one.spread(1e9, 'GB/s')}"
          f"\n  derived FP32 peak {spec.peak_ops_s['fp32'] / 1e9:.0f} GFLOP/s")
    finite(seconds=took, ratio=took / baseline, gemm=f.gemm.value, bw_all=f.bw_all.value,
           bw_one=f.bw_one.value, peak=spec.peak_ops_s["fp32"])
    if f.clock_all is not None:
        finite(clock_all=clock_all, clock_one=clock_one)
