"""Benchmarks of the cost model (deselected by default; run with ``-m benchmark -s``, smoke mode
with ``DSE_BENCH_SMOKE=1``, see tests/benchmarks/timing.py).

The search evaluates a model on a device thousands of times, so :func:`dse.cost.model_cost` is
vectorised over layers. Baseline, measured in the same run: pricing the same layers one at a
time with the scalar :func:`dse.cost.layer_time` (what a straightforward loop would do), and
a bare Python loop over the graph computing only ``max(ops / peak, bytes / bandwidth)`` per
layer (the least any per-layer implementation must do; no placement, fusion or fallback).
"""

from __future__ import annotations

import pytest

import dse
from dse.cost import layer_time, model_cost
from dse.devices import default_catalog
from tests.benchmarks.timing import best_of, finite

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize(("name", "device"), [("resnet50", "ncs2"), ("mobilenet_v2", "coral_usb"),
                                              ("bert_encoder", "rpi4_cpu"),
                                              ("inception_v4", "dpu_b4096")])
def test_model_cost_against_a_per_layer_loop(name, device):
    cat = default_catalog()
    spec = cat.device(device)
    precision = spec.precisions[0]
    w = dse.workload(name, precision=precision)
    link = cat.link(spec.link) if spec.link else None
    assert len(w.counts) == w.nodes  # builds the cached table once, outside the timing
    graph = w.graph

    def loop():
        for node in w.order:
            layer_time(graph.nodes[node], spec, precision, link=link)

    peak, bw, b = spec.peak_ops_s[precision], spec.mem_bw_bytes_s, w.bytes_per_elem

    def bare():
        total = 0.0
        for node in w.order:
            d = graph.nodes[node]
            moved = (d["in_elems"] + d["out_elems"] + d["weight_elems"]) * b
            total += max(d["ops"] / peak, moved / bw)
        return total

    baseline = best_of(loop, repeat=2)
    floor = best_of(bare)
    ours = best_of(lambda: model_cost(w, spec, link=link, fallback=cat.device("rpi4_cpu")))
    print(f"\n{name} on {device}: {w.nodes} layers, model_cost {ours * 1e3:.2f} ms; "
          f"layer_time loop {baseline * 1e3:.1f} ms (ratio {ours / baseline:.3f}x); bare "
          f"float loop {floor * 1e3:.2f} ms (ratio {ours / floor:.2f}x)")
    finite(model_cost_s=ours, loop_s=baseline, bare_s=floor, ratio_loop=ours / baseline,
           ratio_bare=ours / floor)
