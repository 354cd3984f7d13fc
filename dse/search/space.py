"""The search space, objectives and constraints of an experiment, in Optuna's terms.

Dimensions come from the experiment (:class:`dse.spec.experiment.Dimension`). Choices that are
not plain values (a list of devices, a mapping of accelerators) are offered to Optuna as their
JSON text and decoded back, since Optuna's categorical values must be scalars.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import optuna

from dse.errors import Problem, SpecError
from dse.spec.experiment import Dimension, Experiment

__all__ = [
    "METRICS",
    "Constraint",
    "Objective",
    "constraints",
    "decode",
    "grid_space",
    "objectives",
    "suggest",
]

#: Metric name -> (its key in a report dict, a path inside it); aliases as DESIGN.md writes them.
METRICS: dict[str, tuple[str, ...]] = {
    "throughput_fps": ("throughput_fps",),
    "latency_p50_ms": ("latency_ms", "p50"),
    "latency_p95_ms": ("latency_ms", "p95"),
    "latency_p99_ms": ("latency_ms", "p99"),
    "latency_mean_ms": ("latency_ms", "mean"),
    "energy_per_inference_j": ("energy_per_inference_j",),
    "average_power_w": ("average_power_w",),
    "price_usd": ("price_usd",),
}
ALIASES = {"throughput": "throughput_fps", "energy_per_inference": "energy_per_inference_j",
           "power_w": "average_power_w", "power": "average_power_w", "price": "price_usd",
           "latency_p99": "latency_p99_ms", "latency_p95": "latency_p95_ms",
           "latency_p50": "latency_p50_ms"}


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` (``kind="max"``) or ``metric >= bound`` (``kind="min"``)."""

    metric: str
    kind: Literal["min", "max"]
    bound: float

    def violation(self, value: float | None) -> float:
        """<= 0 when met (Optuna's convention), scaled by the bound so kinds compare."""
        if value is None or not math.isfinite(value):
            return 1.0
        scale = abs(self.bound) or 1.0
        gap = value - self.bound if self.kind == "max" else self.bound - value
        return gap / scale


def metric_value(report: Mapping[str, Any], metric: str) -> float | None:
    """A metric out of a :meth:`dse.sim.Report.to_dict` dict (``None`` if absent)."""
    value: Any = report
    for key in METRICS[metric]:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return None if value is None else float(value)


def _metric(name: Any, file: str, path: str, problems: list[Problem]) -> str | None:
    name = ALIASES.get(str(name), str(name))
    if name not in METRICS:
        problems.append(Problem(file, path, f"unknown metric {name!r}; known metrics: "
                                f"{', '.join(METRICS)}"))
        return None
    return name


def objectives(experiment: Experiment) -> list[Objective]:
    """The objectives (default: maximize throughput).

    Raises:
        SpecError: An entry is not ``{maximize|minimize: METRIC}`` with a known metric.
    """
    problems: list[Problem] = []
    out = []
    for i, entry in enumerate(experiment.data.get("objectives") or []):
        path = f"objectives.{i}"
        if not isinstance(entry, Mapping) or len(entry) != 1 or \
                next(iter(entry)) not in ("maximize", "minimize"):
            problems.append(Problem(experiment.file, path, f"expected {{maximize: METRIC}} or "
                                    f"{{minimize: METRIC}}, got {entry!r}"))
            continue
        direction, name = next(iter(entry.items()))
        metric = _metric(name, experiment.file, f"{path}.{direction}", problems)
        if metric is not None:
            out.append(Objective(metric, direction))
    if problems:
        raise SpecError(problems)
    return out or [Objective("throughput_fps", "maximize")]


def constraints(experiment: Experiment) -> list[Constraint]:
    """The constraints: ``{METRIC: {max: X}}`` and/or ``{min: X}``.

    Raises:
        SpecError: Unknown metric, or not ``{min|max: number}``.
    """
    problems: list[Problem] = []
    out = []
    raw = experiment.data.get("constraints") or {}
    if not isinstance(raw, Mapping):
        raise SpecError([Problem(experiment.file, "constraints", f"expected a mapping "
                                 f"METRIC: {{max: X}}, got {raw!r}")])
    for name, spec in raw.items():
        path = f"constraints.{name}"
        metric = _metric(name, experiment.file, path, problems)
        if not isinstance(spec, Mapping) or not spec or set(spec) - {"min", "max"}:
            problems.append(Problem(experiment.file, path, f"expected {{max: X}} and/or "
                                    f"{{min: X}}, got {spec!r}"))
            continue
        for kind, bound in spec.items():
            if not isinstance(bound, int | float) or isinstance(bound, bool):
                problems.append(Problem(experiment.file, f"{path}.{kind}",
                                        f"expected a number, got {bound!r}"))
            elif metric is not None:
                out.append(Constraint(metric, kind, float(bound)))
    if problems:
        raise SpecError(problems)
    return out


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _encode(choices: Sequence[Any]) -> list[Any]:
    if all(_plain(c) for c in choices):
        return list(choices)
    return [json.dumps(c, sort_keys=True) for c in choices]


def suggest(trial: optuna.Trial, dims: Sequence[Dimension]) -> dict[str, Any]:
    """Ask the trial for one value per dimension (decoded to YAML values)."""
    params: dict[str, Any] = {}
    for dim in dims:
        if dim.kind == "choice":
            params[dim.path] = trial.suggest_categorical(dim.path, _encode(dim.choices))
        elif dim.kind == "int":
            assert dim.low is not None and dim.high is not None
            params[dim.path] = trial.suggest_int(dim.path, int(dim.low), int(dim.high),
                                                 step=int(dim.step or 1), log=dim.log)
        else:
            assert dim.low is not None and dim.high is not None
            params[dim.path] = trial.suggest_float(dim.path, dim.low, dim.high, step=dim.step,
                                                   log=dim.log)
    return decode(params, dims)


def decode(params: Mapping[str, Any], dims: Sequence[Dimension]) -> dict[str, Any]:
    """Optuna parameter values back to YAML values (JSON-encoded choices decoded)."""
    out = dict(params)
    for dim in dims:
        if dim.kind == "choice" and dim.path in out and not all(_plain(c) for c in dim.choices):
            out[dim.path] = json.loads(out[dim.path])
    return out


def grid_space(dims: Sequence[Dimension], file: str) -> dict[str, list[Any]]:
    """Every value of every dimension, for exhaustive grid search.

    Raises:
        SpecError: A float range without ``step`` (it has no finite grid).
    """
    space: dict[str, list[Any]] = {}
    problems = []
    for dim in dims:
        if dim.kind == "choice":
            space[dim.path] = _encode(dim.choices)
        elif dim.kind == "int":
            assert dim.low is not None and dim.high is not None
            space[dim.path] = list(range(int(dim.low), int(dim.high) + 1, int(dim.step or 1)))
        elif dim.step is None:
            problems.append(Problem(file, dim.path, "a grid search needs a step for a float "
                                    "range ({min, max, step})"))
        else:
            assert dim.low is not None and dim.high is not None
            n = math.floor((dim.high - dim.low) / dim.step + 1e-9) + 1
            space[dim.path] = [dim.low + i * dim.step for i in range(n)]
    if problems:
        raise SpecError(problems)
    return space
