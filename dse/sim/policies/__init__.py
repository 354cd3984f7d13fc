"""Execution policies: a registry of small plug-ins that decide which workers exist.

A policy maps a :class:`~dse.sim.context.PlanContext` to workers, the queues frames enter, and
whether outputs must leave in order. It never runs SimPy and never computes a cost: the engine
runs the workers (:mod:`dse.sim.engine`) and the bound analyses them (:mod:`dse.sim.bound`).
Subclass :class:`BasePolicy` (its docstring gives the call protocol), register it with
:func:`register_policy`; experiments name policies as strings.

The built-ins, one module each: :mod:`~dse.sim.policies.single`,
:mod:`~dse.sim.policies.threads`, :mod:`~dse.sim.policies.data_parallel`,
:mod:`~dse.sim.policies.coexec`, :mod:`~dse.sim.policies.pipeline`,
:mod:`~dse.sim.policies.mapping` (registered by :mod:`~dse.sim.policies.builtin`).
"""

from __future__ import annotations

from typing import Protocol

from dse.plugins import Registry
from dse.sim.context import PlanContext
from dse.sim.plan import Worker
from dse.sim.policies.base import BasePolicy

__all__ = ["POLICIES", "BasePolicy", "Policy", "get_policy", "policy_names", "register_policy"]


class Policy(Protocol):
    """What the registry accepts: any object with a ``name`` and a ``workers`` method.

    ``workers`` is called once per configuration, before simulation. It returns the workers,
    the entry queues (frame ``i`` enters ``entry[i % len(entry)]``; one queue means idle workers
    steal from it) and whether the outputs leave in stream order. :class:`BasePolicy` states
    the protocol in full; what it adds (``pins_drivers``, ``counts_holds``,
    ``release_times``) takes its default for an object that lacks it.
    """

    @property
    def name(self) -> str: ...

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]: ...


#: The policies, by name: the built-ins of :mod:`dse.sim.policies.builtin` (loaded before the
#: first lookup) and those of the ``dse.policies`` entry-point group.
POLICIES: Registry[Policy] = Registry("dse.policies", builtins="dse.sim.policies.builtin",
                                      what="policy")


def register_policy(policy: Policy, *, replace: bool = False) -> Policy:
    """Add a policy to the registry (``replace=True`` to redefine one)."""
    return POLICIES.register(policy, replace=replace)


def get_policy(name: str | Policy) -> Policy:
    """A policy by name (an instance is returned as it is).

    Raises:
        PluginNotFoundError: Unknown name (a ``KeyError``); the message lists the known ones.
    """
    return POLICIES.get(name)


def policy_names() -> list[str]:
    """Registered policy names, in registration order."""
    return POLICIES.names()
