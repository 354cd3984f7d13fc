"""The experiment YAML as a JSON Schema, and its reference page.

:func:`experiment_schema` starts from the pydantic model of one fixed configuration
(:class:`~dse.spec.experiment.ExperimentConfig`) and widens it to what an experiment *file*
accepts: any value may also be a search dimension (a list of choices, ``{choices: [...]}``, or
for numbers ``{min, max, step, log}``; a value that is a list by nature only takes
``{choices: [...]}``), ``workload:`` may stand for a one-element ``workloads:``, ``name``
defaults to the file's stem, and a field's other accepted names (pydantic ``AliasChoices``,
``threads_per_device``) are keys too. It walks whatever ``model_json_schema()`` returns, so a
field that becomes a model of its own is covered without a change here.

:func:`reference_markdown` renders every key (type, default, description, and for the execution
keys the policies that read them) as ``docs/experiment_reference.md``; a test regenerates it.
Descriptions come from the schema (field descriptions), else the model's ``Attributes:``
docstring section, else a ````key``: text`` paragraph of its docstring, else the summary of the
model the key holds.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import AliasChoices, BaseModel

__all__ = ["experiment_schema"]

#: The draft the schema follows.
DRAFT = "https://json-schema.org/draft/2020-12/schema"

_RANGE = {
    "type": "object",
    "description": "search dimension: a numeric range (integers if min, max and step are)",
    "properties": {"min": {"type": "number"}, "max": {"type": "number"},
                   "step": {"type": "number", "exclusiveMinimum": 0},
                   "log": {"type": "boolean"}},
    "required": ["min", "max"],
    "additionalProperties": False,
}
_OUTER = ("title", "description", "default")


def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every pydantic model reachable from ``root``'s fields, by class name (as in ``$defs``)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(tp: Any) -> None:
        if inspect.isclass(tp) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for field in tp.model_fields.values():
                visit(field.annotation)
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return found


def _admits(schema: dict[str, Any], kind: str, defs: dict[str, Any]) -> bool:
    """Whether ``schema`` accepts a value of JSON type ``kind`` (refs resolved)."""
    if "$ref" in schema:
        return _admits(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), kind, defs)
    if any(_admits(s, kind, defs) for key in ("anyOf", "oneOf") for s in schema.get(key, ())):
        return True
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types or []
    if kind == "number":
        return "number" in types or "integer" in types
    return kind in types


def _searchable(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or a search dimension over its values."""
    inner = {k: v for k, v in schema.items() if k not in _OUTER}
    outer = {k: schema[k] for k in _OUTER if k in schema}
    alternatives = [inner]
    if not _admits(inner, "array", defs):  # a list there is a value, not a choice
        alternatives.append({"type": "array", "items": inner, "minItems": 1,
                             "description": "search dimension: the choices"})
    alternatives.append({"type": "object", "properties": {"choices": {
        "type": "array", "items": inner, "minItems": 1}}, "required": ["choices"],
        "additionalProperties": False, "description": "search dimension: the choices"})
    if _admits(inner, "number", defs):
        alternatives.append(_RANGE)
    return {**outer, "anyOf": alternatives}


def _widen(node: Any, defs: dict[str, Any]) -> Any:
    """Every value position under ``node`` made searchable (each position once)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: _searchable(_widen(v, defs), defs)
                             for k, v in node["properties"].items()}
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _searchable(_widen(node["additionalProperties"], defs),
                                                  defs)
    if isinstance(node.get("items"), dict):
        out["items"] = _searchable(_widen(node["items"], defs), defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(node.get(key), list):
            out[key] = [_widen(s, defs) for s in node[key]]
    return out


def _add_aliases(schema: dict[str, Any], models: dict[str, type[BaseModel]],
                 root: type[BaseModel]) -> None:
    """A field's other accepted names as keys of their own, with the field's schema."""
    for name, model in models.items():
        target = schema if model is root else schema.get("$defs", {}).get(name)
        if not target or "properties" not in target:
            continue
        for field_name, field in model.model_fields.items():
            alias = field.validation_alias
            if not isinstance(alias, AliasChoices):
                continue
            main = target["properties"].get(field_name)
            for choice in alias.choices:
                if isinstance(choice, str) and choice not in target["properties"] and main:
                    target["properties"][choice] = {
                        **main, "description": f"Another name of `{field_name}`."}


def _file_schema() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The configuration's schema as a file writes it (aliases, ``workload:``, ``name`` from
    the file's stem), and the ``anyOf`` of required keys it adds."""
    from dse.spec.experiment import ExperimentConfig

    base = ExperimentConfig.model_json_schema()
    _add_aliases(base, _models(ExperimentConfig), ExperimentConfig)
    props = base.setdefault("properties", {})
    base["required"] = [r for r in base.get("required", []) if r != "name"]  # the file's stem
    any_of: list[dict[str, Any]] = []
    if "workloads" in props and "workload" not in props:
        items = props["workloads"].get("items", {})
        props["workload"] = {**items, "description": "One workload: the same as a "
                             "workloads list of this one (give workload or workloads)."}
        if "workloads" in base["required"]:
            base["required"].remove("workloads")
            any_of = [{"required": ["workload"]}, {"required": ["workloads"]}]
    return base, any_of


def experiment_schema() -> dict[str, Any]:
    """The JSON Schema of an experiment YAML file (a dict, ready for ``json.dumps``)."""
    base, any_of = _file_schema()
    required = base["required"]
    defs = base.get("$defs", {})
    schema = _widen({k: v for k, v in base.items() if k != "$defs"}, defs)
    schema["$defs"] = {name: _widen(d, defs) for name, d in defs.items()}
    schema["required"] = required
    if any_of:
        schema["anyOf"] = any_of
    return {"$schema": DRAFT, "title": "dse experiment",
            "description": "An experiment YAML of dse: what to simulate, and which values "
            "dse explore may vary. Any value may be a search dimension: a list of choices, "
            "{choices: [...]}, or for numbers {min, max, step, log}.",
            **{k: v for k, v in schema.items() if k not in ("title", "description")}}


# ----- the reference page ---------------------------------------------------------------------

def _docstring_fields(model: type[BaseModel]) -> dict[str, str]:
    """Key -> description from the model's docstring: its ``Attributes:`` entries (``a / b:``
    names two keys) and ````key``: text`` paragraphs."""
    doc = inspect.cleandoc(model.__doc__ or "")
    out: dict[str, str] = {}
    for para in doc.split("\n\n"):
        match = re.match(r"``(\w+)``:\s*(.*)", para, re.S)
        if match and match.group(1) in model.model_fields:
            out[match.group(1)] = " ".join(match.group(2).split())
    section = re.search(r"^Attributes:\n((?:[ \t]+.*\n?|\n)+)", doc, re.M)
    if section:
        name: list[str] = []
        for line in section.group(1).splitlines():
            entry = re.match(r"^ {4}(\w+(?: / \w+)*):\s*(.*)", line)
            if entry:
                name = entry.group(1).split(" / ")
                for n in name:
                    out[n] = entry.group(2).strip()
            elif line.startswith(" " * 8) and name:
                for n in name:
                    out[n] += " " + line.strip()
    return out


def _type_text(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [_type_text(s, defs) for s in schema[key]]
            return " or ".join(dict.fromkeys(p for p in parts if p))
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}), defs) or 'any'}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"mapping of name to {_type_text(schema['additionalProperties'], defs) or 'any'}"
    if kind == "object":
        return "mapping"
    text = {"integer": "integer", "number": "number", "string": "string",
            "boolean": "true or false", "null": "none"}.get(str(kind), "")
    bounds = [f"{op} {schema[k]}," for k, op in (("exclusiveMinimum", ">"), ("minimum", ">="),
                                                 ("exclusiveMaximum", "<"), ("maximum", "<="))
              if k in schema]
    if "minLength" in schema:
        bounds.append("not empty")
    return " ".join([text, *bounds]).rstrip(",") if text else "any"


def _rows(schema: dict[str, Any], defs: dict[str, Any], models: dict[str, type[BaseModel]],
          model: str | None, prefix: str, seen: tuple[str, ...] = ()
          ) -> Iterator[tuple[str, str, str, str, bool]]:
    """(path, type, default, description, required) of every key under an object schema."""
    docs = _docstring_fields(models[model]) if model in models else {}
    required = set(schema.get("required", ()))
    for key, prop in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        ref = _ref_of(prop)
        described = prop.get("description") or docs.get(key) or (
            _summary(defs[ref]) if ref in defs else "")
        default = json.dumps(prop["default"]) if "default" in prop else ""
        yield path, _type_text(prop, defs), default, described, key in required
        if ref in defs and ref not in seen:
            sub = f"{path}[]." if _admits(prop, "array", defs) else f"{path}."
            yield from _rows(defs[ref], defs, models, ref, sub, (*seen, ref))


def _ref_of(schema: dict[str, Any]) -> str | None:
    """The model a key holds (itself, as list items, or as mapping values), if any."""
    for node in (schema, schema.get("items") or {}, schema.get("additionalProperties") or {},
                 *schema.get("anyOf", ())):
        if isinstance(node, dict) and "$ref" in node:
            return str(node["$ref"].rsplit("/", 1)[-1])
        if isinstance(node, dict) and isinstance(node.get("items"), dict) and \
                "$ref" in node["items"]:
            return str(node["items"]["$ref"].rsplit("/", 1)[-1])
    return None


def _summary(definition: dict[str, Any]) -> str:
    return " ".join(str(definition.get("description", "")).split("\n\n")[0].split())


def _cell(text: str) -> str:
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", " ".join(text.split()))  # Sphinx roles
    return text.replace("|", "\\|") or "-"
