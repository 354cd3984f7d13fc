"""From an experiment configuration to a plan: who does what, for how long (pure, no SimPy).

A :class:`Plan` is the whole simulated system as data: the device instances and their slots, the
host CPU clusters and their cores, the link instances, the shared DRAM, and the *workers*. A
worker is a loop that takes a frame from a queue, runs a :class:`Route` on it and hands it on:
a host thread feeding an NCS2, one component of a co-executing SoC, one stage of a pipeline.
Execution policies (:mod:`dse.sim.policies`) only decide which workers exist; the simulator
(:mod:`dse.sim.engine`) runs any set of workers, and :mod:`dse.sim.bound` bounds any set in closed
form.

Every duration comes from :mod:`dse.cost`; the plan never computes a cost itself.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from dse.cost import ModelCost
from dse.cost.concurrency import contention_slowdown, pinned_core_scale
from dse.cost.transfer import transfer_time
from dse.devices import Catalog
from dse.devices.calibrated import inherited_from, is_calibrated
from dse.errors import Problem, SpecError, WorkloadError, did_you_mean
from dse.sim.memo import model_cost, with_changes, workload
from dse.spec.device import DeviceSpec
from dse.spec.experiment import ExperimentConfig, WorkloadRef
from dse.spec.platform import LinkSpec, PlatformSpec
from dse.spec.runtime import RuntimeSpec
from dse.workloads import Workload

__all__ = ["Hold", "Infeasible", "Plan", "PlanContext", "Route", "Step", "Unit", "Worker",
           "build_plan", "with_contention"]


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
        runtime: The runtime it runs (``None``: the device names no default runtime).
        runtime_stated: The experiment states the runtime (else it is the device's default).
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


@dataclass(frozen=True)
class Plan:
    """Everything the simulator and the closed-form bound need, as data."""

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

    @property
    def queues(self) -> tuple[str, ...]:
        names = {*self.entry_queues, *(w.source for w in self.workers),
                 *(w.sink for w in self.workers if w.sink)}
        return tuple(sorted(names))


@dataclass
class PlanContext:
    """What an execution policy builds its workers from.

    Policies call :meth:`units`, :meth:`route` and friends; they never touch costs directly.
    """

    config: ExperimentConfig
    catalog: Catalog
    platform: PlatformSpec
    base_dir: Path
    file: str = "experiment"
    notes: list[str] = field(default_factory=list)
    pin_drivers: bool = False
    _units: dict[str, Unit] = field(default_factory=dict)
    _workloads: list[Workload] = field(default_factory=list)

    # ----- platform ------------------------------------------------------------------------

    @functools.cached_property
    def clusters(self) -> dict[str, DeviceSpec]:
        """Host CPU clusters in platform order (the first runs pre/post-processing), each the
        target of the runtime it runs."""
        return {name: self.target(name) for name in self.platform.host}

    def runtime(self, device: str) -> tuple[str | None, bool]:
        """The runtime ``device`` runs, and whether the experiment states it (else: the
        device's default runtime)."""
        stated = self.config.platform.stated_runtimes().get(device)
        if stated is not None:
            return stated[0], True
        return self.catalog.device(device).default_runtime, False

    def target(self, device: str) -> DeviceSpec:
        """The spec ``device`` runs with: its target under its runtime, on this platform's
        host (accelerators whose fitted timing includes host work depend on it)."""
        runtime, _ = self.runtime(device)
        host = None if device in self.platform.host else self.config.platform.host
        return self.catalog.target(device, runtime, host=host)

    @property
    def main_cluster(self) -> str:
        return next(iter(self.clusters))

    @functools.cached_property
    def driver_cluster(self) -> str:
        """The cluster whose cores drive accelerators: the little cluster (the lowest peak per
        core; the mobile-SoC study drives the GPU and NPU from small-cluster cores)."""
        return min(self.clusters, key=lambda n: max(self.clusters[n].peak_ops_s.values())
                   / (self.clusters[n].cores or 1))

    @functools.cached_property
    def links(self) -> dict[str, LinkSpec]:
        """Link instances: a shared link is one instance; others one per attached device."""
        out: dict[str, LinkSpec] = {}
        for unit in self.all_units.values():
            if unit.link is not None:
                out[unit.link] = self.catalog.link(unit.link.split(":")[0])
        return out

    @functools.cached_property
    def all_units(self) -> dict[str, Unit]:
        """Every accelerator instance (``name:i``) and every host cluster, by name."""
        units: dict[str, Unit] = {}
        for name, group in self.platform.accelerators.items():
            spec = self.target(name)
            runtime, stated = self.runtime(name)
            link = self.catalog.attached_link(self.platform, name)
            for i in range(group.count):
                inst = f"{name}:{i}"
                link_inst = link.name if link.shared else f"{link.name}:{inst}"
                requests = self.config.execution.infer_requests
                slots = min(spec.slots, requests) if requests else spec.slots
                if requests and requests > spec.slots and i == 0:
                    self.notes.append(f"{name}: infer_requests {requests} > its {spec.slots} "
                                      f"slots; at most {spec.slots} run at once (the rest wait "
                                      f"in the host's queue)")
                units[inst] = Unit(inst, name, spec, link_inst,
                                   self.driver_cluster if spec.needs_host_core else None, slots,
                                   link.shared_memory, runtime, stated)
        t = self.config.execution.intra_op_threads
        for name, spec in self.clusters.items():
            # Inferences of t threads each run side by side on disjoint cores.
            slots = max(1, (spec.cores or 1) // t) if t else 1
            units[name] = Unit(name, name, spec, None, None, slots, True, *self.runtime(name))
        return units

    def units(self, default: Literal["accelerators", "all"] = "accelerators") -> list[Unit]:
        """The units taking part: ``execution.devices`` (a device name selects all its
        instances), else every accelerator (the main host cluster if there are none), or with
        ``default="all"`` every accelerator and every host cluster.

        Raises:
            SpecError: A listed name is not on the platform.
        """
        wanted = self.config.execution.devices
        units = self.all_units
        if wanted is None:
            accel = [u for u in units.values() if u.name not in self.clusters]
            if default == "all":
                return list(units.values())
            return accel or [units[self.main_cluster]]
        chosen, problems = [], []
        for i, name in enumerate(wanted):
            match = [u for u in units.values() if u.name == name or u.device == name]
            if not match:
                problems.append(Problem(self.file, f"execution.devices.{i}",
                                        f"{name!r} is not on the platform; it has: "
                                        f"{', '.join(units)}"))
            chosen += [u for u in match if u not in chosen]
        if problems:
            raise SpecError(problems)
        if not chosen:
            raise Infeasible("no device on the platform takes part")
        return chosen

    # ----- workloads and costs -------------------------------------------------------------

    @property
    def workload_refs(self) -> tuple[WorkloadRef, ...]:
        return self.config.workloads

    def workload(self, wid: int, precision: str) -> Workload:
        """The workload ``wid`` at ``precision``; a zoo model's problems are reported at its
        place in the experiment (``workloads.0.zoo``, ``workloads.0.options.width``)."""
        ref = self.config.workloads[wid]
        if ref.zoo is not None:
            try:
                return workload(ref.zoo, precision=precision, **ref.options)
            except WorkloadError as exc:
                raise WorkloadError([
                    Problem(self.file, f"workloads.{wid}.options.{p.path}" if p.path in
                            ref.options else f"workloads.{wid}.zoo", p.message)
                    for p in exc.problems] or str(exc)) from None
        path = Path(ref.onnx or "")
        path = path if path.is_absolute() else self.base_dir / path
        return workload(path, precision=precision, **ref.options)

    def precision(self, wid: int, spec: DeviceSpec) -> str:
        ref = self.config.workloads[wid]
        return ref.precision or spec.precisions[0]

    def runs(self, wid: int, unit: Unit) -> bool:
        allowed = self.config.workloads[wid].devices
        return allowed is None or unit.name in allowed or unit.device in allowed

    def cost(self, wid: int, unit: Unit, w: Workload | None = None) -> ModelCost:
        """The model cost of workload ``wid`` (or the part ``w``) on ``unit``."""
        precision = self.precision(wid, unit.spec)
        w = w or self.workload(wid, precision)
        spec = self._spec_for(wid, unit)
        dvfs = self.config.execution.dvfs.get(unit.device)
        link = self.links.get(unit.link) if unit.link else None
        on_host = unit.name in self.clusters
        fallback = None if on_host else self.clusters[self.main_cluster]
        threads = self.config.execution.intra_op_threads if on_host else None
        return model_cost(w.at(precision), spec, precision, fallback=fallback, link=link,
                          dvfs=dvfs, threads=threads, runtime=self.runtime_spec(unit))

    def runtime_spec(self, unit: Unit) -> RuntimeSpec | None:
        """The runtime ``unit`` runs, if the catalog knows it (what it fuses)."""
        return self.catalog.runtimes.get(unit.runtime) if unit.runtime else None

    def with_contention(self, workers: list[Worker]) -> list[Worker]:
        """The workers with the shared DRAM's contention law applied
        (:func:`with_contention`)."""
        return with_contention(workers, self.all_units, set(self.clusters),
                               self.platform.dram_bw_bytes_s)

    def _spec_for(self, wid: int, unit: Unit) -> DeviceSpec:
        """The unit's spec, with its on-chip memory split among co-compiled workloads (sharing
        the DRAM is :meth:`with_contention`'s, on the plan's steps)."""
        spec = unit.spec
        sharing = [i for i in range(len(self.config.workloads)) if self.runs(i, unit)]
        if len(sharing) < 2 or not self.config.execution.cocompiled or not spec.onchip_mem_bytes:
            return spec
        # The compiler caches the first model's weights first, the next in what is left.
        left = spec.onchip_mem_bytes
        for i in sharing:
            if i == wid:
                break
            precision = self.precision(i, spec)
            used = model_cost(self.workload(i, precision), with_changes(
                spec, "co-compiled share", onchip_mem_bytes=left), precision,
                fallback=self.clusters[self.main_cluster],
                link=self.links.get(unit.link) if unit.link else None,
                runtime=self.runtime_spec(unit)).onchip_weight_bytes
            left = max(0.0, left - used)
        return with_changes(spec, "co-compiled: on-chip memory left by the models before",
                            onchip_mem_bytes=left)

    # ----- routes --------------------------------------------------------------------------

    def host_steps(self, what: Literal["pre", "post"]) -> tuple[Step, ...]:
        t = self.config.execution.preprocess_s if what == "pre" else \
            self.config.execution.postprocess_s
        return (Step("host", self.main_cluster, t, what=what),) if t > 0 else ()

    def hold(self, unit: Unit, cost: ModelCost, wid: int) -> Hold:
        """The steps of one model cost on ``unit``, as one hold of the unit."""
        steps = []
        scale = self.cluster_scale(unit)
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
                steps.append(Step("host", self.main_cluster, seg.time_s, what="fallback"))
        reload = None
        if not self.config.execution.cocompiled and cost.onchip_weight_bytes and unit.link and \
                sum(self.runs(i, unit) for i in range(len(self.config.workloads))) > 1:
            link = self.links[unit.link]
            reload = Step("transfer", unit.link,
                          transfer_time(cost.onchip_weight_bytes, link),
                          cost.onchip_weight_bytes, what="reload")
        return Hold(unit.name, unit.driver, tuple(steps), reload)

    def route(self, unit: Unit, wid: int) -> Route:
        """Pre-processing, the whole model on ``unit``, post-processing."""
        cost = self.cost(wid, unit)
        if not cost.feasible:
            raise Infeasible(f"{self.config.workloads[wid].label} on {unit.name}: "
                              f"{cost.reason}")
        pre, post = self.host_steps("pre"), self.host_steps("post")
        return ((Hold(None, None, pre),) if pre else ()) + self.holds(unit, cost, wid) + \
            ((Hold(None, None, post),) if post else ())

    def holds(self, unit: Unit, cost: ModelCost, wid: int) -> tuple[Hold, ...]:
        """The host driver work of one model cost (on a host core, not holding the device),
        then the hold of the device."""
        driver = tuple(Step("host", unit.driver or self.main_cluster, seg.time_s, what="driver")
                       for seg in cost.segments if seg.what == "driver")
        return ((Hold(None, None, driver),) if driver else ()) + (self.hold(unit, cost, wid),)

    def reserved_cores(self, cluster: str) -> int:
        """Cores of ``cluster`` pinned to driving the accelerators that take part (only when the
        policy pins drivers, as co-execution does)."""
        if cluster != self.driver_cluster or not self.pin_drivers:
            return 0
        return sum(1 for u in self.units("all") if u.driver == cluster
                   and u.name not in self.clusters)

    def cluster_scale(self, unit: Unit) -> float:
        """A host cluster computing with some cores pinned to drivers is that much slower."""
        if unit.name not in self.clusters:
            return 1.0
        return pinned_core_scale(unit.spec.cores or 1, self.reserved_cores(unit.name))


def with_contention(workers: list[Worker] | tuple[Worker, ...], units: Mapping[str, Unit],
                    clusters: set[str] | Mapping[str, object], dram_bw_bytes_s: float | None
                    ) -> list[Worker]:
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
        units: Every unit of the plan, by name.
        clusters: The host clusters' names (their slots are disjoint cores).
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
        return float(k) if name in clusters else unit.spec.speedup(k)

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


class Infeasible(Exception):
    """A policy cannot place the work (a result, not an error): becomes
    :attr:`Plan.infeasible`."""


def build_plan(config: ExperimentConfig, *, catalog: Catalog | None = None,
               base_dir: Path | str = ".", file: str = "experiment",
               contention: bool = True) -> Plan:
    """The plan of one fixed configuration.

    Args:
        config: The configuration.
        catalog: Device catalog (default: the built-in one); inline devices of the experiment
            are added to a copy.
        base_dir: Folder ONNX paths are relative to (the experiment file's).
        file: The experiment file, for messages.
        contention: Slow compute on shared DRAM by the contention law (:func:`with_contention`);
            ``False`` leaves the steps as one inference alone times them (the fitter re-times
            them and applies the law itself).

    Raises:
        SpecError: Unknown names in the configuration (listing the known ones).
    """
    from dse.sim.policies import get_policy

    if catalog is None:
        from dse.devices.calibrated import catalog_for

        catalog = catalog_for(config.calibration)
    catalog = _with_inline_devices(catalog, config, file)
    ref = config.platform
    platform = catalog.compose(ref.host, ref.groups, link=ref.link, file=file,
                               prefix="platform")
    _check_runtimes(config, catalog, platform, file)
    _check_dvfs(config, catalog, platform, file)
    ctx = PlanContext(config, catalog, platform, Path(base_dir), file)
    policy = get_policy(config.execution.policy)
    labels = tuple(w.label for w in config.workloads)
    common = dict(config=config, platform=platform, clusters=ctx.clusters,
                  dram_bw_bytes_s=platform.dram_bw_bytes_s, workload_labels=labels,
                  price_usd=_price(platform, catalog), board_idle_w=platform.board_idle_w)
    try:
        workers, entry, ordered = policy.workers(ctx)
        if not workers:
            raise Infeasible(f"the {policy.name} policy placed no work on this platform")
        if contention:
            workers = ctx.with_contention(list(workers))
    except Infeasible as exc:
        return Plan(units={}, cores={}, links={}, workers=(), entry_queues=(), ordered=False,
                    notes=tuple(ctx.notes), infeasible=str(exc), **common)  # type: ignore[arg-type]
    cores = {name: spec.cores or 1 for name, spec in ctx.clusters.items()}
    ctx.notes += _calibration_note(config, ctx)
    return Plan(units=ctx.all_units, cores=cores, links=ctx.links, workers=tuple(workers),
                entry_queues=tuple(entry), ordered=ordered, notes=tuple(ctx.notes),
                **common)  # type: ignore[arg-type]


def _calibration_note(config: ExperimentConfig, ctx: PlanContext) -> list[str]:
    """Which devices run with fitted values and which with datasheet values, and which runtime
    each runs (stated in the experiment, or the device's default)."""
    units = {u.device: u for u in ctx.all_units.values()}
    used = sorted(units)
    runtimes = [f"{d} {units[d].runtime} ({'stated' if units[d].runtime_stated else 'default'})"
                if units[d].runtime else f"{d} (no runtime named)" for d in used]
    runtime_note = f"runtimes: {', '.join(runtimes)}"
    if config.calibration == "datasheet":
        return ["calibration: datasheet values for every device (calibration: datasheet)",
                runtime_note]
    fitted = [d for d in used if is_calibrated(units[d].spec)]
    rest = [d for d in used if d not in fitted]

    def label(d: str) -> str:
        spec = units[d].spec
        notes = [f"inherited from {', '.join(inherited_from(spec))}"] if inherited_from(spec) \
            else []
        if any("caution" in s.cite for s in spec.sources if s.kind == "fitted"):
            notes.append("few models: low confidence")
        return f"{d} ({'; '.join(notes)})" if notes else d

    return ["calibration: fitted overlays (calibration/overlays) for "
            f"{', '.join(map(label, fitted)) or 'no device'}"
            + (f"; datasheet values for {', '.join(rest)} (no overlay for its target)"
               if rest else ""), runtime_note]


def _check_runtimes(config: ExperimentConfig, catalog: Catalog, platform: PlatformSpec,
                    file: str) -> None:
    """Every runtime the experiment states is known and runs its device (every problem)."""
    problems = []
    on_platform = [*platform.host, *platform.accelerators]
    for device, (runtime, path) in config.platform.stated_runtimes().items():
        if device not in on_platform:
            problems.append(Problem(file, path, f"{device!r} is not on the platform; it has: "
                                    f"{', '.join(on_platform)}"))
        elif (error := catalog.runtime_problem(runtime, device)) is not None:
            problems.append(Problem(file, path, error))
    if problems:
        raise SpecError(problems)


def _check_dvfs(config: ExperimentConfig, catalog: Catalog, platform: PlatformSpec,
                file: str) -> None:
    """Every DVFS level the experiment names is a level of a device on the platform."""
    problems = []
    on_platform = [*platform.host, *platform.accelerators]
    for device, level in config.execution.dvfs.items():
        path = f"execution.dvfs.{device}"
        if device not in on_platform:
            problems.append(Problem(file, path, did_you_mean(device, on_platform,
                                                             what="device")))
            continue
        levels = [lv.name for lv in catalog.device(device).power.dvfs]
        if level not in levels:
            problems.append(Problem(file, path, did_you_mean(level, levels, what=f"DVFS level "
                                                             f"of {device}")
                                    if levels else f"{device} has no DVFS levels; got "
                                    f"{level!r:.40}"))
    if problems:
        raise SpecError(problems)


def _with_inline_devices(catalog: Catalog, config: ExperimentConfig, file: str) -> Catalog:
    """The catalog with the experiment's what-if devices, built like catalog files: a
    ``base:`` device inherits the fitted values of every target of its base."""
    if not config.platform.devices:
        return catalog
    clash = [Problem(file, f"platform.devices.{name}", f"{name!r} is already a catalog device; "
                     f"choose a new name for the what-if")
             for name in config.platform.devices if name in catalog.devices]
    if clash:
        raise SpecError(clash)
    return catalog.with_devices(config.platform.devices, file=file, prefix="platform.devices")


def _price(platform: PlatformSpec, catalog: Catalog) -> float | None:
    parts: list[float | None] = [platform.price_usd]
    parts += [catalog.device(n).price_usd for n in platform.host
              if catalog.device(n).price_usd is not None]
    for name, group in platform.accelerators.items():
        price = catalog.device(name).price_usd
        parts.append(None if price is None else price * group.count)
    known = [p for p in parts if p is not None]
    return float(sum(known)) if known else None
