"""Fitting the shipped overlays: every catalog device the shared measurements cover.

``dse calibrate-catalog`` pools the rows of every dataset loader by device, fits each device with
enough data (:func:`dse.calibrate.calibrate` with the parameters its data can tell, see
:func:`dse.calibrate.fit.default_free`), and writes ``calibration/overlays/<device>.yaml`` with
the fitted values, their uncertainty, the data, the date and the leave-one-model-out error. The
experiments run on these (:func:`dse.devices.calibrated.calibrated_catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from dse.calibrate.fit import calibrate
from dse.calibrate.loaders import load, loader_names
from dse.devices import Catalog, default_catalog
from dse.errors import DseError
from dse.report.files import atomic_path

__all__ = ["fit_catalog", "pooled_measurements"]


def pooled_measurements(datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of every (or the named) dataset loader, in one table."""
    frames = [load(name).measurements for name in datasets or loader_names()]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fit_catalog(out_dir: Path | str, *, datasets: Sequence[str] | None = None,
                min_models: int = 3, cross_validation: bool = True,
                catalog: Catalog | None = None,
                progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Fit every device the data covers and write its overlay into ``out_dir``: with the
    parameters its data can tell when it has at least ``min_models`` models of latency or
    throughput data, else (two points or more) its overall efficiency only.

    Rows a device cannot run (a precision it lacks) are left out and counted.

    Returns:
        One row per device: points used and left out, free parameters, in-sample and
        leave-one-model-out MAPE, the overlay written, or the error that stopped the fit.
    """
    catalog = catalog or default_catalog()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = pooled_measurements(datasets)
    summary = []
    for device, part in data.groupby("device"):
        spec = catalog.device(str(device))
        runnable = part["precision"].isin(list(spec.peak_ops_s))
        rows = part[runnable].reset_index(drop=True)
        timing = rows[rows["metric"].isin(["latency", "throughput"])]
        models = set(timing["workload"] + timing["options"])
        base = {"device": device, "datasets": ", ".join(sorted(set(part["dataset"]))),
                "points": len(rows), "left_out": int((~runnable).sum()),
                "models": len(models)}
        few = len(models) < min_models
        if few and len(timing) < 2:
            summary.append({**base, "error": f"{len(timing)} latency/throughput point"})
            continue
        if progress:
            progress(str(device))
        try:
            # With fewer models than min_models only the overall efficiency is fitted (a
            # scale on the datasheet peak), and no model can be left out to check it.
            cal = calibrate(rows, device=spec, catalog=catalog,
                            free=("efficiency.default",) if few else None,
                            cross_validation=cross_validation and not few)
        except DseError as exc:
            summary.append({**base, "error": str(exc).splitlines()[0]})
            continue
        if few:
            cal.overlay.provenance["caution"] = (
                f"{len(models)} model(s) only: efficiency.default alone fitted, not "
                f"cross-validated")
        if base["left_out"]:
            cal.overlay.provenance["left_out"] = (f"{base['left_out']} rows in a precision "
                                                  f"{device} does not run")
        path = out_dir / f"{device}.yaml"
        with atomic_path(path) as tmp:
            tmp.write_text(cal.overlay_yaml())
        summary.append({**base, "free": ", ".join(cal.free), "mape": cal.mape,
                        "loo_mape": cal.cv_mape, "file": str(path), "error": ""})
    return pd.DataFrame(summary, columns=["device", "datasets", "points", "left_out", "models",
                                          "free", "mape", "loo_mape", "file", "error"])
