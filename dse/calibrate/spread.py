"""Fitting a target's service-time spread from repeated runs.

The spread (:class:`dse.spec.spread.LatencySpread`) states quantiles of one inference's time as
ratios to its median. It is fitted from *observations*: a measured quantile of one model's
repeated runs on one target, as a ratio to that model's median (or mean), at a known quantile
level. Three sources give them:

- the host, ``dse measure`` (its runs sidecar, ``<stem>.runs.csv``, or
  ``calibration/host/spread.csv``): p10/p90/p95/p99 over a few hundred runs, per model and
  configuration (:func:`host_observations`);
- ncnn's benchncnn rows (``../shared/data/ncnn_benchncnn_results.csv``): the min and max of
  ``loop_count`` runs beside their average (:func:`ncnn_observations`). The min and max of ``n``
  runs are placed at Blom's plotting positions ``(1 - 3/8) / (n + 1/4)`` and its mirror (the
  expected quantile of the extreme of ``n`` normal draws), and the ratio is to the mean,
  which for these spreads (max/avg a few percent) is the median within a fraction of that;
- MLPerf Mobile single-stream logs (``mlperf_mobile_results.csv``): p90 beside p50
  (:func:`mlperf_mobile_observations`); no catalog target, but 74 results on phone NPUs, DSPs
  and GPUs, which give the default spread (:data:`dse.spec.spread.DEFAULT_SPREAD`).

Only single-session observations (``streams == 1``) describe the target's own spread; what
several sessions add (queueing, contention) is the simulator's to produce.

:func:`fit_spread` turns one target's observations into a spread: at a level where the target
has observations of its own (the host's p10/p90/p95/p99), the median ratio over its models;
elsewhere (ncnn's two extremes) each side's median log-slope in normal score,
``ln(ratio) / z``, gives a log-normal per side, stated at p10, p90 and p99.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from dse.devices import Catalog, default_catalog
from dse.errors import DseError, Problem
from dse.spec.spread import LEVELS, LatencySpread

__all__ = ["CHECK_COLUMNS", "OBS_COLUMNS", "SpreadError", "check_runs", "fit_spread", "fit_spreads", "host_observations",
           "mlperf_mobile_observations", "ncnn_observations", "read_runs", "shipped_spreads",
           "spread_values"]

#: Columns of an observation table.
OBS_COLUMNS = ("device", "host", "runtime", "workload", "options", "precision", "threads",
               "streams", "level", "ratio", "runs", "source")

#: Columns a host runs file must have (``dse measure``'s runs sidecar has more).
RUNS_REQUIRED = ("workload", "options", "threads", "streams", "latency_ms", "p10_ms", "p90_ms",
                 "p95_ms", "p99_ms", "n")

#: The levels a fit from one log-slope per side states.
_SLOPE_LEVELS = ("p10", "p90", "p99")


class SpreadError(DseError, ValueError):
    """A runs file that cannot be read, or a target with nothing to fit."""


def blom_level(rank: int, n: int) -> float:
    """Blom's plotting position: the quantile level the ``rank``-th smallest of ``n`` runs
    estimates, ``(rank - 3/8) / (n + 1/4)``."""
    return (rank - 0.375) / (n + 0.25)


# ----- observations --------------------------------------------------------------------------

def read_runs(path: Path | str) -> pd.DataFrame:
    """A host runs table (``dse measure``'s ``<stem>.runs.csv`` or ``calibration/host/
    spread.csv``), checked.

    Raises:
        SpreadError: A missing file, missing columns, or a quantile that is not a positive
            number (naming each line).
    """
    path = Path(path)
    if not path.is_file():
        raise SpreadError([Problem(str(path), "", "file not found")])
    table = pd.read_csv(path, keep_default_na=False)
    missing = [c for c in RUNS_REQUIRED if c not in table.columns]
    if missing:
        raise SpreadError([Problem(str(path), "columns", f"expected {', '.join(RUNS_REQUIRED)}; "
                                   f"missing {', '.join(missing)}")])
    problems = []
    for col in ("latency_ms", "p10_ms", "p90_ms", "p95_ms", "p99_ms", "n", "threads", "streams"):
        values = pd.to_numeric(table[col], errors="coerce")
        for i in np.flatnonzero(~(values > 0)):
            problems.append(Problem(str(path), f"line {i + 2}: {col}",
                                    f"expected a positive number, got {table[col].iloc[i]!r}"))
        table[col] = values
    if problems:
        raise SpreadError(problems)
    return table


def host_observations(runs: pd.DataFrame, *, device: str = "host", host: str = "host",
                      runtime: str = "onnxruntime_cpu", source: str = "dse measure"
                      ) -> pd.DataFrame:
    """Observations from a host runs table: p10, p90, p95 and p99 over the median, per row."""
    rows = []
    for r in runs.itertuples(index=False):
        for name in ("p10", "p90", "p95", "p99"):
            rows.append({"device": device, "host": host, "runtime": runtime,
                         "workload": r.workload, "options": r.options, "precision": "fp32",
                         "threads": int(r.threads), "streams": int(r.streams),
                         "level": LEVELS[name], "ratio": getattr(r, f"{name}_ms") / r.latency_ms,
                         "runs": int(r.n), "source": source})
    return pd.DataFrame(rows, columns=list(OBS_COLUMNS))


def ncnn_observations(path: Path | str | None = None) -> pd.DataFrame:
    """Observations from benchncnn's min/max/avg rows of the catalog's targets (the ncnn
    loader's mapping decides which rows are a catalog target and its precision)."""
    from dse.calibrate.loaders import data_dir
    from dse.calibrate.loaders.ncnn import FILENAME, _map

    path = Path(path) if path is not None else data_dir() / FILENAME
    table = pd.read_csv(path)
    rows = []
    for r in table.itertuples(index=False):
        if r.metric != "latency_avg":
            continue
        row, _ = _map(r, str(r.device), str(r.model))
        n = int(r.loop_count) if pd.notna(r.loop_count) else 0
        avg, lo, hi = float(r.value), float(r.lat_min_ms), float(r.lat_max_ms)
        if row is None or n < 4 or not (0 < lo <= avg <= hi):
            continue
        for level, value in ((blom_level(1, n), lo), (blom_level(n, n), hi)):
            rows.append({**{k: row[k] for k in ("device", "host", "runtime", "workload",
                                                "options", "precision", "threads", "streams")},
                         "level": level, "ratio": value / avg, "runs": n,
                         "source": f"{row['source']} (min/max of {n} runs over avg)"})
    return pd.DataFrame(rows, columns=list(OBS_COLUMNS))


def mlperf_mobile_observations(path: Path | str | None = None) -> pd.DataFrame:
    """Observations from MLPerf Mobile single-stream logs: p90 over p50 of every valid result
    (device: the SoC as the log states it; none is a catalog target today, so these are the
    evidence for :data:`dse.spec.spread.DEFAULT_SPREAD`, not any target's spread)."""
    from dse.calibrate.loaders import data_dir

    path = Path(path) if path is not None else data_dir() / "mlperf_mobile_results.csv"
    table = pd.read_csv(path, comment="#")
    table = table[(table["scenario"] == "SingleStream")
                  & table["result_validity"].fillna("VALID").eq("VALID")]
    table = table.assign(log=table["source"].str.rsplit("/", n=1).str[0])
    rows = []
    for log, part in table.groupby("log", sort=True):
        values = dict(zip(part["metric"], part["value"], strict=False))
        p50, p90 = values.get("p50_latency"), values.get("p90_latency")
        if not (p50 and p90 and p50 > 0):
            continue
        first = part.iloc[0]
        rows.append({"device": str(first["soc"]), "host": "", "runtime": "",
                     "workload": str(first["task_or_model"]), "options": "",
                     "precision": "", "threads": 1, "streams": 1, "level": 0.9,
                     "ratio": float(p90) / float(p50), "runs": 0,
                     "source": f"MLPerf Mobile {first['mlperf_mobile_version']}: {log}"})
    return pd.DataFrame(rows, columns=list(OBS_COLUMNS))


# ----- fitting -------------------------------------------------------------------------------

def fit_spread(observations: pd.DataFrame) -> LatencySpread:
    """One target's spread from its single-session observations (see the module docstring).

    Raises:
        SpreadError: No single-session observation.
    """
    obs = observations[observations["streams"] == 1]
    if obs.empty:
        raise SpreadError([Problem("spread", "observations", "no single-session (streams == 1) "
                                   "observation to fit a spread from")])
    level = obs["level"].to_numpy(float)
    log_ratio = np.log(obs["ratio"].to_numpy(float))
    z = ndtri(level)
    values: dict[str, float] = {}
    for lower in (True, False):
        side = (z < 0) if lower else (z > 0)
        if not side.any():
            continue
        # a ratio on the wrong side of 1 (a p10 above the median) is noise: read it as 1
        slopes = np.maximum(log_ratio[side] / z[side], 0.0)
        slope = float(np.median(slopes))
        own = {name: q for name, q in LEVELS.items() if (q < 0.5) == lower
               and np.isclose(level[side], q).any()}
        names = list(own) or [n for n in _SLOPE_LEVELS if (LEVELS[n] < 0.5) == lower]
        for name in names:
            at = np.isclose(level, LEVELS[name]) & side
            y = float(np.median(log_ratio[at])) if at.any() else slope * float(ndtri(LEVELS[name]))
            values[name] = min(1.0, np.exp(y)) if lower else max(1.0, np.exp(y))
    # quantiles must not decrease with the level: medians over models at separate levels may
    ordered = sorted(values, key=lambda n: LEVELS[n])
    ratios = np.maximum.accumulate([values[n] for n in ordered])
    return LatencySpread(**{n: round(float(r), 4) for n, r in zip(ordered, ratios, strict=True)})


def fit_spreads(observations: pd.DataFrame, *, catalog: Catalog | None = None
                ) -> pd.DataFrame:
    """Every target's spread, one row per target: ``target``, ``spread`` (the
    :class:`LatencySpread`), ``models`` and ``observations`` used, ``sources``.

    Targets are named as calibration names them (:func:`dse.calibrate.targets.with_targets`).
    """
    from dse.calibrate.targets import with_targets

    catalog = catalog or default_catalog()
    rows: list[dict[str, Any]] = []
    if observations.empty:
        return pd.DataFrame(rows, columns=["target", "spread", "models", "observations",
                                           "sources"])
    named = with_targets(observations.assign(metric="latency"), catalog)
    for target, part in named.groupby("target", sort=True):
        single = part[part["streams"] == 1]
        if single.empty:
            continue
        rows.append({"target": str(target), "spread": fit_spread(single),
                     "models": int((single["workload"] + single["options"]).nunique()),
                     "observations": len(single),
                     "sources": "; ".join(sorted({s.split(",")[0].split(" (")[0]
                                                  for s in single["source"]}))})
    return pd.DataFrame(rows, columns=["target", "spread", "models", "observations", "sources"])


def shipped_spreads(*, catalog: Catalog | None = None) -> pd.DataFrame:
    """:func:`fit_spreads` over the shared table whose rows are catalog targets with repeat
    spread: ncnn's (MLPerf Mobile's p90/p50 map to no catalog target; they give the
    default)."""
    return fit_spreads(ncnn_observations(), catalog=catalog)


def spread_values(spread: LatencySpread) -> dict[str, Any]:
    """The overlay value of a fitted spread: ``{"latency_spread": {...}}``."""
    return {"latency_spread": spread.model_dump(exclude_none=True)}


def describe(spread: LatencySpread, levels: Sequence[str] = ("p10", "p90", "p95", "p99")
             ) -> str:
    """``p10 0.95, p90 1.06, ...`` of the distribution (stated or interpolated)."""
    return ", ".join(f"{n} {float(spread.ratio(LEVELS[n])):.3f}" for n in levels)


def merge_values(values: Mapping[str, Any], extra: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Overlay values with ``extra`` set (replacing an earlier spread)."""
    out = {k: v for k, v in values.items() if not k.startswith("latency_spread")}
    out.update(dict(extra))
    return out


# ----- checking against measured tails ---------------------------------------------------------

#: Columns of :func:`check_runs`.
CHECK_COLUMNS = ("workload", "options", "threads", "streams", "fitted_on", "measured_p50_ms",
                 "measured_p99_ms", "sim_p50_ms", "sim_p95_ms", "sim_p99_ms", "p99_error",
                 "tail_error", "naive_tail_error")


def check_runs(runs: pd.DataFrame, *, catalog: Catalog, device: str = "host",
               platform: str = "host", runtime: str | None = None, seed: int = 0,
               leave_model_out: bool = True) -> pd.DataFrame:
    """Simulated against measured tails, per configuration of a host runs table.

    Each configuration (model, intra-op threads, sessions) is simulated as ``dse measure`` ran
    it (policy ``threads``, one session per stream, ``streams x n`` frames) with the target's
    spread fitted on the table's single-session rows: of the *other* models with
    ``leave_model_out`` (so no figure is in-sample), else of all.

    Returns:
        One row per configuration (:data:`CHECK_COLUMNS`): ``p99_error`` is the simulated p99
        against the measured one (the cost model's median error included); ``tail_error``
        compares p99 / p50, simulated against measured (the spread's own error, whatever the
        median's); ``naive_tail_error`` is the same for the simulator without a spread
        (p99 = p50), the baseline.
    """
    from dse.run import simulate

    obs = host_observations(runs, device=device)
    spec = catalog.device(device)
    out = []
    models = runs["workload"] + runs["options"].astype(str)
    for i, r in enumerate(runs.itertuples(index=False)):
        use = obs[(obs["workload"] + obs["options"].astype(str)) != models.iloc[i]] \
            if leave_model_out else obs
        spread = fit_spread(use)
        fitted_on = sorted(set(use.loc[use["streams"] == 1, "workload"]))
        target = spec.with_changes("latency spread fitted from host repeats (dse measure)",
                                   latency_spread=spread.model_dump(exclude_none=True))
        cat = catalog.with_devices({device: target}, replace=True)
        options = json.loads(r.options) if r.options else {}
        streams, n = int(r.streams), int(r.n)
        config = {"name": "spread-check",
                  "workload": {"zoo": r.workload, "precision": "fp32", "options": options},
                  "platform": {"host": platform,
                               **({"runtimes": {device: runtime}} if runtime else {})},
                  "execution": {"policy": "threads", "threads": streams,
                                "intra_op_threads": int(r.threads), "devices": [device]},
                  "stream": {"frames": n + 10 * streams, "warmup": 10 * streams, "seed": seed}}
        report = simulate(config, catalog=cat)
        if report.metrics is None:
            raise SpreadError([Problem("spread check", r.workload, str(report.infeasible))])
        lat = report.metrics.latency_ms
        measured_tail = r.p99_ms / r.latency_ms
        out.append({"workload": r.workload, "options": r.options, "threads": int(r.threads),
                    "streams": streams, "fitted_on": ", ".join(fitted_on),
                    "measured_p50_ms": r.latency_ms, "measured_p99_ms": r.p99_ms,
                    "sim_p50_ms": lat["p50"], "sim_p95_ms": lat["p95"], "sim_p99_ms": lat["p99"],
                    "p99_error": lat["p99"] / r.p99_ms - 1,
                    "tail_error": (lat["p99"] / lat["p50"]) / measured_tail - 1,
                    "naive_tail_error": 1 / measured_tail - 1})
    return pd.DataFrame(out, columns=list(CHECK_COLUMNS))
