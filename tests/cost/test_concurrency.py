"""The laws of several inferences in flight (dse.cost.concurrency), against hand figures."""

from __future__ import annotations

import numpy as np
import pytest

from dse.cost.concurrency import (
    amdahl_core_scale,
    closed_loop_throughput,
    linear_slot_speedup,
    pinned_core_scale,
    shared_dram_bandwidth,
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


def test_identical_devices_share_the_dram_equally():
    # ZCU102: three B4096 cores, 8.992 GB/s of AXI ports each, 14.4 GB/s of PS DDR
    assert shared_dram_bandwidth(8.992e9, 14.4e9, 3) == pytest.approx(4.8e9)
    assert shared_dram_bandwidth(9.6e9, 14.4e9, 2) == pytest.approx(7.2e9)
    # one core alone keeps its ports; a share never exceeds them; no DRAM figure, no share
    assert shared_dram_bandwidth(9.6e9, 14.4e9, 1) == 9.6e9
    assert shared_dram_bandwidth(2e9, 14.4e9, 3) == 2e9
    assert shared_dram_bandwidth(9.6e9, None, 3) == 9.6e9
    np.testing.assert_allclose(
        shared_dram_bandwidth(np.array([9.6e9, 9.6e9, 9.6e9]), np.array([14.4e9, 0.0, 14.4e9]),
                              np.array([3, 3, 1])), [4.8e9, 9.6e9, 9.6e9])
