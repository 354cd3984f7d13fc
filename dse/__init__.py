"""dse: design-space exploration and simulation of neural-network inference on edge hardware."""

from dse._version import __version__
from dse.api import explore
from dse.errors import DseError, OnnxError, Problem, SpecError, WorkloadError
from dse.run import Report, simulate
from dse.search import ExploreResult
from dse.sim.resolve import load_experiment
from dse.spec.experiment import Experiment, ExperimentConfig
from dse.workloads import Workload, workload, zoo

__all__ = [
    "DseError",
    "Experiment",
    "ExperimentConfig",
    "ExploreResult",
    "OnnxError",
    "Problem",
    "Report",
    "SpecError",
    "Workload",
    "WorkloadError",
    "__version__",
    "explore",
    "load_experiment",
    "simulate",
    "workload",
    "zoo",
]
