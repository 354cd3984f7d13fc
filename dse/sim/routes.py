"""A model cost as the steps and holds of a route, and the shared DRAM's slowdown of them.

A :class:`~dse.sim.plan.Route` is what one frame does: holds of devices (and host cores) with
timed steps. The functions here lay the segments of a :class:`~dse.cost.ModelCost` out as holds
(the device's compute and transfers, its driver's host work, the fallback layers on the host,
a weight reload) and apply the DRAM contention law to a plan's workers. They are pure: which
unit runs what is the policy's, and every duration is the cost model's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

from dse.cost import ModelCost
from dse.cost.concurrency import contention_slowdown
from dse.cost.transfer import transfer_time
from dse.sim.plan import Hold, Route, Step, Unit, Worker
from dse.spec.platform import LinkSpec

__all__ = ["around", "device_hold", "holds", "host_steps", "with_contention"]


def host_steps(seconds: float, cluster: str, what: Literal["pre", "post"]) -> tuple[Step, ...]:
    """Pre- or post-processing on a core of ``cluster`` (none when it takes no time)."""
    return (Step("host", cluster, seconds, what=what),) if seconds > 0 else ()


def device_hold(unit: Unit, cost: ModelCost, *, host_cluster: str, scale: float = 1.0,
                reload_link: LinkSpec | None = None) -> Hold:
    """The steps of one model cost on ``unit``, as one hold of the unit.

    Args:
        unit: The unit that runs the cost.
        cost: Its model cost; driver segments are left out (:func:`holds` adds them).
        host_cluster: The cluster that runs layers falling back to the host.
        scale: Factor on the unit's compute (a host cluster with cores pinned to drivers).
        reload_link: The link the unit's on-chip weights are reloaded over when it last ran
            another workload (``None``: no reload).
    """
    steps = []
    for seg in cost.segments:
        if seg.what == "driver":
            continue  # host work outside the device: see holds()
        if seg.kind == "transfer":
            steps.append(Step("transfer", unit.link or seg.resource, seg.time_s, seg.nbytes,
                              what=seg.what))
        elif seg.resource == unit.device:
            steps.append(Step("compute", unit.name, seg.time_s * scale,
                              dram_bytes=seg.nbytes if unit.shares_dram else 0.0,
                              what=seg.what))
        else:
            steps.append(Step("host", host_cluster, seg.time_s, what="fallback"))
    reload = None
    if reload_link is not None and cost.onchip_weight_bytes and unit.link:
        reload = Step("transfer", unit.link,
                      transfer_time(cost.onchip_weight_bytes, reload_link),
                      cost.onchip_weight_bytes, what="reload")
    return Hold(unit.name, unit.driver, tuple(steps), reload)


def holds(unit: Unit, cost: ModelCost, *, host_cluster: str, scale: float = 1.0,
          reload_link: LinkSpec | None = None) -> tuple[Hold, ...]:
    """The host driver work of one model cost (on a core of the unit's driver cluster, else of
    ``host_cluster``; not holding the device), then the hold of the device
    (:func:`device_hold`, same arguments)."""
    driver = tuple(Step("host", unit.driver or host_cluster, seg.time_s, what="driver")
                   for seg in cost.segments if seg.what == "driver")
    return ((Hold(None, None, driver),) if driver else ()) + (
        device_hold(unit, cost, host_cluster=host_cluster, scale=scale,
                    reload_link=reload_link),)


def around(pre: tuple[Step, ...], middle: Route, post: tuple[Step, ...]) -> Route:
    """``middle`` with the pre- and post-processing steps as holds of nothing before and
    after it."""
    return ((Hold(None, None, pre),) if pre else ()) + middle + \
        ((Hold(None, None, post),) if post else ())


def with_contention(workers: list[Worker] | tuple[Worker, ...], units: Mapping[str, Unit],
                    dram_bw_bytes_s: float | None) -> list[Worker]:
    """The workers with every compute step that streams from the shared DRAM slowed by its
    device's contention law (:func:`~dse.cost.concurrency.contention_slowdown`), given the
    demand of everything else that runs at the same time.

    Co-runners are the other inferences in flight on units that share the DRAM: every other
    unit with workers, and the other slots of the step's own unit, each unit demanding its mean
    DRAM bytes per second of compute times the inferences it runs at once
    (``min(workers, slots)`` on a host cluster, whose slots are disjoint cores; the speed-up
    of that many slots on an accelerator). Demands are each task's alone, and co-runners are
    taken as busy all the time (a closed-loop stream; PCCS predicts from standalone demands
    the same way). The memory is the platform's DRAM (``dram_bw_bytes_s``) where it states
    one, else the unit's own memory bandwidth. With one inference in flight on shared DRAM
    nothing changes. The simulator's shared DRAM resource still caps the aggregate.

    Args:
        workers: The plan's workers, un-slowed.
        units: Every unit of the plan, by name (a host cluster's slots are disjoint cores).
        dram_bw_bytes_s: The platform's shared DRAM bandwidth, if stated.
    """
    demand: dict[str, float] = {}  # per-inference DRAM demand of each unit, bytes/s
    busy: dict[str, int] = {}
    for w in workers:
        busy[w.unit] = busy.get(w.unit, 0) + 1
        steps = [st for route in w.routes.values() for h in route for st in h.steps
                 if st.kind == "compute" and st.dram_bytes > 0 and st.time_s > 0]
        if steps and w.unit not in demand:
            demand[w.unit] = sum(st.dram_bytes for st in steps) / sum(st.time_s for st in steps)

    def at_once(name: str) -> float:
        unit = units[name]
        k = min(busy.get(name, 0), unit.slots)
        return float(k) if unit.is_host else unit.spec.speedup(k)

    if not demand or sum(at_once(n) for n in demand) <= 1:
        return list(workers)  # at most one inference on the DRAM
    total = sum(d * at_once(n) for n, d in demand.items())

    def step(st: Step) -> Step:
        if st.kind != "compute" or st.dram_bytes <= 0 or st.time_s <= 0:
            return st
        unit = units[st.resource]
        # the task's demand (its traffic over its compute time), for every step of it alike
        own = demand.get(unit.name, st.dram_bytes / st.time_s)
        factor = contention_slowdown(own, total - own,
                                     float(dram_bw_bytes_s or unit.spec.mem_bw_bytes_s),
                                     **unit.spec.contention_law())
        return st if factor == 1.0 else replace(st, time_s=st.time_s * factor)

    return [replace(w, routes={k: tuple(replace(h, steps=tuple(step(st) for st in h.steps))
                                        for h in route) for k, route in w.routes.items()})
            for w in workers]
