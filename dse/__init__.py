"""dse: design-space exploration and simulation of neural-network inference on edge hardware."""

from dse.errors import DseError, OnnxError, Problem, SpecError, WorkloadError
from dse.workloads import Workload, workload, zoo

__all__ = [
    "DseError",
    "OnnxError",
    "Problem",
    "SpecError",
    "Workload",
    "WorkloadError",
    "workload",
    "zoo",
]

__version__ = "0.1.0"
