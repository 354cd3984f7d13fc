"""Execution policies: a registry of small plug-ins that decide which workers exist.

A policy maps a :class:`~dse.sim.plan.PlanContext` to workers, the queues frames enter, and
whether outputs must leave in order. It never runs SimPy and never computes a cost: the engine
runs the workers (:mod:`dse.sim.engine`) and the bound analyses them (:mod:`dse.sim.bound`).
Register your own with :func:`register_policy`; experiments name policies as strings.
"""

from __future__ import annotations

from typing import Protocol

from dse.errors import did_you_mean
from dse.sim.plan import PlanContext, Worker

__all__ = ["Policy", "get_policy", "policy_names", "register_policy"]


class Policy(Protocol):
    """An execution policy.

    ``workers`` is called once per configuration, before simulation. It returns the workers,
    the entry queues (frame ``i`` enters ``entry[i % len(entry)]``; one queue means idle workers
    steal from it) and whether a reorder buffer restores the stream order.
    """

    @property
    def name(self) -> str: ...

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]: ...


_POLICIES: dict[str, Policy] = {}


def register_policy(policy: Policy, *, replace: bool = False) -> Policy:
    """Add a policy to the registry (``replace=True`` to redefine one)."""
    if policy.name in _POLICIES and not replace:
        raise ValueError(f"policy {policy.name!r} is already registered")
    _POLICIES[policy.name] = policy
    return policy


def get_policy(name: str | Policy) -> Policy:
    """A policy by name (an instance is returned as it is).

    Raises:
        KeyError: Unknown name; the message lists the known ones.
    """
    if not isinstance(name, str):
        return name
    _load_builtins()
    try:
        return _POLICIES[name]
    except KeyError:
        raise KeyError(did_you_mean(name, policy_names(), what="policy")) from None


def policy_names() -> list[str]:
    """Registered policy names, in registration order."""
    _load_builtins()
    return list(_POLICIES)


def _load_builtins() -> None:
    from dse.sim.policies import builtin  # noqa: F401  (registers on import)
