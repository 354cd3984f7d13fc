"""The SimPy engine: runs the workers of a :class:`~dse.sim.plan.Plan` on its resources.

One SimPy primitive per hardware concept: a device's concurrency slots are a
``simpy.Resource(capacity=slots)``, a host cluster's cores a ``simpy.Resource(capacity=cores)``,
links and shared DRAM are :class:`~dse.sim.resources.SharedBandwidth`, queues between stages are
``simpy.FilterStore`` s. Durations come from the plan (that is, from :mod:`dse.cost`); the engine
only decides when things happen.

Service times spread as each target's ``latency_spread`` says (:mod:`dse.spec.spread`): one
factor per inference per device (all compute steps of one inference on one device share it, as
a whole inference's time is what the spread was fitted to; fitted per step, a route of many
steps would average it away), and likewise one per inference per host cluster for its host
steps. Each device and cluster draws from a generator of its own, seeded by the stream's seed
and its name, so a run is reproducible and two configurations sharing a device see the same
draws there. ``stream.jitter``, when set, replaces every target's spread by a mean-1 log-normal
per step (0: every step takes the cost model's time).
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import simpy

from dse.cost.concurrency import slot_slowdown
from dse.sim.plan import Hold, Plan, Step, Worker
from dse.sim.resources import SharedBandwidth
from dse.spec.spread import LatencySpread

__all__ = ["Draws", "Meter", "SimResult", "Simulation"]


class Draws:
    """Service-time factors of one device or cluster: its spread, sampled in seeded batches.

    Args:
        spread: The target's distribution of time / median.
        seed: The stream's seed.
        name: The device instance or cluster (mixed into the seed).
    """

    BATCH = 256

    def __init__(self, spread: LatencySpread, seed: int, name: str) -> None:
        self.spread = spread
        self.rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(name.encode())])
        self.buffer: list[float] = []

    def __call__(self) -> float:
        # NOTE: drawn a batch at a time, since one inverse-CDF call per step is the slow part.
        if not self.buffer:
            self.buffer = self.spread.sample(self.rng, self.BATCH).tolist()[::-1]
        return self.buffer.pop()


class Meter:
    """Busy time of a resource: time with at least one user, and the integral of users."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0
        self.busy_s = 0.0
        self.load_s = 0.0
        self.uses = 0

    def change(self, now: float, delta: int) -> None:
        elapsed = now - self.last
        if self.count > 0:
            self.busy_s += elapsed
            self.load_s += self.count * elapsed
        self.count += delta
        self.last = now
        if delta > 0:
            self.uses += 1


@dataclass
class Frame:
    id: int
    workload: int
    arrival: float | None
    start: float | None = None
    done: float | None = None
    unit: str = ""


@dataclass
class SimResult:
    """What a run produced: frame records, resource usage, and (optionally) the timeline.

    Attributes:
        frames: One row per frame: ``frame``, ``workload``, ``arrival_s``, ``start_s``,
            ``done_s``, ``unit``.
        makespan_s: Time of the last event.
        devices / cores / links: Per resource: busy time, load, uses, capacity.
        events: Timeline rows ``(track, name, start_s, end_s, frame)`` if traced.
    """

    plan: Plan
    frames: pd.DataFrame
    makespan_s: float
    devices: dict[str, dict[str, float]]
    cores: dict[str, dict[str, float]]
    links: dict[str, dict[str, float]]
    dram: dict[str, float] | None
    events: list[tuple[str, str, float, float, int]] | None = field(default=None, repr=False)


class Simulation:
    """One run of one plan.

    Args:
        plan: What to run.
        trace: Keep every step as a timeline event (for Chrome trace export).
    """

    def __init__(self, plan: Plan, *, trace: bool = False) -> None:
        if plan.infeasible:
            raise ValueError(f"cannot simulate an infeasible plan: {plan.infeasible}")
        self.plan = plan
        self.env = env = simpy.Environment()
        stream = plan.config.stream
        self.rng = np.random.default_rng(stream.seed)
        self.jitter = stream.jitter or 0.0
        self.draws: dict[str, Draws] = {}
        if stream.jitter is None:
            specs = {**{c: spec for c, spec in plan.clusters.items()},
                     **{n: u.spec for n, u in plan.units.items()}}
            self.draws = {n: Draws(spec.spread, stream.seed, n) for n, spec in specs.items()
                          if not spec.spread.is_zero}
        self.devices = {n: simpy.Resource(env, capacity=u.slots) for n, u in plan.units.items()}
        self.cores = {c: simpy.Resource(env, capacity=n) for c, n in plan.cores.items()}
        self.links = {n: SharedBandwidth(env, link.bandwidth_bytes_s, link.latency_s, n)
                      for n, link in plan.links.items()}
        self.dram = SharedBandwidth(env, plan.dram_bw_bytes_s, 0.0, "dram") \
            if plan.dram_bw_bytes_s else None
        depth = plan.config.execution.queue_depth
        # NOTE: a plain Store when every worker takes every workload: FilterStore's filtered
        # get is several times slower and only needed for workers restricted to some models.
        everyone = set(range(len(plan.config.workloads)))
        store = simpy.Store if all(set(w.routes) == everyone for w in plan.workers) \
            else simpy.FilterStore
        self.filtered = store is simpy.FilterStore
        self.queues = {q: store(env, capacity=float("inf") if q in plan.entry_queues else depth)
                       for q in plan.queues}
        # k / speedup(k) for k busy slots, per device: the slowdown of one inference. The slots
        # of a host cluster are disjoint core groups: they slow each other only through DRAM.
        self.slowdown = {n: [1.0] + [1.0 if n in plan.clusters else
                                     slot_slowdown(k, u.spec.speedup(k))
                                     for k in range(1, u.slots + 1)]
                         for n, u in plan.units.items()}
        self.device_meters = {n: Meter() for n in self.devices}
        self.core_meters = {c: Meter() for c in self.cores}
        self.last_workload: dict[str, int] = {}
        self.finished: list[Frame] = []
        self.events: list[tuple[str, str, float, float, int]] | None = [] if trace else None

    # ----- processes -----------------------------------------------------------------------

    def run(self) -> SimResult:
        """Run every frame to completion and return the records."""
        for worker in self.plan.workers:
            self.env.process(self._worker(worker))
        self.env.process(self._arrivals())
        self.env.run()
        return self._result()

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        stream = self.plan.config.stream
        entry = self.plan.entry_queues
        n_workloads = len(self.plan.config.workloads)
        for i in range(stream.frames):
            if stream.fps is not None and i > 0:
                gap = 1.0 / stream.fps
                if stream.arrival == "poisson":
                    gap = float(self.rng.exponential(gap))
                yield self.env.timeout(gap)
            arrival = self.env.now if stream.fps is not None else None
            yield self.queues[entry[i % len(entry)]].put(Frame(i, i % n_workloads, arrival))

    def _worker(self, worker: Worker) -> Generator[simpy.Event, Any, None]:
        queue = self.queues[worker.source]
        routes = worker.routes
        while True:
            frame = yield (queue.get(lambda f: f.workload in routes)  # type: ignore[call-arg]
                           if self.filtered else queue.get())
            if frame.start is None:
                frame.start = self.env.now
                if frame.arrival is None:  # closed loop: a frame arrives when it is taken
                    frame.arrival = self.env.now
            for hold in routes[frame.workload]:
                yield from self._hold(hold, frame)
            if worker.sink is not None:
                yield self.queues[worker.sink].put(frame)
            else:
                frame.done = self.env.now
                frame.unit = worker.unit
                self.finished.append(frame)

    def _hold(self, hold: Hold, frame: Frame) -> Generator[simpy.Event, Any, None]:
        env = self.env
        device_req = None
        if hold.device is not None:
            device_req = self.devices[hold.device].request()
            yield device_req
            self.device_meters[hold.device].change(env.now, +1)
            last = self.last_workload.get(hold.device)
            if hold.reload is not None and last is not None and last != frame.workload:
                start = env.now
                yield self.links[hold.reload.resource].transfer(hold.reload.nbytes)
                self._record(hold.reload, start, frame)
            self.last_workload[hold.device] = frame.workload
        events = self.events
        # One factor per resource for this inference's steps in this hold (see the docstring).
        factors: dict[str, float] = {}
        for step in hold.steps:
            start = env.now
            factor = 1.0
            if step.kind != "transfer" and step.resource in self.draws:
                factor = factors.get(step.resource) or \
                    factors.setdefault(step.resource, self.draws[step.resource]())
            # NOTE: transfers and undriven compute yield one event directly (the hot path);
            # work needing a host core goes through _on_core.
            if step.kind == "transfer":
                yield self.links[step.resource].transfer(step.nbytes)
            elif step.kind == "compute" and hold.driver is None:
                yield self._compute(step, factor)
            else:
                start = yield from self._on_core(step, hold, factor)
            if events is not None:
                self._record(step, start, frame)
        if device_req is not None and hold.device is not None:
            self.device_meters[hold.device].change(env.now, -1)
            self.devices[hold.device].release(device_req)

    def _compute(self, step: Step, factor: float = 1.0) -> simpy.Event:
        t = step.time_s * factor * (self._noise() if self.jitter else 1.0)
        t *= self.slowdown[step.resource][self.devices[step.resource].count]
        if self.dram is not None and step.dram_bytes > 0 and t > 0:
            return self.dram.transfer(step.dram_bytes, max_rate=step.dram_bytes / t)
        return self.env.timeout(t)

    def _on_core(self, step: Step, hold: Hold, factor: float = 1.0
                 ) -> Generator[simpy.Event, Any, float]:
        """Work that keeps a host core busy: a device's compute while a core drives it (the
        transfers are DMA and need none), or host work (pre/post-processing, fallback layers)
        on a core of its cluster. Returns when the work started."""
        cluster = hold.driver if step.kind == "compute" else step.resource
        assert cluster is not None
        cores, meter = self.cores[cluster], self.core_meters[cluster]
        with cores.request() as req:
            yield req
            meter.change(self.env.now, +1)
            start = self.env.now
            if step.kind == "compute":
                yield self._compute(step, factor)
            else:
                yield self.env.timeout(step.time_s * factor *
                                       (self._noise() if self.jitter else 1.0))
            meter.change(self.env.now, -1)
        return start

    def _record(self, step: Step, start: float, frame: Frame) -> None:
        if self.events is not None:
            self.events.append((step.resource, step.what or step.kind, start, self.env.now,
                                frame.id))

    def _noise(self) -> float:
        if not self.jitter:
            return 1.0
        sigma = self.jitter
        return float(self.rng.lognormal(-sigma * sigma / 2, sigma))

    # ----- result --------------------------------------------------------------------------

    def _result(self) -> SimResult:
        now = self.env.now
        for meter in [*self.device_meters.values(), *self.core_meters.values()]:
            meter.change(now, 0)
        frames = pd.DataFrame(
            [(f.id, f.workload, f.arrival, f.start, f.done, f.unit) for f in self.finished],
            columns=["frame", "workload", "arrival_s", "start_s", "done_s", "unit"],
        ).sort_values("frame", ignore_index=True)
        devices = {n: {"busy_s": m.busy_s, "load_s": m.load_s, "uses": m.uses,
                       "slots": self.devices[n].capacity}
                   for n, m in self.device_meters.items()}
        cores = {c: {"busy_s": m.busy_s, "load_s": m.load_s, "uses": m.uses,
                     "cores": self.cores[c].capacity} for c, m in self.core_meters.items()}
        links = {n: {"busy_s": lk.busy_s, "bytes": lk.bytes_moved,
                     "bandwidth_bytes_s": lk.bandwidth_bytes_s, "transfers": lk.transfers}
                 for n, lk in self.links.items()}
        dram = None
        if self.dram is not None:
            dram = {"busy_s": self.dram.busy_s, "bytes": self.dram.bytes_moved,
                    "bandwidth_bytes_s": self.dram.bandwidth_bytes_s}
        return SimResult(self.plan, frames, now, devices, cores, links, dram, self.events)
