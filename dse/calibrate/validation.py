"""``dse validate``: leave-one-model-out error over every shipped dataset.

For every dataset loader and every device with at least ``min_models`` distinct models of
latency or throughput data, fit the default free parameters on all models but one, predict the
one left out, and report per (dataset, device): points, models, MAPE, share within +-10%, worst.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from dse.calibrate.fit import DEFAULT_FREE, cross_validate
from dse.calibrate.loaders import load, loader_names
from dse.devices import Catalog, default_catalog
from dse.errors import DseError

__all__ = ["validate_all"]


def validate_all(datasets: Sequence[str] | None = None, *, free: Sequence[str] = DEFAULT_FREE,
                 min_models: int = 5, catalog: Catalog | None = None,
                 progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The leave-one-model-out table (one row per dataset and device)."""
    catalog = catalog or default_catalog()
    rows = []
    for name in datasets or loader_names():
        result = load(name)
        m = result.measurements
        if m.empty:
            continue
        m = m[m["metric"].isin(["latency", "throughput"])]
        for device, part in m.groupby("device"):
            models = set(part["workload"] + part["options"])
            if len(models) < min_models:
                continue
            if progress:
                progress(f"{name}: {device}")
            try:
                cv = cross_validate(part.reset_index(drop=True), catalog.device(str(device)),
                                    free, catalog)
            except DseError as exc:
                rows.append({"dataset": name, "device": device, "points": len(part),
                             "models": len(models), "error": str(exc).splitlines()[0]})
                continue
            err = cv["abs_error"].to_numpy()
            rows.append({"dataset": name, "device": device, "points": len(cv),
                         "models": len(models), "mape": float(np.mean(err)),
                         "within_10": float(np.mean(err <= 0.10)),
                         "worst": float(np.max(err)), "error": ""})
    return pd.DataFrame(rows, columns=["dataset", "device", "points", "models", "mape",
                                       "within_10", "worst", "error"])
