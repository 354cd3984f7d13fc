"""The sweep engine: member selection, chunks, resume after a kill, manifest, engines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dse.errors import DseError
from dse.sweep import load_results, run_sweep
from dse.sweep.engine import MAX_MEMBERS, chunk_indices, select_members
from dse.sweep.evaluate import FamilySpec, Targets, evaluate_chunk, resolve_targets
from tests.sweep.common import EDGETPUS, OPTIONS, TARGETS


def test_selection_is_deterministic_sorted_and_unique():
    a = select_members(423_624, 1000, "random", 7)
    assert len(a) == 1000 and len(np.unique(a)) == 1000 and np.all(np.diff(a) > 0)
    assert np.array_equal(a, select_members(423_624, 1000, "random", 7))
    assert not np.array_equal(a, select_members(423_624, 1000, "random", 8))
    assert np.array_equal(select_members(50, 5, "first", 0), np.arange(5))
    assert np.array_equal(select_members(5, 50, "random", 0), np.arange(5))
    big = select_members(10**9, 100, "random", 0)  # a sample of a huge family: no permutation
    assert len(np.unique(big)) == 100 and big.max() < 10**9


def test_chunks_cover_the_selection_in_order():
    parts = chunk_indices(np.arange(10), 4)
    assert [list(p) for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_chunk_row_per_member_with_every_target_column():
    frame = evaluate_chunk(FamilySpec.of("zoo", OPTIONS), [3, 0], Targets(tuple(TARGETS)))
    assert list(frame["index"]) == [0, 3]
    assert {"macs", "params", "layers", "n_conv"} <= set(frame.columns)
    for t in TARGETS:
        for col in ("latency_s", "energy_j", "feasible", "fits", "onchip_weight_bytes",
                    "offchip_weight_bytes", "reason"):
            assert f"{col}:{t}" in frame
    ok = frame["feasible:coral_usb"]
    assert ok.any() and (frame.loc[ok, "latency_s:coral_usb"] > 0).all()
    assert (frame.loc[ok, "energy_j:coral_usb"] > 0).all()


def test_auto_precision_is_int8_where_the_device_runs_it():
    resolved = {t.name: t.precision for t in resolve_targets(Targets(tuple(TARGETS)))}
    assert resolved == {"coral_usb": "int8", "ncs2": "fp16", "dpu_b4096+zcu104": "int8"}


def test_the_edge_tpu_classes_scale_with_pe_count_and_clock():
    frame = evaluate_chunk(FamilySpec.of("zoo", OPTIONS), range(6),
                           Targets(tuple(EDGETPUS), calibration="datasheet"))
    assert frame[[f"feasible:{t}" for t in EDGETPUS]].all().all()
    v1, v2, v3 = (frame[f"device_s:{t}"] for t in EDGETPUS)
    assert (v2 <= v1 * (1 + 1e-9)).all()  # same PEs, faster clock
    assert (v3 >= v2 * (1 - 1e-9)).all()  # a quarter of the PEs at the same clock


def _sweep(out, **kw):
    kw.setdefault("options", OPTIONS)
    kw.setdefault("chunk", 2)
    return run_sweep("zoo", TARGETS, out=out, **kw)


def _parts(out):
    return {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}


def test_a_killed_sweep_resumes_with_the_rest_only(tmp_path):
    whole = _sweep(tmp_path / "whole")
    assert whole.complete and whole.chunks == 3 and whole.evaluated == 3
    out = tmp_path / "killed"
    first = _sweep(out, max_chunks=1)  # as if killed after one chunk
    assert not first.complete and first.evaluated == 1
    before = _parts(out)
    assert len(before) == 1
    rest = _sweep(out)
    assert rest.complete and rest.evaluated == 2
    after = _parts(out)
    assert all(after[name] == stamp for name, stamp in before.items())  # not rewritten
    again = _sweep(out)
    assert again.evaluated == 0 and _parts(out) == after
    a, _ = load_results(tmp_path / "whole")
    b, _ = load_results(out)
    pd.testing.assert_frame_equal(a, b)


def test_a_different_sweep_in_the_folder_is_refused_unless_fresh(tmp_path):
    out = tmp_path / "s"
    _sweep(out)
    with pytest.raises(DseError, match=r"different sweep \(chunk: 2 there, 3 now.*--fresh"):
        _sweep(out, chunk=3)
    with pytest.raises(DseError, match="targets"):
        run_sweep("zoo", ["coral_usb"], options=OPTIONS, chunk=2, out=out)
    fresh = _sweep(out, chunk=3, fresh=True)
    assert fresh.complete and fresh.chunks == 2
    assert json.loads((out / "manifest.json").read_text())["chunk"] == 3
    assert len(list(tmp_path.glob("s.old-*"))) == 1  # the old sweep moved aside, not deleted


def test_partitions_without_a_manifest_are_refused(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "part-000000.parquet").write_bytes(b"x")
    with pytest.raises(DseError, match=r"no manifest\.json"):
        _sweep(out)


def test_results_identical_for_every_worker_count_and_chunk_size(tmp_path):
    one = _sweep(tmp_path / "one", workers=1)
    two = _sweep(tmp_path / "two", workers=2)
    assert one.complete and two.complete
    a, _ = load_results(tmp_path / "one")
    b, _ = load_results(tmp_path / "two")
    pd.testing.assert_frame_equal(a, b)
    c, _ = load_results(_sweep(tmp_path / "c5", chunk=5).out)
    pd.testing.assert_frame_equal(a, c)


def test_bad_input(tmp_path):
    with pytest.raises(DseError, match="unknown family 'zooo'; did you mean 'zoo'"):
        run_sweep("zooo", TARGETS, out=tmp_path)
    with pytest.raises(DseError, match="unknown device 'coral_usbb'"):
        run_sweep("zoo", ["coral_usbb"], options=OPTIONS, out=tmp_path)
    with pytest.raises(DseError, match="unknown runtime 'tflit'"):
        run_sweep("zoo", ["coral_usb@tflit"], options=OPTIONS, out=tmp_path)
    with pytest.raises(DseError, match="unknown host 'raspberry_pi9'"):
        run_sweep("zoo", ["coral_usb+raspberry_pi9"], options=OPTIONS, out=tmp_path)
    with pytest.raises(DseError, match="unknown zoo model 'resnet9'"):
        run_sweep("zoo", TARGETS, options={"models": "resnet9"}, out=tmp_path)
    with pytest.raises(DseError, match="--chunk: must be >= 1, got 0"):
        run_sweep("zoo", TARGETS, options=OPTIONS, chunk=0, out=tmp_path)
    with pytest.raises(DseError, match="unknown engine 'spark'"):
        run_sweep("zoo", TARGETS, options=OPTIONS, engine="spark", out=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written on bad input


def test_a_family_over_the_limit_refuses_before_starting(tmp_path, monkeypatch):
    import dse.sweep.engine as engine

    monkeypatch.setattr(engine, "MAX_MEMBERS", 3)
    with pytest.raises(DseError, match="6 members, more than 3: give --limit N"):
        _sweep(tmp_path / "s")
    assert not (tmp_path / "s").exists()
    assert _sweep(tmp_path / "s", limit=2).members == 2
    assert MAX_MEMBERS == 1_000_000


def test_list_options_are_taken(tmp_path):
    result = run_sweep("zoo", ["coral_usb"], options={"models": ["resnet8", "ds_cnn"]},
                       out=tmp_path / "s")
    assert result.members == 2 and result.manifest["options"] == {"models": ["resnet8", "ds_cnn"]}
