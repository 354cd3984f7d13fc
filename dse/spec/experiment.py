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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from dse.errors import Problem, SpecError
from dse.spec.loading import load_yaml, validate
from dse.spec.sources import Frozen
from dse.spec.units import Seconds

__all__ = [
    "Dimension",
    "Execution",
    "Experiment",
    "ExperimentConfig",
    "PlatformRef",
    "Stage",
    "Stream",
    "WorkloadRef",
    "load_experiment",
    "parse_override",
]

#: Paths whose value is a list by nature (never a search dimension).
LIST_PATHS = ("workloads", "execution.devices", "execution.stages", "objectives",
              "workloads.*.devices", "platform.devices.*.sources", "platform.devices.*.supported_ops",
              "platform.devices.*.slot_speedup", "platform.devices.*.power.dvfs",
              "search.storage_args")


class WorkloadRef(Frozen):
    """One workload: a zoo model or an ONNX file, at a precision.

    Attributes:
        zoo: Zoo model name (with ``options``), or
        onnx: Path of an ONNX file, relative to the experiment file.
        precision: Default: the first precision of the device running it.
        name: Label in metrics (default: the zoo name or file stem).
        devices: Devices this workload may run on (default: every device of the policy).
    """

    zoo: str | None = None
    onnx: str | None = None
    precision: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    devices: tuple[str, ...] | None = None

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

    host: str
    accelerators: dict[str, Any] = Field(default_factory=dict)
    link: str | None = None
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    runtimes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_runtime_each(self) -> PlatformRef:
        problems = []
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
    encoding the search can vary (the last stage: to the end)."""

    device: str
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
        queue_depth: Capacity of the queue between pipeline stages.
        mapping: Layer name, op type or op class -> device (``mapping``); the rest run on the
            first device.
        preprocess_s / postprocess_s: Host CPU time per frame before and after inference.
        cocompiled: Workloads sharing a device were compiled together and split its on-chip
            memory (Edge TPU co-compilation); otherwise switching models reloads the weights.
        dvfs: Device name -> DVFS level.
    """

    policy: str = "single"
    devices: tuple[str, ...] | None = None
    threads: PositiveInt = Field(default=1, validation_alias=AliasChoices(
        "threads", "threads_per_device"))
    infer_requests: PositiveInt | None = None
    intra_op_threads: PositiveInt | None = None
    dispatch: Literal["work_stealing", "round_robin"] = "work_stealing"
    stages: tuple[Stage, ...] = ()
    queue_depth: PositiveInt = 2
    mapping: dict[str, str] = Field(default_factory=dict)
    preprocess_s: Seconds = Field(default=0.0, ge=0)
    postprocess_s: Seconds = Field(default=0.0, ge=0)
    cocompiled: bool = True
    dvfs: dict[str, str] = Field(default_factory=dict)

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        from dse.sim.policies import policy_names

        if value not in policy_names():
            raise ValueError(f"unknown policy {value!r}; known policies: "
                             f"{', '.join(policy_names())}")
        return value


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

    frames: PositiveInt = 200
    warmup: NonNegativeInt | None = None
    fps: PositiveFloat | None = None
    arrival: Literal["periodic", "poisson"] = "periodic"
    seed: int = 0
    jitter: float | None = Field(default=None, ge=0, lt=1)

    @model_validator(mode="after")
    def _warmup_below_frames(self) -> Stream:
        if self.warmup is not None and self.warmup >= self.frames:
            raise ValueError(f"warmup: must be < frames ({self.frames}), got {self.warmup}")
        return self

    @property
    def warmup_frames(self) -> int:
        return self.warmup if self.warmup is not None else self.frames // 10


class ExperimentConfig(Frozen):
    """One fully fixed configuration of an experiment (no dimensions left).

    ``calibration``: ``shipped`` (the default) runs the devices with the overlays fitted to
    measured data (``calibration/overlays``); ``datasheet`` runs them as their datasheets
    describe them.
    """

    name: str = Field(min_length=1)
    description: str = ""
    calibration: Literal["shipped", "datasheet"] = "shipped"
    workloads: tuple[WorkloadRef, ...] = Field(min_length=1)
    platform: PlatformRef
    execution: Execution = Field(default_factory=Execution)
    stream: Stream = Field(default_factory=Stream)
    objectives: tuple[dict[str, str], ...] = ()
    constraints: dict[str, dict[str, float]] = Field(default_factory=dict)
    search: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _one_or_many_workloads(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "workload" in data:
            data = dict(data)
            if "workloads" in data:
                raise ValueError("give workload: or workloads:, not both")
            data["workloads"] = [data.pop("workload")]
        return data


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


@dataclass
class Experiment:
    """An experiment file: raw data with its dimensions, not yet fixed.

    Attributes:
        file: Where it came from (for messages and relative ONNX paths).
        data: The YAML data, overrides applied.
        dimensions: The values the search may vary.
    """

    file: str
    data: dict[str, Any]
    dimensions: tuple[Dimension, ...] = field(default=())

    @property
    def name(self) -> str:
        return str(self.data.get("name", Path(self.file).stem))

    def fixed(self, choices: Mapping[str, Any] | None = None) -> ExperimentConfig:
        """The configuration with one value per dimension (default: each one's first).

        Raises:
            SpecError: The result is invalid; every problem, with file and YAML path.
        """
        data = copy.deepcopy(self.data)
        choices = dict(choices or {})
        unknown = set(choices) - {d.path for d in self.dimensions}
        if unknown:
            raise SpecError([Problem(self.file, p, "not a search dimension of this experiment; "
                                     f"dimensions: {', '.join(d.path for d in self.dimensions)}")
                             for p in sorted(unknown)])
        for dim in self.dimensions:
            _set_path(data, dim.path, choices.get(dim.path, dim.first))
        config, problems = validate(ExperimentConfig, data, file=self.file)
        if config is None:
            raise SpecError(problems)
        return config


def load_experiment(source: str | Path | Mapping[str, Any], *,
                    overrides: Mapping[str, Any] | Sequence[str] | None = None) -> Experiment:
    """Read an experiment YAML (or a mapping) and check its first configuration.

    Args:
        source: Path of the YAML file, or the data itself.
        overrides: ``{"platform.accelerators.ncs2.count": 2}`` or ``["path=value", ...]``
            (values parsed as YAML), applied before anything is checked.

    Raises:
        SpecError: Every problem at once, each with the file and the YAML path.
    """
    problems: list[Problem]
    if isinstance(source, Mapping):
        file, data, problems = "<experiment>", copy.deepcopy(dict(source)), []
    else:
        file = str(source)
        data, problems = load_yaml(source)
        if not problems and not isinstance(data, dict):
            problems = [Problem(file, "", f"expected a mapping of keys to values, got "
                                f"{'an empty file' if data is None else type(data).__name__}")]
    if problems:
        raise SpecError(problems)
    data.setdefault("name", Path(file).stem if file != "<experiment>" else "experiment")
    problems = []
    for path, value in _overrides(overrides, file, problems):
        _set_path(data, path, value)
    if problems:
        raise SpecError(problems)
    dims, problems = _dimensions(data, file)
    if problems:
        raise SpecError(problems)
    experiment = Experiment(file, data, tuple(dims))
    experiment.fixed()  # every problem of the first configuration, now
    return experiment


def parse_override(text: str) -> tuple[str, Any]:
    """``"platform.accelerators.ncs2.count=2"`` -> (path, 2); the value is parsed as YAML.

    Raises:
        ValueError: Not ``PATH=VALUE``.
    """
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ValueError(f"expected PATH=VALUE such as platform.accelerators.ncs2.count=2, "
                         f"got {text!r}")
    try:
        return path.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        return path.strip(), value


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
                problems.append(Problem("--set", item, str(exc)))
        else:
            yield item


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    node: Any = data
    *parents, leaf = path.split(".")
    for part in parents:
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
            continue
        child = node.get(part)
        if not isinstance(child, dict | list):
            child = {}
            node[part] = child
        node = child
    if isinstance(node, list) and leaf.isdigit():
        node[int(leaf)] = value
    else:
        node[leaf] = value


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
        generic = path.split(".")
        generic = [g if not g.isdigit() else "*" for g in generic]
        if isinstance(value, dict) and ({"choices"} <= set(value) or {"min", "max"} <= set(value)):
            dim, problem = _explicit(path, value, file)
            dims += [dim] if dim else []
            problems += [problem] if problem else []
        elif isinstance(value, list) and not _is_list_path(path) and not _is_list_path(
                ".".join(generic)):
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


def _implicit(path: str, values: list[Any], file: str) -> tuple[Dimension | None, Problem | None]:
    if not values:
        return None, Problem(file, path, "an empty list is not a value; give a value, or a list "
                             "of choices")
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
        return Dimension(path, "choice", choices=tuple(choices)), None
    extra = set(spec) - {"min", "max", "step", "log"}
    if extra:
        return None, Problem(file, path, f"expected {{min, max, step, log}}, got unknown keys "
                             f"{sorted(extra)}")
    low, high, step = spec["min"], spec["max"], spec.get("step")
    if not (_number(low) and _number(high)) or low > high:
        return None, Problem(file, path, f"expected numbers min <= max, got min {low!r}, "
                             f"max {high!r}")
    if step is not None and (not _number(step) or step <= 0):
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
