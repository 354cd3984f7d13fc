"""Invariants of the cost functions, checked by Hypothesis against brute-force bounds."""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dse.cost import energy_j, layer_time, transfer_time
from dse.workloads.ops import OP_CLASSES
from tests.cost.devices import device, link

finite = dict(allow_nan=False, allow_infinity=False)
layers = st.fixed_dictionaries({
    "op": st.sampled_from(["Conv", "Gemm", "Add", "Relu", "MaxPool", "Concat", "Reshape"]),
    "op_class": st.sampled_from(OP_CLASSES),
    "ops": st.integers(0, 10**10),
    "weight_elems": st.integers(0, 10**8),
    "in_elems": st.integers(0, 10**8),
    "out_elems": st.integers(0, 10**8),
    "fused": st.booleans(),
})
peaks = st.floats(1e6, 1e15, **finite)
bws = st.floats(1e5, 1e12, **finite)
effs = st.floats(0.01, 1.0, **finite)
where = st.sampled_from(["onchip", "dram", "link"])


def make(peak, bw, eff, overhead=0.0):
    return device(peak_ops_s={"fp16": peak}, mem_bw_bytes_s=bw, efficiency={"default": eff},
                  overhead_per_layer_s=overhead)


@given(layers, peaks, peaks, bws, effs, where)
def test_more_peak_is_never_slower(layer, p1, p2, bw, eff, w):
    lo, hi = sorted((p1, p2))
    slow = layer_time(layer, make(lo, bw, eff), "fp16", weights=w, link=link())
    fast = layer_time(layer, make(hi, bw, eff), "fp16", weights=w, link=link())
    assert fast.time_s <= slow.time_s * (1 + 1e-12)


@given(layers, peaks, bws, bws, effs, where)
def test_more_bandwidth_is_never_slower(layer, peak, b1, b2, eff, w):
    lo, hi = sorted((b1, b2))
    slow = layer_time(layer, make(peak, lo, eff), "fp16", weights=w, link=link())
    fast = layer_time(layer, make(peak, hi, eff), "fp16", weights=w, link=link())
    assert fast.time_s <= slow.time_s * (1 + 1e-12)


@given(layers, peaks, bws, effs, st.floats(0, 1e-3, **finite), where,
       st.sampled_from(["fp32", "fp16", "int8"]))
def test_time_is_never_below_the_roofline_bound(layer, peak, bw, eff, overhead, w, precision):
    dev = device(peak_ops_s={precision: peak}, mem_bw_bytes_s=bw, efficiency={"default": eff},
                 overhead_per_layer_s=overhead)
    cost = layer_time(layer, dev, precision, weights=w, link=link())
    bound = max(layer["ops"] / peak, cost.traffic_bytes / bw)
    assert cost.time_s >= bound * (1 - 1e-12)
    assert cost.time_s >= cost.compute_s and cost.time_s >= cost.memory_s
    # brute force: the same sum written out
    assert math.isclose(cost.time_s, max(cost.compute_s, cost.memory_s) + cost.stream_s
                        + cost.overhead_s, rel_tol=1e-12)
    assert cost.attainable_ops_s <= peak * (1 + 1e-12)


@given(layers, peaks, bws)
def test_resident_weights_are_neither_read_nor_streamed(layer, peak, bw):
    dev = make(peak, bw, 1.0)
    onchip = layer_time(layer, dev, "fp16", weights="onchip")
    dram = layer_time(layer, dev, "fp16", weights="dram")
    streamed = layer_time(layer, dev, "fp16", weights="link", link=link())
    assert onchip.stream_bytes == 0 and onchip.stream_s == 0
    assert onchip.traffic_bytes <= dram.traffic_bytes
    assert onchip.time_s <= dram.time_s <= dram.time_s + streamed.stream_s
    if layer["weight_elems"] and not layer["fused"]:
        assert streamed.stream_bytes == layer["weight_elems"] * 2 or layer["op"] == "Gather"


@given(st.floats(0, 1e3, **finite), st.floats(0, 1e3, **finite), st.floats(0, 10, **finite),
       st.floats(1e-3, 100, **finite))
def test_energy_is_at_least_idle_power_times_time(a, b, idle, extra):
    busy, wall = sorted((a, b))
    dev = device(power={"idle_w": idle, "active_w": idle + extra})
    e = energy_j(dev, busy, wall)
    assert e >= idle * wall * (1 - 1e-12)
    assert e <= (idle + extra) * wall * (1 + 1e-12) + 1e-12
    assert math.isclose(e, (idle + extra) * busy + idle * (wall - busy), rel_tol=1e-9,
                        abs_tol=1e-12)


@given(st.floats(0, 1e9, **finite), st.floats(0, 1e9, **finite), st.floats(1e3, 1e10, **finite),
       st.floats(0, 1e-2, **finite), st.integers(1, 8))
def test_transfer_time_grows_with_bytes_and_sharers(n1, n2, bw, latency, sharers):
    lo, hi = sorted((n1, n2))
    lk = link(bw, latency)
    assert transfer_time(lo, lk) <= transfer_time(hi, lk)
    assert transfer_time(hi, lk) <= transfer_time(hi, lk, sharers=sharers)
    assume(hi > 0)
    assert transfer_time(hi, lk) >= latency


@settings(max_examples=50)
@given(st.floats(0.1, 10, **finite), st.floats(0.1, 10, **finite))
def test_energy_rejects_busy_longer_than_wall(busy, wall):
    import pytest

    assume(busy > wall * 1.001)
    with pytest.raises(ValueError, match="need 0 <= busy_s <= wall_s"):
        energy_j(device(), busy, wall)
