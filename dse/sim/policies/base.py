"""The base class of execution policies, and what their modules share.

A policy decides which workers exist for a configuration and how its frames leave; it never
runs SimPy and never computes a cost. Subclass :class:`BasePolicy` (as Optuna's samplers
subclass ``BaseSampler``), or write any object with a ``name`` and a ``workers`` method (the
:class:`~dse.sim.policies.Policy` protocol): the attributes and methods :class:`BasePolicy`
adds have defaults that such an object gets too.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from dse.sim.context import PlanContext
from dse.sim.plan import Worker

__all__ = ["ENTRY", "BasePolicy"]

#: The entry queue of a stream that every worker takes frames from.
ENTRY = "frames"


class BasePolicy(abc.ABC):
    """An execution policy: which workers run a configuration's frames.

    The call protocol, per configuration:

    1. :func:`~dse.sim.build.build_plan` makes a :class:`~dse.sim.context.PlanContext` for the
       policy, with ``pin_drivers`` set from :attr:`pins_drivers`.
    2. It calls :meth:`workers` once, before any simulation; the workers become the
       :class:`~dse.sim.plan.Plan`'s.
    3. After the simulation, :func:`~dse.metrics.summarize` asks :meth:`release_times` when
       each frame leaves and reads :attr:`counts_holds` for the frames per device.

    Attributes:
        name: The name experiments use (``execution.policy``); a class attribute or a
            dataclass field.
        pins_drivers: Accelerator drivers are pinned to cores of the driver cluster, so that
            cluster computes that much slower as a unit (co-execution).
        counts_holds: Frames per device are the frames each device held (a frame visits several
            devices: pipelines, layer mappings), not the frames each worker finished.
    """

    name: str
    pins_drivers: ClassVar[bool] = False
    counts_holds: ClassVar[bool] = False

    @abc.abstractmethod
    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        """The workers of one configuration.

        Called once per configuration, before simulation. Build workers from the context's
        units (:meth:`~dse.sim.units.PlatformUnits.units`, ``all_units``) and routes
        (:meth:`~dse.sim.context.PlanContext.routes`, ``route``, ``holds``, ``host_steps``).
        Do not change ``ctx.config`` or ``ctx.catalog``; append to ``ctx.notes`` what the user
        should know (a device left out).

        Args:
            ctx: The configuration's platform, workloads and costs.

        Returns:
            The workers; the entry queues (frame ``i`` enters ``entry[i % len(entry)]``; with
            one queue, idle workers take the next frame from it); and whether the outputs
            leave in stream order (:meth:`release_times` says how).

        Raises:
            Infeasible: The work cannot be placed on this platform (a model does not fit, no
                device takes part). A result, not an error: the plan records the reason.
            SpecError: The configuration is wrong for this policy (a missing or bad
                ``execution`` key), with its file and YAML path.
        """

    def release_times(self, done_s: np.ndarray) -> np.ndarray:
        """When each frame leaves the system, from when its worker finished it.

        Args:
            done_s: Finish times, in frame order (arrival order).

        Returns:
            Release times in frame order; by default a frame leaves when it is done.
        """
        return done_s
