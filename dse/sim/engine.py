"""The SimPy engine: runs the workers of a :class:`~dse.sim.plan.Plan` on its resources.

One resource per hardware concept: a device's concurrency slots and a host cluster's cores are
:class:`~dse.sim.resources.Slots` (``simpy.Resource``'s behaviour, event for event, cheaper),
links and shared DRAM are :class:`~dse.sim.resources.SharedBandwidth`, queues between stages are
:class:`~dse.sim.resources.Queue` s (``simpy.FilterStore`` s where workers take only some
workloads). Durations come from the plan (that is, from :mod:`dse.cost`); the engine
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
from simpy.events import Timeout

from dse.cost.concurrency import slot_slowdown
from dse.sim.plan import Hold, Plan, Step, Worker
from dse.sim.resources import Queue, SharedBandwidth, Slots
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

    __slots__ = ("busy_s", "count", "last", "load_s", "uses")

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


def _frame_id(frame: Frame) -> int:
    return frame.id


class Frame:
    __slots__ = ("arrival", "done", "id", "start", "unit", "workload")

    def __init__(self, id: int, workload: int, arrival: float | None) -> None:
        self.id = id
        self.workload = workload
        self.arrival = arrival
        self.start: float | None = None
        self.done: float | None = None
        self.unit = ""


# Step codes of a compiled hold (Simulation._compile): a transfer over a link, compute on the
# device alone, compute while a host core drives the device, host work on a core.
_TRANSFER, _COMPUTE, _DRIVEN, _HOST = 0, 1, 2, 3
# (code, step, time_s, bytes (transfer) or DRAM bytes (compute), link, draws, factor slot,
#  slowdown by busy slots, device resource, host cores, their meter)
_Step = tuple[int, Step, float, float, Any, Any, int, Any, Any, Any, Any]
# (device, its resource, its meter, (reload step, link) or None, steps, factor slots)
_Hold = tuple[Any, Any, Any, Any, tuple[_Step, ...], int]


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
        self.devices = {n: Slots(env, u.slots) for n, u in plan.units.items()}
        self.cores = {c: Slots(env, n) for c, n in plan.cores.items()}
        self.links = {n: SharedBandwidth(env, link.bandwidth_bytes_s, link.latency_s, n)
                      for n, link in plan.links.items()}
        self.dram = SharedBandwidth(env, plan.dram_bw_bytes_s, 0.0, "dram") \
            if plan.dram_bw_bytes_s else None
        depth = plan.config.execution.queue_depth
        # NOTE: a plain Queue when every worker takes every workload: FilterStore's filtered
        # get is several times slower and only needed for workers restricted to some models.
        everyone = set(range(len(plan.config.workloads)))
        store: Any = Queue if all(set(w.routes) == everyone for w in plan.workers) \
            else simpy.FilterStore
        self.filtered = store is simpy.FilterStore
        self.queues = {q: store(env, capacity=float("inf") if q in plan.entry_queues else depth)
                       for q in plan.queues}
        # k / speedup(k) for k busy slots, per device: the slowdown of one inference. The slots
        # of a host cluster are disjoint core groups: they slow each other only through DRAM.
        self.slowdown = {n: [1.0] + [1.0 if u.is_host else
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
            self.env.process(self._worker(worker, self._compile(worker)))
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

    def _compile(self, worker: Worker) -> dict[int, tuple[_Hold, ...]]:
        """The worker's routes with every name looked up once: per hold the device, its meter,
        the reload and the steps as tuples the worker loop unpacks (see :meth:`_worker`)."""
        return {wid: tuple(self._compile_hold(hold) for hold in route)
                for wid, route in worker.routes.items()}

    def _compile_hold(self, hold: Hold) -> _Hold:
        slots: dict[str, int] = {}  # resource -> index of its factor in this hold
        steps: list[_Step] = []
        for step in hold.steps:
            draws, slot = None, 0
            if step.kind != "transfer" and step.resource in self.draws:
                draws = self.draws[step.resource]
                slot = slots.setdefault(step.resource, len(slots))
            if step.kind == "transfer":
                steps.append((_TRANSFER, step, step.time_s, step.nbytes,
                              self.links[step.resource], None, 0, (), None, None, None))
            elif step.kind == "compute":
                driven = hold.driver is not None
                steps.append((_DRIVEN if driven else _COMPUTE, step, step.time_s,
                              step.dram_bytes, None, draws, slot,
                              self.slowdown[step.resource], self.devices[step.resource],
                              self.cores[hold.driver] if hold.driver is not None else None,
                              self.core_meters[hold.driver] if hold.driver is not None
                              else None))
            else:
                steps.append((_HOST, step, step.time_s, 0.0, None, draws, slot, (), None,
                              self.cores[step.resource], self.core_meters[step.resource]))
        reload = (hold.reload, self.links[hold.reload.resource]) \
            if hold.reload is not None else None
        if hold.device is None:
            return (None, None, None, reload, tuple(steps), len(slots))
        return (hold.device, self.devices[hold.device], self.device_meters[hold.device], reload,
                tuple(steps), len(slots))

    def _worker(self, worker: Worker, routes: dict[int, tuple[_Hold, ...]]
                ) -> Generator[simpy.Event, Any, None]:
        """Take a frame, run its route, hand it on; forever.

        A route is a sequence of holds: a hold takes a slot of its device (if any), then runs
        its steps: transfers over a link, compute on the device (with a host core held while a
        core drives it), host work on a core of a cluster. One service-time factor per
        resource per hold (see the module docstring).
        """
        # NOTE: one flat loop over compiled tuples, inlined for performance: this loop is the
        # simulator's per-event cost (sub-generators and per-step lookups double it). The
        # events it schedules, and their order, are those of the plain formulation.
        env = self.env
        queue = self.queues[worker.source]
        sink = self.queues[worker.sink] if worker.sink is not None else None
        unit = worker.unit
        finished = self.finished
        events = self.events
        last_workload = self.last_workload
        jitter = self.jitter
        noise = self._noise
        dram = self.dram
        record = self._record
        filtered = self.filtered
        while True:
            frame = yield (queue.get(lambda f: f.workload in routes)
                           if filtered else queue.get())
            if frame.start is None:
                frame.start = env.now
                if frame.arrival is None:  # closed loop: a frame arrives when it is taken
                    frame.arrival = env.now
            for device, dev_res, dev_meter, reload, steps, nslots in routes[frame.workload]:
                if dev_res is not None:
                    dev_req = dev_res.request()
                    yield dev_req
                    dev_meter.change(env.now, +1)
                    last = last_workload.get(device)
                    if reload is not None and last is not None and last != frame.workload:
                        start = env.now
                        yield reload[1].transfer(reload[0].nbytes)
                        record(reload[0], start, frame)
                    last_workload[device] = frame.workload
                factors = [0.0] * nslots if nslots else None
                for code, step, time_s, nbytes, link, draws, slot, slowdown, unit_res, cores, \
                        meter in steps:
                    start = env.now
                    if code == _TRANSFER:
                        yield link.transfer(nbytes)
                    else:
                        factor = 1.0
                        if draws is not None:
                            factor = factors[slot]  # type: ignore[index]
                            if not factor:
                                factor = factors[slot] = draws()  # type: ignore[index]
                        if code != _COMPUTE:  # a host core: driving the device, or host work
                            core_req = cores.request()
                            yield core_req
                            start = env.now
                            meter.change(start, +1)
                        t = time_s * factor * (noise() if jitter else 1.0)
                        if code == _HOST:
                            yield Timeout(env, t)
                        else:
                            t *= slowdown[unit_res.count]
                            if dram is not None and nbytes > 0 and t > 0:
                                yield dram.transfer(nbytes, max_rate=nbytes / t)
                            else:
                                yield Timeout(env, t)
                        if code != _COMPUTE:
                            meter.change(env.now, -1)
                            cores.release(core_req)
                    if events is not None:
                        record(step, start, frame)
                if dev_res is not None:
                    dev_meter.change(env.now, -1)
                    dev_res.release(dev_req)
            if sink is not None:
                yield sink.put(frame)
            else:
                frame.done = env.now
                frame.unit = unit
                finished.append(frame)

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
        columns = ["frame", "workload", "arrival_s", "start_s", "done_s", "unit"]
        if self.finished:
            # NOTE: built column by column from frames sorted by id (rows of tuples and a
            # sort in pandas cost more than the metrics computed from them)
            done = sorted(self.finished, key=_frame_id)
            frames = pd.DataFrame(dict(zip(columns, (
                np.fromiter((f.id for f in done), np.int64, len(done)),
                np.fromiter((f.workload for f in done), np.int64, len(done)),
                np.array([f.arrival for f in done], dtype=float),
                np.array([f.start for f in done], dtype=float),
                np.array([f.done for f in done], dtype=float),
                [f.unit for f in done]), strict=True)))
        else:
            frames = pd.DataFrame([], columns=columns)
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
