"""What a study found, as tables and text that answer its question.

Pure functions over the trials table of :func:`dse.search.results.trials_table` (one row per
trial: ``param:PATH`` columns, ``value:METRIC`` columns, every metric, ``feasible``,
``bottlenecks``, ``platform``, ``devices_used``), except :func:`what_if`, which simulates.

- :func:`distinct_configurations`: the feasible trials with effectively identical ones merged
  (see its docstring for the rule);
- :func:`ranked`: those ranked by non-dominated front, then by the first objective;
- :func:`scaling`: per numeric dimension, the best objective at each value and where it stops
  improving;
- :func:`what_if`: the best configuration with each searched dimension one step further,
  simulated, to check what adding the binding resource does;
- :func:`dimension_figure`: each searched dimension against each objective.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dse.search.results import (
    IDENTITY_METRICS,
    distinct_configurations,
    feasible_trials,
    host_of,
)

if TYPE_CHECKING:
    from dse.devices import Catalog
    from dse.report.document import Document
    from dse.search.space import Constraint, Objective
    from dse.search.study import ExploreResult
    from dse.spec.experiment import Dimension, Experiment

__all__ = [
    "IDENTITY_METRICS",
    "ScalingStop",
    "best_per_choice",
    "distinct_configurations",
    "front_steps",
    "host_of",
    "next_value",
    "ranked",
    "related_dimensions",
    "scaling",
    "scaling_stops",
    "study_document",
    "what_if",
    "within",
]

#: How much better a value must be to count as "still improving" (5%).
TOLERANCE = 0.05


def _fronts(values: np.ndarray) -> np.ndarray:
    """Non-dominated sorting (all columns minimised): 1 for the Pareto front, 2 for the front
    of what is left, ..."""
    rank = np.zeros(len(values), dtype=int)
    left = np.arange(len(values))
    level = 1
    while len(left):
        v = values[left]
        dominated = np.array([np.any(np.all(v <= x, axis=1) & np.any(v < x, axis=1))
                              for x in v])
        rank[left[~dominated]] = level
        left = left[dominated]
        level += 1
    return rank


def ranked(distinct: pd.DataFrame, goals: Sequence[Objective]) -> pd.DataFrame:
    """Distinct configurations ranked: by non-dominated front (``front`` 1 is the Pareto
    front), then by each objective in order, then by trial number; ``rank`` counts from 1."""
    if distinct.empty:
        return distinct.assign(front=pd.Series(dtype=int), rank=pd.Series(dtype=int))
    cols = [f"value:{g.metric}" for g in goals]
    signs = np.array([-1.0 if g.direction == "maximize" else 1.0 for g in goals])
    values = distinct[cols].to_numpy(dtype=float) * signs
    out = distinct.assign(front=_fronts(values))
    out = out.sort_values(["front", *cols, "trial"],
                          ascending=[True, *[g.direction == "minimize" for g in goals], True],
                          ignore_index=True, kind="stable")
    return out.assign(rank=np.arange(1, len(out) + 1))


def _numeric(dim: Dimension) -> bool:
    if dim.kind in ("int", "float"):
        return True
    return all(isinstance(c, int | float) and not isinstance(c, bool) for c in dim.choices)


def _values(dim: Dimension) -> list[float] | None:
    """Every value of a numeric dimension in order, when it has a finite set."""
    if dim.kind == "choice":
        return sorted(float(c) for c in dim.choices) if _numeric(dim) else None
    assert dim.low is not None and dim.high is not None
    if dim.kind == "int" and not dim.log:
        return [float(v) for v in range(int(dim.low), int(dim.high) + 1, int(dim.step or 1))]
    if dim.step:
        n = math.floor((dim.high - dim.low) / dim.step + 1e-9) + 1
        return [dim.low + i * dim.step for i in range(n)]
    return None


def next_value(dim: Dimension, value: Any, *, beyond: bool = False) -> Any:
    """One step up a numeric dimension from ``value`` (``None`` if not numeric, or at the top
    unless ``beyond``): the next larger choice, ``value + step`` (1 for an integer range
    without one), or, for a float range without a step, a tenth of the range (doubling for a
    log range). ``beyond``: past the top, one more step of the same size (the last gap between
    choices)."""
    if not _numeric(dim) or value is None:
        return None
    x = float(value)
    values = _values(dim)
    if values is not None:
        up = [v for v in values if v > x + 1e-12]
        if up:
            nxt = up[0]
        elif beyond and len(values) > 1:
            nxt = x + (values[-1] - values[-2])
        elif beyond and dim.kind != "choice":
            nxt = x + (dim.step or 1)
        else:
            return None
    else:
        assert dim.low is not None and dim.high is not None
        nxt = x * 2 if dim.log else x + (dim.high - dim.low) / 10
        if nxt > dim.high + 1e-12 and not beyond:
            return None
    if dim.kind == "int" or (dim.kind == "choice" and all(isinstance(c, int)
                                                          for c in dim.choices)):
        return round(nxt)
    return nxt


def related_dimensions(bottlenecks: Sequence[str], dims: Sequence[Dimension]) -> list[str]:
    """The searched dimensions that add to a binding resource: ``device NAME:i`` -> the count
    of that device; ``workers (frames in flight)`` -> threads and infer requests; ``link X`` ->
    a searched link; ``cores X`` (the host's CPU cores) and ``stream`` -> none."""
    out: list[str] = []
    for b in bottlenecks:
        kind, _, name = b.partition(" ")
        for d in dims:
            parts = d.path.split(".")
            hit = False
            if kind == "device":
                device = name.split(":", 1)[0]
                hit = device in parts and parts[-1] == "count"
            elif kind == "workers":
                hit = parts[-1] in ("threads", "infer_requests", "threads_per_device")
            elif kind == "link":
                hit = parts[-1] == "link"
            if hit and d.path not in out:
                out.append(d.path)
    return out


def param_value(row: pd.Series, dim: Dimension) -> Any:
    """A trial's value of a dimension as the experiment states it (JSON text of a list or
    mapping choice decoded, numpy scalars as Python ones)."""
    value = row.get(f"param:{dim.path}")
    if isinstance(value, np.generic):
        value = value.item()
    if dim.kind == "choice" and isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def what_if(experiment: Experiment, best: pd.Series, goals: Sequence[Objective],
            limits: Sequence[Constraint], *, catalog: Catalog | None = None) -> pd.DataFrame:
    """The best configuration re-simulated as is, then with each numeric searched dimension
    one step up (:func:`next_value`), one at a time.

    A dimension already at the top of its range is stepped one step past it: the check is
    what adding would do, not what the search allowed.

    Returns one row per configuration: ``change`` (``as found`` or ``PATH: a -> b``),
    ``related`` (the dimension adds to a resource the bound names as binding), every metric,
    the bound's bottlenecks, ``feasible`` (every constraint holds) and ``violated`` (which do
    not), ``gain`` (the first objective relative to the configuration as found; positive is
    better).
    """
    from dse.errors import DseError
    from dse.run import simulate
    from dse.search.space import metric_value

    dims = experiment.dimensions
    base = {d.path: param_value(best, d) for d in dims}
    bottlenecks = [b.strip() for b in str(best.get("bottlenecks") or "").split(",") if b.strip()]
    related = related_dimensions(bottlenecks, dims)
    # (change, dimension, choices, overrides): a value past the searched range is no choice
    # of the dimension, so that configuration is given as fixed values (overrides)
    variants: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        ("as found", "", base, {})]
    for d in dims:
        nxt = next_value(d, base[d.path])
        if nxt is not None:
            variants.append((f"{d.path}: {base[d.path]} -> {nxt}", d.path,
                             {**base, d.path: nxt}, {}))
            continue
        nxt = next_value(d, base[d.path], beyond=True)  # at the top: one step past it
        if nxt is not None:
            variants.append((f"{d.path}: {base[d.path]} -> {nxt} (past the searched range)",
                             d.path, {}, {**base, d.path: nxt}))
    rows = []
    for change, path, params, fixed in variants:
        row: dict[str, Any] = {"change": change, "dimension": path,
                               "related": path in related}
        try:
            report = simulate(experiment, choices=params or None, overrides=fixed or None,
                              catalog=catalog)
        except DseError as exc:
            rows.append({**row, "feasible": False, "violated": str(exc).splitlines()[0]})
            continue
        if report.infeasible:
            rows.append({**row, "feasible": False, "violated": report.infeasible})
            continue
        data = report.to_dict()
        # which devices ran with fitted values and which with datasheet values
        row["calibration"] = "; ".join(n.removeprefix("calibration: ")
                                       for n in report.plan.notes
                                       if n.startswith("calibration:"))
        from dse.search.space import METRICS

        for name in METRICS:
            row[name] = metric_value(data, name)
        row["bottlenecks"] = ", ".join(report.bound.bottlenecks)
        broken = [f"{c.metric} {row[c.metric]:.4g} {'>' if c.kind == 'max' else '<'} "
                  f"{c.bound:g}" for c in limits
                  if c.violation(row.get(c.metric)) > 0]
        row["feasible"] = not broken
        row["violated"] = "; ".join(broken)
        rows.append(row)
    out = pd.DataFrame(rows)
    goal = goals[0]
    if goal.metric in out and len(out) and pd.notna(out[goal.metric].iloc[0]):
        ref = float(out[goal.metric].iloc[0])
        sign = 1.0 if goal.direction == "maximize" else -1.0
        out["gain"] = sign * (out[goal.metric].astype(float) - ref) / abs(ref or 1.0)
    else:
        out["gain"] = np.nan
    return out


@dataclass(frozen=True)
class ScalingStop:
    """Where the best value of an objective stops improving along one dimension.

    Attributes:
        dimension: The YAML path.
        metric: The objective.
        stop: The value beyond which no larger value improves the best by more than the
            tolerance (``None`` when no value was feasible).
        still_scaling: The best keeps improving up to the largest value tried.
        best_at_stop / best_overall: The objective's best up to ``stop`` and over all values.
        tried: Values that had at least one feasible trial.
    """

    dimension: str
    metric: str
    stop: float | None
    still_scaling: bool
    best_at_stop: float | None
    best_overall: float | None
    tried: int


def scaling(trials: pd.DataFrame, dim: Dimension, goal: Objective) -> pd.DataFrame:
    """Best feasible ``goal`` at each value of a numeric dimension: columns ``value``,
    ``trials`` (feasible trials there), ``best`` (best objective there) and ``best_so_far``
    (best over this and every smaller value) and ``trial`` (the trial reaching ``best``)."""
    ok = feasible_trials(trials)
    col = f"param:{dim.path}"
    if ok.empty or col not in ok or not _numeric(dim):
        return pd.DataFrame(columns=["value", "trials", "best", "best_so_far", "trial"])
    maximize = goal.direction == "maximize"
    x = pd.to_numeric(ok[col], errors="coerce")
    y = ok[f"value:{goal.metric}"].astype(float)
    rows = []
    for value in sorted(x.dropna().unique()):
        at = y[x == value]
        idx = at.idxmax() if maximize else at.idxmin()
        rows.append({"value": float(value), "trials": len(at), "best": float(at[idx]),
                     "trial": int(ok.loc[idx, "trial"])})
    out = pd.DataFrame(rows)
    out["best_so_far"] = out["best"].cummax() if maximize else out["best"].cummin()
    return out


def best_per_choice(trials: pd.DataFrame, dim: Dimension, goal: Objective) -> pd.DataFrame:
    """Best feasible ``goal`` at each choice of a dimension, in the YAML's order: columns
    ``value`` (the choice as text), ``trials`` (feasible trials with it), ``best`` and
    ``trial`` (the trial reaching it; missing when no trial with that choice was feasible)."""
    ok = feasible_trials(trials)
    col = f"param:{dim.path}"
    keys = [c if not isinstance(c, list | dict) else json.dumps(c) for c in dim.choices] \
        if dim.kind == "choice" else []
    rows = []
    for key in keys:
        at = ok[ok[col].astype(str) == str(key)] if col in ok else ok.iloc[0:0]
        y = at[f"value:{goal.metric}"].astype(float) if not at.empty else pd.Series(dtype=float)
        if y.empty:
            rows.append({"value": str(key), "trials": 0, "best": None, "trial": None})
            continue
        idx = y.idxmax() if goal.direction == "maximize" else y.idxmin()
        rows.append({"value": str(key), "trials": len(y), "best": float(y[idx]),
                     "trial": int(at.loc[idx, "trial"])})
    return pd.DataFrame(rows, columns=["value", "trials", "best", "trial"])


def scaling_stops(trials: pd.DataFrame, dims: Sequence[Dimension], goal: Objective,
                  tolerance: float = TOLERANCE) -> list[ScalingStop]:
    """For each numeric dimension, the value beyond which the best feasible ``goal`` improves
    by no more than ``tolerance`` (relative): the smallest value whose best-so-far is within
    ``tolerance`` of the best over the whole range."""
    out = []
    for dim in dims:
        if not _numeric(dim):
            continue
        table = scaling(trials, dim, goal)
        if table.empty:
            out.append(ScalingStop(dim.path, goal.metric, None, False, None, None, 0))
            continue
        overall = float(table["best_so_far"].iloc[-1])
        if goal.direction == "maximize":
            close = table["best_so_far"] * (1 + tolerance) >= overall
        else:
            close = table["best_so_far"] * (1 - tolerance) <= overall
        first = int(np.argmax(close.to_numpy()))
        stop = float(table["value"].iloc[first])
        out.append(ScalingStop(dim.path, goal.metric, stop, first == len(table) - 1 and
                               len(table) > 1, float(table["best_so_far"].iloc[first]),
                               overall, len(table)))
    return out


def _label(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 28 else text[:25] + "..."


def dimension_figure(trials: pd.DataFrame, dims: Sequence[Dimension],
                     goals: Sequence[Objective]) -> Any:
    """A matplotlib figure: one panel per (objective, searched dimension): feasible trials as
    dots (a numeric dimension on its own axis, with the best value at each point joined; a
    categorical one as a strip per choice with a box over it), infeasible trials as grey
    crosses at the bottom edge. ``None`` when nothing was searched or no trial finished."""
    from matplotlib.figure import Figure

    if not dims or trials.empty:
        return None
    done = trials[trials["state"] == "COMPLETE"]
    ok = feasible_trials(trials)
    bad = done[~done["feasible"].astype(bool)]
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(3.6 * len(dims), 2.9 * len(goals)), layout="constrained")
    axes = fig.subplots(len(goals), len(dims), squeeze=False)
    for gi, goal in enumerate(goals):
        ycol = f"value:{goal.metric}"
        for di, dim in enumerate(dims):
            ax = axes[gi][di]
            col = f"param:{dim.path}"
            if _numeric(dim):
                x = pd.to_numeric(ok[col], errors="coerce").to_numpy(dtype=float)
                span = (np.nanmax(x) - np.nanmin(x)) if len(x) else 0.0
                jitter = rng.uniform(-0.015, 0.015, len(x)) * (span or 1.0)
                ax.scatter(x + jitter, ok[ycol], s=12, alpha=0.5, color="tab:blue",
                           label="feasible")
                ticks = _values(dim)
                if ticks is not None and len(ticks) <= 12:
                    ax.set_xticks(ticks, [_fmt(int(t) if float(t).is_integer() else t)
                                          for t in ticks])
                table = scaling(trials, dim, goal)
                if not table.empty:
                    ax.plot(table["value"], table["best"], "-o", color="tab:red", ms=4,
                            label="best at value")
                if not bad.empty:
                    xb = pd.to_numeric(bad[col], errors="coerce")
                    ax.scatter(xb, np.full(len(xb), ax.get_ylim()[0]), marker="x", s=14,
                               color="grey", alpha=0.6, label="infeasible", clip_on=False)
            else:
                labels = [_label(c) for c in dim.choices]
                keys = [c if not isinstance(c, list | dict) else json.dumps(c)
                        for c in dim.choices]
                groups = []
                for i, key in enumerate(keys):
                    vals = ok.loc[ok[col].astype(str) == str(key), ycol].astype(float)
                    groups.append(vals.to_numpy())
                    ax.scatter(i + rng.uniform(-0.18, 0.18, len(vals)), vals, s=12,
                               alpha=0.5, color="tab:blue")
                    nbad = int((bad[col].astype(str) == str(key)).sum()) if not bad.empty \
                        else 0
                    if nbad:
                        ax.annotate(f"{nbad} infeasible", (i, 0), xycoords=("data",
                                                                            "axes fraction"),
                                    ha="center", va="bottom", fontsize=6, color="grey")
                if any(len(g) for g in groups):
                    ax.boxplot([g if len(g) else [np.nan] for g in groups],
                               positions=range(len(groups)), widths=0.5, showfliers=False)
                ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right",
                              fontsize=7)
            if gi == len(goals) - 1:
                ax.set_xlabel(dim.path, fontsize=8)
            if di == 0:
                ax.set_ylabel(f"{goal.metric}\n({goal.direction})", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside upper center", ncols=len(handles), fontsize=8)
    return fig


def question(experiment_file: str) -> str:
    """The question an experiment's header comment asks (its ``# Question:`` paragraph), or
    ``""``."""
    from pathlib import Path

    try:
        lines = Path(experiment_file).read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    out: list[str] = []
    for line in lines:
        if not out and line.startswith("# Question:"):
            out.append(line.removeprefix("# Question:").strip())
        elif out and line.startswith("#   "):
            out.append(line[1:].strip())
        elif out:
            break
    return " ".join(out)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


#: What to change when a resource that is not a searched dimension binds.
_ADVICE = {
    "cores": "a host with more or faster CPU cores, or less host work per frame "
             "(pre-/post-processing, or threads that drive the devices)",
    "link": "a faster link, or one link per device instead of a shared hub",
    "dram": "less memory traffic (a smaller precision, fewer co-running components)",
    "device": "more or faster devices of that kind",
    "workers": "more frames in flight (more threads or infer requests; for a pipeline, more "
               "stages)",
    "stream": "nothing: the configuration keeps up with the offered frame rate",
}


def binding_text(best: pd.Series, table: pd.DataFrame, goal: Objective,
                 dims: Sequence[Dimension] = (), tolerance: float = TOLERANCE) -> list[str]:
    """Paragraphs explaining the best point's binding resource and what adding it does, from
    the :func:`what_if` table (its first row is the best point re-simulated)."""
    bottlenecks = str(best.get("bottlenecks") or "") or "nothing the bound names"
    paras = [f"The closed-form bound names **{bottlenecks}** as what binds at the best point "
             f"(trial {best['trial']})."]
    if table.empty:
        return paras
    base = table.iloc[0]
    if goal.metric in table and pd.notna(base.get(goal.metric)):
        paras.append(f"Re-simulated as found: {goal.metric} {_fmt(base[goal.metric])}, p99 "
                     f"latency {_fmt(base.get('latency_p99_ms'))} ms.")
    if isinstance(base.get("calibration"), str) and "datasheet values for" in \
            base["calibration"]:
        paras.append(f"**Calibration of this point**: {base['calibration']}. Devices on "
                     "datasheet values are predicted without any measurement behind them: "
                     "`dse predict DATASET --device NAME` shows how far their datasheet values "
                     "are from the measured rows where a dataset has some.")
    steps = table.iloc[1:]
    related = steps[steps["related"].astype(bool)]
    for _, r in related.iterrows():
        if goal.metric not in r or pd.isna(r.get(goal.metric)):
            paras.append(f"Adding it, `{r['change']}`: cannot run ({r['violated']}).")
            continue
        holds = "every constraint still holds" if r["feasible"] else \
            f"**breaks {r['violated']}**"
        paras.append(f"Adding it, `{r['change']}` (simulated): {goal.metric} "
                     f"{_fmt(r[goal.metric])} ({r['gain']:+.1%}), p99 latency "
                     f"{_fmt(r.get('latency_p99_ms'))} ms, price {_fmt(r.get('price_usd'))}; "
                     f"{holds}; the bound then names {r.get('bottlenecks') or '-'}.")
    if related.empty:
        paras.append("No searched dimension adds to that resource.")
    helps = steps[steps["feasible"].astype(bool) & (steps["gain"] > tolerance)]
    if not helps.empty:
        top = helps.sort_values("gain", ascending=False).iloc[0]
        paras.append(f"**What to add: `{top['dimension']}`** one step "
                     f"(`{top['change']}`) raises {goal.metric} by {top['gain']:.1%} with every "
                     f"constraint met (checked by simulating it).")
    else:
        kinds = {b.strip().split(" ", 1)[0] for b in bottlenecks.split(",")}
        # a kind whose searched dimension was stepped (and did not help) is no advice
        tried = {k for k in kinds if any(
            r in related_dimensions([b.strip() for b in bottlenecks.split(",")
                                     if b.strip().startswith(k)], dims)
            for r in related["dimension"])} if dims else set()
        advice = "; ".join(_ADVICE[k] for k in sorted(kinds - tried) if k in _ADVICE)
        paras.append(f"**Adding more of any searched dimension does not pay**: no one-step "
                     f"increase improves {goal.metric} by more than {tolerance:.0%} with the "
                     f"constraints met (each checked by simulation, table below): {goal.metric} "
                     f"has stopped improving here; to go further change what binds"
                     + (f": {advice}." if advice else "."))
    return paras


def scaling_text(stops: Sequence[ScalingStop], trials: pd.DataFrame,
                 dims: Sequence[Dimension], goal: Objective,
                 tolerance: float = TOLERANCE) -> list[str]:
    """One line per numeric dimension: best objective per value and where it stops
    improving."""
    lines = []
    by_path = {d.path: d for d in dims}
    for s in stops:
        table = scaling(trials, by_path[s.dimension], goal)
        if s.stop is None:
            lines.append(f"`{s.dimension}`: no feasible trial.")
            continue
        curve = ", ".join(f"{_fmt(v)}: {_fmt(b)} ({n} trials)" for v, b, n in
                          zip(table["value"], table["best"], table["trials"], strict=True))
        if s.tried < 2:
            verdict = "only one value had a feasible trial"
        elif s.still_scaling:
            verdict = (f"**still improving at the top of the range ({_fmt(s.stop)})**: the "
                       f"range may be too small")
        else:
            verdict = (f"**stops improving beyond {_fmt(s.stop)}** (best {_fmt(s.best_at_stop)} "
                       f"up to there, {_fmt(s.best_overall)} over the whole range: within "
                       f"{tolerance:.0%})")
        lines.append(f"`{s.dimension}`: best {goal.metric} per value {curve}; {verdict}.")
    return lines


def within(distinct: pd.DataFrame, goals: Sequence[Objective],
           tolerance: float = TOLERANCE) -> pd.DataFrame:
    """The distinct configurations whose first objective is within ``tolerance`` of the best
    one, best first by the other objectives in order (then price, energy, trial number)."""
    if distinct.empty:
        return distinct
    goal = goals[0]
    col = f"value:{goal.metric}"
    values = distinct[col].astype(float)
    if goal.direction == "maximize":
        near = distinct[values >= values.max() * (1 - tolerance)]
    else:
        near = distinct[values <= values.min() * (1 + tolerance)]
    order = [f"value:{g.metric}" for g in goals[1:]]
    ascending = [g.direction == "minimize" for g in goals[1:]]
    for c in ("price_usd", "energy_per_inference_j", "trial"):
        if c in near and c not in order:
            order.append(c)
            ascending.append(True)
    return near.sort_values(order, ascending=ascending, na_position="last", kind="stable",
                            ignore_index=True)


def front_steps(table: pd.DataFrame, goals: Sequence[Objective]) -> pd.DataFrame:
    """What each step up the Pareto front costs: the front of a :func:`ranked` table ordered
    from the worst to the best first objective, one row per step with ``from`` / ``to``
    (trial numbers), ``d:METRIC`` (the change of every objective) and ``per:METRIC`` (the change
    of each other objective per unit of the first)."""
    if table.empty or len(goals) < 2:
        return pd.DataFrame()
    first = f"value:{goals[0].metric}"
    front = table[table["front"] == 1].sort_values(
        first, ascending=goals[0].direction == "maximize", kind="stable")
    rows = []
    for (_, a), (_, b) in itertools.pairwise(front.iterrows()):
        gain = float(b[first]) - float(a[first])
        row: dict[str, Any] = {"from": int(a["trial"]), "to": int(b["trial"]),
                               f"d:{goals[0].metric}": gain}
        for g in goals[1:]:
            delta = float(b[f"value:{g.metric}"]) - float(a[f"value:{g.metric}"])
            row[f"d:{g.metric}"] = delta
            row[f"per:{g.metric}"] = delta / gain if gain else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _param_cells(row: pd.Series, dims: Sequence[Dimension]) -> list[str]:
    return [_fmt(row.get(f"param:{d.path}")) for d in dims]


def study_document(result: ExploreResult, files: Sequence[str], *,
                   images: Sequence[tuple[str, bytes, str]] = (),
                   what_if_table: pd.DataFrame | None = None, description: str = "",
                   calibration: str = "shipped", top: int = 15,
                   sections: Sequence[Callable[[Document], None]] = ()) -> Document:
    """The report of a study, answer first: the question, the best distinct configurations,
    what binds and what adding it does, where scaling stops; then what was searched, why
    trials were infeasible, and the files.

    Args:
        result: The study.
        files: Output file names to list.
        images: ``(file name, PNG bytes, caption)`` of the figures to show.
        what_if_table: :func:`what_if` of the best configuration (``None``: not checked).
        description / calibration: The experiment's.
        top: Rows of the ranked table.
        sections: Functions adding sections of their own (an experiment-specific analysis),
            called in order after the figures, before what was searched.
    """
    from dse.report.document import Document

    exp, trials, goals = result.experiment, result.trials, result.objectives
    dims = list(exp.dimensions)
    doc = Document(f"{exp.name}: design-space exploration")
    if description:
        doc.text(description)
    asked = question(exp.file)
    doc.heading("Answer")
    if asked:
        doc.text(f"**Question** (from the experiment's header): {asked}")
    distinct = ranked(distinct_configurations(trials), goals)
    n_ok = len(feasible_trials(trials))
    n_front = int((distinct["front"] == 1).sum()) if not distinct.empty else 0
    doc.text(f"{len(trials)} trials, {n_ok} feasible, **{len(distinct)} distinct feasible "
             f"configurations** ({n_ok - len(distinct)} merged as duplicates, rule below), "
             f"{n_front} on the Pareto front.")
    goal = goals[0]
    if distinct.empty:
        doc.text("**No feasible configuration was found.**")
    else:
        best = distinct.iloc[0]
        params = ", ".join(f"`{d.path}` = {_fmt(best.get(f'param:{d.path}'))}" for d in dims)
        doc.text(f"**Best {goal.metric}: {_fmt(best[f'value:{goal.metric}'])}** ("
                 + ", ".join(f"{g.metric} {_fmt(best[f'value:{g.metric}'])}"
                             for g in goals[1:])
                 + ("; " if len(goals) > 1 else "")
                 + f"p99 latency {_fmt(best.get('latency_p99_ms'))} ms) with {params} "
                 f"(trial {best['trial']}).")
        single = distinct[distinct["devices_used"].astype(str).str.count(",") == 0] \
            if "devices_used" in distinct else distinct.iloc[0:0]
        if not single.empty and str(best.get("devices_used", "")).count(",") > 0:
            col = f"value:{goal.metric}"
            one = single.loc[single[col].astype(float).idxmax() if goal.direction == "maximize"
                             else single[col].astype(float).idxmin()]
            ratio = float(best[col]) / float(one[col]) if float(one[col]) else math.inf
            doc.text(f"**One-device baseline**: the best with a single device doing the work "
                     f"({one['devices_used']} on {host_of(one['platform'])}) reaches "
                     f"{goal.metric} {_fmt(one[col])} (trial {one['trial']}); the best above is "
                     f"{ratio:.2f}x that, on {len(str(best['devices_used']).split(','))} "
                     f"devices.")
        near = within(distinct, goals)
        if len(goals) > 1 and not near.empty and near.iloc[0]["trial"] != best["trial"]:
            alt = near.iloc[0]
            doc.text(f"**Within {TOLERANCE:.0%} of that for less**: {goal.metric} "
                     f"{_fmt(alt[f'value:{goal.metric}'])} ("
                     + ", ".join(f"{g.metric} {_fmt(alt[f'value:{g.metric}'])}"
                                 for g in goals[1:])
                     + ") with " + ", ".join(f"`{d.path}` = {_fmt(alt.get(f'param:{d.path}'))}"
                                             for d in dims)
                     + f" (trial {alt['trial']}): the best configuration this close to the "
                     f"best by the other objectives in order.")
        doc.heading("What binds, and what adding it does", 3)
        for para in binding_text(best, what_if_table if what_if_table is not None
                                 else pd.DataFrame(), goal, dims):
            doc.text(para)
        if what_if_table is not None and not what_if_table.empty:
            cols = [c for c in (goal.metric, "latency_p99_ms", "energy_per_inference_j",
                                "price_usd") if c in what_if_table]
            doc.table(["change", "adds to binding", *cols, "gain", "constraints",
                       "bottlenecks"],
                      [[str(r["change"]), _fmt(bool(r["related"])),
                        *[_fmt(r.get(c)) for c in cols],
                        "-" if pd.isna(r.get("gain")) else f"{r['gain']:+.1%}",
                        "hold" if r["feasible"] else str(r["violated"]),
                        str(r.get("bottlenecks") or "-")]
                       for _, r in what_if_table.iterrows()])
        steps = front_steps(distinct, goals)
        if not steps.empty:
            doc.heading("What each step up the Pareto front costs", 3)
            by_trial = distinct.set_index("trial")
            doc.table(["from", "to", *[d.path for d in dims], f"+ {goal.metric}",
                       *[f"+ {g.metric}" for g in goals[1:]],
                       *[f"{g.metric} per {goal.metric}" for g in goals[1:]]],
                      [[str(int(r["from"])), str(int(r["to"])),
                        *_param_cells(by_trial.loc[int(r["to"])], dims),
                        _fmt(r[f"d:{goal.metric}"]),
                        *[_fmt(r[f"d:{g.metric}"]) for g in goals[1:]],
                        *[_fmt(r[f"per:{g.metric}"]) for g in goals[1:]]]
                       for _, r in steps.iterrows()])
            doc.text(f"Along the front from the worst to the best {goal.metric}: each row "
                     f"is one step to the next front configuration (its parameters shown), "
                     f"with what it adds of every objective and, per unit of {goal.metric}, "
                     f"of the others.")
        choice_lines = []
        for d in dims:
            if _numeric(d) or d.kind != "choice":
                continue
            per = best_per_choice(trials, d, goal)
            choice_lines.append(f"`{d.path}`: " + ", ".join(
                f"{_label(v)}: {_fmt(b)}" + (f" (trial {int(t)})" if t is not None and
                                             not pd.isna(t) else " (none feasible)")
                for v, b, t in zip(per["value"], per["best"], per["trial"], strict=True)))
        if choice_lines:
            doc.heading(f"Best {goal.metric} at each choice", 3)
            doc.items(choice_lines)
        groups = [d for d in dims if d.path.split(".")[0] in ("workload", "workloads")]
        if groups:
            by = groups[0]
            doc.heading(f"Best per `{by.path}`", 3)
            col = f"param:{by.path}"
            best_rows = pd.DataFrame([
                ranked(part.drop(columns=["front", "rank"]), goals).iloc[0]
                for _, part in distinct.groupby(distinct[col].astype(str), sort=False)])
            doc.table([by.path, *[d.path for d in dims if d is not by],
                       *[g.metric for g in goals], "bottlenecks", "trial"],
                      [[_fmt(r[col]), *_param_cells(r, [d for d in dims if d is not by]),
                        *[_fmt(r[f"value:{g.metric}"]) for g in goals],
                        str(r["bottlenecks"] or "-"), str(r["trial"])]
                       for _, r in best_rows.iterrows()])
            doc.text(f"For each value of `{by.path}`, the distinct configuration with the best "
                     f"{goal.metric} (ties: by the other objectives): results across workloads "
                     f"are not comparable with one another.")
        stops = scaling_stops(trials, dims, goal)
        if stops:
            doc.heading("Where scaling stops", 3)
            doc.items(scaling_text(stops, trials, dims, goal))
            doc.text(f"Computed from the feasible trials: the value of each dimension beyond "
                     f"which the best {goal.metric} found (over every other dimension) improves "
                     f"by no more than {TOLERANCE:.0%}. A value the search visited rarely may "
                     f"be under-explored; `--sampler grid` makes a finite space exhaustive.")
        doc.heading("Distinct feasible configurations, ranked", 3)
        value_cols = [f"value:{g.metric}" for g in goals]
        extra = [c for c in ("latency_p99_ms",) if c not in {g.metric for g in goals}]
        doc.table(["rank", "front", *[d.path for d in dims], *[g.metric for g in goals],
                   *extra, "bottlenecks", "trial", "same as"],
                  [[str(r["rank"]), str(r["front"]), *_param_cells(r, dims),
                    *[_fmt(r[c]) for c in value_cols], *[_fmt(r.get(c)) for c in extra],
                    str(r["bottlenecks"] or "-"), str(r["trial"]), str(r["same_as"] or "-")]
                   for _, r in distinct.head(top).iterrows()])
        doc.text(f"Ranked by non-dominated front (1 = Pareto front), then by "
                 f"{', '.join(g.metric for g in goals)}; the first {min(top, len(distinct))} "
                 f"of {len(distinct)}. **Duplicates merged**: trials with the same host, the "
                 f"same devices doing the work (those that processed frames) and the same "
                 f"throughput and p50/p95/p99 latency (to 6 significant digits) are one "
                 f"configuration: the parameters that differ changed nothing that runs (a "
                 f"`threads` policy uses one device however many are plugged in; infer requests "
                 f"beyond a device's slots wait on the host). The cheapest of them is shown "
                 f"(price, then energy); 'same as' lists the others.")
    for name, _data, caption in images:
        doc.image(name, _data, caption)
    for add in sections:
        add(doc)
    from dse.report.unpu import add_section

    # micro-NPUs and microcontrollers: which model fits, achieved against claimed peak
    files = [*files, *add_section(doc, result, out=result.out)]
    doc.heading("What was searched")
    searched = []
    for d in dims:
        what = ", ".join(_fmt(c) if not isinstance(c, list | dict) else json.dumps(c)
                         for c in d.choices) if d.kind == "choice" else \
            f"{d.low:g} to {d.high:g}" + (" (log)" if d.log else "") + \
            (f", step {d.step:g}" if d.step else "")
        searched.append(f"`{d.path}`: {what}")
    doc.items(searched)
    doc.text("Objectives: " + ", ".join(f"{g.direction} {g.metric}" for g in goals) + ".")
    if result.constraints:
        doc.text("Constraints: " + ", ".join(
            f"{c.metric} {'<=' if c.kind == 'max' else '>='} {c.bound:g}"
            for c in result.constraints) + ".")
    if calibration == "datasheet":
        doc.text("Devices: datasheet values (`calibration: datasheet`).")
    else:
        doc.text("Devices: calibrated (`calibration: shipped`): devices with an overlay in "
                 "calibration/overlays run with the values fitted to measurements, the others "
                 "with datasheet values; `dse simulate` on a best_N.yaml lists which.")
    bad = trials[~trials["feasible"].astype(bool)] if not trials.empty else trials
    if not bad.empty:
        doc.heading("Infeasible trials")
        doc.items([f"{r} ({n}x)" for r, n in bad["reason"].value_counts().head(5).items()])
    doc.heading("Files")
    doc.items([f"`{f}`" for f in files])
    doc.text(f"Browse the study with optuna-dashboard (`pip install optuna-dashboard`): "
             f"`optuna-dashboard {exp.name}.journal` in this folder, or `optuna-dashboard "
             f"STORAGE_URL` for a study in a database.")
    return doc
