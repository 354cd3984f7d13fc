"""The zoo registry: model builders registered by name.

A builder is a function ``build(*, weights: bool, seed: int, **options) -> onnx.ModelProto``
registered with :func:`register`. Its options (width multiplier, resolution, number of layers)
have defaults and are validated here: unknown options and wrong types are errors that list the
known ones. A model may also accept *parametric names*: ``mobilenet_v1_0.25_128`` is
``mobilenet_v1`` with ``width=0.25, resolution=128``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import onnx

from dse.errors import Problem, WorkloadError

__all__ = ["ZooModel", "build", "get", "names", "register", "resolve"]

Builder = Callable[..., onnx.ModelProto]


@dataclass(frozen=True)
class ZooModel:
    """One zoo entry.

    Attributes:
        name: Canonical zoo name.
        builder: The function that builds the ONNX model.
        summary: One line: what the model is.
        task: ``classification``, ``detection``, ``keyword-spotting``, ...
        reference: The architecture this builder follows (paper, reference implementation).
        options: Option names with their defaults.
        pattern: Regex with named groups for parametric names (``mobilenet_v1_0.25_128``).
    """

    name: str
    builder: Builder
    summary: str
    task: str
    reference: str
    options: Mapping[str, Any] = field(default_factory=dict)
    pattern: str | None = None

    def build(self, *, weights: bool = True, seed: int = 0, **options: Any) -> onnx.ModelProto:
        """Build the ONNX model with the given options (defaults for the rest)."""
        merged = self.validate(options)
        return self.builder(weights=weights, seed=seed, **merged)

    def validate(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options merged with the defaults, type-checked against them.

        Raises:
            WorkloadError: Listing every unknown option or badly typed value.
        """
        problems = []
        merged = dict(self.options)
        for key, value in options.items():
            if key not in self.options:
                known = ", ".join(self.options) or "none"
                problems.append(Problem(f"zoo:{self.name}", key,
                                        f"unknown option; known options: {known}"))
                continue
            expected = _option_error(value, self.options[key])
            if expected:
                problems.append(Problem(f"zoo:{self.name}", key, f"expected {expected}, "
                                        f"got {value!r}"))
                continue
            merged[key] = value
        if problems:
            raise WorkloadError(problems)
        return merged


def _option_error(value: Any, default: Any) -> str:
    """What a value of this option should be, or "" if it is fine."""
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "true or false"
    if isinstance(default, int | float):
        kind = "a float" if isinstance(default, float) else "an int"
        numeric = isinstance(value, int) or (isinstance(default, float) and isinstance(value, float))
        if not numeric or isinstance(value, bool):
            return kind
        # Sizes are positive; an option whose default is 0 means "derive it" (BERT's
        # feed-forward width) and accepts 0 too.
        if value > 0 or (value == 0 and default == 0):
            return ""
        return f"{kind} > 0" if default != 0 else f"{kind} >= 0"
    return "" if isinstance(value, type(default)) else f"a {type(default).__name__}"


_REGISTRY: dict[str, ZooModel] = {}


def register(
    name: str,
    *,
    summary: str,
    task: str,
    reference: str,
    pattern: str | None = None,
    **options: Any,
) -> Callable[[Builder], Builder]:
    """Register a zoo builder under ``name`` (decorator); keyword arguments are its options."""

    def deco(fn: Builder) -> Builder:
        _REGISTRY[name] = ZooModel(name, fn, summary, task, reference, options, pattern)
        return fn

    return deco


def _load_builders() -> None:
    # Importing the model modules registers them; done lazily so that importing dse is cheap.
    from dse.workloads.zoo import models  # noqa: F401


def names() -> list[str]:
    """Canonical names of every zoo model, sorted."""
    _load_builders()
    return sorted(_REGISTRY)


def resolve(name: str) -> tuple[ZooModel, dict[str, Any]] | None:
    """The zoo model and options a name stands for (canonical or parametric), or ``None``."""
    _load_builders()
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key], {}
    for model in _REGISTRY.values():
        if model.pattern and (m := re.fullmatch(model.pattern, key)):
            opts = {k: type(model.options[k])(v) for k, v in m.groupdict().items() if v is not None}
            return model, opts
    return None


def get(name: str) -> ZooModel:
    """The zoo model registered under ``name``.

    Raises:
        WorkloadError: If there is none (the message lists the known names).
    """
    found = resolve(name)
    if found is None:
        raise WorkloadError([Problem(f"zoo:{name}", "", "unknown zoo model; known zoo models: "
                                     + ", ".join(names()))])
    return found[0]


def build(name: str, *, weights: bool = True, seed: int = 0, **options: Any) -> onnx.ModelProto:
    """Build a zoo model as ONNX.

    Args:
        name: Canonical or parametric zoo name (``resnet50``, ``mobilenet_v1_0.5_160``).
        weights: Random weights (``True``) or zeros (``False``, faster).
        seed: Seed of the random weights.
        **options: Model options (``width``, ``resolution``, ``layers``, ...).
    """
    found = resolve(name)
    if found is None:
        get(name)  # raises with the list of known names
        raise AssertionError("unreachable")
    model, parsed = found
    return model.build(weights=weights, seed=seed, **{**parsed, **options})
