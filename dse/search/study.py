"""``dse.explore``: an Optuna study over an experiment's dimensions.

One trial = one simulated configuration. A configuration that cannot run (an invalid
combination, an infeasible mapping, a constraint the closed-form bound already rules out, or a
bug met by that configuration only) is a trial with ``feasible=False`` and its reason, never a
crash. Storage defaults to an Optuna journal file in the output folder: every finished trial is
appended and flushed, so a study that is interrupted (Ctrl-C, SIGKILL, power loss) resumes where
it stopped when run again, and several local worker processes can share it
(:mod:`dse.search.storage`). Any Optuna storage URL (PostgreSQL) works too, so workers on
several machines can search one study.

A study resumes only with the experiment it was made of: it stores the experiment's fingerprint
and the experiment itself (everything but ``search``), and a changed experiment is refused with
what changed, unless the caller starts afresh or resumes anyway. Worker processes receive the
loaded experiment object, so overrides reach them. A grid search queues every grid point not yet
done as a trial (``enqueue_trial``) and the workers only run queued trials, so each point runs
exactly once however many workers share the study.
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import optuna
import pandas as pd

from dse.devices import Catalog
from dse.errors import DseError, Problem, SpecError, UsageError, did_you_mean
from dse.metrics import summarize
from dse.plugins import PluginNotFoundError, Registry
from dse.run import Report
from dse.search.results import pareto_table, trials_table
from dse.search.space import (
    Constraint,
    Objective,
    constraints,
    grid_size,
    grid_space,
    metric_value,
    objectives,
    suggest,
)
from dse.search.storage import WORKER_DIED, Liveness, fail_zombies, open_storage, reopen
from dse.sim.bound import bound
from dse.sim.build import build_plan
from dse.sim.engine import Simulation
from dse.sim.resolve import resolve_experiment
from dse.spec.experiment import MAX_TRIALS, Experiment, load_experiment
from dse.spec.samplers import SAMPLER_FACTORIES as _SPEC_SAMPLERS
from dse.spec.samplers import SAMPLERS

__all__ = ["SAMPLERS", "SAMPLER_FACTORIES", "ExploreResult", "SamplerFactory", "evaluate", "explore",
           "planned_trials"]

logger = logging.getLogger(__name__)



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
        return _infeasible(goals, limits, reason)

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


def _infeasible(goals: Sequence[Objective], limits: Sequence[Constraint],
                reason: str) -> Evaluation:
    worst = [0.0 if g.direction == "maximize" else 1e30 for g in goals]
    return Evaluation(worst, [1.0] * max(len(limits), 1), False, reason)


@dataclass
class ExploreResult:
    """The outcome of a study.

    Attributes:
        trials: One row per finished trial: number, parameters (by YAML path), objective
            values, every metric, feasibility and reason, duration.
        pareto: The feasible, non-dominated trials (the best one for a single objective).
        objectives: What was optimised.
        out: The output folder (the study's journal; :func:`dse.explore` writes the files
            there).
        notes: What the user should hear about: a journal moved aside (``fresh``), a changed
            experiment resumed anyway, trials of dead workers marked failed.
    """

    experiment: Experiment
    study: optuna.Study
    trials: pd.DataFrame
    pareto: pd.DataFrame
    objectives: list[Objective]
    constraints: list[Constraint]
    out: Path | None = None
    notes: tuple[str, ...] = ()

    @property
    def best(self) -> dict[str, Any] | None:
        """Parameters of the best feasible trial (the first of the front), if any."""
        if self.pareto.empty:
            return None
        row = self.pareto.iloc[0]
        return {d.path: row[f"param:{d.path}"] for d in self.experiment.dimensions}


# Optuna 5 reads constraints a trial stores with Trial.set_constraint; Optuna 4 needs a
# constraints_func on the sampler.
_SET_CONSTRAINT = hasattr(optuna.trial.Trial, "set_constraint")


ConstraintsFunc = Callable[[optuna.trial.FrozenTrial], Sequence[float]]


class SamplerFactory(Protocol):
    """Makes an Optuna sampler for one study (or one worker process of it).

    Called once per study and worker with the seed and, when trials carry constraints and this
    Optuna version reads them through the sampler, the ``constraints_func`` to pass on (``None``
    otherwise; a sampler that cannot use constraints may ignore it).
    """

    def __call__(self, seed: int | None, constraints_func: ConstraintsFunc | None
                 ) -> optuna.samplers.BaseSampler: ...

#: The samplers by name: the built-ins below (their names are :data:`SAMPLERS`) and the
#: ``dse.samplers`` entry-point group. The registry is the spec layer's
#: (:data:`dse.spec.samplers.SAMPLER_FACTORIES`), so that ``search.sampler`` is validated against
#: it; it loads this module before its first lookup.
SAMPLER_FACTORIES: Registry[SamplerFactory] = _SPEC_SAMPLERS


def _with_constraints(constraints_func: ConstraintsFunc | None) -> dict[str, Any]:
    return {} if constraints_func is None else {"constraints_func": constraints_func}


@SAMPLER_FACTORIES.register(name="tpe")
def _tpe(seed: int | None, constraints_func: ConstraintsFunc | None
         ) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, **_with_constraints(constraints_func))


@SAMPLER_FACTORIES.register(name="nsga2")
def _nsga2(seed: int | None, constraints_func: ConstraintsFunc | None
           ) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, **_with_constraints(constraints_func))


@SAMPLER_FACTORIES.register(name="random")
def _random(seed: int | None, constraints_func: ConstraintsFunc | None
            ) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


@SAMPLER_FACTORIES.register(name="grid")
def _grid(seed: int | None, constraints_func: ConstraintsFunc | None
          ) -> optuna.samplers.BaseSampler:
    # Every grid point is enqueued (_enqueue_grid): the sampler is never consulted.
    return optuna.samplers.RandomSampler(seed=seed)


def _sampler(name: str, seed: int | None, experiment: Experiment,
             with_constraints: bool) -> optuna.samplers.BaseSampler:
    def constraints_func(trial: optuna.trial.FrozenTrial) -> Sequence[float]:
        return trial.user_attrs.get("violations", [1.0])

    try:
        factory = SAMPLER_FACTORIES.get(name)
    except PluginNotFoundError as exc:
        raise SpecError([Problem(experiment.file, "search.sampler", str(exc))]) from None
    return factory(seed, None if _SET_CONSTRAINT or not with_constraints else constraints_func)




def _objective(experiment: Experiment, goals: list[Objective], limits: list[Constraint],
               catalog: Catalog | None) -> Callable[[optuna.Trial], Sequence[float]]:
    def run(trial: optuna.Trial) -> Sequence[float]:
        params = suggest(trial, experiment.dimensions)
        try:
            e = evaluate(experiment, params, goals, limits, catalog=catalog)
        except Exception as exc:
            # A bug somewhere below, met by this configuration only: the study goes on, the
            # trial says why it has no result, and the traceback is not hidden.
            logger.warning("trial %d (%s) raised; recorded as infeasible", trial.number,
                           params, exc_info=True)
            e = _infeasible(goals, limits, f"{type(exc).__name__}: {exc}".replace("\n", "; "))
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


# --- what a study covered: its fingerprint, and the experiment it was made of --------------

def _covered(experiment: Experiment) -> dict[str, Any]:
    """The experiment as the study's trials saw it, readable: its YAML (overrides applied) with
    each dimension as ``{choices: [...]}`` or ``{min, max[, step][, log]}``, without ``search``
    and ``description`` (what :attr:`Experiment.fingerprint` leaves out too)."""
    data = {k: v for k, v in experiment.yaml_data().items()
            if k not in ("search", "description")}
    for dim in experiment.dimensions:
        if dim.kind == "choice":
            spec: dict[str, Any] = {"choices": list(dim.choices)}
        else:
            assert dim.high is not None
            spec = {"min": dim.first, "max": int(dim.high) if dim.kind == "int" else dim.high}
            spec.update({"step": dim.step} if dim.step else {})
            spec.update({"log": True} if dim.log else {})
        _put(data, dim.path, spec)
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def _put(data: Any, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data.setdefault(part, {})
    if isinstance(data, list):
        data[int(leaf)] = value
    else:
        data[leaf] = value


def _fingerprint(experiment: Experiment) -> str:
    return experiment.fingerprint


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, str]:
    """YAML path -> ``old -> new``, for every path whose value differs."""
    a, b = _flat(before), _flat(after)
    return {path: f"{json.dumps(a[path]) if path in a else '(absent)'} -> "
                  f"{json.dumps(b[path]) if path in b else '(absent)'}"
            for path in sorted(set(a) | set(b)) if path not in a or path not in b
            or a[path] != b[path]}


def _check_same(store: optuna.storages.BaseStorage, study_id: int, experiment: Experiment,
                name: str, where: str, resume_anyway: bool) -> str | None:
    """Refuse to resume a study made of a different experiment.

    Returns:
        A note when ``resume_anyway`` lets a changed experiment resume.

    Raises:
        DseError: The experiment differs from the study's (and not ``resume_anyway``).
    """
    attrs = store.get_study_user_attrs(study_id)
    old, new = attrs.get("fingerprint"), _fingerprint(experiment)
    if old == new:
        return None
    finished = sum(t.state.is_finished() for t in store.get_all_trials(study_id,
                                                                        deepcopy=False))
    if old is None and not finished:
        return None  # made but never run: nothing to mix up
    if old is None:
        sections = "unknown"
        what = [f"the study has {finished} finished trials but no fingerprint (an older dse "
                "made it): what they simulated cannot be checked"]
    else:
        changes = _changes(attrs.get("experiment") or {}, _covered(experiment))
        sections = ", ".join(sorted({p.split(".")[0] for p in changes})) or "resolved values"
        what = [f"{path}: {change}" for path, change in changes.items()] or [
            f"the resolved experiment changed (fingerprint {old[:12]} -> {new[:12]}) though its "
            "YAML reads the same: a device, calibration overlay or workload it uses changed"]
        if len(what) > _SHOW_CHANGES:
            what = [*what[:_SHOW_CHANGES], f"... and {len(what) - _SHOW_CHANGES} more"]
    if resume_anyway:
        note = (f"--resume-anyway: study {name!r} resumes although the experiment changed "
                f"({sections}); its earlier trials ran the old experiment")
        logger.warning("%s: %s", note, "; ".join(what))
        return note
    raise DseError([Problem(where, "", f"study {name!r} was run with a different experiment "
                            f"(changed: {sections}); resuming would mix results of both:\n  "
                            + "\n  ".join(what) + "\nrun with --fresh to start a new study "
                            "(the old one is kept aside), or --resume-anyway to add trials of "
                            "the new experiment to it")])


#: Changed YAML paths a refusal lists.
_SHOW_CHANGES = 8


def _record(study: optuna.Study, experiment: Experiment, goals: Sequence[Objective]) -> None:
    """Store what the study covers, and the objectives' names for optuna-dashboard."""
    study.set_user_attr("fingerprint", _fingerprint(experiment))
    study.set_user_attr("experiment", _covered(experiment))
    if study.metric_names != [g.metric for g in goals]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([g.metric for g in goals])


# --- running trials ------------------------------------------------------------------------

def _grid_points(experiment: Experiment) -> list[dict[str, Any]]:
    space = grid_space(experiment.dimensions, experiment.file)
    paths = list(space)
    return [dict(zip(paths, combo, strict=True))
            for combo in itertools.product(*(space[p] for p in paths))]


def planned_trials(experiment: Experiment, *, trials: int | None = None,
                   sampler: str | None = None) -> int:
    """How many trials a study of ``experiment`` runs in all: ``trials`` (default:
    ``search.trials``, else 100), and under the grid sampler at most the grid's points
    (:func:`~dse.search.space.grid_size`)."""
    wanted = trials if trials is not None else experiment.search.trials
    if (sampler or experiment.search.sampler) == "grid":
        size = grid_size(experiment.dimensions, experiment.file)
        return min(wanted or size, size)
    return wanted or 100


def _key(params: Mapping[str, Any], paths: Sequence[str]) -> tuple[str, ...]:
    return tuple(json.dumps(params.get(p), sort_keys=True) for p in paths)


def _enqueue_grid(study: optuna.Study, experiment: Experiment, wanted: int,
                  seed: int | None) -> int:
    """Queue the grid points no finished or queued trial covers, up to ``wanted`` in all.

    Returns:
        How many trials are queued now (waiting to run).
    """
    points = _grid_points(experiment)
    if seed is not None:
        random.Random(seed).shuffle(points)
    paths = [d.path for d in experiment.dimensions]
    trials = study.get_trials(deepcopy=False)
    done = {_key(t.params, paths) for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    waiting = [t for t in trials if t.state == optuna.trial.TrialState.WAITING]
    queued = {_key(t.system_attrs.get("fixed_params") or {}, paths) for t in waiting}
    missing = [p for p in points if _key(p, paths) not in done | queued]
    room = max(0, wanted - len(done) - len(waiting))
    for point in missing[:room]:
        study.enqueue_trial(point, skip_if_exists=False)
    return len(waiting) + min(room, len(missing))


def _take(tickets: Any) -> bool:
    """Take one of the trials left to run (a shared count), if any is left."""
    with tickets.get_lock():
        if tickets.value <= 0:
            return False
        tickets.value -= 1
        return True


def _run_share(study: optuna.Study, objective: Callable[[optuna.Trial], Sequence[float]],
               tickets: Any, deadline: float | None,
               callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
               ) -> None:
    """Run trials one at a time while tickets are left and the deadline (``time.time()``) is
    not reached."""
    while (deadline is None or time.time() < deadline) and _take(tickets):
        study.optimize(objective, n_trials=1, callbacks=list(callbacks))


def _worker(experiment: Experiment, storage_ref: str, study_name: str, tickets: Any,
            sampler: str, seed: int | None, deadline: float | None, verbosity: int) -> None:
    """One worker process: open the shared study and run trials while tickets are left.

    ``verbosity`` is optuna's in the parent: a spawned process starts at optuna's default, and
    logs as its parent was told to (the caller, not dse, chooses it)."""
    optuna.logging.set_verbosity(verbosity)
    liveness = Liveness(Path(storage_ref.removeprefix("journal:"))) \
        if storage_ref.startswith("journal:") else None
    try:
        goals, limits = objectives(experiment), constraints(experiment)
        study = optuna.load_study(study_name=study_name, storage=reopen(storage_ref),
                                  sampler=_sampler(sampler, seed, experiment, bool(limits)))
        _run_share(study, _objective(experiment, goals, limits, None), tickets, deadline)
    finally:
        if liveness is not None:
            liveness.close()


def _max_workers() -> int:
    return max(4, 4 * (os.cpu_count() or 1))


def _settings(experiment: Experiment, trials: int | None, timeout_s: float | None,
              workers: int, sampler: str | None, seed: int | None,
              n_goals: int) -> tuple[int | None, str, int | None]:
    """The trials wanted (``None``: a grid's size), the sampler and the seed, validated."""
    search = experiment.search
    problems = []
    want: Any
    if trials is not None:
        where, want = ("--trials", ""), trials
    else:
        where, want = (experiment.file, "search.trials"), search.trials
    if want is not None and (isinstance(want, bool) or not isinstance(want, int)
                             or not 1 <= want <= MAX_TRIALS):
        problems.append(Problem(*where, f"must be a whole number from 1 to {MAX_TRIALS:,}, "
                                f"got {want!r}"))
    if not isinstance(workers, int) or not 1 <= workers <= _max_workers():
        problems.append(Problem("--workers", "", f"must be from 1 to {_max_workers()} (4 per "
                                f"CPU core), got {workers!r}"))
    if timeout_s is not None and not (isinstance(timeout_s, int | float)
                                      and 0 < timeout_s < float("inf")):
        problems.append(Problem("--timeout", "", f"must be a number of seconds > 0, got "
                                f"{timeout_s!r}"))
    if problems:
        raise SpecError(problems)
    name = sampler or search.sampler or ("nsga2" if n_goals > 1 else "tpe")
    if name not in SAMPLER_FACTORIES:
        where = ("--sampler", "") if sampler else (experiment.file, "search.sampler")
        raise SpecError([Problem(*where, did_you_mean(name, SAMPLER_FACTORIES,
                                                      what="sampler"))])
    return want, name, seed if seed is not None else search.seed


def explore(experiment: Experiment | str | Path | Mapping[str, Any], *,
            trials: int | None = None, timeout_s: float | None = None,
            storage: str | None = None, workers: int = 1, sampler: str | None = None,
            seed: int | None = None, out: str | Path | None = None,
            catalog: Catalog | None = None,
            callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
            fresh: bool = False,
            resume_anyway: bool = False) -> ExploreResult:
    """Search an experiment's dimensions with Optuna.

    A study resumes where it stopped, but only with the experiment it was made of: the study
    stores a fingerprint of the experiment (everything but ``search``), and a changed
    experiment is refused unless ``fresh`` or ``resume_anyway``. More trials (``trials``,
    ``search.trials``) is not a change: it is how a study is extended.

    Args:
        experiment: A loaded experiment, a YAML path or a mapping.
        trials: Total finished trials wanted, 1 to 100,000 (default: ``search.trials``, else
            100; a grid search: the grid size). A resumed study only runs what is missing.
        timeout_s: Stop starting trials after this long (> 0).
        storage: An Optuna storage URL (``postgresql+psycopg2://...``); default: a journal
            file in ``out``.
        workers: Local worker processes sharing the study (1 to 4 per CPU core): this one
            and ``workers - 1`` more, taking trials one at a time (forked on a journal,
            spawned for a storage URL).
        sampler: ``tpe``, ``nsga2``, ``random``, ``grid`` or a registered plug-in's name
            (:data:`SAMPLER_FACTORIES`; default: ``search.sampler``, else ``tpe``, or ``nsga2``
            for several objectives). A grid runs every point exactly
            once, however many workers share it.
        seed: Sampler seed (default: ``search.seed``); with one worker a seed reproduces a
            study exactly.
        out: Output folder (default: ``out/<experiment name>``).
        catalog: Device catalog (default: the built-in one).
        callbacks: Called after every trial of this process (progress bars).
        fresh: Start a new study: the old journal is moved aside to
            ``NAME.journal.old-<UTC time>`` (a study in a storage URL is deleted).
        resume_anyway: Resume even though the experiment changed.

    Raises:
        SpecError: The experiment, its objectives, constraints or search settings are invalid.
        DseError: The storage cannot be opened; the study was made of a different experiment.
        UsageError: A custom ``catalog`` with more than one worker.
    """
    experiment = resolve_experiment(experiment if isinstance(experiment, Experiment)
                                    else load_experiment(experiment), catalog=catalog)
    goals, limits = objectives(experiment), constraints(experiment)
    wanted, sampler, seed = _settings(experiment, trials, timeout_s, workers, sampler, seed,
                                      len(goals))
    if fresh and resume_anyway:
        raise SpecError([Problem("--fresh", "", "give --fresh or --resume-anyway, not both")])
    grid = sampler == "grid"
    total = planned_trials(experiment, trials=wanted, sampler=sampler)
    out_dir = Path(out) if out is not None else Path("out") / experiment.name
    opened = open_storage(storage, out_dir, experiment.name, fresh=fresh)
    try:
        notes = list(opened.notes)
        store, name = opened.storage, experiment.name
        try:
            study_id: int | None = store.get_study_id_from_name(name)
        except KeyError:
            study_id = None
        if study_id is not None:
            note = _check_same(store, study_id, experiment, name,
                               str(opened.journal or storage), resume_anyway)
            notes.extend([note] if note else [])
            if opened.alone and fail_zombies(store, name):
                notes.append("trials left running by a dead worker were marked FAIL "
                             f"(reason: {WORKER_DIED!r})")
        study = optuna.create_study(
            study_name=name, storage=store, load_if_exists=True,
            directions=[g.direction for g in goals],
            sampler=_sampler(sampler, seed, experiment, bool(limits)))
        _record(study, experiment, goals)
        if grid:
            remaining = _enqueue_grid(study, experiment, total, seed)
            done = total - remaining
        else:
            done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
            remaining = max(0, total - done)
        logger.info("study %s: %d trials done, %d to run", name, done, remaining)
        start = time.perf_counter()
        if remaining and workers == 1:
            study.optimize(_objective(experiment, goals, limits, catalog), n_trials=remaining,
                           timeout=timeout_s, callbacks=list(callbacks))
        elif remaining:
            if catalog is not None:
                raise UsageError("a custom catalog cannot be sent to worker processes; "
                                 "give workers=1 with it")
            _run_workers(study, experiment, opened.ref, remaining, workers, sampler, seed,
                         timeout_s, _objective(experiment, goals, limits, None), callbacks)
        logger.info("ran %d trials in %.1f s", remaining, time.perf_counter() - start)
    finally:
        opened.close()
    table = trials_table(study, experiment, goals)
    front = pareto_table(table, goals)
    return ExploreResult(experiment, study, table, front, goals, limits, out_dir, tuple(notes))


def _run_workers(study: optuna.Study, experiment: Experiment, storage_ref: str, remaining: int,
                 workers: int, sampler: str, seed: int | None, timeout_s: float | None,
                 objective: Callable[[optuna.Trial], Sequence[float]],
                 callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]],
                 ) -> None:
    """Run ``remaining`` trials in this process and ``workers - 1`` more processes sharing the
    study.

    The trials are handed out one at a time from a shared count, so no process waits on a
    share of another (a spawned process first imports dse, seconds; this process, which has
    everything loaded, runs trials meanwhile). The workers get the experiment object
    itself (overrides and all), never its file; worker ``i`` samples with ``seed + i``.

    On a journal where the platform can ``fork``, workers are forked: they start with this
    process's modules and planning caches (:mod:`dse.sim.memo`) instead of importing dse and
    building the workload again (seconds of a short study). A storage URL's workers are
    spawned, since a forked process would share the database connections of this one.
    """
    fork = storage_ref.startswith("journal:") and \
        "fork" in multiprocessing.get_all_start_methods()
    ctx: Any = multiprocessing.get_context("fork" if fork else "spawn")
    tickets = ctx.Value("q", remaining)
    deadline = None if timeout_s is None else time.time() + timeout_s
    procs = [ctx.Process(target=_worker, args=(experiment, storage_ref, study.study_name,
                                               tickets, sampler,
                                               None if seed is None else seed + i, deadline,
                                               optuna.logging.get_verbosity()),
                         daemon=False)
             for i in range(1, min(workers, remaining))]
    for p in procs:
        p.start()
    try:
        _run_share(study, objective, tickets, deadline, callbacks)
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
