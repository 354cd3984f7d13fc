"""The plan of one configuration as data: who does what, for how long (pure, no SimPy).

A :class:`Plan` is the whole simulated system as data: the device instances and their slots, the
host CPU clusters and their cores, the link instances, the shared DRAM, and the *workers*. A
worker is a loop that takes a frame from a queue, runs a :class:`Route` on it and hands it on:
a host thread feeding an NCS2, one component of a co-executing SoC, one stage of a pipeline.
Execution policies (:mod:`dse.sim.policies`) only decide which workers exist; the simulator
(:mod:`dse.sim.engine`) runs any set of workers, and :mod:`dse.sim.bound` bounds any set in closed
form.

Every duration comes from :mod:`dse.cost`; the plan never computes a cost itself. This module
holds only the data types; building a plan is :func:`dse.sim.build.build_plan`'s, from the
platform's units (:mod:`dse.sim.units`), the context a policy works in
(:mod:`dse.sim.context`), the routes of model costs (:mod:`dse.sim.routes`) and workload parts
(:mod:`dse.sim.partition`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dse.errors import DseError
from dse.spec.device import DeviceSpec
from dse.spec.experiment import ExperimentConfig
from dse.spec.platform import LinkSpec, PlatformSpec

if TYPE_CHECKING:
    from dse.sim.policies import Policy

__all__ = ["Hold", "Infeasible", "Plan", "Route", "Step", "Unit", "Worker"]


@dataclass(frozen=True)
class Step:
    """One timed step of a frame.

    Attributes:
        kind: ``compute`` (on the device held), ``transfer`` (over a link instance) or ``host``
            (on a core of a host cluster).
        resource: Device instance, link instance or host cluster.
        time_s: Duration on an idle platform (transfers: latency plus bytes at full bandwidth).
        nbytes: Bytes moved (transfers).
        dram_bytes: Bytes a compute step moves through the platform's shared DRAM.
    """

    kind: Literal["compute", "transfer", "host"]
    resource: str
    time_s: float
    nbytes: float = 0.0
    dram_bytes: float = 0.0
    what: str = ""


@dataclass(frozen=True)
class Hold:
    """Steps run while holding a slot of ``device``. If ``driver``, a core of that host cluster
    is busy while the device computes (transfers are DMA and need none; host steps take a core
    of their own cluster). ``device=None``: host work that holds nothing but its steps."""

    device: str | None
    driver: str | None
    steps: tuple[Step, ...]
    reload: Step | None = None  # weights to upload when the device last ran another workload

    @property
    def time_s(self) -> float:
        return sum(s.time_s for s in self.steps)


Route = tuple[Hold, ...]


@dataclass(frozen=True)
class Worker:
    """A loop: take a frame from ``source``, run its route, put it into ``sink`` (or finish).

    Attributes:
        routes: Workload index -> route; the worker only takes frames of these workloads.
        unit: The device (or component) it stands for, for per-device frame counts.
    """

    name: str
    source: str
    sink: str | None
    routes: Mapping[int, Route]
    unit: str


@dataclass(frozen=True)
class Unit:
    """A device instance in the plan (``ncs2:0``) or a host cluster used as a compute unit.

    Attributes:
        spec: The target: the device under ``runtime``, with the overlay fitted on it.
        link: The link instance it is attached by (``None``: a host cluster).
        driver: The host cluster whose core drives it while it computes (``None``: none does).
        slots: Inferences it runs at once (a host cluster: disjoint groups of cores).
        shares_dram: It computes from the platform's shared DRAM.
        runtime: The runtime it runs (``None``: the device names no default runtime).
        runtime_stated: The experiment states the runtime (else it is the device's default).
        role: ``host`` for a host CPU cluster (its slots are disjoint cores; it runs
            pre/post-processing, fallback layers and drivers), ``accelerator`` for a device
            instance attached to the host.
    """

    name: str
    device: str
    spec: DeviceSpec
    link: str | None
    driver: str | None
    slots: int
    shares_dram: bool
    runtime: str | None = None
    runtime_stated: bool = False
    role: Literal["accelerator", "host"] = "accelerator"

    @property
    def is_host(self) -> bool:
        """Whether the unit is a host CPU cluster."""
        return self.role == "host"


@dataclass(frozen=True)
class Plan:
    """Everything the simulator and the closed-form bound need, as data.

    Attributes:
        units: Every unit of the platform, by name (none when infeasible).
        clusters: The host clusters' specs (their units have ``role="host"``).
        ordered: The policy's outputs leave in stream order.
        policy: The execution policy that placed the workers; the metrics ask it when frames
            leave and how frames per device count.
        infeasible: Why the work cannot be placed (empty: it can).
    """

    config: ExperimentConfig
    platform: PlatformSpec
    units: Mapping[str, Unit]
    clusters: Mapping[str, DeviceSpec]
    cores: Mapping[str, int]
    links: Mapping[str, LinkSpec]
    dram_bw_bytes_s: float | None
    workers: tuple[Worker, ...]
    entry_queues: tuple[str, ...]
    ordered: bool
    workload_labels: tuple[str, ...]
    notes: tuple[str, ...] = ()
    price_usd: float | None = None
    board_idle_w: float = 0.0
    infeasible: str = ""
    policy: Policy | None = None

    @property
    def queues(self) -> tuple[str, ...]:
        names = {*self.entry_queues, *(w.source for w in self.workers),
                 *(w.sink for w in self.workers if w.sink)}
        return tuple(sorted(names))


class Infeasible(DseError):
    """A placement that cannot run: a result, not an error.

    Raised by a policy's ``workers`` (or the context's helpers it calls) when the work cannot be
    placed on this platform (a model does not fit, no device takes part); :func:`build_plan
    <dse.sim.build.build_plan>` catches it and returns a plan whose :attr:`Plan.infeasible` is
    the message. It derives from :class:`~dse.errors.DseError` so that one ``except`` names
    everything dse raises on purpose, but it never leaves ``build_plan``: bad input is a
    :class:`~dse.errors.SpecError` instead.
    """
