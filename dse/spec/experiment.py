"""Experiment YAML: what to simulate, and which values the search may vary.

An experiment names a workload (or several, alternating on one stream), a platform (a catalog
platform, or a host plus accelerators), an execution policy with its parameters, a frame stream,
and, for ``dse explore``, objectives, constraints and search settings.

A fixed value is fixed. A *dimension* is a value the search varies:

- a list where the schema wants one value is a categorical choice: ``policy: [data_parallel,
  threads]``, ``count: [1, 2, 4]``;
- ``{min: 1, max: 4}`` (optionally ``step``, ``log: true``) is a numeric range: integers if the
  bounds and step are integers, floats otherwise;
- ``{choices: [...]}`` says "choice" explicitly, for values that are lists themselves
  (``devices: {choices: [[gpu], [gpu, npu]]}``).

:meth:`Experiment.fixed` picks one value per dimension (by default the first, the low end of a
range) and validates the result as an :class:`ExperimentConfig`: ``dse simulate`` runs that.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    FiniteFloat,
    StrictBool,
    field_validator,
    model_validator,
)

from dse.errors import Problem, SpecError, did_you_mean
from dse.spec.loading import load_yaml, load_yaml_text, validate
from dse.spec.platform import MAX_DEVICES, AcceleratorGroup
from dse.spec.samplers import SAMPLERS, sampler_names
from dse.spec.sources import Frozen
from dse.spec.units import Seconds

__all__ = [
    "METRICS",
    "SAMPLERS",
    "Constraint",
    "Dimension",
    "Execution",
    "Experiment",
    "ExperimentConfig",
    "Objective",
    "PlatformRef",
    "SearchSettings",
    "Stage",
    "Stream",
    "WorkloadRef",
    "is_sweep_data",
    "load_experiment",
    "parse_override",
]

#: Paths whose value is a list by nature (never a search dimension).
LIST_PATHS = ("workloads", "execution.devices", "execution.stages", "objectives",
              "workloads.*.devices")

#: Under these paths a list is a value (a what-if device's tables, sources, DVFS levels); only
#: the explicit ``{choices: [...]}`` and ``{min, max}`` forms are search dimensions there.
VALUE_TREES = ("platform.devices",)

#: Sections no search varies: what is asked and how, not the system.
NOT_SEARCHED = ("name", "description", "objectives", "constraints", "search")

# Bounds on every count and size an experiment gives, checked before anything is built.
#: Frames of one stream.
MAX_FRAMES = 100_000
#: Host threads, infer requests and intra-op threads per device; queue depth.
MAX_THREADS = 256
#: Workloads of one experiment; pipeline stages; mapping entries.
MAX_WORKLOADS = 16
MAX_STAGES = 64
MAX_MAPPING = 10_000
#: Search dimensions, choices of one dimension, values checked at load.
MAX_DIMENSIONS = 32
MAX_CHOICES = 1_000
MAX_CHECKED_VALUES = 4_000
#: Characters of one ``--set PATH=VALUE``.
MAX_OVERRIDE = 10_000
#: Trials of one study.
MAX_TRIALS = 100_000
#: Seeds are unsigned 32-bit (numpy's ``default_rng`` and Optuna accept them all).
MAX_SEED = 2**32 - 1
#: The magnitude of a range's ends.
MAX_RANGE = 1e15
#: Host time per frame, and the arrival rate.
MAX_SECONDS = 3600.0
MAX_FPS = 1e6

#: Metric name -> (its key in a report dict, a path inside it), as ``dse simulate --json``
#: writes them; objectives and constraints name these (or an alias).
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
METRIC_ALIASES = {"throughput": "throughput_fps", "energy_per_inference": "energy_per_inference_j",
                  "power_w": "average_power_w", "power": "average_power_w", "price": "price_usd",
                  "latency_p99": "latency_p99_ms", "latency_p95": "latency_p95_ms",
                  "latency_p50": "latency_p50_ms"}


def _metric(name: str) -> str:
    name = METRIC_ALIASES.get(name, name)
    if name not in METRICS:
        raise ValueError(did_you_mean(name, METRICS, what="metric"))
    return name


#: A metric name (an alias is read as the metric it names).
Metric = Annotated[str, AfterValidator(_metric)]


class WorkloadRef(Frozen):
    """One workload: a zoo model or an ONNX file, at a precision.

    Attributes:
        zoo: Zoo model name (with ``options``), or
        onnx: Path of an ONNX file, relative to the experiment file.
        precision: Default: the first precision of the device running it.
        options: Zoo model options (``{resolution: 160, width: 0.5}``; ``dse workloads show
            NAME`` lists them), or ONNX input shapes.
        name: Label in metrics (default: the zoo name or file stem).
        devices: Devices this workload may run on (default: every device of the policy).
    """

    zoo: str | None = Field(default=None, min_length=1, max_length=64)
    onnx: str | None = Field(default=None, min_length=1, max_length=4096)
    precision: str | None = Field(default=None, max_length=32)
    options: dict[str, Any] = Field(default_factory=dict, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    devices: tuple[str, ...] | None = Field(default=None, max_length=MAX_DEVICES)

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadRef:
        if (self.zoo is None) == (self.onnx is None):
            raise ValueError("give exactly one of zoo: NAME or onnx: PATH")
        return self

    @property
    def label(self) -> str:
        return self.name or self.zoo or Path(self.onnx or "").stem


class PlatformRef(Frozen):
    """The platform: a catalog platform (or a CPU device) plus accelerators, and the runtime
    each device runs.

    Attributes:
        host: A catalog platform (``raspberry_pi4``) or host CPU device.
        accelerators: Device name -> count, or ``{count, link, runtime}``, added to the host's.
        link: Link for added accelerators that do not name one (``usb3_hub``).
        devices: What-if devices defined here (``{base: coral_usb, onchip_mem_bytes: 16 MiB}``),
            usable by name in ``accelerators``.
        runtimes: Device on the platform (a host CPU cluster, or an accelerator, also one the
            host platform brings) -> the runtime it runs (``{rpi4_cpu: ncnn_cpu}``). A device
            named in neither this nor its accelerator group runs its ``default_runtime``.
    """

    host: str = Field(min_length=1, max_length=128)
    accelerators: dict[str, Any] = Field(default_factory=dict, max_length=MAX_DEVICES)
    link: str | None = Field(default=None, max_length=128)
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict, max_length=MAX_DEVICES)
    runtimes: dict[str, str] = Field(default_factory=dict, max_length=MAX_DEVICES)

    @model_validator(mode="after")
    def _one_runtime_each(self) -> PlatformRef:
        problems = []
        for name, group in self.groups.items():
            if not isinstance(group, int | Mapping) or isinstance(group, bool):
                problems.append(f"accelerators.{name}: expected a count or {{count, link, "
                                f"runtime}}, got {group!r:.80}")
                continue
            _, found = validate(AcceleratorGroup, {"count": group} if isinstance(group, int)
                                else dict(group), file="", prefix=f"accelerators.{name}")
            problems += [f"{p.path}: {p.message}" for p in found]
        for name, device in self.devices.items():
            base = device.get("base")
            if base is not None and not (isinstance(base, str) and 0 < len(base) <= 128):
                problems.append(f"devices.{name}.base: expected the name of a catalog device, "
                                f"got {base!r:.80}")
        for name, group in self.accelerators.items():
            if not isinstance(group, Mapping) or "runtime" not in group:
                continue
            runtime = group["runtime"]
            if not isinstance(runtime, str) or not runtime:
                problems.append(f"accelerators.{name}.runtime: expected a runtime name, got "
                                f"{runtime!r}")
            elif self.runtimes.get(name, runtime) != runtime:
                problems.append(f"runtimes.{name}: {self.runtimes[name]!r} disagrees with "
                                f"accelerators.{name}.runtime {runtime!r}; give one")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def groups(self) -> dict[str, Any]:
        """``accelerators`` without the runtimes (what a platform is composed of)."""
        return {name: {k: v for k, v in group.items() if k != "runtime"}
                if isinstance(group, Mapping) else group
                for name, group in self.accelerators.items()}

    def stated_runtimes(self) -> dict[str, tuple[str, str]]:
        """Device -> (the runtime the experiment states for it, the YAML path stating it)."""
        out = {name: (runtime, f"platform.runtimes.{name}")
               for name, runtime in self.runtimes.items()}
        for name, group in self.accelerators.items():
            if isinstance(group, Mapping) and isinstance(group.get("runtime"), str):
                out[name] = (group["runtime"], f"platform.accelerators.{name}.runtime")
        return out


class Stage(Frozen):
    """One pipeline stage: layers up to and including the layer named ``until``, or up to where
    the cumulative weight bytes reach the fraction ``until`` (0..1) of the model's, a compact
    encoding the search can vary (the last stage: to the end).

    Attributes:
        device: The device (or device instance, ``coral_usb:1``) running the stage.
        until: The last layer of the stage, or the fraction of the weights (0..1) it ends at;
            none for the last stage.
    """

    device: str = Field(min_length=1, max_length=128)
    until: str | Annotated[float, Field(ge=0, le=1)] | None = None


class Execution(Frozen):
    """How frames are executed on the platform.

    Attributes:
        policy: ``single``, ``threads``, ``data_parallel``, ``coexec``, ``pipeline`` or
            ``mapping`` (see :mod:`dse.sim.policies`).
        devices: Device instances or names taking part (default: every accelerator; the host
            CPU if there is none). For ``coexec``, host CPU clusters may be listed too.
        threads: Host threads submitting frames, per device (``threads_per_device`` is the
            same key, as DESIGN.md writes it).
        infer_requests: Inferences in flight per device (default: the device's slots).
        intra_op_threads: Threads of one inference on a host CPU cluster (ONNX Runtime's
            ``intra_op_num_threads``, ncnn's ``num_threads``; default: all the cluster's cores).
            A cluster with ``c`` cores then runs ``c // intra_op_threads`` inferences at once,
            sharing its memory bandwidth.
        dispatch: ``work_stealing`` (idle workers pull from one queue) or ``round_robin``.
        stages: Pipeline stages (``pipeline``).
        queue_depth: Capacity of the queue between pipeline stages (``pipeline``).
        mapping: Layer name, op type or op class -> device (``mapping``); the rest run on the
            first device.
        preprocess_s / postprocess_s: Host CPU time per frame before and after inference.
        cocompiled: Workloads sharing a device were compiled together and split its on-chip
            memory (Edge TPU co-compilation); otherwise switching models reloads the weights.
        dvfs: Device name -> DVFS level.
    """

    policy: str = Field(default="single", min_length=1, max_length=64)
    devices: tuple[str, ...] | None = Field(default=None, min_length=1,
                                            max_length=MAX_DEVICES * 4)
    threads: int = Field(default=1, ge=1, le=MAX_THREADS, validation_alias=AliasChoices(
        "threads", "threads_per_device"))
    infer_requests: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    intra_op_threads: int | None = Field(default=None, ge=1, le=MAX_THREADS)
    dispatch: Literal["work_stealing", "round_robin"] = "work_stealing"
    stages: tuple[Stage, ...] = Field(default=(), max_length=MAX_STAGES)
    queue_depth: int = Field(default=2, ge=1, le=MAX_THREADS)
    mapping: dict[str, str] = Field(default_factory=dict, max_length=MAX_MAPPING)
    preprocess_s: Seconds = Field(default=0.0, ge=0, le=MAX_SECONDS)
    postprocess_s: Seconds = Field(default=0.0, ge=0, le=MAX_SECONDS)
    cocompiled: StrictBool = True
    dvfs: dict[str, str] = Field(default_factory=dict, max_length=MAX_DEVICES)


class Stream(Frozen):
    """The frames.

    Attributes:
        frames: Frames to run.
        warmup: Frames excluded from steady-state metrics (default: 10% of ``frames``).
        fps: Arrival rate (open loop); ``None``: closed loop, frames as fast as possible.
        arrival: ``periodic`` or ``poisson`` (open loop).
        seed: Seed of every random choice (Poisson arrivals, service times).
        jitter: ``None`` (the default): each service time follows its target's spread
            (``latency_spread``, :mod:`dse.spec.spread`). A number overrides every target's
            spread: each step's time is multiplied by a mean-1 log-normal of that sigma (0:
            deterministic, every step takes the cost model's time).
    """

    frames: int = Field(default=200, ge=1, le=MAX_FRAMES)
    warmup: int | None = Field(default=None, ge=0, le=MAX_FRAMES)
    fps: float | None = Field(default=None, gt=0, le=MAX_FPS)
    arrival: Literal["periodic", "poisson"] = "periodic"
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    jitter: float | None = Field(default=None, ge=0, lt=1)

    @model_validator(mode="after")
    def _warmup_below_frames(self) -> Stream:
        if self.warmup is not None and self.warmup >= self.frames:
            raise ValueError(f"warmup: must be < frames ({self.frames}), got {self.warmup}")
        return self

    @property
    def warmup_frames(self) -> int:
        return self.warmup if self.warmup is not None else self.frames // 10


@dataclass(frozen=True)
class Objective:
    """Maximize or minimize one metric."""

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

    def __str__(self) -> str:
        return f"{self.metric} {'<=' if self.kind == 'max' else '>='} {self.bound:g}"


class ObjectiveEntry(Frozen):
    """One objective as YAML writes it: ``{maximize: METRIC}`` or ``{minimize: METRIC}``.

    Attributes:
        maximize: A metric to make as large as possible (``throughput_fps``).
        minimize: A metric to make as small as possible (``energy_per_inference_j``).
    """

    maximize: Metric | None = None
    minimize: Metric | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> ObjectiveEntry:
        if (self.maximize is None) == (self.minimize is None):
            raise ValueError("expected {maximize: METRIC} or {minimize: METRIC}")
        return self

    @property
    def objective(self) -> Objective:
        if self.maximize is not None:
            return Objective(self.maximize, "maximize")
        assert self.minimize is not None
        return Objective(self.minimize, "minimize")


class Bounds(Frozen):
    """The bounds of one constrained metric: ``{max: X}`` and/or ``{min: X}``.

    Attributes:
        min: The metric must be at least this.
        max: The metric must be at most this.
    """

    min: FiniteFloat | None = None
    max: FiniteFloat | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("expected {max: X} and/or {min: X}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} > max {self.max:g}")
        return self


class SearchSettings(Frozen):
    """How ``dse explore`` searches.

    Attributes:
        trials: Finished trials wanted (default 100; a grid search: the grid size).
        sampler: ``tpe``, ``nsga2``, ``random``, ``grid`` or a plug-in's name (entry-point group
            ``dse.samplers``) (default: ``tpe``, or ``nsga2`` for several objectives).
        seed: Sampler seed; with one worker a seed reproduces a study exactly.
    """

    trials: int | None = Field(default=None, ge=1, le=MAX_TRIALS)
    sampler: str | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, value: str | None) -> str | None:
        if value is not None and value not in sampler_names():
            raise ValueError(did_you_mean(value, sampler_names(), what="sampler"))
        return value


class ExperimentConfig(Frozen):
    """One fully fixed configuration of an experiment (no dimensions left).

    ``calibration``: ``shipped`` (the default) runs the devices with the overlays fitted to
    measured data (``calibration/overlays``); ``datasheet`` runs them as their datasheets
    describe them.

    Attributes:
        name: The study's name (default: the file's stem): letters, digits, ``_``, ``.``,
            ``-``; a name, never a path (outputs go to ``--out``).
        description: One line on what the experiment compares.
        calibration: ``shipped`` or ``datasheet`` devices.
        workloads: The workloads (``workload:`` for one), alternating on one stream.
        platform: The host, its accelerators and their runtimes.
        execution: How frames run on the platform (the policy and its parameters).
        stream: The frames.
        objectives: What ``dse explore`` optimises: ``{maximize: METRIC}`` or ``{minimize:
            METRIC}`` (default: maximize throughput_fps); metrics as ``dse simulate --json``
            names them.
        constraints: ``METRIC: {max: X}`` and/or ``{min: X}``: a trial that breaks one is
            infeasible.
        search: How ``dse explore`` searches (trials, sampler, seed).
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = Field(default="", max_length=10_000)
    calibration: Literal["shipped", "datasheet"] = "shipped"
    workloads: tuple[WorkloadRef, ...] = Field(min_length=1, max_length=MAX_WORKLOADS)
    platform: PlatformRef
    execution: Execution = Field(default_factory=Execution)
    stream: Stream = Field(default_factory=Stream)
    objectives: tuple[ObjectiveEntry, ...] = Field(default=(), max_length=8)
    constraints: dict[Metric, Bounds] = Field(default_factory=dict, max_length=len(METRICS))
    search: SearchSettings = Field(default_factory=SearchSettings)

    @model_validator(mode="before")
    @classmethod
    def _one_or_many_workloads(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "workload" in data:
            data = dict(data)
            if "workloads" in data:
                raise ValueError("give workload: or workloads:, not both")
            data["workloads"] = [data.pop("workload")]
        return data

    @property
    def goals(self) -> tuple[Objective, ...]:
        """The objectives (default: maximize throughput)."""
        return tuple(o.objective for o in self.objectives) or (
            Objective("throughput_fps", "maximize"),)

    @property
    def limits(self) -> tuple[Constraint, ...]:
        """The constraints, one per bound."""
        out = []
        for metric, b in self.constraints.items():
            if b.min is not None:
                out.append(Constraint(metric, "min", float(b.min)))
            if b.max is not None:
                out.append(Constraint(metric, "max", float(b.max)))
        return tuple(out)


@dataclass(frozen=True)
class Dimension:
    """One value the search varies.

    Attributes:
        path: YAML path (``platform.accelerators.ncs2.count``).
        kind: ``int``, ``float`` (a range) or ``choice``.
    """

    path: str
    kind: Literal["int", "float", "choice"]
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False
    step: float | None = None

    @property
    def first(self) -> Any:
        """The value ``dse simulate`` uses: the first choice, the low end of a range."""
        if self.kind == "choice":
            return self.choices[0]
        return int(self.low) if self.kind == "int" else self.low  # type: ignore[arg-type]

    @property
    def ends(self) -> tuple[Any, ...]:
        """Values that stand for the whole dimension when checking it: every choice, or both
        ends of a range (the last point on the step grid)."""
        if self.kind == "choice":
            return self.choices
        assert self.low is not None and self.high is not None
        high = self.high
        if self.step:
            high = self.low + math.floor((self.high - self.low) / self.step + 1e-9) * self.step
        return (int(self.low), int(high)) if self.kind == "int" else (self.low, high)

    def check(self, value: Any) -> str:
        """Why ``value`` is not a value of this dimension ('' if it is)."""
        if self.kind == "choice":
            key = _canonical(value)
            if any(_canonical(c) == key for c in self.choices):
                return ""
            return f"{value!r:.80} is not one of the choices {list(self.choices)!r:.200}"
        assert self.low is not None and self.high is not None
        if not _number(value) or (self.kind == "int" and not float(value).is_integer()):
            return f"expected {'a whole number' if self.kind == 'int' else 'a number'}, " \
                f"got {value!r:.80}"
        if not self.low <= value <= self.high:
            return f"{value!r} is outside {self.low:g} to {self.high:g}"
        if self.step:
            k = (value - self.low) / self.step
            if abs(k - round(k)) > 1e-6:
                return f"{value!r} is not on the step {self.step:g} from {self.low:g}"
        return ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Experiment:
    """An experiment file, validated: its first configuration, the values the search may vary
    (each one checked), its objectives, constraints and search settings.

    A search substitutes checked values for the dimensions (:meth:`fixed`); nothing else of the
    experiment changes between trials. ``fingerprint`` identifies everything a study's trials
    depend on (``search`` and ``description`` excluded): a stored study compares it to refuse
    resuming with a changed experiment.

    Attributes:
        file: Where it came from (for messages and relative ONNX paths).
        config: The first configuration (each dimension at its first value).
        dimensions: The values the search may vary.
        overrides: The ``--set`` overrides applied, in order.
        resolved: Names and references were checked against the catalog and the workload graphs
            (:func:`dse.sim.resolve.resolve_experiment`).
    """

    file: str
    config: ExperimentConfig
    dimensions: tuple[Dimension, ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()
    resolved: bool = False
    _template: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def description(self) -> str:
        return self.config.description

    @property
    def calibration(self) -> str:
        return self.config.calibration

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return self.config.goals

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        return self.config.limits

    @property
    def search(self) -> SearchSettings:
        return self.config.search

    @property
    def base_dir(self) -> Path:
        """The folder relative ONNX paths are read from."""
        return Path(self.file).parent if self.file != "<experiment>" else Path(".")

    @property
    def fingerprint(self) -> str:
        """SHA-256 of what the trials depend on: the data with overrides applied, ``search``
        and ``description`` left out."""
        data = {k: v for k, v in self._template.items() if k not in ("search", "description")}
        return hashlib.sha256(_canonical(data).encode()).hexdigest()

    def yaml_data(self, choices: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The YAML data with each dimension set to its choice (default: its first value)."""
        choices = dict(choices or {})
        self._check_choices(choices)
        data = copy.deepcopy(self._template)
        for dim in self.dimensions:
            _set_path(data, dim.path, choices.get(dim.path, dim.first))
        return data

    def fixed(self, choices: Mapping[str, Any] | None = None) -> ExperimentConfig:
        """The configuration with one value per dimension (default: each one's first).

        Raises:
            SpecError: A choice is not a dimension or not one of its values; or the combination
                is invalid (every problem, with file and YAML path).
        """
        if not choices:
            return self.config
        config, problems = validate(ExperimentConfig, self.yaml_data(choices), file=self.file)
        if config is None:
            raise SpecError(problems)
        return config

    def _check_choices(self, choices: Mapping[str, Any]) -> None:
        dims = {d.path: d for d in self.dimensions}
        problems = []
        for path, value in choices.items():
            dim = dims.get(path)
            if dim is None:
                problems.append(Problem(self.file, path, "not a search dimension of this "
                                        "experiment; dimensions: " + (", ".join(dims) or "none")))
            elif why := dim.check(value):
                problems.append(Problem(self.file, path, why))
        if problems:
            raise SpecError(problems)


def is_sweep_data(data: Mapping[str, Any]) -> bool:
    """Whether YAML data is a sweep file's (:mod:`dse.spec.sweep`: a ``family`` and no
    ``workload``), which sits beside the experiments in ``experiments/``."""
    return "family" in data and "workload" not in data and "workloads" not in data


def load_experiment(source: str | Path | Mapping[str, Any], *,
                    overrides: Mapping[str, Any] | Sequence[str] | None = None,
                    file: str | None = None) -> Experiment:
    """Read an experiment YAML (or a mapping) and check it: its first configuration, and every
    value of every dimension.

    Names (devices, runtimes, policies, layers) are checked against the catalog and the
    workloads by :func:`dse.load_experiment` (:func:`dse.sim.resolve.load_experiment`), which
    calls this first.

    Args:
        source: Path of the YAML file, or the data itself.
        overrides: ``{"platform.accelerators.ncs2.count": 2}`` or ``["path=value", ...]``
            (values parsed as YAML), applied before anything is checked.
        file: The name to give a mapping in messages (default ``<experiment>``).

    Raises:
        SpecError: Every problem at once, each with the file and the YAML path.
    """
    problems: list[Problem]
    if isinstance(source, Mapping):
        file, data, problems = file or "<experiment>", copy.deepcopy(dict(source)), []
    else:
        file = str(source)
        data, problems = load_yaml(source)
        if not problems and not isinstance(data, dict):
            problems = [Problem(file, "", f"expected a mapping of keys to values, got "
                                f"{'an empty file' if data is None else type(data).__name__}")]
    if problems:
        raise SpecError(problems)
    if is_sweep_data(data):
        raise SpecError([Problem(file, "family", "this is a sweep file (a model family over "
                                 "targets), not an experiment: run it with dse sweep "
                                 f"{file}")])
    if "name" not in data:
        stem = Path(file).stem if file != "<experiment>" else "experiment"
        data["name"] = stem if _NAME.fullmatch(stem) else "experiment"
    problems = []
    applied = []
    for path, value in _overrides(overrides, file, problems):
        problem = _set_path(data, path, value, file="--set")
        if problem:
            problems.append(problem)
        else:
            applied.append((path, value))
    if problems:
        raise SpecError(problems)
    dims, problems = _dimensions(data, file)
    if len(dims) > MAX_DIMENSIONS:
        problems.append(Problem(file, "", f"at most {MAX_DIMENSIONS} search dimensions, got "
                                f"{len(dims)}"))
    if problems:
        raise SpecError(problems)
    first = copy.deepcopy(data)
    for dim in dims:
        _set_path(first, dim.path, dim.first)
    config, problems = validate(ExperimentConfig, first, file=file)
    if config is None:
        raise SpecError(problems)
    problems = _check_values(first, dims, file)
    if problems:
        raise SpecError(problems)
    return Experiment(file, config, tuple(dims), tuple(applied), _template=data)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _check_values(first: dict[str, Any], dims: Sequence[Dimension], file: str) -> list[Problem]:
    """Every value of every dimension, each in the first configuration: the problems that
    value alone causes, under the dimension's path."""
    problems: dict[tuple[str, str], Problem] = {}
    checked = 0
    for dim in dims:
        for value in dim.ends:
            if checked >= MAX_CHECKED_VALUES:
                break
            if _canonical(value) == _canonical(dim.first):
                continue
            checked += 1
            data = copy.deepcopy(first)
            _set_path(data, dim.path, value)
            _, found = validate(ExperimentConfig, data, file=file)
            for p in found:
                where = p.path if p.path.startswith(dim.path) else dim.path
                message = f"{p.message} (when {dim.path} is {value!r:.80})" \
                    if where != p.path else f"{p.message}"
                problems.setdefault((where, message), Problem(file, where, message))
    return list(problems.values())


def parse_override(text: str) -> tuple[str, Any]:
    """``"platform.accelerators.ncs2.count=2"`` -> (path, 2); the value is parsed as YAML.

    Raises:
        ValueError: Not ``PATH=VALUE``.
    """
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ValueError(f"expected PATH=VALUE such as platform.accelerators.ncs2.count=2, "
                         f"got {text[:80]!r}")
    if len(text) > MAX_OVERRIDE:
        raise ValueError(f"at most {MAX_OVERRIDE:,} characters, got {len(text):,}")
    data, problems = load_yaml_text(value, label="--set")
    if problems:
        raise ValueError("; ".join(p.message for p in problems))
    return path.strip(), data


def _overrides(overrides: Mapping[str, Any] | Sequence[str] | None, file: str,
               problems: list[Problem]) -> Iterator[tuple[str, Any]]:
    if overrides is None:
        return
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    for item in items:
        if isinstance(item, str):
            try:
                yield parse_override(item)
            except ValueError as exc:
                problems.append(Problem("--set", repr(item[:80]), str(exc)))
        else:
            yield item


def _set_path(data: dict[str, Any], path: str, value: Any, *,
              file: str | None = None) -> Problem | None:
    """Set ``value`` at the dotted ``path``, creating mappings on the way; a list index must
    exist. Returns the problem (with ``file``) instead of setting when the path cannot be."""
    node: Any = data
    parts = path.split(".")
    if len(parts) > 32 or any(not p for p in parts):
        return Problem(file or "", path, "expected a dotted YAML path such as "
                       "platform.accelerators.ncs2.count")
    *parents, leaf = parts
    for i, part in enumerate(parents):
        if isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                return Problem(file or "", ".".join(parts[:i + 1]),
                               f"expected an index below {len(node)} into the list at "
                               f"{'.'.join(parts[:i]) or 'the top'}, got {part!r:.40}")
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            return Problem(file or "", ".".join(parts[:i + 1]), f"cannot set a key inside "
                           f"{'.'.join(parts[:i])}: it is a value ({node!r:.40}), not a mapping")
        child = node.get(part)
        if not isinstance(child, dict | list):
            child = {}
            node[part] = child
        node = child
    if not isinstance(node, dict | list):
        return Problem(file or "", path, f"cannot set a key inside {'.'.join(parents)}: it is a "
                       f"value ({node!r:.40}), not a mapping")
    if isinstance(node, list):
        if not (leaf.isdigit() and int(leaf) < len(node)):
            return Problem(file or "", path, f"expected an index below {len(node)} into the "
                           f"list at {'.'.join(parents)}, got {leaf!r:.40}")
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return None


def _is_list_path(path: str) -> bool:
    parts = path.split(".")
    for pattern in LIST_PATHS:
        pat = pattern.split(".")
        if len(pat) == len(parts) and all(p == "*" or p == q for p, q in zip(pat, parts,
                                                                              strict=True)):
            return True
    return False


def _dimensions(data: Any, file: str, prefix: str = "") -> tuple[list[Dimension], list[Problem]]:
    dims: list[Dimension] = []
    problems: list[Problem] = []
    items: Iterator[tuple[str, Any]]
    if isinstance(data, dict):
        items = ((str(k), v) for k, v in data.items())
    elif isinstance(data, list) and _is_list_path(prefix.rstrip(".")):
        items = ((str(i), v) for i, v in enumerate(data))
        prefix = prefix  # elements of a list by nature: look inside them
    else:
        return dims, problems
    for key, value in items:
        path = f"{prefix}{key}"
        if path in NOT_SEARCHED:
            continue
        generic = path.split(".")
        generic = [g if not g.isdigit() else "*" for g in generic]
        if isinstance(value, dict) and ({"choices"} <= set(value) or {"min", "max"} <= set(value)):
            dim, problem = _explicit(path, value, file)
            dims += [dim] if dim else []
            problems += [problem] if problem else []
        elif isinstance(value, list) and not _is_list_path(path) and not _is_list_path(
                ".".join(generic)) and not path.startswith(tuple(f"{t}." for t in VALUE_TREES)):
            dim, problem = _implicit(path, value, file)
            dims += [dim] if dim else []
            problems += [problem] if problem else []
        else:
            sub_dims, sub_problems = _dimensions(value, file, f"{path}.")
            dims += sub_dims
            problems += sub_problems
    return dims, problems


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _finite(x: Any) -> bool:
    return _number(x) and math.isfinite(x) and abs(x) <= MAX_RANGE


def _implicit(path: str, values: list[Any], file: str) -> tuple[Dimension | None, Problem | None]:
    if not values:
        return None, Problem(file, path, "an empty list is not a value; give a value, or a list "
                             "of choices")
    if len(values) > MAX_CHOICES:
        return None, Problem(file, path, f"at most {MAX_CHOICES} choices, got {len(values)}")
    return Dimension(path, "choice", choices=tuple(values)), None


def _explicit(path: str, spec: dict[str, Any], file: str
              ) -> tuple[Dimension | None, Problem | None]:
    if "choices" in spec:
        extra = set(spec) - {"choices"}
        choices = spec["choices"]
        if extra:
            return None, Problem(file, path, f"expected {{choices: [...]}} alone, got keys "
                                 f"{sorted(spec)}")
        if not isinstance(choices, list) or not choices:
            return None, Problem(file, f"{path}.choices", "expected a non-empty list")
        if len(choices) > MAX_CHOICES:
            return None, Problem(file, f"{path}.choices", f"at most {MAX_CHOICES} choices, got "
                                 f"{len(choices)}")
        return Dimension(path, "choice", choices=tuple(choices)), None
    extra = set(spec) - {"min", "max", "step", "log"}
    if extra:
        return None, Problem(file, path, f"expected {{min, max, step, log}}, got unknown keys "
                             f"{sorted(extra)}")
    low, high, step = spec["min"], spec["max"], spec.get("step")
    if not (_finite(low) and _finite(high)) or low > high:
        return None, Problem(file, path, f"expected numbers min <= max, each of magnitude at "
                             f"most {MAX_RANGE:g}, got min {low!r:.40}, max {high!r:.40}")
    if step is not None and (not _finite(step) or step <= 0):
        return None, Problem(file, f"{path}.step", f"expected a number > 0, got {step!r}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        return None, Problem(file, f"{path}.log", f"expected true or false, got {log!r}")
    if log and low <= 0:
        return None, Problem(file, path, "a log range needs min > 0")
    if log and step is not None:
        return None, Problem(file, path, "give step or log, not both")
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) and (
        step is None or isinstance(step, int))
    return Dimension(path, "int" if ints else "float", float(low), float(high), log=log,
                     step=None if step is None else float(step)), None
