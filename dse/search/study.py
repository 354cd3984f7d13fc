"""``dse.explore``: an Optuna study over an experiment's dimensions.

One trial = one simulated configuration. A configuration that cannot run (an invalid
combination, an infeasible mapping, a constraint the closed-form bound already rules out) is a
trial with ``feasible=False`` and its reason, never a crash. Storage defaults to an Optuna journal
file in the output folder: every finished trial is appended and flushed, so a study that is
interrupted (Ctrl-C, SIGKILL, power loss) resumes where it stopped when run again, and several
local worker processes can share it. Any Optuna storage URL (PostgreSQL) works too, so workers on
several machines can search one study.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from dse.devices import Catalog
from dse.errors import DseError, Problem, SpecError
from dse.metrics import summarize
from dse.search.space import (
    Constraint,
    Objective,
    constraints,
    grid_space,
    metric_value,
    objectives,
    suggest,
)
from dse.sim.bound import bound
from dse.sim.engine import Simulation
from dse.sim.plan import build_plan
from dse.sim.resolve import resolve_experiment
from dse.sim.run import Report
from dse.spec.experiment import Experiment, load_experiment

__all__ = ["SAMPLERS", "ExploreResult", "evaluate", "explore"]

logger = logging.getLogger(__name__)

SAMPLERS = ("tpe", "nsga2", "random", "grid")


@dataclass(frozen=True)
class Evaluation:
    """What one configuration gave: objective values, constraint violations, and details."""

    values: list[float]
    violations: list[float]
    feasible: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)


def evaluate(experiment: Experiment, params: Mapping[str, Any], goals: Sequence[Objective],
             limits: Sequence[Constraint], *, catalog: Catalog | None = None) -> Evaluation:
    """Simulate one configuration and score it (never raises for a bad combination)."""

    def infeasible(reason: str) -> Evaluation:
        worst = [0.0 if g.direction == "maximize" else 1e30 for g in goals]
        return Evaluation(worst, [1.0] * max(len(limits), 1), False, reason)

    try:
        config = experiment.fixed(params)
        plan = build_plan(config, catalog=catalog, base_dir=experiment.base_dir,
                          file=experiment.file)
    except DseError as exc:
        return infeasible(str(exc).replace("\n", "; "))
    limit = bound(plan)
    if plan.infeasible:
        return infeasible(plan.infeasible)
    # The simulator never beats the bound: a throughput floor the bound misses is missed.
    for c in limits:
        if c.metric == "throughput_fps" and c.kind == "min" and \
                limit.throughput_fps < c.bound * (1 - 1e-9):
            return infeasible(f"throughput bound {limit.throughput_fps:.4g} fps < required "
                              f"{c.bound:g} ({', '.join(limit.bottlenecks)})")
    result = Simulation(plan).run()
    report = Report(config, plan, limit, summarize(result), result).to_dict()
    values = []
    for goal in goals:
        value = metric_value(report, goal.metric)
        values.append(value if value is not None else
                      (0.0 if goal.direction == "maximize" else 1e30))
    violations = [c.violation(metric_value(report, c.metric)) for c in limits]
    report["bottlenecks"] = list(limit.bottlenecks)
    feasible = all(v <= 0 for v in violations)
    reason = "" if feasible else "; ".join(
        f"{c.metric} {metric_value(report, c.metric)!r} {'>' if c.kind == 'max' else '<'} "
        f"{c.bound:g}" for c, v in zip(limits, violations, strict=True) if v > 0)
    return Evaluation(values, violations or [0.0], feasible, reason, report)


@dataclass
class ExploreResult:
    """The outcome of a study.

    Attributes:
        trials: One row per finished trial: number, parameters (by YAML path), objective
            values, every metric, feasibility and reason, duration.
        pareto: The feasible, non-dominated trials (the best one for a single objective).
        objectives: What was optimised.
        out: The output folder (when written).
    """

    experiment: Experiment
    study: optuna.Study
    trials: pd.DataFrame
    pareto: pd.DataFrame
    objectives: list[Objective]
    constraints: list[Constraint]
    out: Path | None = None

    @property
    def best(self) -> dict[str, Any] | None:
        """Parameters of the best feasible trial (the first of the front), if any."""
        if self.pareto.empty:
            return None
        row = self.pareto.iloc[0]
        return {d.path: row[f"param:{d.path}"] for d in self.experiment.dimensions}


def _storage(storage: str | None, out: Path, name: str) -> tuple[Any, str]:
    """The Optuna storage and a string that lets another process open the same one."""
    if storage:
        return storage, storage
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.journal"
    return _journal(str(path)), f"journal:{path}"


def _journal(path: str) -> optuna.storages.BaseStorage:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(path))


def _open(storage_ref: str) -> Any:
    return _journal(storage_ref.removeprefix("journal:")) if \
        storage_ref.startswith("journal:") else storage_ref


# Optuna 5 reads constraints a trial stores with Trial.set_constraint; Optuna 4 needs a
# constraints_func on the sampler.
_SET_CONSTRAINT = hasattr(optuna.trial.Trial, "set_constraint")


def _sampler(name: str, seed: int | None, experiment: Experiment,
             with_constraints: bool) -> optuna.samplers.BaseSampler:
    def constraints_func(trial: optuna.trial.FrozenTrial) -> Sequence[float]:
        return trial.user_attrs.get("violations", [1.0])

    kw: dict[str, Any] = {} if _SET_CONSTRAINT or not with_constraints else {
        "constraints_func": constraints_func}
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **kw)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, **kw)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid_space(experiment.dimensions, experiment.file),
                                           seed=seed)
    raise SpecError([Problem(experiment.file, "search.sampler", f"unknown sampler {name!r}; "
                             f"known samplers: {', '.join(SAMPLERS)}")])


def _objective(experiment: Experiment, goals: list[Objective], limits: list[Constraint],
               catalog: Catalog | None) -> Callable[[optuna.Trial], Sequence[float]]:
    def run(trial: optuna.Trial) -> Sequence[float]:
        params = suggest(trial, experiment.dimensions)
        e = evaluate(experiment, params, goals, limits, catalog=catalog)
        trial.set_user_attr("violations", e.violations)
        if _SET_CONSTRAINT and limits:
            for c, v in zip(limits, e.violations, strict=True):
                trial.set_constraint(f"{c.metric}_{c.kind}", v)
        trial.set_user_attr("feasible", e.feasible)
        trial.set_user_attr("reason", e.reason)
        trial.set_user_attr("metrics", _jsonable(e.metrics))
        return e.values

    return run


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not (value == value and abs(value) != float("inf")):
        return None
    return value


def _worker(experiment: Experiment, storage_ref: str, study_name: str,
            n_trials: int, sampler: str, seed: int | None, timeout_s: float | None) -> None:
    """One worker process: open the shared study and run its share of trials (the experiment
    is the parent's, overrides included)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    goals, limits = objectives(experiment), constraints(experiment)
    study = optuna.load_study(study_name=study_name, storage=_open(storage_ref),
                              sampler=_sampler(sampler, seed, experiment, bool(limits)))
    study.optimize(_objective(experiment, goals, limits, None), n_trials=n_trials,
                   timeout=timeout_s)


def explore(experiment: Experiment | str | Path | Mapping[str, Any], *,
            trials: int | None = None, timeout_s: float | None = None,
            storage: str | None = None, workers: int = 1, sampler: str | None = None,
            seed: int | None = None, out: str | Path | None = None,
            catalog: Catalog | None = None,
            callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
            write: bool = True) -> ExploreResult:
    """Search an experiment's dimensions with Optuna.

    Args:
        experiment: A loaded experiment, a YAML path or a mapping.
        trials: Total finished trials wanted (default: ``search.trials``, else 100; a grid
            search: the grid size). A resumed study only runs what is missing.
        timeout_s: Stop starting trials after this long.
        storage: An Optuna storage URL (``postgresql+psycopg2://...``); default: a journal
            file in ``out``.
        workers: Local worker processes sharing the study.
        sampler: ``tpe``, ``nsga2``, ``random`` or ``grid`` (default: ``search.sampler``, else
            ``tpe``, or ``nsga2`` for several objectives).
        seed: Sampler seed (default: ``search.seed``); with one worker a seed reproduces a
            study exactly.
        out: Output folder (default: ``out/<experiment name>``).
        catalog: Device catalog (default: the built-in one).
        callbacks: Called after every trial of this process (progress bars).
        write: Write the output files (trials, front, plots, best YAMLs, report).

    Raises:
        SpecError: The experiment, its objectives, constraints or search settings are invalid.
    """
    experiment = resolve_experiment(experiment if isinstance(experiment, Experiment)
                                    else load_experiment(experiment), catalog=catalog)
    goals, limits = objectives(experiment), constraints(experiment)
    search = experiment.search
    sampler = sampler or search.sampler or ("nsga2" if len(goals) > 1 else "tpe")
    seed = seed if seed is not None else search.seed
    if sampler == "grid":
        size = 1
        for values in grid_space(experiment.dimensions, experiment.file).values():
            size *= len(values)
        trials = trials or size
    trials = int(trials or search.trials or 100)
    if workers < 1:
        raise SpecError([Problem("--workers", "", f"must be >= 1, got {workers}")])
    out_dir = Path(out) if out is not None else Path("out") / experiment.name
    store, storage_ref = _storage(storage, out_dir, experiment.name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=experiment.name, storage=store, load_if_exists=True,
        directions=[g.direction for g in goals],
        sampler=_sampler(sampler, seed, experiment, bool(limits)))
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    remaining = max(0, trials - done)
    logger.info("study %s: %d trials done, %d to run", experiment.name, done, remaining)
    start = time.perf_counter()
    if remaining and workers == 1:
        study.optimize(_objective(experiment, goals, limits, catalog), n_trials=remaining,
                       timeout=timeout_s, callbacks=list(callbacks))
    elif remaining:
        if catalog is not None:
            raise ValueError("a custom catalog cannot be sent to worker processes")
        ref = experiment
        share = [remaining // workers + (i < remaining % workers) for i in range(workers)]
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_worker, args=(ref, storage_ref, experiment.name, n,
                                                   sampler, None if seed is None else seed + i,
                                                   timeout_s), daemon=False)
                 for i, n in enumerate(share) if n]
        for p in procs:
            p.start()
        try:
            for p in procs:
                while p.is_alive():
                    p.join(0.5)
                    for cb in callbacks:
                        trials_now = study.get_trials(deepcopy=False)
                        if trials_now:
                            cb(study, trials_now[-1])
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
        failed = [p.exitcode for p in procs if p.exitcode]
        if failed:
            raise RuntimeError(f"{len(failed)} worker process(es) failed: exit codes {failed}")
    logger.info("ran %d trials in %.1f s", remaining, time.perf_counter() - start)
    from dse.search.results import pareto_table, trials_table, write_outputs

    table = trials_table(study, experiment, goals)
    front = pareto_table(table, goals)
    result = ExploreResult(experiment, study, table, front, goals, limits,
                           out_dir if write else None)
    if write:
        write_outputs(result, out_dir)
    return result
