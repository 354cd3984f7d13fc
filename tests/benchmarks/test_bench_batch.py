"""Benchmark of batch evaluation (deselected by default; run with ``-m benchmark -s``, smoke mode
with ``DSE_BENCH_SMOKE=1``, see tests/benchmarks/timing.py).

Issue 14's goal: at least 20,000 (model, target) evaluations per second per core on
NAS-Bench-101 members: the batch is a seeded sample of the family (dse.workloads.families, about
190 layers each). Baseline, measured in the same run: :func:`dse.cost.model_cost` one model at a
time over a few of the same members built as workload graphs (their ONNX export read back). Also reported: the peak of memory the evaluation
allocates (numpy's allocations, by tracemalloc) for a batch of many chunks, which the chunking
bounds whatever the batch's size.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from dse.cost import batch_cost, model_cost
from dse.devices import default_catalog
from dse.workloads.families import family as family_of
from tests.benchmarks.timing import best_of, finite, pick

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def members():
    family = family_of("nasbench101")
    picked = np.random.default_rng(0).choice(family.size, pick(20_000, 300), replace=False)
    # the graphs of a few members: the one-at-a-time baseline
    workloads = [family.workload(int(i), precision="int8") for i in picked[:pick(6, 2)]]
    return workloads, family.batch(picked)


#: The host each device falls back to (its board's CPU): NAS-Bench-101's 3-input ``Sum`` runs
#: there on the Edge TPU and the DPU, priced from the batch's edges.
FALLBACK = {"coral_usb": "rpi4_cpu", "dpu_b4096": "zynqmp_a53"}


@pytest.mark.parametrize("device", ["coral_usb", "ncs2", "dpu_b4096", "rpi4_cpu"])
def test_batch_cost_against_model_cost_one_at_a_time(members, device):
    workloads, batch = members
    cat = default_catalog()
    spec = cat.device(device)
    precision = spec.precisions[0]
    link = cat.link(spec.link) if spec.link else None
    for w in workloads:
        assert len(w.counts) == w.nodes  # builds the cached tables outside the timing
    fallback = cat.device(FALLBACK.get(device, "rpi4_cpu"))
    batch_s = best_of(lambda: batch_cost(batch, spec, precision, link=link,
                                         fallback=fallback), repeat=3)
    one_s = best_of(lambda: [model_cost(w.at(precision), spec, precision, link=link,
                                        fallback=fallback) for w in workloads],
                    repeat=3) / len(workloads)
    per_model = int(batch_cost(batch, spec, precision, link=link,
                               fallback=fallback).needs_model_path.sum())
    rate = batch.models / batch_s
    print(f"\n{device} (fallback {fallback.name}): {batch.models} models of "
          f"{batch.layers / batch.models:.0f} layers on average: batch_cost {rate:,.0f} evaluations/s; model_cost {1 / one_s:,.0f}/s "
          f"(ratio {rate * one_s:,.0f}x); {per_model} of them left to the per-model path")
    finite(evaluations_s=rate, model_cost_s=one_s, ratio=rate * one_s)


def test_batch_cost_memory_stays_that_of_a_chunk(members):
    _, batch = members
    cat = default_catalog()
    spec = cat.device("coral_usb")
    tracemalloc.start()
    try:
        got = batch_cost(batch, spec, "int8", link=cat.link("usb3"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # what stays per model: the result's arrays and what its reasons are formatted from
    kept = sum(v.nbytes for v in vars(got).values() if isinstance(v, np.ndarray)) + \
        sum(v.nbytes for r in got._reasons for v in vars(r).values()
            if isinstance(v, np.ndarray))
    per_model = kept / batch.models
    print(f"\npeak allocated by batch_cost over {batch.models} models "
          f"({batch.layers:,} layers): {peak / 2**20:.1f} MiB, of which the result keeps "
          f"{per_model:.0f} B per model: 400k models need about "
          f"{(peak - kept + per_model * 4e5) / 2**20:.0f} MiB beyond their batch")
    finite(peak_bytes=peak, kept_bytes=kept)
