"""Fitting targets to measurements, with honest (leave-one-model-out) error.

A *target* is a device under one runtime (optionally on one host). :func:`calibrate_targets`
fits the targets of one runtime and device kind together and returns, per target, a
:class:`Calibration`: the overlay, the per-point table and the cross-validated error.

**Targets of one runtime and device kind are fitted together.** Kernel classes run at very
different shares of peak (:mod:`dse.workloads.kernels`), and how much so is a property of the
runtime's kernels more than of the chip: ncnn's Winograd 3x3 and its depthwise kernels behave
alike on every ARM core. So a group fit shares, across its targets, one multiplier per kernel
class (a target's class efficiency is its overall efficiency times the class's multiplier, at
most the class's ceiling) and one fixed cost per kernel launch. The multipliers carry a prior
(log-normal around 1, or around Winograd's multiply saving for 3x3 convolutions where the
runtime has such kernels; :data:`~dse.calibrate.params.CLASS_PRIOR_SD`) added to the residuals
as a penalty, so the fit is a bounded MAP estimate and a class seen in few models stays near
the target's overall efficiency. Each target frees only a few parameters of its own
(:func:`~dse.calibrate.params.default_free`).

The pieces, one module each: which rows a target has (:mod:`dse.calibrate.rows`), the forward
model (:mod:`dse.calibrate.forward`), which parameters are free and their priors
(:mod:`dse.calibrate.params`), the bounded MAP solve (:mod:`dse.calibrate.solve`) and
leave-one-model-out cross-validation (:mod:`dse.calibrate.crossval`).

The datasheet spec is never changed: the result is an :class:`~dse.devices.overlay.Overlay` per
target.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.crossval import leave_one_model_out
from dse.calibrate.forward import Forward, overlay_values
from dse.calibrate.params import (
    CLASS_PRIOR_SD,
    WINOGRAD_PRIOR,
    bounds_of,
    default_free,
    is_device_path,
    own_priors,
    shared_classes,
)
from dse.calibrate.rows import check_points, target_keys, timing_rows
from dse.calibrate.solve import Layout, intervals, solve
from dse.devices import Catalog, default_catalog
from dse.devices.overlay import Overlay
from dse.errors import DseError
from dse.spec.device import DeviceSpec
from dse.spec.runtime import RuntimeSpec

__all__ = ["Calibration", "calibrate", "calibrate_targets", "cross_validate"]


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
            :func:`~dse.calibrate.params.default_free` per target.
        share: Share kernel-class multipliers and a per-kernel fixed cost across the targets
            (:func:`~dse.calibrate.params.shared_classes`). With ``free`` given and
            ``share=False``, a plain fit of exactly the paths given.
        catalog: Device catalog (default: the built-in one).
        cross_validation: Also run leave-one-model-out cross-validation over the group.
        labels: Per target, extra overlay fields (``runtime``, ``host``).
        runtime: The group's runtime: with Winograd 3x3 kernels, the ``conv3x3s1`` prior is
            centred on their multiply saving (:data:`~dse.calibrate.params.WINOGRAD_PRIOR`)
            instead of 1.

    Raises:
        DseError: Unknown parameters, or a target with fewer points than free parameters (every
            problem at once, before any fitting).
    """
    catalog = catalog or default_catalog()
    keys = target_keys(measurements)
    names = tuple(targets)
    own: list[tuple[str, ...]] = []
    parts, problems = [], []
    for t in names:
        part = measurements[keys == t]
        paths = tuple(free.get(t, ()) if isinstance(free, Mapping) else free) \
            if free is not None else default_free(targets[t], part)
        for p in paths:
            bounds_of(p)
        part = timing_rows(part, paths)
        problems += check_points(t, part, paths)
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
    layout = Layout(names, tuple(own), classes, kernel=share and len(models) >= 4, same=same,
                    prior_median=median,
                    own_prior=tuple(own_priors(targets[t], paths, runtime) if share else ()
                                    for t, paths in zip(names, own, strict=True)))
    measured = rows["value_si"].to_numpy(dtype=float)
    everything = np.ones(len(rows), dtype=bool)
    sol = solve(forward, layout, measured, everything)
    pred, low, high = intervals(forward, layout, sol, everything)
    cv = leave_one_model_out(forward, layout, rows, measured) if cross_validation else None
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
            if owner == t or (owner == lead and is_device_path(path)):
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
            ...), exactly; default: :func:`~dse.calibrate.params.default_free` plus the
            kernel-class multipliers and per-kernel cost the data can tell (as a group of one,
            with the class prior).
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
