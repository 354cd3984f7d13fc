"""``dse validate``: how good dse's predictions are on models it was not fitted to.

The shipped measurements are split into targets and groups (:mod:`dse.calibrate.targets`);
every group is fitted with one model left out of all its targets at a time
(:func:`dse.calibrate.fit.calibrate_targets`), and every held-out point is predicted with its
90% interval. Beside each figure stands the naive baseline (:mod:`dse.calibrate.baseline`),
left out the same way, so each row shows whether dse beats a MACs proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.baseline import macs_proxy_cv
from dse.calibrate.fit import calibrate_targets
from dse.calibrate.loaders import load, loader_names
from dse.calibrate.params import default_free
from dse.calibrate.rows import check_points
from dse.calibrate.targets import groups
from dse.devices import Catalog, default_catalog
from dse.errors import DseError

__all__ = ["COLUMNS", "by_dataset", "error_summary", "overall", "validate_all"]

COLUMNS = ["dataset", "device", "runtime", "host", "kind", "points", "models", "mape",
           "within_10", "worst", "baseline_mape", "coverage_90", "error"]


def validate_all(datasets: Sequence[str] | None = None, *, catalog: Catalog | None = None,
                 progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The leave-one-model-out table: one row per dataset, device, runtime, host and kind.

    Kinds (:func:`dse.calibrate.forward.row_kind`): ``single`` (one inference at a time on one
    device), ``concurrent`` (threads, sessions or devices in flight) and ``power`` (power and
    energy). ``baseline_mape`` is the MACs proxy's error on the same held-out timing points;
    ``coverage_90`` the share of held-out points inside dse's 90% prediction interval.
    """
    catalog = catalog or default_catalog()
    frames = [load(name).measurements for name in datasets or loader_names()]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    measurements = pd.concat(frames, ignore_index=True)
    points: list[pd.DataFrame] = []
    errors: list[dict[str, Any]] = []
    for group in groups(measurements, catalog):
        if progress:
            progress(f"{group.runtime} on {group.kind}: {', '.join(group.specs)}")
        specs = dict(group.specs)
        for target in list(specs):
            part = group.rows[group.rows["target"] == target]
            problems = check_points(target, part, default_free(specs[target], part))
            if problems:
                first = part.iloc[0]
                errors.append({"dataset": ", ".join(sorted(set(part["dataset"]))),
                               "device": first["device"], "runtime": group.runtime,
                               "host": first["target_host"], "kind": "",
                               "points": len(part), "error": problems[0].message})
                del specs[target]
        if not specs:
            continue
        rows = group.rows[group.rows["target"].isin(specs)].reset_index(drop=True)
        try:
            fits = calibrate_targets(rows, specs, catalog=catalog, labels=group.labels,
                                     runtime=catalog.runtimes.get(group.runtime))
        except DseError as exc:
            for target in specs:
                first = rows[rows["target"] == target].iloc[0]
                errors.append({"dataset": first["dataset"], "device": first["device"],
                               "runtime": group.runtime, "host": first["target_host"],
                               "kind": "", "points": 0, "error": str(exc).splitlines()[0]})
            continue
        for target, cal in fits.items():
            cv = cal.cv
            if cv is None or cv.empty:
                continue
            mine = rows[rows["target"] == target]
            baseline = macs_proxy_cv(mine)
            cv = cv.copy()
            cv["baseline_error"] = baseline["abs_error"].reindex(cv["row"]).to_numpy()
            cv["runtime"] = group.runtime
            points.append(cv)
    table = _summarise(pd.concat(points, ignore_index=True) if points else pd.DataFrame())
    if errors:
        table = pd.concat([table, pd.DataFrame(errors)], ignore_index=True)
    return table.reindex(columns=COLUMNS).fillna({"error": ""})


def _summarise(points: pd.DataFrame) -> pd.DataFrame:
    if points.empty:
        return pd.DataFrame(columns=COLUMNS)
    out = []
    keys = ["dataset", "device", "runtime", "host", "kind"]
    for key, g in points.groupby(keys, sort=True):
        out.append({**dict(zip(keys, key, strict=True)), **_figures(g), "error": ""})
    return pd.DataFrame(out)


def _errors(abs_error: np.ndarray) -> dict[str, float]:
    """MAPE, the share within ±10% and the worst of absolute relative errors."""
    return {"mape": float(np.mean(abs_error)), "within_10": float(np.mean(abs_error <= 0.10)),
            "worst": float(np.max(abs_error))}


def _figures(g: pd.DataFrame) -> dict[str, Any]:
    err = g["abs_error"].to_numpy(dtype=float)
    inside = (g["measured"] >= g["low_90"]) & (g["measured"] <= g["high_90"])
    base = g["baseline_error"].to_numpy(dtype=float)
    return {"points": len(g), "models": int(g["workload"].nunique()), **_errors(err),
            "baseline_mape": float(np.nanmean(base)) if np.isfinite(base).any() else None,
            "coverage_90": float(inside.mean())}


def error_summary(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of ``by`` (sorted): ``points``, ``mape``, ``within_10`` and ``worst`` of a
    table's ``rel_error`` (predicted / measured - 1), and where the table has a
    ``baseline_error`` the same of it as ``baseline_mape``, ``baseline_within_10`` and
    ``baseline_worst``."""
    base = "baseline_error" in table
    columns = [by, "points", "mape", "within_10", "worst",
               *(["baseline_mape", "baseline_within_10", "baseline_worst"] if base else [])]
    rows = []
    for key, g in table.groupby(by):
        row: dict[str, Any] = {by: key, "points": len(g),
                               **_errors(np.abs(g["rel_error"].to_numpy(dtype=float)))}
        if base:
            b = _errors(np.abs(g["baseline_error"].to_numpy(dtype=float)))
            row.update({f"baseline_{k}": v for k, v in b.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _pooled(g: pd.DataFrame) -> dict[str, Any]:
    """Point-weighted figures over rows of a :func:`validate_all` table."""
    w = g["points"].to_numpy(dtype=float)
    entry: dict[str, Any] = {"points": int(w.sum()), "targets": len(g),
                             "mape": float(np.average(g["mape"], weights=w)),
                             "within_10": float(np.average(g["within_10"], weights=w)),
                             "coverage_90": float(np.average(g["coverage_90"], weights=w))}
    base = g["baseline_mape"].astype(float)
    has = base.notna().to_numpy()
    if has.any():
        entry["baseline_mape"] = float(np.average(base[has], weights=w[has]))
        entry["beats_baseline"] = int((g["mape"][has] <= base[has]).sum())
        entry["rows_with_baseline"] = int(has.sum())
    return entry


def by_dataset(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Point-weighted figures per dataset and kind (the README's table)."""
    ok = table[table["error"] == ""]
    return [{"dataset": str(d), "kind": str(k), **_pooled(g)}
            for (d, k), g in ok.groupby(["dataset", "kind"], sort=True)]


def overall(table: pd.DataFrame) -> dict[str, Any]:
    """Point-weighted figures over every row of a :func:`validate_all` table, per kind, and
    how many rows beat their baseline."""
    ok = table[table["error"] == ""]
    out: dict[str, Any] = {str(kind): _pooled(g) for kind, g in ok.groupby("kind")}
    out["errors"] = int((table["error"] != "").sum())
    return out
