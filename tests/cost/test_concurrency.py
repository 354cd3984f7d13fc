"""The laws of several inferences in flight (dse.cost.concurrency), against hand figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dse.cost.concurrency import (
    amdahl_core_scale,
    closed_loop_throughput,
    contention_slowdown,
    linear_slot_speedup,
    pinned_core_scale,
    slot_slowdown,
)


def test_amdahl_core_scale():
    assert amdahl_core_scale(4, 4, None) == 1.0
    assert amdahl_core_scale(4, 1, None) == 0.25
    # p = 0.8 on 2 threads: 1 / (0.2 + 0.4) = 1.667x one core, of 4 cores
    assert amdahl_core_scale(4, 2, 0.8) == pytest.approx(1 / 0.6 / 4)
    assert amdahl_core_scale(4, 8, 0.8) == amdahl_core_scale(4, 4, 0.8)  # no more than cores
    assert amdahl_core_scale(None, 3, 0.5) == 1.0


def test_slots_and_pinned_cores():
    assert linear_slot_speedup(3, 0.5) == (1.0, 1.5, 2.0)
    assert slot_slowdown(2, 1.5) == pytest.approx(4 / 3)
    assert slot_slowdown(1, 1.0) == 1.0
    assert pinned_core_scale(4, 1) == pytest.approx(4 / 3)
    assert pinned_core_scale(2, 2) == float("inf")


@pytest.mark.parametrize(("kwargs", "fps", "binding"), [
    # 8 threads, 1 device of one slot: the device binds at 1 / 4 ms
    (dict(latency_s=0.005, hold_s=0.004, host_core_s=0.001, threads=8, devices=1,
          capacity=1.0, host_cores=4), 250.0, "device"),
    # one thread: one frame at a time, 1 / latency
    (dict(latency_s=0.005, hold_s=0.004, host_core_s=0.001, threads=1, devices=1,
          capacity=1.0, host_cores=4), 200.0, "threads"),
    # three devices, host work 2 ms a frame on 4 cores: the cores bind at 4 / 0.002
    (dict(latency_s=0.003, hold_s=0.001, host_core_s=0.002, threads=8, devices=3,
          capacity=1.0, host_cores=4), 2000.0, "cores"),
    # 10 MB a frame over one 400 MB/s link
    (dict(latency_s=0.01, hold_s=0.001, host_core_s=0.0, threads=8, devices=2, capacity=1.0,
          host_cores=4, link_s=0.025, links=1), 40.0, "link"),
])
def test_closed_loop_throughput_is_the_tightest_resource(kwargs, fps, binding):
    args = {k: np.asarray(v) for k, v in kwargs.items()}
    assert float(closed_loop_throughput(**args)) == pytest.approx(fps), binding


def test_contention_law_default_is_proportional_sharing():
    # a task all memory traffic beside two like it: an equal third of the bandwidth each
    assert contention_slowdown(10e9, 20e9, 10e9) == pytest.approx(3.0)
    # half its time on memory, aggregate 1.5 x the bandwidth: (1 - 0.5) + 0.5 x 1.5
    assert contention_slowdown(5e9, 10e9, 10e9) == pytest.approx(1.25)
    # below the bandwidth, nothing; no co-runner, nothing
    assert contention_slowdown(3e9, 6e9, 10e9) == 1.0
    assert contention_slowdown(10e9, 0.0, 10e9) == 1.0


def test_contention_law_has_three_regions():
    law = {"knee": 0.2, "saturation": 0.6, "slope": 2.0}
    own, bw = 1e9, 10e9  # u = 0.1
    x = np.linspace(0.0, 10e9, 101)
    s = contention_slowdown(own, x, bw, **law)
    a = (own + x) / bw
    assert (s[a <= 0.2] == 1.0).all()  # minor region
    np.testing.assert_allclose(s[(a > 0.2) & (a <= 0.6)],
                               1 + 2.0 * 0.1 * (a[(a > 0.2) & (a <= 0.6)] - 0.2))  # linear
    np.testing.assert_allclose(s[a >= 0.6], 1 + 2.0 * 0.1 * 0.4)  # saturation
    # a task already past the knee alone counts only what the co-runners add
    assert contention_slowdown(4e9, 0.0, bw, **law) == 1.0
    assert contention_slowdown(4e9, 1e9, bw, **law) == pytest.approx(1 + 2 * 0.4 * 0.1)


@given(own=st.floats(0, 50e9), others=st.floats(0, 100e9), more=st.floats(0, 50e9),
       bw=st.floats(1e8, 100e9), knee=st.floats(0, 2), width=st.floats(1e-3, 3),
       slope=st.floats(1e-3, 20), saturates=st.booleans())
def test_contention_law_invariants(own, others, more, bw, knee, width, slope, saturates):
    law = {"knee": knee, "saturation": knee + width if saturates else float("inf"),
           "slope": slope}
    s = contention_slowdown(own, others, bw, **law)
    assert s >= 1.0
    assert contention_slowdown(own, 0.0, bw, **law) == 1.0
    assert contention_slowdown(own, others + more, bw, **law) >= s - 1e-12  # monotone



def test_the_contention_field_is_validated_with_every_problem_named():
    from dse.devices import default_catalog
    from dse.spec.device import DeviceSpec
    from dse.spec.loading import validate

    spec = default_catalog().device("rpi4_cpu")
    data = spec.model_dump(exclude_unset=True)
    bad = {**data, "contention": {"knee": -0.1, "slope": 0.0}}
    found, problems = validate(DeviceSpec, bad, file="devices/pi.yaml")
    assert found is None
    text = "\n".join(str(p) for p in problems)
    assert "devices/pi.yaml: contention.knee" in text and ">= 0" in text
    assert "devices/pi.yaml: contention.slope" in text and "> 0" in text
    found, problems = validate(DeviceSpec, {**data, "contention": {"knee": 0.5, "slope": 1.0,
                                                                   "saturation": 0.4}},
                               file="devices/pi.yaml")
    assert found is None
    assert "saturation (0.4) must be above knee (0.5)" in "\n".join(map(str, problems))
    # a stated law is a number like any other: it needs a source
    found, problems = validate(DeviceSpec, {**data, "contention": {"knee": 0.5, "slope": 1.0}},
                               file="devices/pi.yaml")
    assert found is None
    assert "contention.knee" in "\n".join(map(str, problems))
    cited = {**data, "contention": {"knee": 0.5, "slope": 1.0},
             "sources": [*data["sources"], {"id": "law", "kind": "measured",
                                            "cite": "dse host contention on a co-run table",
                                            "fields": ["contention"]}]}
    found, problems = validate(DeviceSpec, cited, file="devices/pi.yaml")
    assert problems == [] and found.contention_law() == {"knee": 0.5, "slope": 1.0,
                                                         "saturation": float("inf")}
    assert spec.contention_law() == {"knee": 1.0, "saturation": float("inf"), "slope": 1.0}
