"""Which parameters a calibration frees, their bounds, starting values and priors.

A target frees only a few parameters of its own (:func:`default_free`): its overall efficiency,
a fixed cost per inference, and, where its data can tell, an Amdahl fraction, a per-precision
peak scale, host work per inference, slot scaling, active power. A group of targets shares one
efficiency multiplier per kernel class its data can tell (:func:`shared_classes`) and one fixed
cost per kernel launch. The priors (:func:`own_priors`, :data:`CLASS_PRIOR_SD`,
:data:`KERNEL_PRIOR_S`) decide what the data cannot; the fit itself is
:mod:`dse.calibrate.solve`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.forward import Forward
from dse.devices.kinds import device_kind
from dse.devices.overlay import FITTABLE
from dse.errors import DseError, Problem
from dse.spec.device import DeviceSpec, max_efficiency
from dse.spec.runtime import RuntimeSpec
from dse.workloads.kernels import KERNEL_CLASSES

__all__ = ["BOUNDS", "CLASS_PRIOR_SD", "CLASS_SHARE", "COMPUTE_CLASSES", "COSTLY_CLASSES",
           "DEFAULT_FREE", "DEVICE_PATHS", "KERNEL_PRIOR_S", "MULTIPLIER_BOUNDS", "NOT_FREE",
           "OVERHEAD_PRIOR_S", "OWN_PRIOR_SD", "WINOGRAD_PRIOR", "bounds_of", "default_free",
           "is_device_path", "own_priors", "shared_classes", "spec_value"]

#: Freed when the caller does not say: overall compute efficiency and a fixed cost per inference.
DEFAULT_FREE = ("efficiency.default", "overhead_per_inference_s")

#: Prior standard deviation of a kernel class's log efficiency multiplier: a class is a priori
#: within about a factor of two of its target's overall efficiency (ln 2 = 0.69). Chosen before
#: looking at any validation figure; not tuned.
CLASS_PRIOR_SD = 0.7

#: Prior median of the ``conv3x3s1`` multiplier when the runtime has Winograd 3x3 kernels: the
#: multiply saving of the smallest Winograd tile, F(2x2, 3x3), 36 / 16 = 2.25 (Lavin & Gray,
#: CVPR 2016, section 4); larger tiles save more (F(6x6, 3x3): 5.06), the prior's spread covers
#: them.
WINOGRAD_PRIOR = 2.25

#: Prior median of a fixed cost per inference (``overhead_per_inference_s``): the dispatch cost
#: of one inference where the runtime's timing is model execution alone (an interpreter's
#: ``Invoke`` / an extractor on a ready input: thread-pool wake-up and per-op bookkeeping, tens
#: to hundreds of microseconds), and one USB or driver round trip where the timing includes the
#: host's work (:attr:`dse.spec.runtime.RuntimeSpec.timing_includes_host`). The prior is wide
#: (:data:`OWN_PRIOR_SD`): it decides only what the data cannot, e.g. a fixed cost that a table
#: of large models alone cannot tell from the efficiency. Chosen from those orders of
#: magnitude, before looking at any validation figure.
OVERHEAD_PRIOR_S = {False: 1e-4, True: 1e-3}
#: Prior standard deviation (log space) of a target's fixed costs: a factor of ten (ln 10).
OWN_PRIOR_SD = math.log(10.0)
#: Prior median of the group's fixed cost per kernel launched (``overhead_per_layer_s``): the
#: order of one kernel dispatch, a few microseconds on a CPU thread pool to some tens on a GPU
#: command queue; 10 us, with the spread :data:`OWN_PRIOR_SD`. Without it, a table of large
#: models cannot tell a per-kernel cost from the efficiency, and a fold's fit can put
#: milliseconds on every kernel.
KERNEL_PRIOR_S = 1e-5

#: Kernel classes whose multiplier is freed when they carry at least :data:`CLASS_SHARE` of the
#: operations of at least two models of the data.
COMPUTE_CLASSES = ("conv_first", "conv3x3s1", "conv1x1", "conv", "dwconv3x3", "dwconv5x5",
                   "dwconv", "fc", "attention")
#: Kernel classes that cost out of proportion to their operations: freed when at least two
#: models of the data have them.
COSTLY_CLASSES = ("lrn", "gating", "se", "softmax", "layernorm")
CLASS_SHARE = 0.05

#: Bounds of each fittable parameter (SI units).
BOUNDS: dict[str, tuple[float, float]] = {
    "efficiency": (1e-4, 1.0),
    "overhead_per_inference_s": (1e-7, 10.0),
    "overhead_per_layer_s": (1e-9, 1e-2),
    "host_overhead_per_inference_s": (1e-7, 10.0),
    "parallel_fraction": (1e-2, 1.0),
    "slot_scaling": (1e-3, 1.0),
    "mem_bw_bytes_s": (1e6, 1e13),
    "onchip_mem_bytes": (1.0, 1e10),
    "peak_ops_s": (1e6, 1e16),
    "power.active_w": (1e-4, 1e3),
    "power.idle_w": (1e-5, 1e3),
}
#: Bounds of a shared kernel-class multiplier.
MULTIPLIER_BOUNDS = (1e-2, 20.0)
#: Parameters of the device itself, shared by its targets on several hosts (see
#: :class:`dse.calibrate.solve.Layout`).
DEVICE_PATHS = ("efficiency", "peak_ops_s", "parallel_fraction", "slot_scaling",
                "mem_bw_bytes_s", "power")


#: Overlay paths this fitter does not free: slot_speedup (as slot_scaling), latency_spread
#: (fitted from repeats by dse.calibrate.spread).
NOT_FREE = ("slot_speedup", "latency_spread")


def is_device_path(path: str) -> bool:
    """Whether ``path`` is a parameter of the device itself (:data:`DEVICE_PATHS`)."""
    return any(path == p or path.startswith(p + ".") for p in DEVICE_PATHS)


def bounds_of(path: str) -> tuple[float, float]:
    """The bounds of a free path (SI units); a kernel class's efficiency at most its ceiling.

    Raises:
        DseError: The path is not fittable (listing the fittable ones).
    """
    if path.startswith("efficiency."):
        return BOUNDS["efficiency"][0], max_efficiency(path.split(".", 1)[1])
    for prefix, b in BOUNDS.items():
        if path == prefix or path.startswith(prefix + "."):
            return b
    raise DseError([Problem("--free", path, f"not fittable; fittable: "
                            f"{', '.join(p for p in FITTABLE if p not in NOT_FREE)}, "
                            f"slot_scaling (slot_speedup as 1 + (k - 1) x s)")])


def spec_value(spec: DeviceSpec, path: str) -> float:
    """The datasheet value of a free path (NaN where the spec has none): the fit's start."""
    if path == "slot_scaling":
        s = spec.slot_speedup
        return 1.0 if s is None or spec.slots < 2 else (s[-1] - 1.0) / (spec.slots - 1)
    if path == "parallel_fraction" and spec.parallel_fraction is None:
        return 0.95
    if path.startswith("efficiency."):
        return spec.efficiency_for(path.split(".", 1)[1])
    node: Any = spec
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return float(node) if node is not None else math.nan


def _is_host_kind(spec: DeviceSpec) -> bool:
    return device_kind(spec.kind).is_host


def default_free(spec: DeviceSpec, rows: pd.DataFrame) -> tuple[str, ...]:
    """A target's own parameters, chosen by what its data can tell.

    Always the overall efficiency and a fixed cost per inference (:data:`DEFAULT_FREE`). Then:
    on a CPU cluster measured at more than one thread count, its ``parallel_fraction``; with
    timing rows in more than one precision, the peak of each precision but the most measured
    one (the int8 kernels' speed relative to float); on an accelerator measured with several
    host threads, the host's share of each inference (``host_overhead_per_inference_s``),
    which those threads overlap with the device, and on a device with several slots,
    ``slot_scaling``; with power or energy rows, ``power.active_w``.
    """
    free = list(DEFAULT_FREE)
    timing = rows[rows["metric"].isin(["latency", "throughput"])]
    if _is_host_kind(spec):
        if timing["threads"].nunique() > 1 and (spec.cores or 1) > 1:
            free.append("parallel_fraction")
    elif ((timing["threads"] > 1) | (timing["streams"] > 1)).any():
        free.append("host_overhead_per_inference_s")
        if spec.slots > 1:
            free.append("slot_scaling")
    precisions = timing["precision"].value_counts()
    free += [f"peak_ops_s.{p}" for p in precisions.index[1:]]
    if rows["metric"].isin(["power", "energy"]).any():
        free.append("power.active_w")
    return tuple(free)


def own_priors(spec: DeviceSpec, paths: Sequence[str], runtime: RuntimeSpec | None
               ) -> tuple[tuple[str, float, float], ...]:
    """Priors (path, median, log sd) on a target's own parameters, for what its data may not
    tell: a fixed cost per inference around the runtime's typical dispatch cost
    (:data:`OVERHEAD_PRIOR_S`; the device's alone where the host's work per inference is a
    parameter of its own, which then takes the host's prior), and a per-precision peak around the datasheet's (a precision
    measured on few models, or held out of a cross-validation fold, stays at the datasheet's
    ratio between precisions)."""
    includes_host = bool(runtime is not None and runtime.timing_includes_host)
    # Where the host's share is a parameter of its own, the fixed cost is the device's alone.
    split = "host_overhead_per_inference_s" in paths
    out = []
    for p in paths:
        if p == "overhead_per_inference_s":
            out.append((p, OVERHEAD_PRIOR_S[includes_host and not split], OWN_PRIOR_SD))
        elif p == "host_overhead_per_inference_s":
            out.append((p, OVERHEAD_PRIOR_S[True], OWN_PRIOR_SD))
        elif p.startswith("peak_ops_s."):
            v = spec_value(spec, p)
            if math.isfinite(v) and v > 0:
                out.append((p, v, CLASS_PRIOR_SD))
    return tuple(out)


def shared_classes(forward: Forward, rows: pd.DataFrame) -> tuple[str, ...]:
    """The kernel classes whose efficiency multiplier the data can tell: compute classes with
    at least :data:`CLASS_SHARE` of the device's time (datasheet roofline) in two models or
    more, and the
    costly classes (:data:`COSTLY_CLASSES`) present in two models or more."""
    timing = np.isin(forward.metric, ["latency", "throughput"])
    keys = (rows["workload"] + rows["options"]).to_numpy()
    names = list(KERNEL_CLASSES)
    time_by = np.zeros((len(rows), len(names)))
    np.add.at(time_by, (forward.row_of, forward.kernel), forward.layer_times())
    present = np.zeros((len(rows), len(names)), dtype=bool)
    present[forward.row_of, forward.kernel] = True
    share = time_by / np.maximum(time_by.sum(axis=1, keepdims=True), 1e-30)
    out = []
    for c in (*COMPUTE_CLASSES, *COSTLY_CLASSES):
        j = names.index(c)
        hit = (share[:, j] >= CLASS_SHARE) if c in COMPUTE_CLASSES else present[:, j]
        if len(set(keys[hit & timing])) >= 2:
            out.append(c)
    return tuple(out)
