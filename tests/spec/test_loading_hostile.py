"""Hostile input to the bounded readers and the YAML loader of dse.spec.loading: each test is
a class of input a fuzzing campaign found to crash or hang dse (issue 13)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from dse.spec import loading
from dse.spec.loading import (
    check_regular_file,
    load_yaml,
    load_yaml_text,
    read_bytes_bounded,
    read_text_bounded,
)


def _messages(problems):
    return [str(p) for p in problems]


# ----- YAML 1.2 core schema ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("1:30", "1:30"),  # YAML 1.1 read this as 90 (sexagesimal)
    ("yes", "yes"), ("No", "No"), ("on", "on"), ("off", "off"), ("y", "y"),
    ("010", 10),  # YAML 1.1: octal 8
    ("0o17", 15), ("0x1F", 31), ("-0x1F", "-0x1F"), ("+12", 12), ("-12", -12),
    ("1_000", "1_000"),  # YAML 1.1: 1000
    ("2001-12-14", "2001-12-14"),  # YAML 1.1: a datetime.date
    ("true", True), ("False", False), ("TRUE", True),
    ("null", None), ("~", None), ("", None),
    ("1e3", 1000.0), ("-.inf", float("-inf")), (".5", 0.5), ("1.", 1.0),
    ("=", "="), ("<<x", "<<x"),
])
def test_scalars_resolve_by_the_yaml_1_2_core_schema(text, value):
    data, problems = load_yaml_text(f"a: {text}\n")
    assert problems == []
    assert data["a"] == value and type(data["a"]) is type(value)


def test_nan_is_read_but_only_spelled_as_yaml_1_2_does():
    data, _ = load_yaml_text("a: .nan\nb: nan\nc: NaN\n")
    assert data["a"] != data["a"]
    assert (data["b"], data["c"]) == ("nan", "NaN")


def test_duplicate_keys_are_errors_naming_file_line_and_key():
    data, problems = load_yaml_text("name: x\nstream: {frames: 1, frames: 2}\nname: y\n",
                                    label="e.yaml")
    assert data is None
    assert _messages(problems) == [
        "e.yaml: line 2, column 21: duplicate key 'frames'; expected each key once",
        "e.yaml: line 3, column 1: duplicate key 'name'; expected each key once",
    ]


def test_a_merge_key_overridden_by_its_own_mapping_is_not_a_duplicate():
    data, problems = load_yaml_text("base: &b {x: 1, y: 2}\nd: {<<: *b, x: 3}\n")
    assert problems == [] and data["d"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("digits", ["9" * 5000, "9" * 19, "-" + "9" * 19, "0x" + "f" * 16,
                                    "9223372036854775808", "-9223372036854775808"])
def test_integers_out_of_the_64_bit_range_are_errors(digits):
    data, problems = load_yaml_text(f"frames: {digits}\n", label="e.yaml")
    assert data is None
    assert len(problems) == 1
    assert problems[0].path == "line 1, column 9"
    assert "expected an integer of magnitude < 2**63" in problems[0].message
    assert len(str(problems[0])) < 200  # the 5,000 digits are not echoed


def test_the_largest_64_bit_integers_are_read():
    data, problems = load_yaml_text("a: 9223372036854775807\nb: -9223372036854775807\n")
    assert problems == [] and data == {"a": 2**63 - 1, "b": -(2**63 - 1)}


@pytest.mark.parametrize(("style", "n"), [("flow", 200), ("flow", 100_000), ("block", 1000)])
def test_nesting_deeper_than_max_depth_is_an_error_not_a_recursion_error(style, n):
    text = "a: " + "[" * n + "]" * n if style == "flow" else \
        "a:\n" + "".join(f"{'  ' * (i + 1)}- \n" for i in range(n))
    data, problems = load_yaml_text(text, label="deep.yaml")
    assert data is None and len(problems) == 1
    assert str(problems[0]).startswith("deep.yaml: line ")
    # libyaml stops at its own limit (1,000 levels) first in one flow sequence
    assert problems[0].message in (
        f"nesting deeper than {loading.MAX_DEPTH} levels (dse.spec.loading.MAX_DEPTH)",
        "invalid YAML: exceeded maximum nesting depth")
    if n < 1000:
        assert "MAX_DEPTH" in problems[0].message


def test_nesting_up_to_max_depth_is_read():
    n = loading.MAX_DEPTH - 1  # the top-level mapping is one level
    data, problems = load_yaml_text("a: " + "[" * n + "]" * n)
    assert problems == [] and data is not None


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_at_once():
    start = time.perf_counter()
    data, problems = load_yaml_text(_bomb(10), label="bomb.yaml")
    assert time.perf_counter() - start < 1.0  # 9**10 nodes if expanded
    assert data is None
    assert _messages(problems) == [
        f"bomb.yaml: the document expands to more than {loading.MAX_YAML_NODES:,} nodes "
        "through its aliases (dse.spec.loading.MAX_YAML_NODES)"]


def test_aliases_that_stay_within_the_node_limit_are_read():
    data, problems = load_yaml_text(_bomb(3))
    assert problems == [] and len(data["a2"]) == 9 and data["a2"][0][0] == ["lol"] * 9


@pytest.mark.parametrize(("text", "expected"), [
    ("a: [1, 2", "line 2, column 1: invalid YAML: did not find expected ',' or ']'"),
    ("a: !!python/object/apply:os.system [ls]", "could not determine a constructor"),
    ("{[1]: 2}", "found unhashable key"),
    ("a: \x00", "control characters are not allowed"),
    ("a: *nothing", "found undefined alias"),
])
def test_malformed_and_unsafe_yaml_is_one_problem(text, expected):
    data, problems = load_yaml_text(text, label="bad.yaml")
    assert data is None and len(problems) == 1
    assert str(problems[0]).startswith("bad.yaml: ") and expected in str(problems[0])


# ----- the bounded reader --------------------------------------------------------------------------

def test_a_character_device_is_refused_before_it_is_read():
    data, problems = load_yaml("/dev/zero")
    assert data is None
    assert _messages(problems) == ["/dev/zero: expected a regular file, found a character device"]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result: list = []
    reader = threading.Thread(target=lambda: result.append(load_yaml(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert _messages(result[0][1]) == [f"{fifo}: expected a regular file, found a FIFO (named "
                                       "pipe)"]


def test_a_directory_a_missing_file_and_a_nul_byte_are_problems(tmp_path):
    assert _messages(check_regular_file(tmp_path, label="d")) == [
        "d: expected a regular file, found a directory"]
    assert _messages(check_regular_file(tmp_path / "no.yaml", label="n")) == ["n: file not found"]
    assert _messages(check_regular_file("a\0b.yaml")) == [
        "a\\0b.yaml: expected a file name, got a path with a NUL byte"]
    assert _messages(read_text_bounded("x" * 5000, limit=10, label="long")[1]) == [
        "long: cannot read: the file name is too long"]


def test_a_file_over_the_limit_is_refused_and_one_at_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a" * 100)
    assert read_bytes_bounded(path, limit=100) == (b"a" * 100, [])
    data, problems = read_bytes_bounded(path, limit=99, label="big.yaml")
    assert data is None
    assert _messages(problems) == ["big.yaml: the file is 100 bytes; the limit is 99"]


def test_load_yaml_reads_at_most_max_yaml_bytes(tmp_path, monkeypatch):
    path = tmp_path / "e.yaml"
    path.write_text("name: x\n" + "# padding\n" * 100)
    monkeypatch.setattr(loading, "MAX_YAML_BYTES", 64)
    data, problems = load_yaml(path, label="e.yaml")
    assert data is None
    assert _messages(problems) == ["e.yaml: the file is 1,008 bytes; the limit is 64 "
                                   "(dse.spec.loading.MAX_YAML_BYTES)"]


def test_text_that_is_not_utf8_names_the_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    assert _messages(load_yaml(path, label="l.yaml")[1]) == [
        "l.yaml: expected UTF-8 text, found byte 0xe9 at offset 9"]


def test_the_limits_are_public_and_consistent():
    assert loading.MAX_INT == 2**63
    assert loading.MAX_DEPTH >= 16 and loading.MAX_NAME_LENGTH >= 64
    assert 0 < loading.MAX_YAML_BYTES <= loading.MAX_CSV_BYTES <= loading.MAX_ONNX_BYTES
    assert set(loading.__all__) >= {"MAX_YAML_BYTES", "MAX_CSV_BYTES", "MAX_ONNX_BYTES",
                                    "MAX_DEPTH", "MAX_INT", "MAX_NAME_LENGTH", "MAX_YAML_NODES"}


def test_validation_messages_show_long_and_huge_values_briefly():
    from pydantic import BaseModel

    from dse.spec.loading import validate

    class Spec(BaseModel):
        count: int
        name: int

    _, problems = validate(Spec, {"count": 1e308, "name": "a" * 10_000}, file="s.yaml")
    text = [str(p) for p in problems]
    assert text[0].startswith("s.yaml: count: ") and "1e+308" in text[0]
    assert text[1].startswith("s.yaml: name: ") and "... (10,002 characters)" in text[1]
    assert all(len(t) < 200 for t in text)


@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a {x: {y: *a}}\n"])
def test_a_structure_that_contains_itself_is_refused(text):
    data, problems = load_yaml_text(text, label="self.yaml")
    assert data is None
    assert [str(p) for p in problems] == [
        "self.yaml: line 1, column 4: an alias refers to the anchored value it is inside (a "
        "structure that contains itself)"]
