"""Study results as data: the trials table, distinct configurations, the Pareto front.

Written to files (and analysed for people) by :mod:`dse.report.study_outputs`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import optuna
import pandas as pd

from dse.search.space import METRICS, Objective, decode
from dse.spec.experiment import Experiment

__all__ = ["IDENTITY_METRICS", "distinct_configurations", "feasible_trials", "host_of",
           "pareto_table", "signif", "trials_table"]

#: The simulated metrics two configurations must share (to 6 significant digits) to count as
#: the same configuration: everything a frame experiences. Energy, power and price are left out
#: on purpose: an idle extra device changes them without changing what runs.
IDENTITY_METRICS = ("throughput_fps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


def trials_table(study: optuna.Study, experiment: Experiment,
                 goals: list[Objective]) -> pd.DataFrame:
    """One row per finished trial (complete or failed), parameters decoded to YAML values
    (whole-number parameters stay ``int`` when a failed trial has none)."""
    rows = []
    dims = experiment.dimensions
    for t in study.get_trials(deepcopy=False):
        if t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL):
            continue
        params = decode(t.params, dims)
        metrics = t.user_attrs.get("metrics") or {}
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name,
                               "feasible": bool(t.user_attrs.get("feasible", False)),
                               "reason": t.user_attrs.get("reason", "")}
        for d in dims:
            value = params.get(d.path)
            row[f"param:{d.path}"] = json.dumps(value) if isinstance(value, list | dict) \
                else value
        for g, v in zip(goals, t.values or [None] * len(goals), strict=True):
            row[f"value:{g.metric}"] = v
        for name, path in METRICS.items():
            found: Any = metrics
            for key in path:
                found = found.get(key) if isinstance(found, dict) else None
            row[name] = found
        row["bottlenecks"] = ", ".join(metrics.get("bottlenecks") or [])
        row["platform"] = metrics.get("platform", "")
        row["devices_used"] = ", ".join(sorted(
            str(k) for k, v in (metrics.get("frames_per_device") or {}).items() if v))
        row["duration_s"] = t.duration.total_seconds() if t.duration else None
        rows.append(row)
    return _whole_numbers(pd.DataFrame(rows), experiment)


def _whole_numbers(table: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """Whole-number parameters back to ``int``: a failed trial without parameters (a worker
    killed before it chose them) leaves a gap that makes pandas turn the column into floats,
    and ``2.0`` is not one of the choices ``[1, 2]``."""
    for dim in experiment.dimensions:
        col = f"param:{dim.path}"
        whole = dim.kind == "int" or (dim.kind == "choice" and all(
            isinstance(c, int) and not isinstance(c, bool) for c in dim.choices))
        if whole and col in table and table[col].dtype.kind == "f":
            table[col] = pd.Series([None if pd.isna(v) else int(v) for v in table[col]],
                                   index=table.index, dtype=object)
    return table


def pareto_table(trials: pd.DataFrame, goals: list[Objective]) -> pd.DataFrame:
    """Distinct feasible configurations that no other feasible trial dominates, best first.

    Effectively identical trials are merged first
    (:func:`distinct_configurations`: the cheapest of them stays, with
    ``equivalent`` and ``same_as`` naming the others), so the front shows each configuration
    once.
    """
    if trials.empty:
        return trials
    ok = distinct_configurations(trials)
    if ok.empty:
        return ok
    signs = np.array([-1.0 if g.direction == "maximize" else 1.0 for g in goals])
    values = ok[[f"value:{g.metric}" for g in goals]].to_numpy(dtype=float) * signs
    keep = []
    for v in values:
        dominated = np.any(np.all(values <= v, axis=1) & np.any(values < v, axis=1))
        keep.append(not dominated)
    front = ok[keep].copy()
    order = [f"value:{g.metric}" for g in goals]
    return front.sort_values(order, ascending=[g.direction == "minimize" for g in goals],
                             ignore_index=True)


def feasible_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The complete, feasible trials."""
    if trials.empty:
        return trials
    return trials[(trials["state"] == "COMPLETE") & trials["feasible"].astype(bool)]


def host_of(platform: Any) -> str:
    """The host part of a platform label (``raspberry_pi4+3xncs2`` -> ``raspberry_pi4``)."""
    return str(platform or "").split("+", 1)[0]


def signif(value: Any) -> Any:
    """``value`` to 6 significant digits (``None`` for a missing or infinite one)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return float(f"{float(value):.6g}")


def distinct_configurations(trials: pd.DataFrame) -> pd.DataFrame:
    """The feasible trials, effectively identical configurations merged into one row.

    Two trials are the same configuration when they share the host, the set of devices that
    processed frames (``devices_used``) and every metric of :data:`IDENTITY_METRICS` to 6
    significant digits: the same work ran on the same hardware with the same result, so the
    parameters that differ between them changed nothing that runs (a ``threads`` policy with
    three sticks plugged in uses one; ``infer_requests`` above a device's slots are capped).
    The row kept is the cheapest (lowest price, then energy per inference, then power, then
    trial number): the others only add idle hardware. ``equivalent`` counts the merged trials,
    ``same_as`` lists the others' trial numbers.
    """
    ok = feasible_trials(trials)
    if ok.empty:
        return ok.assign(equivalent=pd.Series(dtype=int), same_as=pd.Series(dtype=str))
    key = pd.DataFrame({
        "host": ok["platform"].map(host_of),
        "devices": ok["devices_used"] if "devices_used" in ok else ok["platform"],
        **{m: ok[m].map(signif) for m in IDENTITY_METRICS if m in ok},
    }, index=ok.index).astype(str).agg("|".join, axis=1)
    order = [c for c in ("price_usd", "energy_per_inference_j", "average_power_w", "trial")
             if c in ok]
    rows = []
    for _, group in ok.groupby(key, sort=False):
        group = group.sort_values(order, na_position="last")
        keep = group.iloc[0].copy()
        keep["equivalent"] = len(group)
        keep["same_as"] = ", ".join(str(t) for t in group["trial"].iloc[1:])
        rows.append(keep)
    return pd.DataFrame(rows).reset_index(drop=True)
