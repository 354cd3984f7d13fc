"""Fitting targets to measurements, with honest (leave-one-model-out) error.

A *target* is a device under one runtime (optionally on one host). Its parameters are fitted by
bounded least squares in log space (``scipy.optimize.least_squares`` on
``log(predicted) - log(measured)``, so a 10% error weighs the same on a 1 ms and a 1 s model),
with dse itself as the forward model (:class:`~dse.calibrate.forward.Forward`).

**Targets of one runtime and device kind are fitted together.** Kernel classes run at very
different shares of peak (:mod:`dse.workloads.kernels`), and how much so is a property of the
runtime's kernels more than of the chip: ncnn's Winograd 3x3 and its depthwise kernels behave
alike on every ARM core. So a group fit shares, across its targets, one multiplier per kernel
class (a target's class efficiency is its overall efficiency times the class's multiplier, at
most the class's ceiling) and one fixed cost per kernel launch. The multipliers carry a prior
(log-normal around 1, or around Winograd's multiply saving for 3x3 convolutions where the
runtime has such kernels; :data:`CLASS_PRIOR_SD`) added to the residuals as a penalty, so the fit is
a bounded MAP estimate and a class seen in few models stays near the target's overall
efficiency. Each target frees only a few parameters of its own (:func:`default_free`): its
overall efficiency, a fixed cost per inference, and, where its data can tell, an Amdahl
fraction, a per-precision peak scale, host work per inference, slot scaling, active power.

The datasheet spec is never changed: the result is an :class:`~dse.devices.overlay.Overlay` per
target. Leave-one-model-out cross-validation holds out one model from *every* target of the
group at once, so no fold has seen the model on any device.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from dse.calibrate.forward import (
    FAST,
    Forward,
    concurrency,
    fitted_spec,
    overlay_values,
    predict,
    row_kind,
)
from dse.devices import Catalog, default_catalog
from dse.devices.kinds import device_kind
from dse.devices.overlay import FITTABLE, Overlay
from dse.errors import DseError, Problem
from dse.spec.device import DeviceSpec, max_efficiency
from dse.spec.runtime import RuntimeSpec
from dse.workloads.kernels import KERNEL_CLASSES

__all__ = ["CLASS_PRIOR_SD", "DEFAULT_FREE", "FAST", "OVERHEAD_PRIOR_S", "OWN_PRIOR_SD",
           "Calibration", "Forward", "calibrate", "calibrate_targets", "concurrency",
           "cross_validate", "default_free", "fitted_spec", "overlay_values", "own_priors",
           "predict", "row_kind", "shared_classes"]

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
#: Smallest scatter (log space) the data are weighed by in the MAP fit (:func:`_solve`): 1%,
#: the repeatability of a published latency, so that an exact fit does not make every prior
#: irrelevant by an infinite weight on the data.
MIN_DATA_SD = 0.01
#: At most this many passes of the MAP fit to settle the data's scatter (:func:`_solve`).
MAP_PASSES = 4
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
_SHARED_KERNEL = "overhead_per_layer_s"
#: Parameters of the device itself, shared by its targets on several hosts (see :class:`_Layout`).
DEVICE_PATHS = ("efficiency", "peak_ops_s", "parallel_fraction", "slot_scaling",
                "mem_bw_bytes_s", "power")


#: Overlay paths this fitter does not free: slot_speedup (as slot_scaling), latency_spread
#: (fitted from repeats by dse.calibrate.spread).
NOT_FREE = ("slot_speedup", "latency_spread")


def _device_path(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in DEVICE_PATHS)


def _bounds(path: str) -> tuple[float, float]:
    if path.startswith("efficiency."):
        return BOUNDS["efficiency"][0], max_efficiency(path.split(".", 1)[1])
    for prefix, b in BOUNDS.items():
        if path == prefix or path.startswith(prefix + "."):
            return b
    raise DseError([Problem("--free", path, f"not fittable; fittable: "
                            f"{', '.join(p for p in FITTABLE if p not in NOT_FREE)}, "
                            f"slot_scaling (slot_speedup as 1 + (k - 1) x s)")])


def _value(spec: DeviceSpec, path: str) -> float:
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


@dataclass
class Calibration:
    """A fit of one target: the overlay, the per-point table, and the honest error.

    Attributes:
        device: The device (``target`` names device, runtime and host).
        free: The target's own free parameters, then the shared ones (``shared:...``).
        overlay: Fitted values with provenance (apply with
            :func:`~dse.devices.overlay.apply_overlay`).
        table: Per measurement: workload, metric, measured, predicted, relative error, and a 90%
            prediction interval (delta method on the fit's covariance plus the residual spread).
        mape: In-sample mean absolute percentage error (flattering; see ``cv``).
        within_10: In-sample share of points within +-10%.
        cv: Leave-one-model-out table (predicted by a fit that did not see that model on any
            target of its group), with 90% intervals, or ``None`` if not run.
    """

    device: str
    free: tuple[str, ...]
    overlay: Overlay
    table: pd.DataFrame
    mape: float
    within_10: float
    uncertainty: dict[str, float]
    cv: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    target: str = ""

    @property
    def cv_mape(self) -> float | None:
        return None if self.cv is None or self.cv.empty else float(self.cv["abs_error"].mean())

    @property
    def cv_within_10(self) -> float | None:
        return None if self.cv is None or self.cv.empty else float(
            (self.cv["abs_error"] <= 0.10).mean())

    @property
    def cv_coverage_90(self) -> float | None:
        """Share of held-out points inside their 90% prediction interval."""
        if self.cv is None or self.cv.empty:
            return None
        inside = (self.cv["measured"] >= self.cv["low_90"]) & \
            (self.cv["measured"] <= self.cv["high_90"])
        return float(inside.mean())

    def overlay_yaml(self) -> str:
        """The overlay as YAML text (``dse devices show NAME --overlay FILE`` reads it)."""
        import yaml

        return yaml.safe_dump(self.overlay.model_dump(mode="json", exclude_none=True),
                              sort_keys=False)


# ----- which parameters ---------------------------------------------------------------------

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
            v = _value(spec, p)
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


# ----- the parameter vector -----------------------------------------------------------------

@dataclass(frozen=True)
class _Layout:
    """Where each entry of the log-space parameter vector goes.

    ``own[t]``: the target's own spec paths; ``classes``: shared kernel-class multipliers;
    ``kernel``: whether one fixed cost per kernel launch is shared by the group; ``same[t]``:
    the device and runtime of the target. Targets that differ only in their host (a Coral USB
    stick on a Xeon and on a Raspberry Pi) share the device's parameters
    (:data:`DEVICE_PATHS`: efficiency, peaks, Amdahl fraction, slots, bandwidth, power) and keep
    their fixed costs per host, so a device fitted on one host predicts on another.
    """

    targets: tuple[str, ...]
    own: tuple[tuple[str, ...], ...]
    classes: tuple[str, ...] = ()
    kernel: bool = False
    same: tuple[str, ...] = ()
    prior_median: tuple[float, ...] = ()
    own_prior: tuple[tuple[tuple[str, float, float], ...], ...] = ()
    owned: tuple[tuple[str, ...], ...] = field(init=False)
    leader: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        same = self.same or self.targets
        leader = tuple(same.index(k) for k in same)
        owned = tuple(tuple(p for p in paths if leader[i] == i or not _device_path(p))
                      for i, paths in enumerate(self.own))
        object.__setattr__(self, "leader", leader)
        object.__setattr__(self, "owned", owned)

    def subset(self, targets: Sequence[str]) -> _Layout:
        """The layout of some of the targets (a cross-validation fold)."""
        idx = [self.targets.index(t) for t in targets]
        return _Layout(tuple(targets), tuple(self.own[i] for i in idx), self.classes,
                       self.kernel, tuple((self.same or self.targets)[i] for i in idx),
                       self.prior_median,
                       tuple(self.own_prior[i] for i in idx) if self.own_prior else ())

    @property
    def names(self) -> list[str]:
        out = [f"{t}:{p}" for t, paths in zip(self.targets, self.owned, strict=True)
               for p in paths]
        out += [f"shared:efficiency.{c}" for c in self.classes]
        return out + ([f"shared:{_SHARED_KERNEL}"] if self.kernel else [])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        b = [_bounds(p) for paths in self.owned for p in paths]
        b += [MULTIPLIER_BOUNDS] * len(self.classes)
        b += [BOUNDS[_SHARED_KERNEL]] if self.kernel else []
        lo, hi = np.log([x[0] for x in b]), np.log([x[1] for x in b])
        return lo, hi

    def start(self, specs: Mapping[str, DeviceSpec]) -> np.ndarray:
        x = []
        for t, paths in zip(self.targets, self.owned, strict=True):
            for p in paths:
                v = _value(specs[t], p)
                x.append(1e-4 if not math.isfinite(v) or v <= 0 else v)
        x += list(self.prior_median or [1.0] * len(self.classes))
        if self.kernel:
            x.append(1e-6)
        lo, hi = self.bounds()
        return np.clip(np.log(x), lo + 1e-6, hi - 1e-6)

    def values(self, x: np.ndarray) -> dict[str, dict[str, float]]:
        """Spec-path values per target, shared parameters resolved (what the overlays hold)."""
        v = np.exp(x)
        out: dict[str, dict[str, float]] = {}
        i = 0
        for t, paths in zip(self.targets, self.owned, strict=True):
            out[t] = dict(zip(paths, v[i:i + len(paths)].tolist(), strict=True))
            i += len(paths)
        for k, (t, paths) in enumerate(zip(self.targets, self.own, strict=True)):
            lead = self.targets[self.leader[k]]
            out[t].update({p: out[lead][p] for p in paths if p not in out[t]})
        multipliers = v[i:i + len(self.classes)]
        i += len(self.classes)
        for t in self.targets:
            scale = out[t].get("efficiency.default")
            if scale is not None:
                for c, m in zip(self.classes, multipliers, strict=True):
                    out[t][f"efficiency.{c}"] = min(scale * float(m), max_efficiency(c))
            if self.kernel:
                out[t][_SHARED_KERNEL] = float(v[i])
        return out

    @cached_property
    def _own_prior(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Index into ``x``, log median and sd of the own parameters that carry a prior."""
        idx, mu, sd = [], [], []
        i = 0
        for k, paths in enumerate(self.owned):
            priors = {p: (m, s) for p, m, s in (self.own_prior[k] if self.own_prior else ())}
            for p in paths:
                if p in priors:
                    idx.append(i)
                    mu.append(math.log(priors[p][0]))
                    sd.append(priors[p][1])
                i += 1
        return np.array(idx, dtype=int), np.array(mu), np.array(sd)

    @property
    def has_prior(self) -> bool:
        return bool(self.classes or self.kernel or len(self._own_prior[0]))

    def prior(self, x: np.ndarray) -> np.ndarray:
        """Penalty residuals: log multipliers against their prior, and a target's own
        parameters that carry one (:func:`own_priors`) against theirs."""
        n_own = sum(len(p) for p in self.owned)
        median = np.log(self.prior_median or [1.0] * len(self.classes))
        idx, mu, sd = self._own_prior
        n_shared = n_own + len(self.classes)
        kernel = (x[n_shared:n_shared + 1] - math.log(KERNEL_PRIOR_S)) / OWN_PRIOR_SD \
            if self.kernel else np.empty(0)
        return np.concatenate([(x[n_own:n_shared] - median) / CLASS_PRIOR_SD, kernel,
                               (x[idx] - mu) / sd])


@dataclass
class _Solution:
    x: np.ndarray
    values: dict[str, dict[str, float]]
    s2: float
    cov: np.ndarray


def _solve(forward: Forward, layout: _Layout, measured: np.ndarray, train: np.ndarray
           ) -> _Solution:
    """Bounded MAP: log residuals over the data's scatter, plus the prior's penalties.

    The data's scatter is not known before the fit: a first pass weighs the data as if it
    scattered by a factor e, its residuals give the scatter (at least :data:`MIN_DATA_SD`),
    and the next pass weighs the data by it, until the scatter settles (within 10%, at most
    :data:`MAP_PASSES` passes), so the priors decide only what the data cannot tell."""
    lo, hi = layout.bounds()
    x0 = layout.start(forward.specs)
    log_measured = np.log(measured)
    n_data = int(train.sum())
    dof = max(n_data - len(x0), 1)

    def residuals(x: np.ndarray, sd: float) -> np.ndarray:
        pred = forward(layout.values(x))
        return np.concatenate([(np.log(pred[train]) - log_measured[train]) / sd,
                               layout.prior(x)])

    sd = 1.0
    for _ in range(MAP_PASSES):
        res = least_squares(residuals, x0, bounds=(lo, hi), diff_step=1e-3, x_scale="jac",
                            max_nfev=100 * (len(x0) + 1), args=(sd,))
        data_res = res.fun[:n_data] * sd
        s2 = float(data_res @ data_res) / dof
        new_sd = max(math.sqrt(s2), MIN_DATA_SD)
        if not layout.has_prior or abs(math.log(new_sd / sd)) < 0.1:
            break
        x0, sd = np.clip(res.x, lo + 1e-9, hi - 1e-9), new_sd
    jd, jp = res.jac[:n_data] * sd, res.jac[n_data:]
    info = jd.T @ jd / max(s2, 1e-12) + jp.T @ jp
    cov = np.linalg.pinv(info)
    return _Solution(res.x, layout.values(res.x), s2, cov)


def _intervals(forward: Forward, layout: _Layout, sol: _Solution, rows: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions of ``rows`` (a mask) and their 90% interval: parameter uncertainty by the
    delta method (finite differences of the log prediction) plus the residual spread."""
    base = forward(sol.values)
    k = len(sol.x)
    jac = np.zeros((int(rows.sum()), k))
    step = 1e-4
    for j in range(k):
        x = sol.x.copy()
        x[j] += step
        jac[:, j] = (np.log(forward(layout.values(x))[rows]) - np.log(base[rows])) / step
    var = np.einsum("ij,jk,ik->i", jac, sol.cov, jac) + sol.s2
    half = 1.645 * np.sqrt(np.maximum(var, 0.0))
    pred = base[rows]
    return pred, pred * np.exp(-half), pred * np.exp(half)


# ----- public API ---------------------------------------------------------------------------

def _target_keys(rows: pd.DataFrame) -> pd.Series:
    return rows["target"] if "target" in rows else rows["device"]


def _timing_rows(rows: pd.DataFrame, paths: Sequence[str]) -> pd.DataFrame:
    """Timing rows, and power/energy rows when a ``power.*`` path is free."""
    metrics = ["latency", "throughput"]
    if any(p.startswith("power.") for p in paths):
        metrics += ["power", "energy"]
    return rows[rows["metric"].isin(metrics)]


def _check_points(target: str, rows: pd.DataFrame, own: Sequence[str]) -> list[Problem]:
    power_free = [p for p in own if p.startswith("power.")]
    timing = int(rows["metric"].isin(["latency", "throughput"]).sum())
    n_time = len(own) - len(power_free)
    problems = []
    if timing < n_time + 1:
        problems.append(Problem(target, "measurements", f"{timing} latency/throughput points "
                                f"for {n_time} free parameters; need at least {n_time + 1}"))
    n_power = len(rows) - timing
    if power_free and n_power < len(power_free):
        problems.append(Problem(target, "measurements", f"{n_power} power/energy points for "
                                f"{len(power_free)} free power parameters; need at least "
                                f"{len(power_free)}"))
    return problems


def calibrate_targets(measurements: pd.DataFrame, targets: Mapping[str, DeviceSpec], *,
                      free: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
                      share: bool = True, catalog: Catalog | None = None,
                      cross_validation: bool = True,
                      labels: Mapping[str, Mapping[str, Any]] | None = None,
                      runtime: RuntimeSpec | None = None) -> dict[str, Calibration]:
    """Fit several targets of one runtime and device kind together (see the module docstring).

    Args:
        measurements: Validated measurements; a ``target`` column (else ``device``) says which
            target each row is; rows of other targets are ignored.
        targets: Target key -> the device's datasheet spec.
        free: Each target's own free paths (a mapping by target, or one list for all); default:
            :func:`default_free` per target.
        share: Share kernel-class multipliers and a per-kernel fixed cost across the targets
            (:func:`shared_classes`). With ``free`` given and ``share=False``, a plain fit of
            exactly the paths given.
        catalog: Device catalog (default: the built-in one).
        cross_validation: Also run leave-one-model-out cross-validation over the group.
        labels: Per target, extra overlay fields (``runtime``, ``host``).
        runtime: The group's runtime: with Winograd 3x3 kernels, the ``conv3x3s1`` prior is
            centred on their multiply saving (:data:`WINOGRAD_PRIOR`) instead of 1.

    Raises:
        DseError: Unknown parameters, or a target with fewer points than free parameters (every
            problem at once, before any fitting).
    """
    catalog = catalog or default_catalog()
    keys = _target_keys(measurements)
    names = tuple(targets)
    own: list[tuple[str, ...]] = []
    parts, problems = [], []
    for t in names:
        part = measurements[keys == t]
        paths = tuple(free.get(t, ()) if isinstance(free, Mapping) else free) \
            if free is not None else default_free(targets[t], part)
        for p in paths:
            _bounds(p)
        part = _timing_rows(part, paths)
        problems += _check_points(t, part, paths)
        own.append(paths)
        parts.append(part.assign(target=t, _row=part.index))
    if problems:
        raise DseError(problems)
    rows = pd.concat(parts, ignore_index=True)
    all_paths = [p for paths in own for p in paths]
    forward = Forward(targets, rows, all_paths, catalog)
    share = share and not forward.slow
    classes = shared_classes(forward, rows) if share else ()
    models = set(rows.loc[rows["metric"].isin(["latency", "throughput"]),
                          "workload"] + rows["options"])
    same = tuple(f"{targets[t].name}@{((labels or {}).get(t) or {}).get('runtime')}"
                 for t in names)
    winograd = runtime is not None and "winograd_3x3" in (runtime.kernels or ())
    median = tuple(WINOGRAD_PRIOR if c == "conv3x3s1" and winograd else 1.0 for c in classes)
    layout = _Layout(names, tuple(own), classes, kernel=share and len(models) >= 4, same=same,
                     prior_median=median,
                     own_prior=tuple(own_priors(targets[t], paths, runtime) if share else ()
                                     for t, paths in zip(names, own, strict=True)))
    measured = rows["value_si"].to_numpy(dtype=float)
    everything = np.ones(len(rows), dtype=bool)
    sol = _solve(forward, layout, measured, everything)
    pred, low, high = _intervals(forward, layout, sol, everything)
    cv = _cross_validate(forward, layout, rows, measured) if cross_validation else None
    names_x = layout.names
    sd = np.sqrt(np.maximum(np.diag(sol.cov), 0.0))
    out = {}
    for t in names:
        mine = (rows["target"] == t).to_numpy()
        spec = targets[t]
        rel = pred[mine] / measured[mine] - 1.0
        r = rows[mine]
        table = pd.DataFrame({
            "workload": r["workload"], "options": r["options"], "metric": r["metric"],
            "policy": r["policy"], "threads": r["threads"], "streams": r["streams"],
            "count": r["count"], "host": r["host"], "link": r["link"],
            "measured": measured[mine], "predicted": pred[mine], "rel_error": rel,
            "abs_error": np.abs(rel), "low_90": low[mine], "high_90": high[mine]}
        ).reset_index(drop=True)
        lead = layout.targets[layout.leader[names.index(t)]]
        uncertainty = {}
        for n, s_x in zip(names_x, sd, strict=True):
            owner, _, path = n.partition(":")
            if owner == t or (owner == lead and _device_path(path)):
                uncertainty[path] = float(s_x)
            elif owner == "shared":
                uncertainty[n] = float(s_x)
        values = sol.values[t]
        mine_free = (*own[names.index(t)], *(n for n in names_x if n.startswith("shared:")))
        provenance: dict[str, Any] = {
            "method": "bounded MAP in log space (scipy.optimize.least_squares), kernel-class "
                      "multipliers shared across the group with a log-normal prior "
                      f"(sd {CLASS_PRIOR_SD})" if layout.classes or layout.kernel else
                      "bounded least squares in log space (scipy.optimize.least_squares)",
            "free": list(mine_free), "fitted": values,
            "data": ", ".join(sorted(set(r["dataset"]))), "points": int(mine.sum()),
            "fitted_on": _dt.date.today().isoformat(), "uncertainty_log_sd": uncertainty,
            "in_sample_mape": float(np.mean(np.abs(rel))),
        }
        if len(names) > 1:
            provenance["group"] = list(names)
        if lead != t:
            provenance["device_parameters_shared_with"] = lead
        extra = {k: v for k, v in (labels or {}).get(t, {}).items() if v is not None}
        overlay = Overlay(device=spec.name, values=overlay_values(spec, values),
                          provenance=provenance, **extra)
        cal = Calibration(spec.name, tuple(mine_free), overlay, table,
                          float(np.mean(np.abs(rel))), float(np.mean(np.abs(rel) <= 0.10)),
                          uncertainty, target=t)
        if cv is not None:
            cal.cv = cv[cv["target"] == t].drop(columns="target").reset_index(drop=True)
            if cal.cv_mape is not None:
                overlay.provenance["loo_model_mape"] = cal.cv_mape
        out[t] = cal
    return out


def _cross_validate(forward: Forward, layout: _Layout, rows: pd.DataFrame,
                    measured: np.ndarray) -> pd.DataFrame:
    """Leave one model out of every target at once; targets a fold would leave with too few
    points are not fitted in that fold (their rows of the model are not predicted)."""
    keys = (rows["workload"] + rows["options"]).to_numpy()
    kinds = np.empty(len(rows), dtype=object)
    for t in layout.targets:
        mine = (rows["target"] == t).to_numpy()
        kinds[mine] = row_kind(forward.specs[t], rows[mine])
    out = []
    for key in sorted(set(keys)):
        test = keys == key
        train = ~test
        fold_targets = []
        for t, paths in zip(layout.targets, layout.own, strict=True):
            mine = (rows["target"] == t).to_numpy()
            if not _check_points(t, rows[mine & train], paths) and (mine & train).any():
                fold_targets.append(t)
        if not fold_targets:
            continue
        fold = layout.subset(fold_targets)
        fitted_rows = rows["target"].isin(fold_targets).to_numpy()
        sol = _solve(forward, fold, measured, train & fitted_rows)
        held = test & fitted_rows
        if not held.any():
            continue
        pred, low, high = _intervals(forward, fold, sol, held)
        rel = pred / measured[held] - 1.0
        r = rows[held]
        out.append(pd.DataFrame({
            "target": r["target"], "row": r["_row"], "dataset": r["dataset"],
            "device": r["device"],
            "host": r.get("target_host", ""),
            "workload": r["workload"], "metric": r["metric"],
            "kind": kinds[held], "threads": r["threads"], "count": r["count"],
            "measured": measured[held], "predicted": pred, "rel_error": rel,
            "abs_error": np.abs(rel), "low_90": low, "high_90": high}))
    columns = ["target", "row", "dataset", "device", "host", "workload", "metric", "kind", "threads", "count", "measured",
               "predicted", "rel_error", "abs_error", "low_90", "high_90"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def calibrate(measurements: pd.DataFrame, *, device: str | DeviceSpec,
              free: Sequence[str] | None = None, catalog: Catalog | None = None,
              cross_validation: bool = True) -> Calibration:
    """Fit one device to its rows of ``measurements``.

    Args:
        measurements: Validated measurements (:func:`dse.calibrate.read_measurements` or a
            loader); rows of other devices are ignored.
        device: Catalog device name (or spec).
        free: Spec paths to fit (``efficiency.default``, ``efficiency.conv3x3s1``,
            ``overhead_per_inference_s``, ``host_overhead_per_inference_s``,
            ``mem_bw_bytes_s``, ``parallel_fraction``, ``slot_scaling``, ``power.active_w``,
            ...), exactly; default: :func:`default_free` plus the kernel-class multipliers and
            per-kernel cost the data can tell (as a group of one, with the class prior).
            Power and energy rows are used only when a ``power.*`` path is free.
        catalog: Device catalog (default: the built-in one).
        cross_validation: Also run leave-one-model-out cross-validation.

    Raises:
        DseError: Unknown device or parameter, or fewer points than free parameters.
    """
    catalog = catalog or default_catalog()
    spec = catalog.device(device)
    rows = measurements[measurements["device"] == spec.name].reset_index(drop=True)
    rows = rows.drop(columns="target", errors="ignore")
    result = calibrate_targets(rows, {spec.name: spec}, free=free, share=free is None,
                               catalog=catalog, cross_validation=cross_validation)
    return result[spec.name]


def cross_validate(rows: pd.DataFrame, spec: DeviceSpec, free: Sequence[str] | None,
                   catalog: Catalog) -> pd.DataFrame:
    """Leave-one-model-out table of one device (see :func:`calibrate`)."""
    cal = calibrate(rows, device=spec, free=free, catalog=catalog, cross_validation=True)
    return cal.cv if cal.cv is not None else pd.DataFrame()
