"""Fitting the shipped overlays: every catalog device the shared measurements cover.

``dse calibrate-catalog`` splits the rows of every dataset loader into targets (device x runtime,
x host where the runtime's timing includes it), fits the targets of each runtime and device kind
together (:func:`dse.calibrate.fit.calibrate_targets`), and writes
``calibration/overlays/<device>@<runtime>.yaml`` per target with the fitted values, their
uncertainty, the data, the date and the leave-one-model-out error, and the target's service-time
spread where the data has repeat spread (:func:`dse.calibrate.spread.shipped_spreads`). The experiments run on these
(:func:`dse.devices.calibrated.calibrated_catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from dse.calibrate.fit import Calibration, calibrate_targets
from dse.calibrate.loaders import load, loader_names
from dse.calibrate.params import default_free, is_device_path
from dse.calibrate.rows import check_points
from dse.calibrate.targets import groups
from dse.devices import Catalog, default_catalog
from dse.devices.overlay import Overlay
from dse.errors import DseError
from dse.files import atomic_path

__all__ = ["fit_catalog", "host_independent", "pooled_measurements"]


def pooled_measurements(datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of every (or the named) dataset loader, in one table."""
    frames = [load(name).measurements for name in datasets or loader_names()]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fit_catalog(out_dir: Path | str, *, datasets: Sequence[str] | None = None,
                cross_validation: bool = True, catalog: Catalog | None = None,
                progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Fit every target the data covers, group by group (targets of one runtime and device
    kind together, see :mod:`dse.calibrate.targets`), and write one overlay per target into
    ``out_dir`` as ``<device>@<runtime>.yaml`` (``@<host>`` added where the runtime's timing
    includes the host's work).

    A target with fewer points than its own free parameters is left out of its group and
    reported. Rows a device cannot run (a precision it lacks) are left out.

    Returns:
        One row per target: points, models, free parameters, in-sample and leave-one-model-out
        MAPE, the overlay written, or the reason it was not fitted.
    """
    catalog = catalog or default_catalog()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = pooled_measurements(datasets)
    spreads = _spreads(datasets, catalog)
    summary = []
    for group in groups(data, catalog):
        specs = dict(group.specs)
        for target in list(specs):
            part = group.rows[group.rows["target"] == target]
            problems = check_points(target, part, default_free(specs[target], part))
            if problems:
                summary.append(_row(target, part, error=problems[0].message))
                del specs[target]
        if not specs:
            continue
        if progress:
            progress(f"{group.runtime} on {group.kind}: {', '.join(specs)}")
        rows = group.rows[group.rows["target"].isin(specs)].reset_index(drop=True)
        try:
            fits = calibrate_targets(rows, specs, catalog=catalog, labels=group.labels,
                                     runtime=catalog.runtimes.get(group.runtime),
                                     cross_validation=cross_validation)
        except DseError as exc:
            summary += [_row(t, rows[rows["target"] == t], error=str(exc).splitlines()[0])
                        for t in specs]
            continue
        for target, cal in fits.items():
            part = rows[rows["target"] == target]
            models = part["workload"] + part["options"]
            if models.nunique() < 3:
                cal.overlay.provenance["caution"] = (
                    f"{models.nunique()} model(s) only: not cross-validated on this target")
            path = out_dir / f"{target}.yaml"
            overlay = _with_spread(cal.overlay, spreads.get(target))
            with atomic_path(path) as tmp:
                tmp.write_text(yaml.safe_dump(overlay.model_dump(mode="json", exclude_none=True),
                                              sort_keys=False))
            summary.append(_row(target, part, free=", ".join(cal.free), mape=cal.mape,
                                loo_mape=cal.cv_mape, file=str(path)))
        for overlay in host_independent(fits.values()):
            path = out_dir / f"{overlay.device}@{overlay.runtime}.yaml"
            with atomic_path(path) as tmp:
                tmp.write_text(yaml.safe_dump(overlay.model_dump(mode="json", exclude_none=True),
                                              sort_keys=False))
    return pd.DataFrame(summary, columns=["target", "device", "datasets", "points", "models",
                                          "free", "mape", "loo_mape", "file", "error"])


def _spreads(datasets: Sequence[str] | None, catalog: Catalog) -> dict[str, Any]:
    """Target -> fitted spread row, from the shared tables with repeat spread (ncnn)."""
    from dse.calibrate.spread import shipped_spreads

    if datasets is not None and "ncnn" not in datasets:
        return {}
    table = shipped_spreads(catalog=catalog)
    return {str(r.target): r for r in table.itertuples(index=False)}


def _with_spread(overlay: Overlay, fitted: Any) -> Overlay:
    """The overlay with the target's fitted spread (as it is if none was fitted)."""
    from dse.calibrate.spread import merge_values, spread_values

    if fitted is None:
        return overlay
    values = merge_values(overlay.values, spread_values(fitted.spread).items())
    provenance = {**overlay.provenance, "latency_spread": (
        f"median over {fitted.models} models of {fitted.observations} min/max-of-n "
        f"observations at Blom positions, a log-normal per side (dse.calibrate.spread); "
        f"{fitted.sources}")}
    return overlay.model_copy(update={"values": values, "provenance": provenance})


def _row(target: str, part: pd.DataFrame, **figures: object) -> dict[str, object]:
    return {"target": target, "device": part["device"].iloc[0] if len(part) else "",
            "datasets": ", ".join(sorted(set(part["dataset"]))), "points": len(part),
            "models": int((part["workload"] + part["options"]).nunique()), "error": "",
            **figures}


def host_independent(fits: Iterable[Calibration]) -> list[Overlay]:
    """For a device whose targets are per host (its runtime's timing includes the host's
    work), the overlay of the device under that runtime on a host not measured: the device's
    own parameters, which its hosts share in the fit (:data:`dse.calibrate.params.DEVICE_PATHS`),
    and the geometric mean of the per-host fixed costs. What a what-if device built on it
    (``base:``) and a platform with another host inherit."""
    by: dict[tuple[str, str | None], list[Overlay]] = {}
    for cal in fits:
        o = cal.overlay
        by.setdefault((o.device, o.runtime), []).append(o)
    out = []
    for (device, runtime), overlays in sorted(by.items(), key=lambda kv: str(kv[0])):
        hosts = [o.host for o in overlays]
        if any(h is None for h in hosts):
            continue
        values: dict[str, Any] = {}
        for path, value in overlays[0].values.items():
            if is_device_path(path) or not isinstance(value, int | float):
                values[path] = value
            else:
                values[path] = float(np.exp(np.mean([np.log(o.values[path])
                                                      for o in overlays])))
        out.append(Overlay(device=device, runtime=runtime, values=values, provenance={
            "method": "host-independent: the device parameters its hosts share in the fit, "
                      "fixed costs per inference averaged (geometric mean) over its hosts",
            "hosts": [str(h) for h in hosts], "fitted_on": overlays[0].provenance.get(
                "fitted_on"), "data": overlays[0].provenance.get("data")}))
    return out
