"""From a platform to the units a plan runs on: device instances, host clusters, links.

A platform names device groups (``ncs2: 2``) and host clusters; a plan runs on *units*: one per
device instance (``ncs2:0``, ``ncs2:1``) and one per host cluster, each with its target spec
(the device under its runtime, with its fitted overlay), its slots, its link instance and the
cluster that drives it (:class:`~dse.sim.plan.Unit`). Which of them take part is the
experiment's ``execution.devices``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from dse.devices import Catalog
from dse.errors import Problem, SpecError
from dse.sim.plan import Infeasible, Unit
from dse.spec.device import DeviceSpec
from dse.spec.experiment import ExperimentConfig
from dse.spec.platform import LinkSpec, PlatformSpec

__all__ = ["PlatformUnits"]


@dataclass
class PlatformUnits:
    """The units, clusters and links of one configuration's platform.

    Attributes:
        notes: What planning noticed, for the plan's notes (appended to, never read back).
    """

    config: ExperimentConfig
    catalog: Catalog
    platform: PlatformSpec
    file: str = "experiment"
    notes: list[str] = field(default_factory=list)

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
                                   link.shared_memory, runtime, stated, role="accelerator")
        t = self.config.execution.intra_op_threads
        for name, spec in self.clusters.items():
            # Inferences of t threads each run side by side on disjoint cores.
            slots = max(1, (spec.cores or 1) // t) if t else 1
            units[name] = Unit(name, name, spec, None, None, slots, True, *self.runtime(name),
                               role="host")
        return units

    def units(self, default: Literal["accelerators", "all"] = "accelerators") -> list[Unit]:
        """The units taking part: ``execution.devices`` (a device name selects all its
        instances), else every accelerator (the main host cluster if there are none), or with
        ``default="all"`` every accelerator and every host cluster.

        Raises:
            SpecError: A listed name is not on the platform.
            Infeasible: No unit takes part.
        """
        wanted = self.config.execution.devices
        units = self.all_units
        if wanted is None:
            accel = [u for u in units.values() if not u.is_host]
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
