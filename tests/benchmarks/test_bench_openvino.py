"""Benchmark: OpenVINO's CPU plugin on this machine, latency mode and throughput mode
(deselected by default; run with ``-m benchmark -s``, smoke mode with ``DSE_BENCH_SMOKE=1``, see
tests/benchmarks/timing.py). Live figures of a shared machine: printed, never asserted on.

The recorded dataset is re-made with one command in a quiet window (see the report of issue 12,
item 4): ``dse measure mobilenet_v1 mobilenet_v2 resnet18 resnet50 squeezenet1_0 googlenet
efficientnet_b0 --runtime openvino --out calibration/host/openvino.csv``.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.benchmarks.timing import finite, pick

pytestmark = [pytest.mark.benchmark,
              pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                                 reason="OpenVINO is not installed (pip install 'dse[openvino]')")]


def test_openvino_streams_and_requests():
    from dse.measure.openvino import measure

    workload = pick("mobilenet_v2", ("mobilenet_v1", {"width": 0.25, "resolution": 64}))
    result = measure([workload], streams=pick((1, 2, 4), (1, 2)),
                     requests=pick((1, 2, 4, 8), (1, 2)), warmup=pick(5, 1),
                     repeats=pick(30, 4))
    runs = result.runs
    print()
    for r in runs.itertuples(index=False):
        print(f"{r.workload} {r.mode:10s} NUM_STREAMS {r.num_streams} -> {r.compiled_streams} "
              f"x {r.threads_per_stream} threads, {r.requests} requests: latency "
              f"{r.latency_ms:.3f} ms (p10 {r.p10_ms:.3f}, p90 {r.p90_ms:.3f}), "
              f"{r.throughput_fps:,.1f} fps")
    best = runs.loc[runs["throughput_fps"].idxmax()]
    latency = runs[runs["mode"] == "latency"].iloc[0]
    print(f"throughput mode over latency mode: {best.throughput_fps / latency.throughput_fps:.2f}x"
          f" (NUM_STREAMS {best.num_streams}, {best.requests} requests)")
    finite(latency_ms=latency.latency_ms, best_fps=best.throughput_fps)
