"""Benchmarks of the model families (deselected by default; run with ``-m benchmark -s``, smoke
mode with ``DSE_BENCH_SMOKE=1``: one timing each, fewer members, see tests/benchmarks/timing.py).

Speed is reported as a ratio against a baseline measured in the same run (this machine is
shared and noisy): the members' layers as :meth:`Family.batch` makes them, against the way
without it, building each member's ONNX model and reading it back with the frontend
(:meth:`Family.workload` + :meth:`LayerBatch.from_workloads`). Enumerating NAS-Bench-101's
423,624 cells is timed against one pass of numpy over its 2**21 7-vertex adjacency bit patterns
(the least any enumeration must touch).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from dse.workloads.families import family
from dse.workloads.families.nasbench101 import enumerate_cells
from dse.workloads.layers import LayerBatch
from tests.benchmarks.timing import best_of, finite, pick

pytestmark = pytest.mark.benchmark


def test_enumerating_nasbench101():
    def cold():
        enumerate_cells.cache_clear()
        return enumerate_cells()

    ours = best_of(cold, repeat=3)
    bits = np.arange(2**21, dtype=np.int64)
    floor = best_of(lambda: np.bitwise_count(bits) <= 9, repeat=3)
    print(f"\nNAS-Bench-101: {len(enumerate_cells()):,} cells enumerated in {ours:.3f} s; "
          f"one popcount pass over 2**21 bit patterns {floor * 1e3:.1f} ms (ratio "
          f"{ours / floor:.1f}x)")
    finite(enumerate_s=ours, floor_s=floor, ratio=ours / floor)


@pytest.mark.parametrize("name", ["nasbench101", "mobilenet_v2", "resnet"])
def test_batch_members_per_second_against_onnx_and_the_frontend(name):
    fam = family(name)
    rng = np.random.default_rng(0)
    n = min(fam.size, pick(4096, 64) if name == "nasbench101" else fam.size)
    idx = np.sort(rng.choice(fam.size, n, replace=False))
    fam.batch(idx[:1])  # imports outside the timing
    # a new family each time: parametric families cache their members' rows
    ours = best_of(lambda: family(name).batch(idx), repeat=3)
    few = idx[: pick(8, 2)]
    start = time.perf_counter()
    LayerBatch.from_workloads([fam.workload(int(i)) for i in few])
    baseline = (time.perf_counter() - start) / len(few)
    rate, base_rate = n / ours, 1 / baseline
    print(f"\n{name}: batch() {rate:,.0f} members/s ({n} members, {ours:.3f} s); to_onnx + "
          f"frontend {base_rate:,.1f} members/s ({len(few)} members); ratio "
          f"{rate / base_rate:,.0f}x")
    finite(members_s=rate, baseline_members_s=base_rate, ratio=rate / base_rate)


def test_every_nasbench101_member_in_chunks():
    fam = family("nasbench101")
    n = pick(fam.size, 2048)
    chunk = 4096
    start = time.perf_counter()
    layers = 0
    for first in range(0, n, chunk):
        layers += fam.batch(np.arange(first, min(first + chunk, n))).layers
    ours = time.perf_counter() - start
    few = np.linspace(0, fam.size - 1, pick(4, 2)).astype(int)
    start = time.perf_counter()
    LayerBatch.from_workloads([fam.workload(int(i)) for i in few])
    baseline = (time.perf_counter() - start) / len(few)
    print(f"\nnasbench101: {n:,} members ({layers:,} layers) in {ours:.1f} s, "
          f"{n / ours:,.0f} members/s in chunks of {chunk}; to_onnx + frontend would take "
          f"{baseline * n / 3600:,.1f} h (ratio {baseline * n / ours:,.0f}x)")
    finite(seconds=ours, members_s=n / ours, ratio=baseline * n / ours)
