"""The naive baseline every prediction is reported beside: latency proportional to MACs.

One scale and one fixed cost per target, ``latency = a x MACs + b`` (throughput ``1 /
latency``, whatever the threads or devices in flight), fitted in log space like dse's own fits
and left out the same way (one model at a time). A model that does not beat this has learned
nothing a spreadsheet would not.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from dse.workloads import workload

__all__ = ["macs_proxy_cv"]


def _macs(rows: pd.DataFrame) -> np.ndarray:
    cache: dict[tuple[str, str, str], float] = {}
    out = np.empty(len(rows))
    for i, r in enumerate(rows.itertuples(index=False)):
        key = (r.workload, r.options, r.precision)
        if key not in cache:
            options = json.loads(r.options) if r.options else {}
            cache[key] = float(workload(r.workload, precision=r.precision, **options).macs)
        out[i] = cache[key]
    return out


def _predict(x: np.ndarray, macs: np.ndarray, metric: np.ndarray) -> np.ndarray:
    latency = np.exp(x[0]) * macs + np.exp(x[1])
    return np.where(metric == "throughput", 1.0 / latency, latency)


def macs_proxy_cv(rows: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-model-out predictions of the MACs proxy for the timing rows of one target.

    Returns:
        One row per held-out point (index of ``rows``): ``predicted``, ``abs_error``. Models
        whose leaving would leave fewer than two points are not predicted.
    """
    timing = rows[rows["metric"].isin(["latency", "throughput"])]
    macs = _macs(timing)
    metric = timing["metric"].to_numpy()
    measured = timing["value_si"].to_numpy(dtype=float)
    latency = np.where(metric == "throughput", 1.0 / measured, measured)
    keys = (timing["workload"] + timing["options"]).to_numpy()
    out = []
    for key in sorted(set(keys)):
        test = keys == key
        train = ~test
        if train.sum() < 2:
            continue
        scale = np.median(latency[train] / np.maximum(macs[train], 1.0))
        x0 = np.log([max(scale, 1e-30), max(float(latency[train].min()) * 0.1, 1e-9)])

        def residuals(x: np.ndarray, train: np.ndarray = train) -> np.ndarray:
            return np.log(_predict(x, macs[train], metric[train])) - np.log(measured[train])

        x = least_squares(residuals, x0, x_scale=1.0, max_nfev=200).x
        pred = _predict(x, macs[test], metric[test])
        out.append(pd.DataFrame({"predicted": pred,
                                 "abs_error": np.abs(pred / measured[test] - 1.0)},
                                index=timing.index[test]))
    return pd.concat(out) if out else pd.DataFrame(columns=["predicted", "abs_error"])
