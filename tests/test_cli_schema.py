"""``dse schema``: the JSON Schema of an experiment YAML, and the reference page generated from
it (kept up to date by a test)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dse.cli import main
from dse.report.reference import policy_keys, reference_markdown
from dse.spec.experiment import load_experiment
from dse.spec.schema import experiment_schema
from dse.spec.sweep import is_sweep_file

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").glob("*.yaml") if not is_sweep_file(p))


def _errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = ""
            ) -> Iterator[str]:
    """A small JSON Schema validator (the keywords the schema uses), independent of dse."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _errors(value, root["$defs"][name], root, path)
        return
    for key in ("anyOf", "oneOf"):
        branches = [list(_errors(value, s, root, path)) for s in schema.get(key, ())]
        if branches and all(branches):
            yield f"{path}: matches none of {key}: " + "; ".join(e for b in branches for e in b)
    for sub in schema.get("allOf", ()):
        yield from _errors(value, sub, root, path)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        checks = {"string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
                  "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
                  "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
                  "null": lambda v: v is None, "array": lambda v: isinstance(v, list),
                  "object": lambda v: isinstance(v, dict)}
        if not any(checks[k](value) for k in kinds):
            yield f"{path}: expected {kinds}, got {value!r}"
            return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        for key, ok in (("minimum", lambda b: value >= b), ("maximum", lambda b: value <= b),
                        ("exclusiveMinimum", lambda b: value > b),
                        ("exclusiveMaximum", lambda b: value < b)):
            if key in schema and not ok(schema[key]):
                yield f"{path}: {value} fails {key} {schema[key]}"
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        yield f"{path}: too short"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            yield f"{path}: too few items"
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                yield from _errors(item, schema["items"], root, f"{path}.{i}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                yield f"{path}: {key} missing"
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                yield from _errors(item, props[key], root, f"{path}.{key}")
            elif extra is False:
                yield f"{path}: unknown key {key}"
            elif isinstance(extra, dict):
                yield from _errors(item, extra, root, f"{path}.{key}")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return experiment_schema()


@pytest.mark.parametrize("file", EXPERIMENTS, ids=lambda p: p.name)
def test_every_shipped_experiment_is_valid(file, schema):
    load_experiment(file)  # dse reads it
    assert list(_errors(yaml.safe_load(file.read_text()), schema, schema)) == []


MINIMAL = {"workload": {"zoo": "mobilenet_v2"}, "platform": {"host": "raspberry_pi4"}}


@pytest.mark.parametrize("changes", [
    {},
    {"execution": {"policy": ["single", "threads"]}},
    {"execution": {"policy": {"choices": ["single", "threads"]}, "threads_per_device": [1, 4]}},
    {"stream": {"frames": {"min": 10, "max": 100, "step": 10}}},
    {"stream": {"jitter": {"min": 0.01, "max": 0.5, "log": True}}},
    {"execution": {"devices": ["ncs2"]}},
    {"execution": {"devices": {"choices": [["ncs2"], ["ncs2", "coral_usb"]]}}},
    {"platform": {"host": ["raspberry_pi4", "jetson_nano"],
                  "accelerators": {"choices": [{}, {"ncs2": 1}]}}},
    {"workload": None, "workloads": [{"zoo": ["resnet18", "resnet50"]}]},
])
def test_what_dse_reads_the_schema_accepts(changes, schema):
    data = {**MINIMAL, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    load_experiment(data)  # a valid experiment ...
    assert list(_errors(data, schema, schema)) == []  # ... is valid in the schema


@pytest.mark.parametrize(("changes", "where"), [
    ({"executon": {"policy": "single"}}, "unknown key executon"),
    ({"stream": {"frames": 0}}, ".stream.frames"),
    ({"execution": {"dispatch": "fifo"}}, ".execution.dispatch"),
    ({"platform": {"host": {"min": 1, "max": 2}}}, ".platform.host"),  # a range of names?
    ({"execution": {"policy": []}}, ".execution.policy"),
    ({"stream": {"frames": {"min": 1, "max": 9, "steps": 2}}}, ".stream.frames"),
    ({"workload": None}, "matches none of anyOf"),  # no workload at all
])
def test_what_dse_refuses_the_schema_refuses(changes, where, schema):
    data = {k: v for k, v in {**MINIMAL, **changes}.items() if v is not None}
    with pytest.raises(Exception):  # noqa: B017  (SpecError, or a search-dimension error)
        load_experiment(data)
    errors = list(_errors(data, schema, schema))
    assert any(where in e for e in errors), errors


def _positions(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if not isinstance(node, dict):
        return
    for key, prop in (node.get("properties") or {}).items():
        yield f"{path}.{key}", prop
    for key, sub in node.items():
        if isinstance(sub, dict):
            yield from _positions(sub, f"{path}/{key}")
        elif isinstance(sub, list):
            for i, item in enumerate(sub):
                yield from _positions(item, f"{path}/{key}/{i}")


def test_every_key_of_every_model_may_be_a_dimension(schema):
    # walked generically: a section that becomes a typed model is covered the same way
    for path, prop in _positions(schema):
        if re.search(r"/properties/choices|/properties/(min|max|step|log)$", path) or \
                path.endswith((".choices", ".min", ".max", ".step", ".log")):
            continue  # the dimension forms themselves
        alternatives = prop.get("anyOf", [])
        assert any("choices" in (a.get("properties") or {}) for a in alternatives), path


def test_schema_command(tmp_path, capsys, schema):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema
    out = tmp_path / "s.json"
    page = tmp_path / "ref.md"
    assert main(["schema", "--out", str(out), "--reference", str(page)]) == 0
    assert json.loads(out.read_text()) == schema
    assert page.read_text() == reference_markdown()


def test_reference_page_is_up_to_date():
    committed = (ROOT / "docs" / "experiment_reference.md").read_text()
    assert committed == reference_markdown(), (
        "docs/experiment_reference.md is out of date: run "
        "`dse schema --reference docs/experiment_reference.md`")


def test_reference_lists_every_key_with_its_policies():
    page = reference_markdown()
    from dse.spec.experiment import Execution, ExperimentConfig, Stream

    for key in ExperimentConfig.model_fields:
        assert f"| `{key}` |" in page
    for model, prefix in ((Execution, "execution"), (Stream, "stream")):
        for key in model.model_fields:
            assert f"| `{prefix}.{key}` |" in page, key
    row = next(line for line in page.splitlines() if line.startswith("| `execution.stages` |"))
    assert row.endswith("| `pipeline` |")
    assert policy_keys()["mapping"] == ["mapping"]
    assert "dispatch" in policy_keys() and "data_parallel" in policy_keys()["dispatch"]
