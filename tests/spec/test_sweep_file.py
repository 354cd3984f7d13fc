"""dse.spec.sweep: a sweep file's settings with the command line's flags over them."""

from __future__ import annotations

from pathlib import Path

from dse.spec.sweep import SweepFile, merge_options

SPEC = SweepFile(name="s", family="zoo", options={"models": "ds_cnn"},
                 targets=["coral_usb", "ncs2"], precision="int8", limit=10, seed=4, chunk=50)


def test_flags_left_at_their_defaults_keep_the_files_settings():
    merged = merge_options(SPEC, {"targets": [], "limit": None, "sample": "random", "seed": 0,
                                  "precision": "auto", "calibration": "shipped", "chunk": 1000,
                                  "options": {}, "out": None})
    assert merged == {"family": "zoo", "options": {"models": "ds_cnn"},
                      "out": Path("sweeps") / "s", "targets": ["coral_usb", "ncs2"],
                      "limit": 10, "sample": "random", "seed": 4, "precision": "int8",
                      "calibration": "shipped", "chunk": 50}


def test_a_flag_given_overrides_the_file():
    merged = merge_options(SPEC, {"targets": ["dpu_b4096"], "seed": 7, "chunk": 5,
                                  "options": {"width": 0.5}, "out": Path("x")})
    assert merged["targets"] == ["dpu_b4096"] and merged["seed"] == 7
    assert merged["chunk"] == 5 and merged["out"] == Path("x")
    assert merged["options"] == {"models": "ds_cnn", "width": 0.5}
    assert merged["limit"] == 10  # not given
