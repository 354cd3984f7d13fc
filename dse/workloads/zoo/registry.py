"""The zoo registry: model builders registered by name.

A builder is a function ``build(*, weights: bool, seed: int, **options) -> onnx.ModelProto``
registered with :func:`register`. Its options (width multiplier, resolution, number of layers)
have defaults and are validated here: unknown options and wrong types are errors that list the
known ones. A model may also accept *parametric names*: ``mobilenet_v1_0.25_128`` is
``mobilenet_v1`` with ``width=0.25, resolution=128``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import onnx

from dse.errors import Problem, WorkloadError, did_you_mean
from dse.plugins import Registry
from dse.spec import loading
from dse.workloads.zoo.builder import EmptyTensorError, dry_run

__all__ = ["DEFAULT_OPTION_LIMIT", "MAX_MODEL_BYTES", "OPTION_LIMITS", "ZOO", "ZooModel", "build",
           "get", "names", "register", "resolve", "unknown_name"]

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
        """Build the ONNX model with the given options (defaults for the rest).

        Raises:
            WorkloadError: Bad options (see :meth:`validate`), or a model whose weights would
                take more than :data:`MAX_MODEL_BYTES` (estimated before anything is built).
        """
        merged = self.validate(options)
        self.check_size(merged)
        try:
            return self.builder(weights=weights, seed=seed, **merged)
        except EmptyTensorError as exc:
            raise self._empty(exc, merged) from None

    def validate(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options merged with the defaults, type-checked against them and bounded
        (:data:`OPTION_LIMITS`).

        Raises:
            WorkloadError: Listing every unknown option or badly typed or out-of-range value.
        """
        problems = []
        merged = dict(self.options)
        for key, value in options.items():
            if key not in self.options:
                problems.append(Problem(f"zoo:{self.name}", str(key)[:80], _unknown(
                    "option", key, list(self.options))))
                continue
            expected = _option_error(key, value, self.options[key])
            if expected:
                problems.append(Problem(f"zoo:{self.name}", key, f"expected {expected}, "
                                        f"got {_show(value)}"))
                continue
            merged[key] = value
        if problems:
            raise WorkloadError(problems)
        return merged

    def check_size(self, options: Mapping[str, Any]) -> int:
        """The bytes of the model's fp32 weights with these (validated) options, counted by
        building it without weights, before anything large is allocated.

        Raises:
            WorkloadError: Above :data:`MAX_MODEL_BYTES`, or options that leave a layer empty.
        """
        key = tuple(sorted(options.items()))
        try:
            nbytes = _weight_bytes(self.name, key)
        except EmptyTensorError as exc:
            raise self._empty(exc, options) from None
        if nbytes > MAX_MODEL_BYTES:
            shown = ", ".join(f"{k}={v}" for k, v in options.items()
                              if v != self.options.get(k))
            raise WorkloadError([Problem(f"zoo:{self.name}", shown or "", f"the model's weights "
                                         f"would take {nbytes / 2**30:,.1f} GiB; the limit is "
                                         f"{MAX_MODEL_BYTES / 2**30:g} GiB "
                                         "(dse.workloads.zoo.registry.MAX_MODEL_BYTES)")])
        return nbytes

    def _empty(self, exc: EmptyTensorError, options: Mapping[str, Any]) -> WorkloadError:
        shown = ", ".join(f"{k}={v}" for k, v in options.items() if v != self.options.get(k))
        return WorkloadError([Problem(f"zoo:{self.name}", shown, f"{exc}; expected options "
                                      "that leave every layer at least one element (a larger "
                                      "resolution or width)")])


#: Largest fp32 weights of a zoo model, in bytes (VGG-16, the zoo's largest, has 0.5 GiB). Building
#: one takes about three times its weights at the peak (arrays, protobuf, the shape-inference
#: skeleton), so 1 GiB keeps a build within about 3 GiB of memory.
MAX_MODEL_BYTES = 2**30

#: Upper bound of every numeric zoo option, by name (others: :data:`DEFAULT_OPTION_LIMIT`).
OPTION_LIMITS: Mapping[str, float] = {
    "resolution": 4096,  # pixels per side
    "classes": 100_000,
    "width": 8.0,  # width multiplier
    "layers": 256,
    "hidden": 16_384,
    "heads": 256,
    "seq_len": 65_536,
    "vocab": 1_000_000,
    "intermediate": 65_536,
    "inputs": 1_000_000,
    "box_kernel": 15,
}
DEFAULT_OPTION_LIMIT = 1_000_000


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:60]}... ({len(text):,} characters)"


def _option_error(key: str, value: Any, default: Any) -> str:
    """What a value of this option should be, or "" if it is fine."""
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else "true or false"
    if isinstance(default, int | float):
        kind = "a float" if isinstance(default, float) else "an int"
        numeric = isinstance(value, int) or (isinstance(default, float) and isinstance(value, float))
        if not numeric or isinstance(value, bool):
            return kind
        limit = OPTION_LIMITS.get(key, DEFAULT_OPTION_LIMIT)
        # Sizes are positive; an option whose default is 0 means "derive it" (BERT's
        # feed-forward width) and accepts 0 too.
        low = 0 if default == 0 else None
        if math.isfinite(value) and (value > 0 or value == low) and value <= limit:
            return ""
        if low == 0:
            return f"{kind} from 0 to {int(limit):,}"
        return f"an int from 1 to {int(limit):,}" if kind == "an int" else \
            f"a float > 0 and <= {limit:g}"
    return "" if isinstance(value, type(default)) else f"a {type(default).__name__}"


@functools.lru_cache(maxsize=256)
def _weight_bytes(name: str, options: tuple[tuple[str, Any], ...]) -> int:
    with dry_run() as sizes:
        ZOO.get(name).builder(weights=False, seed=0, **dict(options))
    return 4 * sum(sizes)


#: The zoo models by canonical name: the modules of :mod:`dse.workloads.zoo.models` (imported
#: before the first lookup) and the ``dse.zoo`` entry-point group (:class:`ZooModel` instances).
# NOTE: the model modules register themselves when imported, lazily (importing dse stays cheap).
ZOO: Registry[ZooModel] = Registry("dse.zoo", builtins="dse.workloads.zoo.models",
                                   what="zoo model")


def register(
    name: str,
    *,
    summary: str,
    task: str,
    reference: str,
    pattern: str | None = None,
    **options: Any,
) -> Callable[[Builder], Builder]:
    """Register a zoo builder under ``name`` (decorator); keyword arguments are its options.

    Raises:
        ValueError: ``name`` is taken.
    """

    def deco(fn: Builder) -> Builder:
        ZOO.register(ZooModel(name, fn, summary, task, reference, options, pattern))
        return fn

    return deco


def names() -> list[str]:
    """Canonical names of every zoo model, sorted."""
    return sorted(ZOO.names())


def resolve(name: str) -> tuple[ZooModel, dict[str, Any]] | None:
    """The zoo model and options a name stands for (canonical or parametric), or ``None``
    (also for a name longer than :data:`~dse.spec.loading.MAX_NAME_LENGTH`)."""
    if not isinstance(name, str) or len(name) > loading.MAX_NAME_LENGTH:
        return None
    key = name.strip().lower()
    if key in ZOO:
        return ZOO.get(key), {}
    for model in ZOO.values():
        if model.pattern and (m := re.fullmatch(model.pattern, key)):
            try:
                opts = {k: type(model.options[k])(v) for k, v in m.groupdict().items()
                        if v is not None}
            except (ValueError, OverflowError):  # digits beyond int()'s limit
                return None
            return model, opts
    return None


def unknown_name(name: object) -> str:
    """The message for a name that is not a zoo model: the closest names, or what is wrong
    with it."""
    text = str(name)
    if len(text) > loading.MAX_NAME_LENGTH:
        return (f"expected a zoo model name of at most {loading.MAX_NAME_LENGTH} characters, "
                f"got {len(text):,} characters")
    return f"unknown zoo model {text!r}; " + _unknown("zoo model", text, names()).removeprefix(
        "unknown zoo model; ")


def _unknown(what: str, name: object, known: list[str]) -> str:
    """``unknown option; did you mean 'layers'? known options: layers, hidden``: every known
    name, in the order given, with the closest ones first (:func:`~dse.errors.did_you_mean`)."""
    close = re.search(r"did you mean .*?\?", did_you_mean(name, known, what=what))
    listed = ", ".join(known) or "none"
    return f"unknown {what}; {close[0] + ' ' if close else ''}known {what}s: {listed}"


def get(name: str) -> ZooModel:
    """The zoo model registered under ``name``.

    Raises:
        WorkloadError: If there is none (the message names the closest known names).
    """
    found = resolve(name)
    if found is None:
        raise WorkloadError([Problem(f"zoo:{str(name)[:80]}", "", unknown_name(name))])
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
