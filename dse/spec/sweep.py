"""A sweep file: what ``dse sweep FILE.yaml`` evaluates, validated once, at the boundary.

A sweep evaluates every member of a model family (or a sample of it) on a list of targets with
the batch cost model; it is not an experiment (no simulation, no search). The file states *what*
is swept; how it runs (engine, workers, output folder) is the command line's business. Like an
experiment file, it opens with comments saying the question it answers, the study it mirrors and
its assumptions.

.. code-block:: yaml

    name: edgetpu_nasbench
    description: NAS-Bench-101 on the three Edge TPU classes
    family: nasbench101
    options: {}                     # the family's options (dse sweep --option KEY=VALUE)
    targets: [edgetpu_v1, edgetpu_v2, edgetpu_v3]
    calibration: datasheet
    precision: auto
    limit: null                     # every member; or N, a seeded sample (sample: random|first)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from dse.errors import SpecError
from dse.spec.loading import load_yaml, validate
from dse.spec.sources import Frozen

__all__ = ["MAX_CHUNK", "MAX_TARGETS", "SweepFile", "is_sweep_file", "load_sweep",
           "merge_options"]

#: Bounds of a sweep file's counts.
MAX_TARGETS = 64
MAX_CHUNK = 100_000


class SweepFile(Frozen):
    """A sweep: a model family over targets.

    Attributes:
        name: The sweep's name (the default output folder is ``sweeps/<name>``).
        description: One line saying what it is.
        family: A model family (``dse sweep --help`` lists them; ``zoo`` for the zoo models).
        options: The family's options (``width: [0.5, 1.0]`` style values are the family's own;
            see each family's documentation).
        targets: ``DEVICE[@RUNTIME][+HOST]`` each.
        calibration: ``shipped`` (fitted overlays where measurements exist) or ``datasheet``.
        precision: ``auto`` (int8 where a target runs it, else its narrowest) or a precision.
        limit: Sweep this many members (a sample), or all (``null``).
        sample: ``random`` (a seeded uniform sample) or ``first`` (the first ``limit``).
        seed: Seed of the random sample.
        chunk: Members per chunk (one Parquet partition each).
    """

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    family: str = Field(min_length=1, max_length=100)
    options: dict[StrictStr, StrictInt | StrictFloat | StrictStr | StrictBool] = Field(
        default_factory=dict, max_length=64)
    targets: list[str] = Field(min_length=1, max_length=MAX_TARGETS)
    calibration: Literal["shipped", "datasheet"] = "shipped"
    precision: str = "auto"
    limit: int | None = Field(default=None, ge=1, le=10**12)
    sample: Literal["random", "first"] = "random"
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    chunk: int = Field(default=1000, ge=1, le=MAX_CHUNK)


def load_sweep(path: Path | str) -> SweepFile:
    """Read and validate a sweep file.

    Raises:
        SpecError: Every problem at once, each naming the file and the path inside it.
    """
    label = str(path)
    data, problems = load_yaml(path, label=label)
    if problems:
        raise SpecError(problems)
    spec, problems = validate(SweepFile, data, file=label)
    if problems or spec is None:
        raise SpecError(problems)
    return spec


#: The settings of a sweep a command-line flag can override (:func:`merge_options`).
_OVERRIDABLE = ("targets", "limit", "sample", "seed", "precision", "calibration", "chunk")


def merge_options(spec: SweepFile, flags: Mapping[str, Any]) -> dict[str, Any]:
    """A sweep file's settings with the command line's flags over them (``dse sweep
    FILE.yaml``): the file states what is swept, a flag given overrides it, a flag left at
    its default (``None``, empty, or the field's default here) does not.

    Args:
        spec: The sweep file.
        flags: Any of ``options`` (the family's, merged over the file's), ``targets`` (a
            list), ``limit``, ``sample``, ``seed``, ``precision``, ``calibration``, ``chunk``
            and ``out`` (the output folder; default ``sweeps/<name>``).

    Returns:
        ``family``, ``options``, ``out`` and every overridable setting, as
        :func:`dse.sweep.run_sweep` takes them.
    """
    merged: dict[str, Any] = {"family": spec.family,
                              "options": {**spec.options, **(flags.get("options") or {})},
                              "out": flags.get("out") or Path("sweeps") / spec.name}
    for name in _OVERRIDABLE:
        given = flags.get(name)
        left = given is None or given == [] or given == SweepFile.model_fields[name].default
        merged[name] = getattr(spec, name) if left else given
    merged["targets"] = list(merged["targets"])
    return merged


def is_sweep_file(path: Path | str) -> bool:
    """Whether a YAML file is a sweep file rather than an experiment (it states a ``family``
    and no ``workload``; see :func:`dse.spec.experiment.is_sweep_data`). ``False`` for a file
    that cannot be read."""
    from dse.spec.experiment import is_sweep_data

    data, problems = load_yaml(path)
    return not problems and isinstance(data, dict) and is_sweep_data(data)
