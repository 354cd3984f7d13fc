"""Closed-form bound on steady-state throughput (no SimPy).

Every worker ``w`` completes frames at some rate ``r_w``. Each resource caps the rates through
what one frame demands of it:

- a worker does one frame at a time: ``r_w x latency_w <= 1``;
- a device with ``s`` usable slots: ``sum r_w x hold_w(device) <= speedup(s)``;
- a host cluster: ``sum r_w x core_seconds_w(cluster) <= cores``;
- a link or the shared DRAM: ``sum r_w x bytes_w <= bandwidth``;
- frames flow: what leaves a queue equals what enters it; round-robin entry queues get equal
  shares; an open-loop stream caps the total at its rate.

The largest total rate under these linear constraints (a tiny linear program) bounds what any
schedule can reach: the simulator never beats it, and matches it when one resource is the only
one contended. The binding constraints name the bottleneck.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from dse.sim.plan import Plan, Route

__all__ = ["Bound", "bound"]


@dataclass(frozen=True)
class Bound:
    """The throughput bound and what limits it.

    Attributes:
        throughput_fps: Largest steady-state frame rate any schedule can reach.
        bottlenecks: The resources that bind (``device ncs2:0``, ``link usb3_hub``,
            ``cores rpi4_cpu``, ``dram``, ``stream``), or ``workers (frames in flight)`` when
            none does and more threads would help.
        rates: Frames per second per worker at the bound.
        latency_s: Latency of one frame alone, per worker (its shortest possible latency).
    """

    throughput_fps: float
    bottlenecks: tuple[str, ...]
    rates: dict[str, float]
    latency_s: dict[str, float]


def _demands(route: Route, plan: Plan) -> dict[str, float]:
    """Per-frame demand of a route on every resource, keyed ``kind name``."""
    d: dict[str, float] = defaultdict(float)
    for hold in route:
        if hold.device is not None:
            d[f"device {hold.device}"] += hold.time_s
        for step in hold.steps:
            if step.kind == "transfer":
                d[f"link {step.resource}"] += step.nbytes
            elif step.kind == "host":
                d[f"cores {step.resource}"] += step.time_s
            else:
                if hold.driver is not None:  # a core drives the device while it computes
                    d[f"cores {hold.driver}"] += step.time_s
                if plan.dram_bw_bytes_s and step.dram_bytes:
                    d["dram"] += step.dram_bytes
    return d


def _capacity(key: str, plan: Plan) -> float:
    kind, _, name = key.partition(" ")
    if kind == "device":
        unit = plan.units[name]
        if unit.is_host:  # disjoint core groups, one inference each
            return float(unit.slots)
        return unit.spec.speedup(unit.slots)
    if kind == "cores":
        return float(plan.cores[name])
    if kind == "link":
        return plan.links[name].bandwidth_bytes_s
    return float(plan.dram_bw_bytes_s or np.inf)


_Array = tuple[bytes, tuple[int, ...]]


def _key(a: np.ndarray) -> _Array:
    """An array as a hashable value (its float64 bytes and shape)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    return a.tobytes(), a.shape


def _array(key: _Array) -> np.ndarray:
    return np.frombuffer(key[0], dtype=np.float64).reshape(key[1])


@functools.lru_cache(maxsize=512)
def _solve(c: _Array, a_ub: _Array, b_ub: _Array, a_eq: _Array | None, b_eq: _Array | None
           ) -> np.ndarray:
    """The linear program's optimum, solved once per distinct program: a search revisits
    configurations, and the same plan is the same program (read-only result)."""
    res = linprog(_array(c), A_ub=_array(a_ub), b_ub=_array(b_ub),
                  A_eq=_array(a_eq) if a_eq is not None else None,
                  b_eq=_array(b_eq) if b_eq is not None else None,
                  bounds=[(0, None)] * len(_array(c)), method="highs")
    if not res.success:  # cannot happen for a well-formed plan; keep the result honest
        raise RuntimeError(f"bound: linear program failed: {res.message}")
    x = np.asarray(res.x, dtype=np.float64)
    x.setflags(write=False)
    return x


def bound(plan: Plan) -> Bound:
    """The closed-form throughput bound of a plan (see the module docstring).

    Multi-workload streams are bounded per worker on the average of the routes it runs; the
    share of each workload is not constrained, which keeps this an upper bound.
    """
    workers = plan.workers
    if plan.infeasible or not workers:
        return Bound(0.0, ("infeasible",), {}, {})
    n = len(workers)
    demands, latency = [], {}
    for w in workers:
        routes = list(w.routes.values())
        per = [_demands(r, plan) for r in routes]
        keys = {k for d in per for k in d}
        demands.append({k: float(np.mean([d.get(k, 0.0) for d in per])) for k in keys})
        latency[w.name] = float(np.mean([sum(h.time_s for h in r) for r in routes]))
    rows, rhs, names = [], [], []
    for i, w in enumerate(workers):  # one frame at a time per worker
        row = np.zeros(n)
        row[i] = latency[w.name]
        rows.append(row)
        rhs.append(1.0)
        names.append(f"worker {w.name}")
    for key in sorted({k for d in demands for k in d}):
        row = np.array([d.get(key, 0.0) for d in demands])
        if row.any():
            rows.append(row)
            rhs.append(_capacity(key, plan))
            names.append(key)
    finishing = np.array([1.0 if w.sink is None else 0.0 for w in workers])
    fps = plan.config.stream.fps
    if fps is not None:
        rows.append(finishing.copy())
        rhs.append(fps)
        names.append("stream")
    eq_rows, eq_rhs = [], []
    for q in plan.queues:
        into = np.array([1.0 if w.sink == q else 0.0 for w in workers])
        out = np.array([1.0 if w.source == q else 0.0 for w in workers])
        if into.any():
            eq_rows.append(into - out)
            eq_rhs.append(0.0)
    entries = plan.entry_queues
    for a, b in itertools.pairwise(entries):  # round robin: equal shares
        eq_rows.append(np.array([(w.source == a) - (w.source == b) for w in workers], float))
        eq_rhs.append(0.0)
    x = _solve(_key(-finishing), _key(np.array(rows)), _key(np.array(rhs)),
               _key(np.array(eq_rows)) if eq_rows else None,
               _key(np.array(eq_rhs)) if eq_rhs else None)
    rates = {w.name: float(r) for w, r in zip(workers, x, strict=True)}
    used = np.array(rows) @ x
    util = used / np.array(rhs)
    binding = sorted((i for i in range(len(names)) if util[i] > 1 - 1e-6),
                     key=lambda i: -util[i])
    # A resource that binds is the bottleneck; only if none does is it the number of workers
    # (which worker constraints the solver leaves tight is arbitrary among equal optima).
    resources = tuple(names[i] for i in binding if not names[i].startswith("worker "))
    limits = resources or ("workers (frames in flight)",)
    return Bound(float(finishing @ x), limits, rates, latency)
