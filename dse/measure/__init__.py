"""Measuring the host machine: time workloads with ONNX Runtime, as calibration data.

:func:`measure` times zoo models or ONNX files on this machine's CPU and returns rows of dse's
measurement format (device ``host``: the device ``dse host probe`` writes for this machine,
:func:`dse.devices.host.write_probe`; the CPU model in every row's ``source``), optionally with
per-node times from ONNX Runtime's profiler; ``dse measure`` is the command over it.
:func:`run_kernels` times a suite of single kernels (:mod:`dse.workloads.kernel_suite`) into a kernel CSV
(:data:`KERNEL_COLUMNS`, read back by :func:`read_kernels`); ``dse host kernels`` is the command.
"""

from dse.measure.host import RUN_COLUMNS, MeasureError, MeasureResult, measure, nodes_path
from dse.measure.kernels import KERNEL_COLUMNS, KernelsError, read_kernels, run_kernels
from dse.measure.profile import NODE_COLUMNS, graph_node, node_times
from dse.workloads.kernel_suite import KernelSpec, build

__all__ = ["KERNEL_COLUMNS", "NODE_COLUMNS", "RUN_COLUMNS", "KernelSpec", "KernelsError",
           "MeasureError", "MeasureResult", "build", "graph_node", "measure", "node_times",
           "nodes_path", "read_kernels", "run_kernels"]
