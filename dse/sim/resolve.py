"""Resolving an experiment: every name and reference checked against the catalog and the
workloads, once, before anything runs.

:func:`dse.spec.experiment.load_experiment` checks an experiment's types and bounds. What it
cannot check without the catalog, the policies and the workload graphs is checked here: the
policy exists, every device, link, runtime and DVFS level names something on the platform,
pipeline stages and mappings name layers of the graph, the workloads can be built. Each is
checked for the first configuration and for every value of every dimension on its own (the
others at their first values), so ``dse simulate``, ``dse explore`` and the API all refuse a
bad experiment the same way, with every problem at once. A combination of values that cannot
run is left to the search: it is an infeasible trial with its reason.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.devices import Catalog
from dse.errors import DseError, Problem, SpecError, did_you_mean
from dse.sim.build import build_plan
from dse.sim.policies import policy_names
from dse.spec.experiment import Experiment, ExperimentConfig
from dse.spec.experiment import load_experiment as parse_experiment

__all__ = ["check_experiment", "load_experiment", "resolve_experiment"]

#: Most plans built to check one experiment.
MAX_PLANS = 256
#: Combinations of the other dimensions tried to cure a value that fails on its own.
MAX_COMBINATIONS = 32


def load_experiment(source: str | Path | Mapping[str, Any], *,
                    overrides: Mapping[str, Any] | Sequence[str] | None = None,
                    file: str | None = None, catalog: Catalog | None = None) -> Experiment:
    """Read an experiment and resolve it: types, bounds, names and references, every value of
    every dimension.

    Args:
        source: Path of the YAML file, or the data itself.
        overrides: ``{"platform.accelerators.ncs2.count": 2}`` or ``["path=value", ...]``.
        file: The name of a mapping in messages.
        catalog: Device catalog (default: the one the experiment's ``calibration`` names).

    Raises:
        SpecError: Every problem at once, each with the file and the YAML path.
    """
    return resolve_experiment(parse_experiment(source, overrides=overrides, file=file),
                              catalog=catalog)


def resolve_experiment(experiment: Experiment, *, catalog: Catalog | None = None) -> Experiment:
    """The experiment, its names checked (:func:`check_experiment`); a resolved experiment is
    returned as it is.

    Raises:
        SpecError: Every problem at once.
    """
    if experiment.resolved and catalog is None:
        return experiment
    problems = check_experiment(experiment, catalog=catalog)
    if problems:
        raise SpecError(problems)
    return dataclasses.replace(experiment, resolved=True)


def check_experiment(experiment: Experiment, *, catalog: Catalog | None = None
                     ) -> list[Problem]:
    """Every problem of names and references: those of the first configuration, and those of
    a value of a dimension that no value of any other dimension cures (tried pairwise; the
    message says "when PATH is VALUE")."""
    known = policy_names()
    budget = [MAX_PLANS]

    def problems_of(config: ExperimentConfig) -> list[Problem]:
        if config.execution.policy not in known:
            return [Problem(experiment.file, "execution.policy",
                            did_you_mean(config.execution.policy, known, what="policy"))]
        budget[0] -= 1
        try:
            build_plan(config, catalog=catalog, base_dir=experiment.base_dir,
                       file=experiment.file)
        except DseError as exc:
            return list(exc.problems or (Problem(experiment.file, "", str(exc)),))
        return []

    found = {str(p): p for p in problems_of(experiment.config)}
    if found:
        return list(found.values())
    for dim in experiment.dimensions:
        for value in dim.ends:
            if value == dim.first or budget[0] <= 0:
                continue
            problems = problems_of(_fixed(experiment, {dim.path: value}) or experiment.config)
            if problems and not _cured(experiment, dim.path, value, problems_of, budget):
                for p in problems:
                    if p.file == experiment.file:
                        p = Problem(p.file, p.path, f"{p.message} (when {dim.path} is "
                                    f"{value!r:.60})")
                    found.setdefault(str(p), p)
    return list(found.values())


def _fixed(experiment: Experiment, choices: dict[str, Any]) -> ExperimentConfig | None:
    try:
        return experiment.fixed(copy.deepcopy(choices))
    except SpecError:
        return None  # a combination of types that cannot be: an infeasible trial, not an error


def _cured(experiment: Experiment, path: str, value: Any,
           problems_of: Callable[[ExperimentConfig], list[Problem]], budget: list[int]) -> bool:
    """Whether some values of the other dimensions make ``path = value`` valid: every
    combination of them, or a fixed sample of :data:`MAX_COMBINATIONS` when there are more.
    An exhausted budget gives the benefit of the doubt (a search then reports the trial
    infeasible)."""
    others = [d for d in experiment.dimensions if d.path != path]
    combos: list[tuple[Any, ...]] = []
    total = math.prod(len(d.ends) for d in others)
    if total <= MAX_COMBINATIONS:
        combos = list(itertools.product(*(d.ends for d in others)))
    else:
        rng = random.Random(0)
        combos = [tuple(rng.choice(d.ends) for d in others) for _ in range(MAX_COMBINATIONS)]
    for combo in combos:
        if budget[0] <= 0:
            return True
        config = _fixed(experiment, {path: value} | {d.path: v for d, v in
                                                     zip(others, combo, strict=True)})
        if config is not None and not problems_of(config):
            return True
    return False
