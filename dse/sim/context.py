"""What an execution policy builds its workers from: :class:`PlanContext`.

A context is one configuration's platform units (:class:`~dse.sim.units.PlatformUnits`) with
its workloads, their costs on each unit (:mod:`dse.cost`, through the caches of
:mod:`dse.sim.memo`) and their routes (:mod:`dse.sim.routes`). Policies read it and may append
notes; they never change its configuration or catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dse.cost import ModelCost
from dse.cost.concurrency import pinned_core_scale
from dse.errors import Problem, WorkloadError
from dse.sim import routes as layout
from dse.sim.memo import model_cost, with_changes, workload
from dse.sim.plan import Hold, Infeasible, Route, Step, Unit, Worker
from dse.sim.units import PlatformUnits
from dse.spec.device import DeviceSpec
from dse.spec.experiment import WorkloadRef
from dse.spec.platform import LinkSpec
from dse.spec.runtime import RuntimeSpec
from dse.workloads import Workload

__all__ = ["PlanContext"]


@dataclass
class PlanContext(PlatformUnits):
    """What an execution policy builds its workers from.

    Policies call :meth:`units`, :meth:`route` and friends; they never touch costs directly.

    Attributes:
        base_dir: Folder ONNX paths are relative to (the experiment file's).
        pin_drivers: Accelerator drivers are pinned to cores of the driver cluster, which then
            computes that much slower as a unit (the policy's ``pins_drivers``; set when the
            context is made, for the policy it is made for).
    """

    base_dir: Path = Path(".")
    pin_drivers: bool = False

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
        on_host = unit.is_host
        fallback = None if on_host else self.clusters[self.main_cluster]
        threads = self.config.execution.intra_op_threads if on_host else None
        return model_cost(w.at(precision), spec, precision, fallback=fallback, link=link,
                          dvfs=dvfs, threads=threads, runtime=self.runtime_spec(unit))

    def runtime_spec(self, unit: Unit) -> RuntimeSpec | None:
        """The runtime ``unit`` runs, if the catalog knows it (what it fuses)."""
        return self.catalog.runtimes.get(unit.runtime) if unit.runtime else None

    def with_contention(self, workers: list[Worker]) -> list[Worker]:
        """The workers with the shared DRAM's contention law applied
        (:func:`~dse.sim.routes.with_contention`)."""
        return layout.with_contention(workers, self.all_units, self.platform.dram_bw_bytes_s)

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

    # ----- routes (laid out by dse.sim.routes) ---------------------------------------------

    def host_steps(self, what: Literal["pre", "post"]) -> tuple[Step, ...]:
        """Pre- or post-processing on the main cluster (none when the experiment states no
        time for it)."""
        t = self.config.execution.preprocess_s if what == "pre" else \
            self.config.execution.postprocess_s
        return layout.host_steps(t, self.main_cluster, what)

    def hold(self, unit: Unit, cost: ModelCost, wid: int) -> Hold:
        """The steps of one model cost on ``unit``, as one hold of the unit."""
        return layout.device_hold(unit, cost, host_cluster=self.main_cluster,
                                  scale=self.cluster_scale(unit),
                                  reload_link=self._reload_link(unit))

    def holds(self, unit: Unit, cost: ModelCost, wid: int) -> tuple[Hold, ...]:
        """The host driver work of one model cost (on a host core, not holding the device),
        then the hold of the device."""
        return layout.holds(unit, cost, host_cluster=self.main_cluster,
                            scale=self.cluster_scale(unit),
                            reload_link=self._reload_link(unit))

    def route(self, unit: Unit, wid: int) -> Route:
        """Pre-processing, the whole model on ``unit``, post-processing.

        Raises:
            Infeasible: The model cannot run on ``unit`` (the cost model's reason).
        """
        cost = self.cost(wid, unit)
        if not cost.feasible:
            raise Infeasible(f"{self.config.workloads[wid].label} on {unit.name}: "
                              f"{cost.reason}")
        return layout.around(self.host_steps("pre"), self.holds(unit, cost, wid),
                             self.host_steps("post"))

    def routes(self, unit: Unit) -> dict[int, Route]:
        """The route of every workload ``unit`` runs, by workload index."""
        return {wid: self.route(unit, wid) for wid in range(len(self.config.workloads))
                if self.runs(wid, unit)}

    def reserved_cores(self, cluster: str) -> int:
        """Cores of ``cluster`` pinned to driving the accelerators that take part (only when the
        policy pins drivers, as co-execution does)."""
        if cluster != self.driver_cluster or not self.pin_drivers:
            return 0
        return sum(1 for u in self.units("all") if u.driver == cluster and not u.is_host)

    def cluster_scale(self, unit: Unit) -> float:
        """A host cluster computing with some cores pinned to drivers is that much slower."""
        if not unit.is_host:
            return 1.0
        return pinned_core_scale(unit.spec.cores or 1, self.reserved_cores(unit.name))

    def _reload_link(self, unit: Unit) -> LinkSpec | None:
        """The link ``unit`` reloads its on-chip weights over when it last ran another
        workload: models compiled apart, more than one of them on the unit."""
        if self.config.execution.cocompiled or not unit.link or \
                sum(self.runs(i, unit) for i in range(len(self.config.workloads))) <= 1:
            return None
        return self.links[unit.link]
