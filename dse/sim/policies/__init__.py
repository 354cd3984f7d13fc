"""Execution policies: a registry of small plug-ins that decide which workers exist.

A policy maps a :class:`~dse.sim.plan.PlanContext` to workers, the queues frames enter, and
whether outputs must leave in order. It never runs SimPy and never computes a cost: the engine
runs the workers (:mod:`dse.sim.engine`) and the bound analyses them (:mod:`dse.sim.bound`).
Register your own with :func:`register_policy`; experiments name policies as strings.
"""

from __future__ import annotations

from typing import Protocol

from dse.plugins import Registry
from dse.sim.plan import PlanContext, Worker

__all__ = ["POLICIES", "Policy", "get_policy", "policy_names", "register_policy"]


class Policy(Protocol):
    """An execution policy.

    ``workers`` is called once per configuration, before simulation. It returns the workers,
    the entry queues (frame ``i`` enters ``entry[i % len(entry)]``; one queue means idle workers
    steal from it) and whether a reorder buffer restores the stream order.
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
