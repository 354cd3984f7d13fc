"""Leave-one-model-out cross-validation of a group fit.

One model is held out of *every* target of the group at once, so no fold has seen the model
on any device; each held-out point is predicted by the fold's fit, with its 90% interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dse.calibrate.forward import Forward, row_kind
from dse.calibrate.rows import check_points
from dse.calibrate.solve import Layout, intervals, solve

__all__ = ["COLUMNS", "leave_one_model_out"]

#: The columns of the cross-validation table.
COLUMNS = ["target", "row", "dataset", "device", "host", "workload", "metric", "kind", "threads",
           "count", "measured", "predicted", "rel_error", "abs_error", "low_90", "high_90"]


def leave_one_model_out(forward: Forward, layout: Layout, rows: pd.DataFrame,
                        measured: np.ndarray) -> pd.DataFrame:
    """Leave one model out of every target at once; targets a fold would leave with too few
    points are not fitted in that fold (their rows of the model are not predicted).

    Returns:
        One row per held-out point (:data:`COLUMNS`): its target, its row in ``rows``
        (``_row``), the measured and predicted value, the errors and the 90% interval.
    """
    keys = (rows["workload"] + rows["options"]).to_numpy()
    kinds = np.empty(len(rows), dtype=object)
    for t in layout.targets:
        mine = (rows["target"] == t).to_numpy()
        kinds[mine] = row_kind(forward.specs[t], rows[mine])
    out = []
    for key in sorted(set(keys)):
        test = keys == key
        train = ~test
        fold_targets = []
        for t, paths in zip(layout.targets, layout.own, strict=True):
            mine = (rows["target"] == t).to_numpy()
            if not check_points(t, rows[mine & train], paths) and (mine & train).any():
                fold_targets.append(t)
        if not fold_targets:
            continue
        fold = layout.subset(fold_targets)
        fitted_rows = rows["target"].isin(fold_targets).to_numpy()
        sol = solve(forward, fold, measured, train & fitted_rows)
        held = test & fitted_rows
        if not held.any():
            continue
        pred, low, high = intervals(forward, fold, sol, held)
        rel = pred / measured[held] - 1.0
        r = rows[held]
        out.append(pd.DataFrame({
            "target": r["target"], "row": r["_row"], "dataset": r["dataset"],
            "device": r["device"],
            "host": r.get("target_host", ""),
            "workload": r["workload"], "metric": r["metric"],
            "kind": kinds[held], "threads": r["threads"], "count": r["count"],
            "measured": measured[held], "predicted": pred, "rel_error": rel,
            "abs_error": np.abs(rel), "low_90": low, "high_90": high}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=COLUMNS)
