"""Strict unit parsing: every accepted form, every refusal with its message."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dse.spec.units import format_quantity, parse_quantity


@pytest.mark.parametrize(("text", "quantity", "expected"), [
    ("25.6 GB/s", "bandwidth", 25.6e9),
    ("480 Mbit/s", "bandwidth", 60e6),
    ("5 Gbps", "bandwidth", 625e6),
    ("8 MiB", "bytes", 8 * 2**20),
    ("8 MB", "bytes", 8e6),
    ("512 kB", "bytes", 512e3),
    ("442 KiB", "bytes", 442 * 1024),
    ("4 TOPS", "ops_s", 4e12),
    ("57.6 GFLOPS", "ops_s", 57.6e9),
    ("1 TMAC/s", "ops_s", 2e12),
    ("1.5 ms", "seconds", 1.5e-3),
    ("20 us", "seconds", 20e-6),
    ("20µs", "seconds", 20e-6),
    ("500 mW", "power", 0.5),
    ("1.5 GHz", "frequency", 1.5e9),
    ("1e9", "frequency", 1e9),
    (3, "bytes", 3.0),
    (2.5, "power", 2.5),
])
def test_accepted(text, quantity, expected):
    assert parse_quantity(text, quantity) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "quantity", "message"), [
    ("2.5 KB", "bytes", r"unit 'KB' in '2.5 KB' is ambiguous; write kB \(1000 bytes\) or KiB"),
    ("25.6 GB", "bandwidth", r"unknown unit 'GB' in '25.6 GB' \(that is a unit of bytes\); "
                             r"expected a bandwidth such as '25.6 GB/s'"),
    ("3 parsecs", "seconds", r"unknown unit 'parsecs'"),
    ("fast", "ops_s", r"expected a number with a unit such as '4 TOPS'"),
    ("1.5 GHz 2", "frequency", r"unknown unit"),
    (True, "power", r"expected a number or a string such as '2.5 W'"),
    ([1], "power", r"got list \[1\]"),
    (float("nan"), "power", r"expected a finite number"),
    ("inf W", "power", r"expected a number with a unit"),
])
def test_refused(value, quantity, message):
    with pytest.raises(ValueError, match=message):
        parse_quantity(value, quantity)


@given(st.floats(min_value=1e-9, max_value=1e15, allow_nan=False),
       st.sampled_from(["bytes", "bandwidth", "ops_s", "seconds", "power", "frequency"]))
def test_format_parses_back(value, quantity):
    text = format_quantity(value, quantity, digits=6)
    assert math.isclose(parse_quantity(text, quantity), value, rel_tol=1e-5)
