"""Workload graphs: the graph model, the ONNX frontend and the zoo."""

from dse.workloads.frontends import (
    BaseFrontend,
    WorkloadFrontend,
    frontends,
    register_frontend,
    workload,
)
from dse.workloads.graph import PRECISION_BYTES, Workload
from dse.workloads.ops import OP_CLASSES

__all__ = [
    "OP_CLASSES",
    "PRECISION_BYTES",
    "BaseFrontend",
    "Workload",
    "WorkloadFrontend",
    "frontends",
    "register_frontend",
    "workload",
]
