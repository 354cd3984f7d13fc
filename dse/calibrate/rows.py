"""Measurement rows as the fit sees them: which target a row measures, which rows a fit uses,
and whether a target has enough of them for its free parameters."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dse.errors import Problem

__all__ = ["check_points", "target_keys", "timing_rows"]


def target_keys(rows: pd.DataFrame) -> pd.Series:
    """The target of each row: its ``target`` column, else its ``device``."""
    return rows["target"] if "target" in rows else rows["device"]


def timing_rows(rows: pd.DataFrame, paths: Sequence[str]) -> pd.DataFrame:
    """Timing rows, and power/energy rows when a ``power.*`` path is free."""
    metrics = ["latency", "throughput"]
    if any(p.startswith("power.") for p in paths):
        metrics += ["power", "energy"]
    return rows[rows["metric"].isin(metrics)]


def check_points(target: str, rows: pd.DataFrame, own: Sequence[str]) -> list[Problem]:
    """Problems of a target with fewer points than free parameters: one more timing point
    than free timing parameters, as many power/energy points as free ``power.*`` ones."""
    power_free = [p for p in own if p.startswith("power.")]
    timing = int(rows["metric"].isin(["latency", "throughput"]).sum())
    n_time = len(own) - len(power_free)
    problems = []
    if timing < n_time + 1:
        problems.append(Problem(target, "measurements", f"{timing} latency/throughput points "
                                f"for {n_time} free parameters; need at least {n_time + 1}"))
    n_power = len(rows) - timing
    if power_free and n_power < len(power_free):
        problems.append(Problem(target, "measurements", f"{n_power} power/energy points for "
                                f"{len(power_free)} free power parameters; need at least "
                                f"{len(power_free)}"))
    return problems
