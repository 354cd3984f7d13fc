"""``dse validate``: leave-one-model-out error over every shipped dataset.

For every dataset loader and every device with at least ``min_models`` distinct models of
latency or throughput data, fit the default free parameters on all models but one, predict the
one left out, and report per (dataset, device): points, models, MAPE, share within +-10%, worst.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from dse.calibrate.fit import cross_validate
from dse.calibrate.loaders import load, loader_names
from dse.devices import Catalog, default_catalog
from dse.errors import DseError

__all__ = ["validate_all"]


def validate_all(datasets: Sequence[str] | None = None, *, free: Sequence[str] | None = None,
                 min_models: int = 5, catalog: Catalog | None = None,
                 progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The leave-one-model-out table: one row per dataset, device and kind of point.

    Kinds (:func:`dse.calibrate.fit.row_kind`): ``single`` (one inference at a time on one
    device: the latency goal), ``concurrent`` (threads, sessions or devices in flight: the
    multithreading goal) and ``power`` (power and energy). ``free=None`` frees per device what
    its data can tell (:func:`dse.calibrate.fit.default_free`).
    """
    catalog = catalog or default_catalog()
    rows = []
    for name in datasets or loader_names():
        m = load(name).measurements
        if m.empty:
            continue
        for device, part in m.groupby("device"):
            spec = catalog.device(str(device))
            # rows in a precision the device does not run (ncnn's int8 models on a CPU
            # cluster the catalog gives no int8 peak) cannot be predicted: left out
            part = part[part["precision"].isin(list(spec.peak_ops_s))]
            timing = part[part["metric"].isin(["latency", "throughput"])]
            models = set(timing["workload"] + timing["options"])
            if len(models) < min_models:
                continue
            if progress:
                progress(f"{name}: {device}")
            base = {"dataset": name, "device": device, "models": len(models)}
            try:
                cv = cross_validate(part.reset_index(drop=True), spec, free, catalog)
            except DseError as exc:
                rows.append({**base, "kind": "", "points": len(part),
                             "error": str(exc).splitlines()[0]})
                continue
            for kind, group in cv.groupby("kind"):
                err = group["abs_error"].to_numpy()
                rows.append({**base, "kind": kind, "points": len(group),
                             "mape": float(np.mean(err)),
                             "within_10": float(np.mean(err <= 0.10)),
                             "worst": float(np.max(err)), "error": ""})
    return pd.DataFrame(rows, columns=["dataset", "device", "kind", "points", "models", "mape",
                                       "within_10", "worst", "error"])
