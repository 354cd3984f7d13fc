"""From a YAML file to a validated model, or one error listing every problem.

YAML is loaded with ``yaml.safe_load`` only. Validation errors of pydantic are rewritten into
:class:`~dse.errors.Problem` rows that name the file and the YAML path
(``devices/ncs2.yaml: peak_ops_s.fp16: must be > 0, got -1``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dse.errors import Problem

__all__ = ["load_yaml", "problems_from_validation", "validate"]

M = TypeVar("M", bound=BaseModel)


def load_yaml(path: Path | str, *, label: str | None = None) -> tuple[Any, list[Problem]]:
    """Read a YAML file safely.

    Returns:
        The data (``None`` if unreadable) and the problems found (syntax errors with line and
        column, a missing file).
    """
    label = label or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(label, "", "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(label, "", f"cannot read: {exc}")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(label, where, f"invalid YAML: {what}")]


def validate(model: type[M], data: Any, *, file: str, prefix: str = ""
             ) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` as ``model``; returns the model or the problems (never raises)."""
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"{type(data).__name__} {data!r:.60}"
        return None, [Problem(file, prefix, f"expected a mapping of keys to values, got {found}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation(exc, model, file=file, prefix=prefix)


def problems_from_validation(exc: ValidationError, model: type[BaseModel], *, file: str,
                             prefix: str = "") -> list[Problem]:
    """One :class:`Problem` per error, with the YAML path and a message in dse's words."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"] if part != "[key]"]
        path = ".".join(p for p in (prefix, *loc) if p)
        kind = error["type"]
        if kind == "value_error":
            # Our validators raise "path: message" lines relative to the model validated.
            text = re.sub(r"^Value error, ", "", error["msg"])
            for line in text.splitlines():
                sub, sep, msg = line.partition(": ")
                if sep and re.fullmatch(r"[A-Za-z0-9_.\-]+", sub):
                    problems.append(Problem(file, ".".join(p for p in (path, sub) if p), msg))
                else:
                    problems.append(Problem(file, path, line))
            continue
        problems.append(Problem(file, path, _message(error, model, loc)))
    return problems


def _message(error: Any, model: type[BaseModel], loc: list[str]) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    got = f"got {_show(value)}"
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        return f"unknown key; known keys: {', '.join(known)}" if known else "unknown key"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {_show(bound)}, {got}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, {got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} entries, {got}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} entries, {got}"
    if kind == "string_pattern_mismatch":
        return f"expected lower-case letters, digits, '_', '.', '-', {got}"
    if kind.startswith(("int_", "float_", "bool_", "string_", "dict_", "tuple_", "list_")):
        expected = kind.split("_")[0].replace("dict", "mapping").replace("tuple", "list")
        if kind.endswith("_from_float"):
            return f"expected a whole number, {got}"
        return f"expected a {expected}, {got}"
    return f"{error['msg']}, {got}"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _known_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    parts = iter(loc)
    for part in parts:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        if str(field.annotation).startswith(("dict[", "tuple[")):
            next(parts, None)  # the next part is a key or an index, not a field
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name in current.model_fields if name != "derived"]
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
