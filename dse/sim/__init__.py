"""The discrete-event simulator: SimPy orchestration only (costs come from :mod:`dse.cost`)."""

from dse.sim.resources import SharedBandwidth

__all__ = ["SharedBandwidth"]
