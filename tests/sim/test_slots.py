"""Slots and Queue (dse.sim.resources) behave as simpy.Resource and simpy.Store event for event: the same grants at the
same moments in the same order, and the same event numbering, on random contended workloads
with ties (identical simulations depend on it)."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.sim.resources import Queue, Slots

# (start delay, hold time, extra event between request and hold?) per process; times on a coarse
# grid so that many events tie
JOBS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.booleans()), min_size=1,
                max_size=12)


def _run(make, capacity, jobs, repeats=3):
    env = simpy.Environment()
    res = make(env, capacity)
    log = []

    def proc(i, delay, hold, extra):
        yield env.timeout(delay)
        for k in range(repeats):
            req = res.request()
            log.append(("ask", i, k, env.now, res.count))
            yield req
            log.append(("got", i, k, env.now, res.count))
            if extra:
                yield env.timeout(0)
            yield env.timeout(hold)
            res.release(req)
            log.append(("rel", i, k, env.now, res.count))

    for i, job in enumerate(jobs):
        env.process(proc(i, *job))
    env.run()
    return log, next(env._eid)  # the event numbering: every scheduled event counted


@settings(max_examples=200, deadline=None)
@given(JOBS, st.integers(1, 3))
def test_the_same_grants_in_the_same_order_as_simpy_resource(jobs, capacity):
    ours = _run(Slots, capacity, jobs)
    simpys = _run(lambda env, c: simpy.Resource(env, capacity=c), capacity, jobs)
    assert ours == simpys


def test_capacity_and_count():
    env = simpy.Environment()
    slots = Slots(env, 2)
    a, b, c = slots.request(), slots.request(), slots.request()
    assert (slots.capacity, slots.count) == (2, 2)
    assert a.triggered and b.triggered and not c.triggered
    slots.release(a)
    env.run()
    assert c.triggered and slots.count == 2


# producers and consumers with delays on a coarse grid, so that many events tie
FLOWS = st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 2)), min_size=1,
                 max_size=10)


def _run_queue(make, capacity, flows, repeats=3):
    env = simpy.Environment()
    queue = make(env, capacity)
    log = []

    def proc(i, producer, delay, gap):
        yield env.timeout(delay)
        for k in range(repeats):
            if producer:
                yield queue.put((i, k))
                log.append(("put", i, k, env.now, len(queue.items)))
            else:
                item = yield queue.get()
                log.append(("got", i, item, env.now, len(queue.items)))
            yield env.timeout(gap)

    for i, flow in enumerate(flows):
        env.process(proc(i, *flow))
    env.run()
    return log, next(env._eid)


@settings(max_examples=200, deadline=None)
@given(FLOWS, st.sampled_from([1, 2, float("inf")]))
def test_the_same_items_at_the_same_moments_as_simpy_store(flows, capacity):
    ours = _run_queue(Queue, capacity, flows)
    simpys = _run_queue(lambda env, c: simpy.Store(env, capacity=c), capacity, flows)
    assert ours == simpys
