"""Processor sharing on a link: whole traces on tiny scenarios, then invariants."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.sim import SharedBandwidth


def run(bandwidth, transfers, latency=0.0):
    """transfers: (start_s, nbytes, name); returns {name: finish time}, the link."""
    env = simpy.Environment()
    link = SharedBandwidth(env, bandwidth, latency, name="usb")
    log = {}

    def one(start, nbytes, name):
        yield env.timeout(start)
        yield link.transfer(nbytes)
        log[name] = env.now

    for start, nbytes, name in transfers:
        env.process(one(start, nbytes, name))
    env.run()
    return log, link


def test_alone_it_takes_latency_plus_bytes_over_bandwidth():
    log, link = run(100.0, [(0, 250, "a")], latency=0.5)
    assert log == {"a": pytest.approx(3.0)}
    assert link.busy_s == pytest.approx(2.5) and link.bytes_moved == 250 and link.transfers == 1


def test_two_at_once_share_equally():
    log, _ = run(100.0, [(0, 100, "a"), (0, 100, "b")])
    assert log == {"a": pytest.approx(2.0), "b": pytest.approx(2.0)}


def test_a_transfer_slows_while_another_runs_and_speeds_up_after():
    # a alone for 0.5 s moves 50 B; both then get 50 B/s: a's last 50 B take 1 s (ends 1.5),
    # b has moved 50 B by then and finishes its last 50 B alone in 0.5 s (ends 2.0).
    log, link = run(100.0, [(0, 100, "a"), (0.5, 100, "b")])
    assert log == {"a": pytest.approx(1.5), "b": pytest.approx(2.0)}
    assert link.busy_s == pytest.approx(2.0)


def test_short_transfer_overtakes_a_long_one():
    log, _ = run(10.0, [(0, 1000, "big"), (1, 10, "small")])
    assert log["small"] == pytest.approx(3.0)   # 10 B at 5 B/s
    assert log["big"] == pytest.approx(101.0)   # the link never idles: 1010 B at 10 B/s


def test_zero_bytes_is_immediate_and_negative_is_refused():
    log, link = run(10.0, [(2, 0, "nothing")], latency=1.0)
    assert log == {"nothing": 2} and link.transfers == 0
    with pytest.raises(ValueError, match="nbytes must be >= 0"):
        SharedBandwidth(simpy.Environment(), 1.0).transfer(-1)
    with pytest.raises(ValueError, match="need bandwidth > 0"):
        SharedBandwidth(simpy.Environment(), 0.0)


sizes = st.lists(st.tuples(st.floats(0, 5), st.floats(1, 1e4)), min_size=1, max_size=12)


@settings(max_examples=60)
@given(sizes, st.floats(1, 1e3))
def test_work_conserving_and_never_faster_than_alone(transfers, bandwidth):
    named = [(s, n, i) for i, (s, n) in enumerate(transfers)]
    log, link = run(bandwidth, named)
    assert len(log) == len(named)
    for start, nbytes, name in named:
        assert log[name] >= start + nbytes / bandwidth - 1e-9  # sharing never speeds one up
    total = sum(n for _, n, _ in named)
    assert link.bytes_moved == pytest.approx(total)
    # busy time is exactly the bytes over the bandwidth: the link never idles with work pending
    assert link.busy_s == pytest.approx(total / bandwidth, rel=1e-9)
    assert link.busy_s <= max(log.values()) + 1e-9


@settings(max_examples=40)
@given(st.lists(st.floats(1, 1e4), min_size=1, max_size=10), st.floats(1, 1e3))
def test_simultaneous_start_finishes_in_size_order_and_last_at_total_over_bandwidth(sizes_, bw):
    log, _ = run(bw, [(0, n, i) for i, n in enumerate(sizes_)])
    for a in range(len(sizes_)):
        for b in range(len(sizes_)):
            if sizes_[a] < sizes_[b]:
                assert log[a] <= log[b] * (1 + 1e-9)  # the smaller never finishes later
    assert max(log.values()) == pytest.approx(sum(sizes_) / bw, rel=1e-9)


def test_capped_transfers_share_max_min_fairly():
    env = simpy.Environment()
    bus = SharedBandwidth(env, 100.0)
    log = {}

    def one(name, nbytes, cap):
        yield bus.transfer(nbytes, max_rate=cap)
        log[name] = env.now

    env.process(one("slow", 20, 10.0))    # capped at 10 B/s: 2 s
    env.process(one("fast", 180, None))   # gets the other 90 B/s: 2 s
    env.run()
    assert log == {"slow": pytest.approx(2.0), "fast": pytest.approx(2.0)}
    assert bus.busy_bytes_s == pytest.approx(200.0)
    with pytest.raises(ValueError, match="max_rate > 0"):
        bus.transfer(1, max_rate=0)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.floats(1, 1e3), st.floats(0.5, 50)), min_size=1, max_size=8),
       st.floats(1, 100))
def test_caps_are_never_exceeded_and_the_bus_never_beats_its_bandwidth(flows, bw):
    env = simpy.Environment()
    bus = SharedBandwidth(env, bw)
    log = {}

    def one(i, nbytes, cap):
        yield bus.transfer(nbytes, max_rate=cap)
        log[i] = env.now

    for i, (nbytes, cap) in enumerate(flows):
        env.process(one(i, nbytes, cap))
    env.run()
    for i, (nbytes, cap) in enumerate(flows):
        assert log[i] >= nbytes / min(cap, bw) * (1 - 1e-9)
    assert max(log.values()) >= sum(n for n, _ in flows) / bw * (1 - 1e-9)


def test_transfers_shorter_than_the_clock_resolution_still_finish():
    # At t = 1e6 s a 1e-12 s timer cannot advance a float clock; the transfer must still end.
    env = simpy.Environment(initial_time=1e6)
    bus = SharedBandwidth(env, 1e12)
    done = bus.transfer(1.0)
    env.run(until=1e6 + 1)
    assert done.triggered and bus.transfers == 1
