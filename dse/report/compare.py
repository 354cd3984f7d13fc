"""Configurations side by side: ``dse compare A.yaml B.yaml [--set PATH=V ...]``.

Each experiment's first configuration (the first value of every search dimension, what ``dse
simulate`` runs) is simulated, and so is each ``--set`` variant of it; the metrics become one
column each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from dse.devices import Catalog
    from dse.spec.experiment import Experiment

__all__ = ["ROWS", "compare"]

#: Row label -> metric of :meth:`dse.sim.Report.to_dict` (via :data:`dse.search.space.METRICS`).
ROWS = {
    "throughput (fps)": "throughput_fps",
    "latency p50 (ms)": "latency_p50_ms",
    "latency p99 (ms)": "latency_p99_ms",
    "energy per inference (mJ)": "energy_per_inference_j",
    "average power (W)": "average_power_w",
    "price (USD)": "price_usd",
}
TEXT_ROWS = ("bottleneck", "platform", "policy", "infeasible")


def _column(experiment: str | Path | Experiment, overrides: Sequence[str],
            catalog: Catalog | None) -> dict[str, Any]:
    from dse.errors import DseError
    from dse.run import simulate
    from dse.search.space import metric_value

    cell: dict[str, Any] = dict.fromkeys([*ROWS, *TEXT_ROWS])
    try:
        report = simulate(experiment, overrides=list(overrides), catalog=catalog)
    except DseError as exc:
        cell["infeasible"] = "invalid: " + str(exc).replace("\n", "; ")
        return cell
    data = report.to_dict()
    for label, metric in ROWS.items():
        value = metric_value(data, metric)
        cell[label] = None if value is None else \
            value * 1e3 if metric == "energy_per_inference_j" else value
    cell["bottleneck"] = ", ".join(report.bound.bottlenecks)
    cell["platform"] = report.plan.platform.name
    cell["policy"] = report.config.execution.policy
    cell["infeasible"] = report.infeasible or ""
    return cell


def compare(experiments: Sequence[str | Path | Experiment], *, variants: Sequence[str] = (),
            catalog: Catalog | None = None) -> pd.DataFrame:
    """Simulate each experiment's first configuration and each ``PATH=VALUE`` variant of it.

    Args:
        experiments: YAML paths or loaded experiments.
        variants: ``--set`` overrides; each one is a column of its own beside every
            experiment's unmodified first configuration (an override that does not apply to an
            experiment gives a column saying why, not an error).
        catalog: Device catalog (default: the built-in one).

    Returns:
        Rows: throughput, p50/p99 latency, energy per inference (mJ), power, price, the
        bottleneck the bound names, platform, policy, and why it could not run (empty when
        it ran); columns: ``NAME`` and ``NAME [PATH=VALUE]``, in order.
    """
    columns: dict[str, dict[str, Any]] = {}
    for experiment in experiments:
        name = experiment.name if not isinstance(experiment, str | Path) else Path(
            experiment).stem
        for variant in [None, *variants]:
            label = name if variant is None else f"{name} [{variant}]"
            k = 2
            while label in columns:
                label, k = f"{label} #{k}", k + 1
            columns[label] = _column(experiment, [variant] if variant else [], catalog)
    return pd.DataFrame(columns, index=[*ROWS, *TEXT_ROWS], dtype=object)
