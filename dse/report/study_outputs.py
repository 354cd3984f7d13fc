"""A study's output files: the trials table, the Pareto front and the files written for people.

Written to the output folder, each atomically: ``trials.csv`` and ``trials.parquet`` (every
trial: parameters, metrics, feasibility, reason), ``pareto.csv``, ``pareto.png`` / ``.svg``
(2-D, or pairwise for three objectives), ``dimensions.png`` / ``.svg`` (each searched dimension
against each objective), ``best_N.yaml`` (runnable: ``dse simulate best_1.yaml`` reproduces its
metrics), ``report.md`` and ``report.html`` (the same report, figures embedded). The analysis is
:mod:`dse.report.study_report`'s.

The files are replaced as a set: the new ``best_N.yaml`` are written before the stale ones (a
previous run's extra ones) are removed, so a kill at any moment leaves a complete set, old or
new; temporary files a killed run left behind are removed at the start.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml

from dse.files import atomic_path, clean_stale_temporaries, save_figure
from dse.report.study_report import dimension_figure, study_document, what_if
from dse.report.threads_gain import threads_figure, threads_gain, threads_section
from dse.search.space import Objective
from dse.spec.experiment import Experiment

if TYPE_CHECKING:
    from dse.search.study import ExploreResult

__all__ = ["BEST_FILES", "OUTPUTS", "best_yaml", "write_outputs"]

logger = logging.getLogger(__name__)

BEST_FILES = 5

#: Every file :func:`write_outputs` writes (fnmatch patterns), for cleaning its temporaries.
OUTPUTS = ("trials.csv", "trials.parquet", "pareto.csv", "pareto.png", "pareto.svg",
           "dimensions.png", "dimensions.svg", "threads_gain.png", "threads_gain.svg",
           "threads_gain.csv", "best_*.yaml", "report.md", "report.html")


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
    from matplotlib.figure import Figure

    pairs = list(itertools.combinations(range(len(goals)), 2))
    if not pairs:
        return []
    fig = Figure(figsize=(5.5 * len(pairs), 4.5), layout="constrained")
    axes = fig.subplots(1, len(pairs), squeeze=False)
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


def _parquet_safe(trials: pd.DataFrame) -> pd.DataFrame:
    """The table with every object column whose values are not all of one type (a choice of
    ``[1, "two"]``) as text, which Parquet can store; missing values stay missing."""
    out = trials.copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue
        kinds = {type(v) for v in out[col] if v is not None and not (isinstance(v, float)
                                                                     and v != v)}
        if len(kinds) > 1:
            out[col] = out[col].map(lambda v: v if v is None or (isinstance(v, float) and
                                                                 v != v) else str(v))
    return out


def write_outputs(result: ExploreResult, out: Path) -> list[Path]:
    """Write every output file of a study (each atomically, the set replaced as a whole: see
    the module docstring); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(out, OUTPUTS)
    written: list[Path] = []
    trials, front = result.trials, result.pareto
    with atomic_path(out / "trials.csv") as tmp:
        trials.to_csv(tmp, index=False)
    written.append(out / "trials.csv")
    try:
        with atomic_path(out / "trials.parquet") as tmp:
            _parquet_safe(trials).to_parquet(tmp, index=False)
        written.append(out / "trials.parquet")
    except (ImportError, ValueError, TypeError, ArithmeticError) as exc:
        # pyarrow's errors derive from these; trials.csv holds the same table
        logger.warning("trials.parquet not written: %s", exc)
    with atomic_path(out / "pareto.csv") as tmp:
        front.to_csv(tmp, index=False)
    written.append(out / "pareto.csv")
    images: list[tuple[str, bytes, str]] = []
    fig = dimension_figure(trials, list(result.experiment.dimensions), result.objectives)
    if fig is not None:
        paths = save_figure(fig, out / "dimensions")
        written += paths
        images.append(("dimensions.png", paths[0].read_bytes(),
                       "Each searched dimension against each objective: feasible trials "
                       "(blue), the best at each value (red), infeasible ones (grey)."))
    best_files: list[Path] = []
    if not front.empty:
        paths = _plot(front, trials, result.objectives, out / "pareto")
        written += paths
        if paths:
            images.append(("pareto.png", paths[0].read_bytes(),
                           "Objectives pairwise: feasible trials, the Pareto front (red), "
                           "infeasible trials (grey)."))
        for k, (_, row) in enumerate(front.head(BEST_FILES).iterrows(), start=1):
            values = ", ".join(f"{g.metric} = {row[f'value:{g.metric}']:.6g}"
                               for g in result.objectives)
            header = (f"best_{k} of study {result.experiment.name}, trial {row['trial']}\n"
                      f"{values}\nreproduce: dse simulate best_{k}.yaml")
            target = out / f"best_{k}.yaml"
            with atomic_path(target) as tmp:
                tmp.write_text(best_yaml(result.experiment, row, header))
            best_files.append(target)
    written += best_files
    table = None
    if not front.empty:
        try:
            table = what_if(result.experiment, front.iloc[0], result.objectives,
                            result.constraints)
        except Exception:  # the check is extra: its failure must not cost the report
            logger.exception("the what-if check of the best configuration failed")
    sections = []
    try:
        gain = threads_gain(result)
    except Exception:  # an extra analysis: its failure must not cost the report
        logger.exception("the gain-from-threads analysis failed")
        gain = None
    if gain is not None:
        paths = save_figure(threads_figure(gain), out / "threads_gain")
        written += paths
        with atomic_path(out / "threads_gain.csv") as tmp:
            gain.table.to_csv(tmp, index=False)
        written.append(out / "threads_gain.csv")
        image = ("threads_gain.png", paths[0].read_bytes())
        sections.append(lambda doc: threads_section(doc, gain, image=image))
    else:  # an earlier run's analysis of another experiment must not stay beside this one
        for old in out.glob("threads_gain.*"):
            old.unlink(missing_ok=True)
    names = [p.name for p in written] + ["report.md", "report.html"]
    doc = study_document(result, names, images=images, what_if_table=table,
                         description=result.experiment.description,
                         calibration=result.experiment.calibration, sections=sections)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(doc.markdown(), encoding="utf-8")
    written.append(out / "report.md")
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(doc.html(), encoding="utf-8")
    written.append(out / "report.html")
    # Only now, with the new set in place, the previous run's extra best files go.
    for old in out.glob("best_*.yaml"):
        if old not in best_files:
            old.unlink(missing_ok=True)
    return written
