"""Targets and groups: how measurements are split before anything is fitted.

A *target* is a device under one runtime, and, when that runtime's published timing includes
host work (:attr:`dse.spec.runtime.RuntimeSpec.timing_includes_host`: an Edge TPU over USB, a
Vitis AI runner), on one host. Measurements of different targets are never pooled into one set of
parameters. Targets of one runtime and device kind form a *group*, fitted together
(:func:`dse.calibrate.fit.calibrate_targets`): they share kernel-class efficiency multipliers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from dse.devices import Catalog
from dse.spec.device import DeviceSpec

__all__ = ["Group", "groups", "with_targets"]


@dataclass(frozen=True)
class Group:
    """The targets of one runtime and device kind, and their rows (with a ``target`` column)."""

    runtime: str
    kind: str
    rows: pd.DataFrame
    specs: dict[str, DeviceSpec]
    labels: dict[str, dict[str, str | None]]


def _runtime_of(spec: DeviceSpec, row_runtime: object) -> str:
    if isinstance(row_runtime, str) and row_runtime:
        return row_runtime
    return getattr(spec, "default_runtime", None) or "default"


def _includes_host(catalog: Catalog, runtime: str) -> bool:
    runtimes = getattr(catalog, "runtimes", {})
    spec = runtimes.get(runtime) if hasattr(runtimes, "get") else None
    return bool(getattr(spec, "timing_includes_host", False))


def with_targets(measurements: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """``measurements`` with ``runtime`` filled (the device's default where a row names none),
    ``target`` (``device@runtime``, ``@host`` added where the runtime's timing includes the
    host's work) and ``group`` (``runtime/kind``). Rows in a precision the device does not run
    are left out (they cannot be predicted)."""
    rows = []
    for r in measurements.itertuples(index=False):
        spec = catalog.device(r.device)
        if r.precision not in spec.peak_ops_s:
            continue
        runtime = _runtime_of(spec, getattr(r, "runtime", ""))
        target = f"{r.device}@{runtime}"
        host = r.host if _includes_host(catalog, runtime) and r.host else None
        if host and host != r.device:
            target += f"@{host}"
        rows.append({**r._asdict(), "runtime": runtime, "target": target,
                     "target_host": host or "", "group": f"{runtime}/{spec.kind}"})
    return pd.DataFrame(rows, columns=[*measurements.columns,
                                       *(c for c in ("runtime", "target", "target_host", "group")
                                         if c not in measurements.columns)])


def groups(measurements: pd.DataFrame, catalog: Catalog) -> Iterator[Group]:
    """The groups of ``measurements`` (see the module docstring), in a stable order."""
    rows = with_targets(measurements, catalog)
    for name, part in rows.groupby("group", sort=True):
        runtime, kind = str(name).split("/", 1)
        specs, labels = {}, {}
        for target, t_rows in part.groupby("target", sort=True):
            first = t_rows.iloc[0]
            specs[str(target)] = catalog.device(str(first["device"]))
            labels[str(target)] = {"runtime": None if runtime == "default" else runtime,
                                   "host": first["target_host"] or None}
        yield Group(runtime, kind, part.reset_index(drop=True), specs, labels)
