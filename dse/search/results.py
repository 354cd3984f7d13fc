"""Study results: the trials table, the Pareto front, and the files written for people.

Written to the output folder, each atomically: ``trials.csv`` and ``trials.parquet`` (every
trial: parameters, metrics, feasibility, reason), ``pareto.csv``, ``pareto.png`` / ``.svg``
(2-D, or pairwise for three objectives), ``best_N.yaml`` (runnable: ``dse simulate best_1.yaml``
reproduces its metrics) and ``report.md``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd
import yaml

from dse.report.files import atomic_path, save_figure
from dse.search.space import METRICS, Objective, decode
from dse.spec.experiment import Experiment

if TYPE_CHECKING:
    from dse.search.study import ExploreResult

__all__ = ["pareto_table", "trials_table", "write_outputs"]

BEST_FILES = 5


def trials_table(study: optuna.Study, experiment: Experiment,
                 goals: list[Objective]) -> pd.DataFrame:
    """One row per finished trial (complete or failed), parameters decoded to YAML values."""
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
        row["duration_s"] = t.duration.total_seconds() if t.duration else None
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_table(trials: pd.DataFrame, goals: list[Objective]) -> pd.DataFrame:
    """Feasible trials that no other feasible trial dominates, best first."""
    if trials.empty:
        return trials
    ok = trials[(trials["state"] == "COMPLETE") & trials["feasible"]]
    if ok.empty:
        return ok
    signs = np.array([-1.0 if g.direction == "maximize" else 1.0 for g in goals])
    values = ok[[f"value:{g.metric}" for g in goals]].to_numpy(dtype=float) * signs
    keep = []
    for _i, v in enumerate(values):
        dominated = np.any(np.all(values <= v, axis=1) & np.any(values < v, axis=1))
        keep.append(not dominated)
    front = ok[keep].copy()
    order = [f"value:{g.metric}" for g in goals]
    return front.sort_values(order, ascending=[g.direction == "minimize" for g in goals],
                             ignore_index=True)


def best_yaml(experiment: Experiment, row: pd.Series, header: str) -> str:
    """The experiment with every dimension fixed to this trial's values, as YAML text."""
    params = {}
    for d in experiment.dimensions:
        value = row[f"param:{d.path}"]
        if d.kind == "choice" and isinstance(value, str) and value[:1] in "[{":
            value = json.loads(value)
        elif isinstance(value, np.generic):
            value = value.item()
        params[d.path] = value
    data = experiment.yaml_data(params)
    fixed = experiment.fixed(params)  # validates, and gives us the normalized structure
    for ref, w in zip(data.get("workloads") or [data.get("workload")], fixed.workloads,
                      strict=False):
        if isinstance(ref, dict) and w.onnx and not Path(w.onnx).is_absolute():
            ref["onnx"] = str((experiment.base_dir / w.onnx).resolve())
    data.pop("search", None)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return "".join(f"# {line}\n" for line in header.splitlines()) + text


def _plot(front: pd.DataFrame, trials: pd.DataFrame, goals: list[Objective],
          stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pairs = list(itertools.combinations(range(len(goals)), 2))
    if not pairs:
        return []
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.5 * len(pairs), 4.5),
                             layout="constrained", squeeze=False)
    ok = trials[(trials["state"] == "COMPLETE") & trials["feasible"]]
    bad = trials[(trials["state"] == "COMPLETE") & ~trials["feasible"]]
    for ax, (i, j) in zip(axes[0], pairs, strict=True):
        xi, yj = f"value:{goals[i].metric}", f"value:{goals[j].metric}"
        ax.scatter(ok[xi], ok[yj], s=14, color="tab:blue", alpha=0.5, label="feasible")
        ax.scatter(front[xi], front[yj], s=36, color="tab:red", label="Pareto front")
        if not bad.empty and goals[i].metric in bad and goals[j].metric in bad:
            ax.scatter(bad[goals[i].metric], bad[goals[j].metric], s=10, marker="x",
                       color="grey", alpha=0.5, label="infeasible")
        ax.set_xlabel(f"{goals[i].metric} ({goals[i].direction})")
        ax.set_ylabel(f"{goals[j].metric} ({goals[j].direction})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, stem)


def _report(result: ExploreResult, files: list[str]) -> str:
    exp, trials, front = result.experiment, result.trials, result.pareto
    n_ok = int(trials["feasible"].sum()) if not trials.empty else 0
    lines = [f"# {exp.name}: design-space exploration", ""]
    if exp.description:
        lines += [exp.description, ""]
    lines += ["## What was searched", ""]
    for d in exp.dimensions:
        what = ", ".join(map(str, d.choices)) if d.kind == "choice" else \
            f"{d.low:g} to {d.high:g}" + (" (log)" if d.log else "") + \
            (f", step {d.step:g}" if d.step else "")
        lines.append(f"- `{d.path}`: {what}")
    lines += ["", "Objectives: " + ", ".join(f"{g.direction} {g.metric}"
                                             for g in result.objectives) + "."]
    if result.constraints:
        lines.append("Constraints: " + ", ".join(
            f"{c.metric} {'<=' if c.kind == 'max' else '>='} {c.bound:g}"
            for c in result.constraints) + ".")
    if exp.calibration == "datasheet":
        lines.append("Devices: datasheet values (`calibration: datasheet`).")
    else:
        lines.append("Devices: calibrated (`calibration: shipped`): devices with an overlay in "
                     "calibration/overlays run with the values fitted to measurements, the "
                     "others with datasheet values; `dse simulate` on a best_N.yaml lists which.")
    lines += ["", f"{len(trials)} trials, {n_ok} feasible, {len(front)} on the Pareto front.",
              "", "## Pareto front", ""]
    if front.empty:
        lines.append("No feasible configuration was found.")
        if not trials.empty:
            reasons = trials["reason"].value_counts().head(5)
            lines += ["", "Most common reasons:", ""]
            lines += [f"- {r} ({n}x)" for r, n in reasons.items()]
    else:
        cols = [c for c in front.columns if c.startswith("param:")] + \
            [f"value:{g.metric}" for g in result.objectives] + ["bottlenecks"]
        lines.append("| trial | " + " | ".join(c.split(":", 1)[-1] for c in cols) + " |")
        lines.append("|---" * (len(cols) + 1) + "|")
        for _, row in front.head(20).iterrows():
            cells = [f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c])
                     for c in cols]
            lines.append(f"| {row['trial']} | " + " | ".join(cells) + " |")
        best = front.iloc[0]
        lines += ["", f"The best point (trial {best['trial']}) is limited by "
                      f"**{best['bottlenecks'] or 'nothing the bound names'}**: that resource "
                      "is what to add or speed up next."]
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in files]
    lines += ["", f"Browse the study with optuna-dashboard (`pip install optuna-dashboard`): "
              f"`optuna-dashboard {exp.name}.journal` in this folder, or `optuna-dashboard "
              f"STORAGE_URL` for a study in a database."]
    return "\n".join(lines) + "\n"


def write_outputs(result: ExploreResult, out: Path) -> list[Path]:
    """Write every output file of a study (atomically); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    trials, front = result.trials, result.pareto
    with atomic_path(out / "trials.csv") as tmp:
        trials.to_csv(tmp, index=False)
    written.append(out / "trials.csv")
    with atomic_path(out / "trials.parquet") as tmp:
        trials.to_parquet(tmp, index=False)
    written.append(out / "trials.parquet")
    with atomic_path(out / "pareto.csv") as tmp:
        front.to_csv(tmp, index=False)
    written.append(out / "pareto.csv")
    if not front.empty:
        written += _plot(front, trials, result.objectives, out / "pareto")
        for old in out.glob("best_*.yaml"):
            old.unlink()
        for k, (_, row) in enumerate(front.head(BEST_FILES).iterrows(), start=1):
            values = ", ".join(f"{g.metric} = {row[f'value:{g.metric}']:.6g}"
                               for g in result.objectives)
            header = (f"best_{k} of study {result.experiment.name}, trial {row['trial']}\n"
                      f"{values}\nreproduce: dse simulate best_{k}.yaml")
            target = out / f"best_{k}.yaml"
            with atomic_path(target) as tmp:
                tmp.write_text(best_yaml(result.experiment, row, header))
            written.append(target)
    names = [p.name for p in written] + ["report.md"]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(_report(result, names))
    written.append(out / "report.md")
    return written
