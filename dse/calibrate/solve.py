"""The bounded MAP fit of a group of targets: the log-space parameter vector and its solve.

The parameters are fitted by bounded least squares in log space
(``scipy.optimize.least_squares`` on ``log(predicted) - log(measured)``, so a 10% error weighs
the same on a 1 ms and a 1 s model), with dse itself as the forward model
(:class:`~dse.calibrate.forward.Forward`), and the priors of :mod:`dse.calibrate.params` added
to the residuals as penalties. :class:`Layout` says where each entry of the vector goes,
:func:`solve` fits it, :func:`intervals` gives the 90% prediction intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.optimize import least_squares

from dse.calibrate.forward import Forward
from dse.calibrate.params import (
    BOUNDS,
    CLASS_PRIOR_SD,
    KERNEL_PRIOR_S,
    MULTIPLIER_BOUNDS,
    OWN_PRIOR_SD,
    bounds_of,
    is_device_path,
    spec_value,
)
from dse.spec.device import DeviceSpec, max_efficiency

__all__ = ["MAP_PASSES", "MIN_DATA_SD", "SHARED_KERNEL", "Layout", "Solution", "intervals",
           "solve"]

#: Smallest scatter (log space) the data are weighed by in the MAP fit (:func:`solve`): 1%,
#: the repeatability of a published latency, so that an exact fit does not make every prior
#: irrelevant by an infinite weight on the data.
MIN_DATA_SD = 0.01
#: At most this many passes of the MAP fit to settle the data's scatter (:func:`solve`).
MAP_PASSES = 4
#: The fixed cost per kernel launch that a group shares.
SHARED_KERNEL = "overhead_per_layer_s"


@dataclass(frozen=True)
class Layout:
    """Where each entry of the log-space parameter vector goes.

    ``own[t]``: the target's own spec paths; ``classes``: shared kernel-class multipliers;
    ``kernel``: whether one fixed cost per kernel launch is shared by the group; ``same[t]``:
    the device and runtime of the target. Targets that differ only in their host (a Coral USB
    stick on a Xeon and on a Raspberry Pi) share the device's parameters
    (:data:`~dse.calibrate.params.DEVICE_PATHS`: efficiency, peaks, Amdahl fraction, slots,
    bandwidth, power) and keep their fixed costs per host, so a device fitted on one host
    predicts on another.
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
        owned = tuple(tuple(p for p in paths if leader[i] == i or not is_device_path(p))
                      for i, paths in enumerate(self.own))
        object.__setattr__(self, "leader", leader)
        object.__setattr__(self, "owned", owned)

    def subset(self, targets: Sequence[str]) -> Layout:
        """The layout of some of the targets (a cross-validation fold)."""
        idx = [self.targets.index(t) for t in targets]
        return Layout(tuple(targets), tuple(self.own[i] for i in idx), self.classes,
                      self.kernel, tuple((self.same or self.targets)[i] for i in idx),
                      self.prior_median,
                      tuple(self.own_prior[i] for i in idx) if self.own_prior else ())

    @property
    def names(self) -> list[str]:
        out = [f"{t}:{p}" for t, paths in zip(self.targets, self.owned, strict=True)
               for p in paths]
        out += [f"shared:efficiency.{c}" for c in self.classes]
        return out + ([f"shared:{SHARED_KERNEL}"] if self.kernel else [])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        b = [bounds_of(p) for paths in self.owned for p in paths]
        b += [MULTIPLIER_BOUNDS] * len(self.classes)
        b += [BOUNDS[SHARED_KERNEL]] if self.kernel else []
        lo, hi = np.log([x[0] for x in b]), np.log([x[1] for x in b])
        return lo, hi

    def start(self, specs: Mapping[str, DeviceSpec]) -> np.ndarray:
        x = []
        for t, paths in zip(self.targets, self.owned, strict=True):
            for p in paths:
                v = spec_value(specs[t], p)
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
                out[t][SHARED_KERNEL] = float(v[i])
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
        parameters that carry one (:func:`~dse.calibrate.params.own_priors`) against theirs."""
        n_own = sum(len(p) for p in self.owned)
        median = np.log(self.prior_median or [1.0] * len(self.classes))
        idx, mu, sd = self._own_prior
        n_shared = n_own + len(self.classes)
        kernel = (x[n_shared:n_shared + 1] - math.log(KERNEL_PRIOR_S)) / OWN_PRIOR_SD \
            if self.kernel else np.empty(0)
        return np.concatenate([(x[n_own:n_shared] - median) / CLASS_PRIOR_SD, kernel,
                               (x[idx] - mu) / sd])


@dataclass
class Solution:
    """A fit: the log-space vector, its values per target, the residual variance and the
    covariance of the vector."""

    x: np.ndarray
    values: dict[str, dict[str, float]]
    s2: float
    cov: np.ndarray


def solve(forward: Forward, layout: Layout, measured: np.ndarray, train: np.ndarray
          ) -> Solution:
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
    return Solution(res.x, layout.values(res.x), s2, cov)


def intervals(forward: Forward, layout: Layout, sol: Solution, rows: np.ndarray
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
