"""The discrete-event simulator: SimPy orchestration only (costs come from :mod:`dse.cost`).

``build`` turns a configuration into a ``plan`` (workers and resources, as data) from the
platform's ``units``, the policy's ``context``, the ``routes`` of model costs and workload parts
(``partition``); ``policies`` decide the workers, ``engine`` runs them on SimPy, ``bound`` bounds
them in closed form (:mod:`dse.run` ties it together with the metrics).
"""

from dse.sim.bound import Bound, bound
from dse.sim.build import build_plan
from dse.sim.engine import SimResult, Simulation
from dse.sim.plan import Plan
from dse.sim.resources import SharedBandwidth

__all__ = ["Bound", "Plan", "SharedBandwidth", "SimResult", "Simulation", "bound", "build_plan"]
