"""The contention law in the plan: every platform's shared DRAM slows co-running compute."""

from __future__ import annotations

import pytest

from dse.cost.concurrency import contention_slowdown
from dse.devices import default_catalog
from dse.run import simulate
from dse.sim import bound, build_plan
from dse.spec.experiment import load_experiment

LAW = {"knee": 0.0, "slope": 4.0}


def _config(threads, *, workloads=("mobilenet_v2",), host="raspberry_pi4", accelerators=None,
            policy="threads"):
    return load_experiment({
        "name": "contention",
        "workloads": [{"zoo": w} for w in workloads],
        "platform": {"host": host, "accelerators": accelerators or {}},
        "execution": {"policy": policy, "threads": threads, "intra_op_threads": 1},
        "stream": {"frames": 40, "warmup": 8}}).fixed(None)


def _catalog(device="rpi4_cpu", law=LAW):
    cat = default_catalog()
    spec = cat.device(device).with_changes("test law", contention=law)
    return cat.with_devices({device: spec}, replace=True)


def _compute_steps(plan):
    return [st for w in plan.workers for route in w.routes.values() for h in route
            for st in h.steps if st.kind == "compute" and st.dram_bytes > 0]


def test_one_session_alone_is_not_slowed():
    cat = _catalog()
    alone = build_plan(_config(1), catalog=cat)
    datasheet = build_plan(_config(1), catalog=_catalog(law=None))
    assert [s.time_s for s in _compute_steps(alone)] == \
        [s.time_s for s in _compute_steps(datasheet)]


def test_sessions_on_one_host_slow_by_the_law_of_their_device():
    cat = _catalog()
    plan = build_plan(_config(1), catalog=cat)
    alone = _compute_steps(plan)[0]
    # the platform's DRAM where it states one (the Pi 4's LPDDR4), else the device's
    memory = plan.platform.dram_bw_bytes_s or cat.device("rpi4_cpu").mem_bw_bytes_s
    own = alone.dram_bytes / alone.time_s
    for k in (2, 3):
        steps = _compute_steps(build_plan(_config(k), catalog=cat))
        assert len(steps) == k
        law = contention_slowdown(own, (k - 1) * own, memory, **LAW)
        assert law > 1.0
        for st in steps:
            assert st.time_s == pytest.approx(alone.time_s * law, rel=1e-12)


def test_the_datasheet_default_is_proportional_sharing():
    # Two sessions whose demand together stays under the memory bandwidth: no slowdown.
    cat = default_catalog()
    plan = build_plan(_config(1), catalog=cat)
    alone = _compute_steps(plan)[0]
    bw = plan.platform.dram_bw_bytes_s or cat.device("rpi4_cpu").mem_bw_bytes_s
    own = alone.dram_bytes / alone.time_s
    two = _compute_steps(build_plan(_config(2), catalog=cat))[0]
    expected = 1.0 if 2 * own <= bw else 1 + own / bw * (2 * own / bw - 1)
    assert two.time_s == pytest.approx(alone.time_s * expected, rel=1e-12)


def test_more_sessions_never_run_faster_and_the_simulator_stays_under_the_bound():
    cat = _catalog()
    previous = 0.0
    for k in (1, 2, 3, 4):
        plan = build_plan(_config(k), catalog=cat)
        step = max(st.time_s for st in _compute_steps(plan))
        assert step >= previous
        previous = step
        report = simulate(_config(k), catalog=cat)
        assert report.metrics.throughput_fps <= bound(plan).throughput_fps * (1 + 1e-9)


def test_sticks_with_their_own_memory_are_not_slowed():
    # NCS2 sticks compute out of their own LPDDR: the host's DRAM law does not touch them.
    cat = _catalog("ncs2", LAW)
    one = build_plan(_config(1, accelerators={"ncs2": 1}, policy="data_parallel"), catalog=cat)
    four = build_plan(_config(4, accelerators={"ncs2": 4}, policy="data_parallel"),
                      catalog=cat)
    times = {st.time_s for w in (*one.workers, *four.workers) for route in w.routes.values()
             for h in route for st in h.steps if st.kind == "compute"}
    alone = {st.time_s for w in one.workers for route in w.routes.values() for h in route
             for st in h.steps if st.kind == "compute"}
    assert times == alone
