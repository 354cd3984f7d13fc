"""The service-time distribution of a target: how one inference's time spreads around its median.

A target's cost model (:mod:`dse.cost`) gives one number per inference, the *median* service
time (what ``dse measure`` records and what the shipped overlays are fitted to). A
:class:`LatencySpread` says how the time of one inference spreads around it, as quantiles
stated as ratios to the median::

    latency_spread: {p10: 0.95, p90: 1.06, p99: 1.30}

Why this form. Repeats of one model on one target (300 runs per model on the host,
``calibration/host/spread.csv``; ncnn's benchncnn min/avg/max) are skewed and heavy-tailed:
on the host EfficientNet-B0 had p10/p90/p99 = 0.94/1.08/1.30 of its median, where a log-normal
through its p90 puts p99 at 1.15, and ResNet-18 0.92/1.08/1.13, where it puts p10 at 0.93; the
two sides and the far tail differ from model to model. A two-parameter law fits neither
tail, so the spec states quantiles, and the
distribution between and beyond them is piecewise log-normal: the log-ratio is linear in the
normal score ``z = Phi^-1(p)`` between the stated quantiles (and the median, ratio 1 at
``z = 0``), and continues with the slope of the outermost segment beyond them. That is a
monotone inverse CDF through every stated quantile, exactly log-normal when the points are
(one ``p90`` alone is the log-normal of that sigma, mirrored below the median), and a
zero spread when nothing is stated (every inference takes the median time).

:data:`DEFAULT_SPREAD` is what a target without a fitted spread gets; its source is stated with
it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator
from scipy.special import ndtri

from dse.spec.sources import Frozen

__all__ = ["DEFAULT_SPREAD", "DEFAULT_SPREAD_SOURCE", "LEVELS", "LatencySpread"]

#: The quantile levels a spread may state, by field name (p50 is the median, ratio 1).
LEVELS: dict[str, float] = {"p1": 0.01, "p5": 0.05, "p10": 0.10, "p25": 0.25, "p75": 0.75,
                            "p90": 0.90, "p95": 0.95, "p99": 0.99}

#: Normal scores are clipped here when sampling: u in (Phi(-6), Phi(6)), one in 10^9 beyond.
_Z_CLIP = 6.0


class LatencySpread(Frozen):
    """Quantiles of one inference's service time as ratios to its median (see the module
    docstring for the distribution they define).

    Attributes:
        p1, p5, p10, p25: Ratios below the median (at most 1), each stated one optional.
        p75, p90, p95, p99: Ratios above the median (at least 1).
    """

    FIELDS: ClassVar[tuple[str, ...]] = tuple(LEVELS)

    p1: float | None = Field(default=None, gt=0, le=1)
    p5: float | None = Field(default=None, gt=0, le=1)
    p10: float | None = Field(default=None, gt=0, le=1)
    p25: float | None = Field(default=None, gt=0, le=1)
    p75: float | None = Field(default=None, ge=1)
    p90: float | None = Field(default=None, ge=1)
    p95: float | None = Field(default=None, ge=1)
    p99: float | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _monotone(self) -> LatencySpread:
        levels, ratios = self._points()
        if np.any(np.diff(ratios) < 0):
            stated = ", ".join(f"p{round(q * 100):g}={r:g}" for q, r in zip(levels, ratios,
                                                                             strict=True)
                               if q != 0.5)
            raise ValueError(f"quantile ratios must not decrease with the level, got {stated}")
        return self

    # ----- the distribution -----------------------------------------------------------------

    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        """(levels, ratios) of the stated quantiles with the median (0.5, 1), in level order."""
        pts = {0.5: 1.0}
        for name, level in LEVELS.items():
            value = getattr(self, name)
            if value is not None:
                pts[level] = float(value)
        levels = np.array(sorted(pts))
        return levels, np.array([pts[q] for q in levels])

    @property
    def is_zero(self) -> bool:
        """Every stated ratio is 1: every inference takes the median time."""
        return bool(np.all(self._points()[1] == 1.0))

    def log_ratio(self, z: np.ndarray | float) -> np.ndarray:
        """``ln(time / median)`` at normal score ``z``: piecewise linear through the stated
        quantiles, extended with the outermost slopes (the inverse CDF in log space)."""
        levels, ratios = self._points()
        knots_z = ndtri(levels)
        knots_y = np.log(ratios)
        z = np.asarray(z, dtype=float)
        if len(knots_z) == 1:
            return np.zeros_like(z)
        # Mirror a one-sided spread: with only upper (or lower) quantiles, the other side is
        # the same log-normal reflected (the one-quantile case is an exact log-normal).
        if knots_z[0] == 0.0:
            knots_z = np.concatenate([-knots_z[:0:-1], knots_z])
            knots_y = np.concatenate([-knots_y[:0:-1], knots_y])
        elif knots_z[-1] == 0.0:
            knots_z = np.concatenate([knots_z, -knots_z[-2::-1]])
            knots_y = np.concatenate([knots_y, -knots_y[-2::-1]])
        y = np.interp(z, knots_z, knots_y)
        lo_slope = (knots_y[1] - knots_y[0]) / (knots_z[1] - knots_z[0])
        hi_slope = (knots_y[-1] - knots_y[-2]) / (knots_z[-1] - knots_z[-2])
        y = np.where(z < knots_z[0], knots_y[0] + lo_slope * (z - knots_z[0]), y)
        return np.where(z > knots_z[-1], knots_y[-1] + hi_slope * (z - knots_z[-1]), y)

    def ratio(self, quantile: np.ndarray | float) -> np.ndarray:
        """The inverse CDF: time / median at each quantile level in (0, 1)."""
        return np.exp(self.log_ratio(ndtri(np.asarray(quantile, dtype=float))))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws of time / median (inverse-CDF sampling; deterministic for
        a seeded ``rng``)."""
        if self.is_zero:
            return np.ones(size)
        z = np.clip(rng.standard_normal(size), -_Z_CLIP, _Z_CLIP)
        return np.exp(self.log_ratio(z))

    def mean_ratio(self) -> float:
        """Mean time / median (by quadrature over the normal score)."""
        z = np.linspace(-_Z_CLIP, _Z_CLIP, 4001)
        w = np.exp(-z * z / 2)
        return float(np.sum(w * np.exp(self.log_ratio(z))) / np.sum(w))


#: A target with no fitted spread gets this one (see :data:`DEFAULT_SPREAD_SOURCE`).
DEFAULT_SPREAD = LatencySpread(p90=1.0144)

#: Where :data:`DEFAULT_SPREAD` comes from.
DEFAULT_SPREAD_SOURCE = (
    "MLPerf Mobile v2.1-5.0 SingleStream logs (../shared/data/mlperf_mobile_results.csv): the "
    "median p90/p50 latency ratio over the 74 valid results (phone NPUs, DSPs and GPUs), "
    "1.0144, as a log-normal (sigma 0.011; p99 1.026); dse.calibrate.spread."
    "mlperf_mobile_observations and fit_spread reproduce it. ncnn's catalog targets spread "
    "between p90 1.002 and 1.043 of the median (dse.calibrate.spread.shipped_spreads).")
