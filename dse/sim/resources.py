"""SimPy resources for hardware, built on SimPy events.

Devices with concurrency slots and host cores are :class:`Slots`, and frame queues :class:`Queue`:
``simpy.Resource``'s and ``simpy.Store``'s behaviour, event for event, at a fraction of their cost
per request (the engine's hot path). A link or a DRAM
bus is different: concurrent transfers do not queue behind a lock, they *share* the bandwidth.
:class:`SharedBandwidth` is that resource (processor sharing): with ``k`` transfers in flight each
moves at ``bandwidth / k``, so a transfer slows down while others run and speeds up when they
end. A transfer may have a rate cap of its own (a device cannot read DRAM faster than its own
memory interface); the bandwidth is then shared max-min fairly: capped transfers get their cap,
the others split what is left.
"""

from __future__ import annotations

import collections
import functools
from typing import Any

import simpy
from simpy.events import Event, Timeout

__all__ = ["Queue", "SharedBandwidth", "Slots"]

# Bytes left below which a transfer counts as done (float error of the rate arithmetic).
_EPS_BYTES = 1e-6


class SharedBandwidth:
    """A link or memory bus whose bandwidth is shared equally by the transfers in flight.

    ``yield link.transfer(nbytes)`` waits ``latency_s`` (the fixed cost of a transfer, not
    shared), then moves ``nbytes`` at an equal share of the bandwidth, re-shared whenever a
    transfer starts or ends. Events are scheduled with callbacks only: one pending timer for
    the next completion, replaced when the set of transfers changes.

    Args:
        env: The SimPy environment.
        bandwidth_bytes_s: Total sustained bandwidth.
        latency_s: Fixed cost of each transfer.
        name: For traces and metrics.

    Attributes:
        busy_s: Time with at least one transfer moving data.
        busy_bytes_s: Integral of the rate in use over time (bandwidth utilization =
            busy_bytes_s / (bandwidth x now); equals ``bytes_moved`` once transfers are done).
        bytes_moved: Payload bytes delivered so far.
        transfers: Transfers completed so far.
    """

    def __init__(self, env: simpy.Environment, bandwidth_bytes_s: float, latency_s: float = 0.0,
                 name: str = "") -> None:
        if bandwidth_bytes_s <= 0 or latency_s < 0:
            raise ValueError(f"need bandwidth > 0 and latency >= 0, got {bandwidth_bytes_s}, "
                             f"{latency_s}")
        self.env = env
        self.bandwidth_bytes_s = float(bandwidth_bytes_s)
        self.latency_s = float(latency_s)
        self.name = name
        self.busy_s = 0.0
        self.busy_bytes_s = 0.0
        self.bytes_moved = 0.0
        self.transfers = 0
        self._active: dict[simpy.Event, list[float]] = {}  # done -> [left, total, cap, rate]
        self._last = env.now
        self._timer: simpy.Event | None = None
        self._rate = 0.0  # bytes/s in use

    @property
    def in_flight(self) -> int:
        """Transfers currently moving data (after their latency)."""
        return len(self._active)

    def transfer(self, nbytes: float, *, max_rate: float | None = None) -> simpy.Event:
        """An event that succeeds when ``nbytes`` have been moved (immediately for 0 bytes).

        Args:
            nbytes: Payload bytes.
            max_rate: The most this transfer can take, bytes/s (default: the whole bandwidth).
        """
        if nbytes < 0 or (max_rate is not None and max_rate <= 0):
            raise ValueError(f"nbytes must be >= 0 and max_rate > 0, got {nbytes}, {max_rate}")
        done = Event(self.env)
        cap = self.bandwidth_bytes_s if max_rate is None or max_rate >= self.bandwidth_bytes_s \
            else max_rate
        if nbytes == 0:
            done.succeed()
        elif self.latency_s:
            Timeout(self.env, self.latency_s).callbacks.append(
                functools.partial(self._join, done, float(nbytes), cap))
        else:
            self._join(done, float(nbytes), cap)
        return done

    def _join(self, done: simpy.Event, nbytes: float, cap: float, _: object = None) -> None:
        self._advance()
        self._active[done] = [nbytes, nbytes, cap, 0.0]
        self._schedule()

    def _advance(self) -> None:
        """Move every active transfer forward to ``now`` at the rate it had."""
        now = self.env.now
        elapsed = now - self._last
        if elapsed > 0 and self._active:
            for state in self._active.values():
                state[0] -= state[3] * elapsed
            self.busy_s += elapsed
            self.busy_bytes_s += elapsed * self._rate
        self._last = now

    def _schedule(self) -> None:
        active = self._active
        if not active:
            self._rate = 0.0
            self._timer = None
            return
        # Max-min fair shares (water filling): the smallest caps are met first.
        if len(active) == 1:  # NOTE: the common case, without the sort
            for state in active.values():
                state[3] = state[2]
                self._rate = state[2]
                first = (state[0] if state[0] > 0.0 else 0.0) / state[2]
        else:
            left_bw, left_n = self.bandwidth_bytes_s, len(active)
            first = float("inf")
            for state in sorted(active.values(), key=_cap):
                cap = state[2]
                rate = cap if cap * left_n < left_bw else left_bw / left_n
                state[3] = rate
                left_bw -= rate
                left_n -= 1
                # NOTE: min(first, max(0.0, left) / rate) written out (the same floats)
                left = state[0]
                until = (left if left > 0.0 else 0.0) / rate
                if until < first:
                    first = until
            self._rate = self.bandwidth_bytes_s - left_bw
        # The one pending timer: an older one that fires finds it is no longer current.
        timer = self._timer = Timeout(self.env, first)
        timer.callbacks.append(self._complete)

    def _complete(self, timer: simpy.Event) -> None:
        if timer is not self._timer:
            return  # the set of transfers changed since this timer was set
        self._advance()
        # Done when the bytes left are float noise, or would take less time than the clock can
        # still resolve at ``now`` (else a timer of ~1e-17 s would never advance it).
        now = self.env.now
        active = self._active
        finished = [done for done, (left, total, _, rate) in active.items()
                    if left <= _EPS_BYTES or left <= 1e-12 * total or now + left / rate <= now]
        for done in finished:
            self.bytes_moved += active.pop(done)[1]
            self.transfers += 1
            done.succeed()
        self._schedule()


class Slots:
    """Concurrency slots (a device's inference slots, a cluster's cores): a
    ``simpy.Resource(env, capacity)`` with the same events at the same moments, without SimPy's
    generic put/get queues (half the simulator's time went into them).

    ``req = slots.request(); yield req`` waits for a slot; ``slots.release(req)`` frees it. As
    in SimPy, a grant is an event scheduled when the slot is free: at the request if one is
    free, else when the release event of an earlier holder is processed; each request or
    processed release grants at most the first waiter (FIFO).

    Attributes:
        capacity: The number of slots.
        count: Slots held now.
    """

    __slots__ = ("_grant_one", "capacity", "count", "env", "waiting")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0, got {capacity}")
        self.env = env
        self.capacity = capacity
        self.count = 0
        self.waiting: collections.deque[Event] = collections.deque()
        self._grant_one = self._grant

    def request(self) -> Event:
        """An event that succeeds when a slot is granted."""
        event = Event(self.env)
        self.waiting.append(event)
        if self.count < self.capacity:
            self.count += 1
            self.waiting.popleft().succeed()
        return event

    def release(self, request: Event) -> Event:
        """Free the slot ``request`` holds; the first waiter gets it when the returned event is
        processed."""
        self.count -= 1
        event = Event(self.env)
        event.callbacks.append(self._grant_one)
        return event.succeed()

    def _grant(self, _: object) -> None:
        if self.waiting and self.count < self.capacity:
            self.count += 1
            self.waiting.popleft().succeed()


class Queue:
    """A first-in first-out queue of items with a capacity: a ``simpy.Store(env, capacity)``
    with the same events at the same moments, without SimPy's generic put/get queues.

    ``yield queue.put(item)`` waits for room; ``item = yield queue.get()`` for an item. As in
    SimPy, each put or get considers only the first waiting putter or getter, and so does each
    processed put (for getters) or get (for putters) event.

    Attributes:
        capacity: The most items held.
        items: The items held, oldest first.
    """

    __slots__ = ("_get_one", "_put_one", "capacity", "env", "getters", "items", "putters")

    def __init__(self, env: simpy.Environment, capacity: float = float("inf")) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be > 0, got {capacity}")
        self.env = env
        self.capacity = capacity
        self.items: collections.deque[Any] = collections.deque()
        self.putters: collections.deque[tuple[Event, Any]] = collections.deque()
        self.getters: collections.deque[Event] = collections.deque()
        self._put_one = self._grant_put
        self._get_one = self._grant_get

    def put(self, item: Any) -> Event:
        """An event that succeeds when ``item`` is in the queue."""
        event = Event(self.env)
        event.callbacks.append(self._get_one)
        self.putters.append((event, item))
        self._grant_put(None)
        return event

    def get(self) -> Event:
        """An event that succeeds with the oldest item, when there is one."""
        event = Event(self.env)
        event.callbacks.append(self._put_one)
        self.getters.append(event)
        self._grant_get(None)
        return event

    def _grant_put(self, _: object) -> None:
        if self.putters and len(self.items) < self.capacity:
            event, item = self.putters.popleft()
            self.items.append(item)
            event.succeed()

    def _grant_get(self, _: object) -> None:
        if self.getters and self.items:
            self.getters.popleft().succeed(self.items.popleft())


def _cap(state: list[float]) -> float:
    return state[2]
