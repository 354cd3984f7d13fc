"""The built-in policies, registered (the registry imports this module before its first
lookup): ``single``, ``threads``, ``data_parallel``, ``coexec``, ``pipeline``, ``mapping``, each
in a module of its own."""

from __future__ import annotations

from dse.sim.policies import register_policy
from dse.sim.policies.coexec import Coexec
from dse.sim.policies.data_parallel import DataParallel
from dse.sim.policies.mapping import Mapping
from dse.sim.policies.pipeline import Pipeline
from dse.sim.policies.single import Single
from dse.sim.policies.threads import Threads

__all__ = ["Coexec", "DataParallel", "Mapping", "Pipeline", "Single", "Threads"]

for _policy in (Single(), Threads(), DataParallel(), Coexec(), Pipeline(), Mapping()):
    register_policy(_policy)
