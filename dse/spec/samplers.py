"""The sampler registry, as the spec layer sees it.

An experiment's ``search.sampler`` names a registered sampler. The registry lives here, at the
bottom, so that validation needs nothing above the spec layer; the samplers themselves (the
built-ins of :mod:`dse.search.study`, others from the ``dse.samplers`` entry-point group) are
factories ``(seed, constraints_func) -> optuna sampler``, loaded before the first lookup like
every other plug-in (:class:`dse.plugins.Registry`).
"""

from __future__ import annotations

from typing import Any

from dse.plugins import Registry

__all__ = ["SAMPLERS", "SAMPLER_FACTORIES", "sampler_names"]

#: The built-in samplers' names (``grid`` runs every point of a finite space once).
SAMPLERS = ("tpe", "nsga2", "random", "grid")

#: The sampler factories, by name: the built-ins of :mod:`dse.search.study` (loaded before the
#: first lookup) and those of the ``dse.samplers`` entry-point group.
SAMPLER_FACTORIES: Registry[Any] = Registry("dse.samplers", builtins="dse.search.study",
                                            what="sampler", instantiate=False)


def sampler_names() -> list[str]:
    """Names of the registered samplers, in registration order."""
    return SAMPLER_FACTORIES.names()
