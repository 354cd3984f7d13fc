"""Fitting device parameters to measurements, with honest (leave-one-model-out) error.

The forward model is dse itself: a single-device, one-at-a-time measurement is predicted by the
closed-form model cost (:func:`dse.cost.model_cost`); a multi-threaded or multi-device one by the
simulator, so concurrency parameters (slot scaling) calibrate too. The parameters the user frees
are fitted by bounded least squares in log space (``scipy.optimize.least_squares`` on
``log(predicted) - log(measured)``), so a 10% error weighs the same on a 1 ms and a 1 s model.
The datasheet spec is never changed: the result is an :class:`~dse.devices.overlay.Overlay`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from dse.cost import model_cost
from dse.devices import Catalog, default_catalog
from dse.devices.overlay import FITTABLE, Overlay, apply_overlay
from dse.errors import DseError, Problem
from dse.spec.device import DeviceSpec
from dse.workloads import workload

__all__ = ["DEFAULT_FREE", "Calibration", "calibrate", "cross_validate", "predict"]

#: Freed when the caller does not say: overall compute efficiency and a fixed cost per inference.
DEFAULT_FREE = ("efficiency.default", "overhead_per_inference_s")

#: Bounds of each fittable parameter (SI units).
BOUNDS: dict[str, tuple[float, float]] = {
    "efficiency": (1e-4, 1.0),
    "overhead_per_inference_s": (1e-7, 10.0),
    "overhead_per_layer_s": (1e-9, 1e-2),
    "mem_bw_bytes_s": (1e6, 1e13),
    "onchip_mem_bytes": (1.0, 1e10),
    "peak_ops_s": (1e6, 1e16),
    "power.active_w": (1e-4, 1e3),
    "power.idle_w": (1e-5, 1e3),
}


def _bounds(path: str) -> tuple[float, float]:
    for prefix, b in BOUNDS.items():
        if path == prefix or path.startswith(prefix + "."):
            return b
    raise DseError([Problem("--free", path, f"not fittable; fittable: "
                            f"{', '.join(FITTABLE)} (slot_speedup is fitted by the simulator "
                            f"in a later step)")])


def _value(spec: DeviceSpec, path: str) -> float:
    node: Any = spec
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    if path.startswith("efficiency."):
        return spec.efficiency_for(path.split(".", 1)[1])
    return float(node) if node is not None else math.nan


def predict(spec: DeviceSpec, rows: pd.DataFrame, *, catalog: Catalog | None = None
            ) -> np.ndarray:
    """dse's prediction of every measurement row (SI units), for this device spec.

    Latency rows: one inference alone (model cost, including the transfers over the row's link
    and fallback to the host's CPU). Throughput rows with one thread on one device: 1 / latency;
    with several threads or devices: the simulator.

    Raises:
        DseError: A row's metric is not latency or throughput (power and energy are fitted in a
            later step), or its configuration cannot be simulated.
    """
    catalog = catalog or default_catalog()
    out = np.empty(len(rows))
    for i, r in enumerate(rows.itertuples(index=False)):
        if r.metric not in ("latency", "throughput"):
            raise DseError([Problem(str(r.dataset), f"row {i}", f"metric {r.metric!r}: only "
                                    f"latency and throughput are fitted so far")])
        concurrent = r.policy != "single" or r.count > 1 or r.streams > 1
        if concurrent and r.metric == "throughput":
            out[i] = _simulated_fps(spec, r, catalog)
            continue
        t = _latency(spec, r, catalog)
        out[i] = t if r.metric == "latency" else 1.0 / t
    return out


def _host_cluster(r: Any, catalog: Catalog) -> DeviceSpec | None:
    host = r.host
    if not host:
        return None
    if host in catalog.platforms:
        return catalog.device(next(iter(catalog.platforms[host].host)))
    return catalog.device(host) if host in catalog.devices else None


def _latency(spec: DeviceSpec, r: Any, catalog: Catalog) -> float:
    options = json.loads(r.options) if r.options else {}
    w = workload(r.workload, precision=r.precision, **options)
    link_name = r.link or spec.link
    link = catalog.link(link_name) if link_name else None
    fallback = _host_cluster(r, catalog)
    if fallback is spec or (fallback is not None and fallback.name == spec.name):
        fallback = None
    cost = model_cost(w, spec, r.precision, fallback=fallback, link=link)
    if not cost.feasible:
        raise DseError([Problem(str(r.dataset), r.workload, f"{spec.name}: {cost.reason}")])
    return cost.time_s


def _simulated_fps(spec: DeviceSpec, r: Any, catalog: Catalog) -> float:
    from dse.sim import simulate

    options = json.loads(r.options) if r.options else {}
    cat = catalog.with_devices({spec.name: spec}, replace=True)
    host = r.host or next(n for n, p in catalog.platforms.items() if spec.name in p.accelerators)
    accelerators = {} if spec.name in (catalog.platform(host).host if host in catalog.platforms
                                       else {}) else {spec.name: {"count": int(r.count)}}
    data = {"name": "calibration", "workload": {"zoo": r.workload, "precision": r.precision,
                                                "options": options},
            "platform": {"host": host, "accelerators": accelerators,
                         **({"link": r.link} if r.link else {})},
            "execution": {"policy": r.policy if r.count == 1 else "data_parallel",
                          "threads": int(max(r.threads, r.streams)),
                          "devices": [spec.name]},
            "stream": {"frames": 60, "warmup": 10}}
    report = simulate(data, catalog=cat)
    if report.metrics is None:
        raise DseError([Problem(str(r.dataset), r.workload, f"{spec.name}: {report.infeasible}")])
    return report.metrics.throughput_fps


@dataclass
class Calibration:
    """A fit of one device: the overlay, the per-point table, and the honest error.

    Attributes:
        overlay: Fitted values with provenance (apply with :func:`apply_overlay`).
        table: Per measurement: workload, metric, measured, predicted, relative error, and a 90%
            prediction interval (delta method on the fit's covariance plus the residual spread).
        mape: In-sample mean absolute percentage error (flattering; see ``cv``).
        within_10: In-sample share of points within +-10%.
        cv: Leave-one-model-out table (predicted by a fit that did not see that model), or
            ``None`` if not run.
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

    @property
    def cv_mape(self) -> float | None:
        return None if self.cv is None or self.cv.empty else float(self.cv["abs_error"].mean())

    @property
    def cv_within_10(self) -> float | None:
        return None if self.cv is None or self.cv.empty else float(
            (self.cv["abs_error"] <= 0.10).mean())

    def overlay_yaml(self) -> str:
        """The overlay as YAML text (``dse devices show NAME --overlay FILE`` reads it)."""
        import yaml

        return yaml.safe_dump(self.overlay.model_dump(mode="json"), sort_keys=False)


def _fit(spec: DeviceSpec, rows: pd.DataFrame, free: Sequence[str], catalog: Catalog
         ) -> tuple[dict[str, float], np.ndarray, Any]:
    lo = np.log([_bounds(p)[0] for p in free])
    hi = np.log([_bounds(p)[1] for p in free])
    start = []
    for p, a, b in zip(free, lo, hi, strict=True):
        v = _value(spec, p)
        v = 1e-4 if not math.isfinite(v) or v <= 0 else v
        start.append(min(max(math.log(v), a + 1e-6), b - 1e-6))
    measured = np.log(rows["value_si"].to_numpy(dtype=float))

    def residuals(x: np.ndarray) -> np.ndarray:
        values = dict(zip(free, np.exp(x).tolist(), strict=True))
        fitted = apply_overlay(spec, Overlay(device=spec.name, values=values), label="fit")
        return np.log(predict(fitted, rows, catalog=catalog)) - measured

    res = least_squares(residuals, np.array(start), bounds=(lo, hi), diff_step=1e-3,
                        x_scale="jac", max_nfev=200)
    return dict(zip(free, np.exp(res.x).tolist(), strict=True)), res.fun, res


def calibrate(measurements: pd.DataFrame, *, device: str | DeviceSpec,
              free: Sequence[str] = DEFAULT_FREE, catalog: Catalog | None = None,
              cross_validation: bool = True) -> Calibration:
    """Fit the freed parameters of ``device`` to its rows of ``measurements``.

    Args:
        measurements: Validated measurements (:func:`dse.calibrate.read_measurements` or a
            loader); rows of other devices are ignored.
        device: Catalog device name (or spec).
        free: Spec paths to fit (``efficiency.default``, ``efficiency.conv``,
            ``overhead_per_inference_s``, ``mem_bw_bytes_s``, ...).
        catalog: Device catalog (default: the built-in one).
        cross_validation: Also run leave-one-model-out cross-validation.

    Raises:
        DseError: Unknown device or parameter, or fewer points than free parameters.
    """
    catalog = catalog or default_catalog()
    spec = catalog.device(device)
    rows = measurements[(measurements["device"] == spec.name)
                        & measurements["metric"].isin(["latency", "throughput"])]
    rows = rows.reset_index(drop=True)
    free = tuple(free)
    for p in free:
        _bounds(p)
    if len(rows) < len(free) + 1:
        raise DseError([Problem(spec.name, "measurements", f"{len(rows)} latency/throughput "
                                f"points for {len(free)} free parameters; need at least "
                                f"{len(free) + 1}")])
    values, residual, res = _fit(spec, rows, free, catalog)
    n, k = len(rows), len(free)
    dof = max(n - k, 1)
    s2 = float(residual @ residual) / dof
    jac = res.jac
    try:
        cov = np.linalg.pinv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    sigma_log = {k: float(math.sqrt(max(cov[i, i], 0.0))) for i, k in enumerate(free)}
    fitted = apply_overlay(spec, Overlay(device=spec.name, values=values), label="fit")
    predicted = predict(fitted, rows, catalog=catalog)
    rel = predicted / rows["value_si"].to_numpy() - 1.0
    # 90% prediction interval in log space: parameter uncertainty (delta method) + scatter.
    var = np.einsum("ij,jk,ik->i", jac, cov, jac) + s2
    half = 1.645 * np.sqrt(np.maximum(var, 0.0))
    table = pd.DataFrame({
        "workload": rows["workload"], "options": rows["options"], "metric": rows["metric"],
        "policy": rows["policy"], "threads": rows["threads"], "count": rows["count"],
        "host": rows["host"], "link": rows["link"],
        "measured": rows["value_si"], "predicted": predicted, "rel_error": rel,
        "abs_error": np.abs(rel), "low_90": predicted * np.exp(-half),
        "high_90": predicted * np.exp(half)})
    datasets = sorted(set(rows["dataset"]))
    overlay = Overlay(device=spec.name, values=values, provenance={
        "method": "bounded least squares in log space (scipy.optimize.least_squares)",
        "data": ", ".join(datasets), "points": n, "fitted_on": _dt.date.today().isoformat(),
        "uncertainty_log_sd": sigma_log, "in_sample_mape": float(np.mean(np.abs(rel))),
    })
    cal = Calibration(spec.name, free, overlay, table, float(np.mean(np.abs(rel))),
                      float(np.mean(np.abs(rel) <= 0.10)), sigma_log)
    if cross_validation:
        cal.cv = cross_validate(rows, spec, free, catalog)
        if cal.cv_mape is not None:
            overlay.provenance["loo_model_mape"] = cal.cv_mape
    return cal


def cross_validate(rows: pd.DataFrame, spec: DeviceSpec, free: Sequence[str],
                   catalog: Catalog) -> pd.DataFrame:
    """Leave-one-model-out: each model's rows predicted by a fit on the other models only."""
    keys = rows["workload"] + rows["options"]
    out = []
    for key in sorted(set(keys)):
        train, test = rows[keys != key], rows[keys == key]
        if len(train) < len(free) + 1:
            continue
        values, _, _ = _fit(spec, train.reset_index(drop=True), free, catalog)
        fitted = apply_overlay(spec, Overlay(device=spec.name, values=values), label="fit")
        predicted = predict(fitted, test, catalog=catalog)
        rel = predicted / test["value_si"].to_numpy() - 1.0
        out.append(pd.DataFrame({"workload": test["workload"], "metric": test["metric"],
                                 "measured": test["value_si"], "predicted": predicted,
                                 "rel_error": rel, "abs_error": np.abs(rel)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["workload", "metric", "measured", "predicted", "rel_error", "abs_error"])
