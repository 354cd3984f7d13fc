"""The search space, objectives and constraints of an experiment, in Optuna's terms.

Dimensions come from the experiment (:class:`dse.spec.experiment.Dimension`). Choices that are
not plain values (a list of devices, a mapping of accelerators) are offered to Optuna as their
JSON text and decoded back, since Optuna's categorical values must be scalars.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from dse.errors import Problem, SpecError
from dse.spec.experiment import (
    MAX_TRIALS,
    METRICS,
    Constraint,
    Dimension,
    Experiment,
    Objective,
)

__all__ = [
    "METRICS",
    "Constraint",
    "Objective",
    "constraints",
    "decode",
    "grid_size",
    "grid_space",
    "objectives",
    "suggest",
]

def metric_value(report: Mapping[str, Any], metric: str) -> float | None:
    """A metric out of a :meth:`dse.sim.Report.to_dict` dict (``None`` if absent)."""
    value: Any = report
    for key in METRICS[metric]:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return None if value is None else float(value)


def objectives(experiment: Experiment) -> list[Objective]:
    """The objectives (default: maximize throughput), checked when the experiment was loaded."""
    return list(experiment.objectives)


def constraints(experiment: Experiment) -> list[Constraint]:
    """The constraints, one per bound, checked when the experiment was loaded."""
    return list(experiment.constraints)


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


def grid_size(dims: Sequence[Dimension], file: str) -> int:
    """The number of grid points: the product of every dimension's number of values.

    Raises:
        SpecError: As :func:`grid_space`.
    """
    return math.prod(len(v) for v in grid_space(dims, file).values())


def grid_space(dims: Sequence[Dimension], file: str) -> dict[str, list[Any]]:
    """Every value of every dimension, for exhaustive grid search.

    Raises:
        SpecError: A float range without ``step`` (it has no finite grid).
    """
    space: dict[str, list[Any]] = {}
    problems = []
    size = 1
    for dim in dims:
        if dim.kind == "choice":
            size *= len(dim.choices)
        elif dim.kind == "int" or dim.step:
            assert dim.low is not None and dim.high is not None
            size *= math.floor((dim.high - dim.low) / (dim.step or 1) + 1e-9) + 1
    if size > MAX_TRIALS:
        raise SpecError([Problem(file, "search.sampler", f"a grid of {size:,} configurations is "
                                 f"more than {MAX_TRIALS:,}; narrow the ranges or give a step")])
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
