"""Sources: every number in the catalog says where it comes from.

Shared by the device, link and platform specs: :class:`Source` names a document and the spec
paths it supports, and :func:`coverage_problems` lists the numbers a spec states without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Frozen", "Source", "SourceKind", "Sourced", "coverage_problems", "numeric_paths", "source_for"]

SourceKind = Literal["datasheet", "paper", "measured", "derived", "estimate", "assumption",
                     "fitted"]


class Frozen(BaseModel):
    """Base of every spec model: immutable, no unknown keys, defaults validated too."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    #: Top-level fields that hold no sourced number (names, flags, references, the sources).
    NOT_NUMBERS: ClassVar[frozenset[str]] = frozenset({"name", "description", "sources", "notes"})


class Source(Frozen):
    """Where some of a spec's numbers come from.

    Attributes:
        id: Short handle, unique within the spec (``intel-ncs2-brief``).
        kind: ``datasheet``, ``paper``, ``measured`` (a measured table), ``derived`` (computed
            from other sourced numbers; say how in ``cite``), ``estimate`` (no public figure;
            ``cite`` says the reasoning) ``assumption`` (a what-if a user sets on purpose) or ``fitted`` (by calibration,
            written only by :func:`dse.devices.overlay.apply_overlay`).
        cite: The document, table or reasoning.
        url: Where to find it, if it is online.
        fields: The spec paths it supports: ``peak_ops_s.fp16``, ``power`` (a prefix covers
            everything under it).
    """

    id: str = Field(min_length=1)
    kind: SourceKind
    cite: str = Field(min_length=1)
    url: str | None = None
    fields: tuple[str, ...] = Field(min_length=1)


class Sourced(Frozen):
    """A spec whose every stated number must be covered by one of its ``sources``."""

    sources: tuple[Source, ...] = ()

    @model_validator(mode="after")
    def _every_number_sourced(self) -> Sourced:
        problems = coverage_problems(self, self.sources)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def numeric_paths(spec: BaseModel) -> list[str]:
    """Dotted paths of every number a spec states explicitly (defaults are not stated).

    Top-level fields in the model's ``NOT_NUMBERS`` are skipped.
    """
    return list(_walk(spec, "", getattr(spec, "NOT_NUMBERS", frozenset())))


def _walk(value: Any, prefix: str, skip: frozenset[str]) -> Iterator[str]:
    def join(name: object) -> str:
        return f"{prefix}.{name}" if prefix else str(name)

    if isinstance(value, BaseModel):
        for name in value.model_fields_set:
            if not (not prefix and name in skip):
                yield from _walk(getattr(value, name), join(name), skip)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, join(key), skip)
    elif isinstance(value, tuple):
        if value and all(isinstance(v, BaseModel) for v in value):
            for item in value:
                yield from _walk(item, join(getattr(item, "name", "")), skip)
        elif value:
            yield prefix
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield prefix


def value_at(spec: BaseModel, path: str) -> Any:
    """The value at a dotted path of a spec (a path :func:`numeric_paths` gives:
    ``peak_ops_s.int8``, ``power.active_w``, ``dvfs.turbo.clock_hz``), ``None`` where the spec
    has none. A tuple of named models is indexed by the models' names."""
    value: Any = spec
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, tuple):
            value = next((v for v in value if getattr(v, "name", None) == part), value)
        else:
            value = getattr(value, part, None)
    return value


def source_for(sources: Iterable[Source], path: str) -> Source | None:
    """The source covering a spec path: the one naming the longest prefix, the first on ties."""
    best: Source | None = None
    best_len = -1
    for source in sources:
        for field in source.fields:
            if _covers(field, path) and len(field) > best_len:
                best, best_len = source, len(field)
    return best


def _covers(field: str, path: str) -> bool:
    return path == field or path.startswith(field + ".")


def coverage_problems(spec: BaseModel, sources: Iterable[Source], *,
                      derived: Iterable[str] = ()) -> list[str]:
    """Numbers stated without a source, and source fields that name nothing.

    Returns:
        Problem lines ``path: message``; empty when every number is covered.
    """
    sources = tuple(sources)
    derived = tuple(derived)
    covered = [f for s in sources for f in s.fields]
    stated = [p for p in numeric_paths(spec) if p not in derived]
    problems = [f"{path}: no source given for this number (add the path to the fields of an "
                f"entry in sources)" for path in stated
                if not any(_covers(c, path) for c in covered)]
    known = [*stated, *derived]
    for source in sources:
        problems += [f"sources.{source.id}: field {f!r} names no number this spec states"
                     for f in source.fields if not any(_covers(f, p) for p in known)]
    ids = [s.id for s in sources]
    if len(set(ids)) != len(ids):
        problems.append(f"sources: ids must be unique, got {ids}")
    return problems
