"""The layers a target runs: a workload's layer counts as its runtime fuses them, and which of
them its device takes itself (the rest fall back to the host, by the device's
``on_unsupported`` rule).

Read by the whole-model cost (:mod:`dse.cost.model`), the memory footprint
(:mod:`dse.cost.footprint`) and the reports, so that all see the same layers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dse.spec.device import DeviceSpec
from dse.spec.runtime import RuntimeSpec
from dse.workloads.graph import Workload

__all__ = ["layers_on_device", "runtime_counts", "supported_layers"]


def runtime_counts(workload: Workload, runtime: RuntimeSpec | None) -> pd.DataFrame:
    """The workload's layer counts as ``runtime`` runs them: the ops it folds into the epilogue
    of the conv/matmul before them (:attr:`RuntimeSpec.fuses`; default
    :data:`dse.workloads.graph.EPILOGUE_OPS`), x * sigmoid(x) as one kernel where it has
    ``swish``, residual Adds folded into their convolution where it has ``conv_sum``, an
    exported exact GELU as one kernel where it has ``gelu``, and a residual Add inside the
    layer normalisation after it where it has ``skip_layernorm``
    (:meth:`dse.workloads.Workload.counts_fusing`)."""
    kernels = (runtime.kernels or ()) if runtime is not None else ()
    return workload.counts_fusing(runtime.fuses if runtime is not None else None,
                                  swish="swish" in kernels, residual="conv_sum" in kernels,
                                  gelu="gelu" in kernels,
                                  skip_norm="skip_layernorm" in kernels)


def supported_layers(counts: pd.DataFrame, device: DeviceSpec) -> np.ndarray:
    """Which layers (rows of ``counts``) ``device`` runs itself."""
    return np.fromiter((device.supports(op, cls) for op, cls in
                        zip(counts["op"], counts["op_class"], strict=True)), dtype=bool,
                       count=len(counts))


def layers_on_device(counts: pd.DataFrame, device: DeviceSpec,
                     supported: np.ndarray | None = None) -> np.ndarray:
    """The layers that run on ``device`` when it falls back for the rest: the supported ones
    (``fallback_layer``), or those before the first unsupported one (``fallback_tail``); all
    of them when every layer is supported or the device does not fall back."""
    supported = supported_layers(counts, device) if supported is None else supported
    if supported.all() or device.on_unsupported == "infeasible":
        return np.ones(len(counts), dtype=bool)
    if device.on_unsupported == "fallback_layer":
        return supported
    return np.arange(len(counts)) < int(np.argmin(supported))
