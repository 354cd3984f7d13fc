"""Co-run tables: reading, slowdowns within a round, and the contention law's fit.

Nothing here times anything live: the live co-run is ``dse host corun`` and the benchmark
``tests/benchmarks/test_bench_corun.py``; these tests use synthetic tables and the recorded
``calibration/host/corun.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dse.cost.concurrency import contention_slowdown
from dse.measure.corun import (
    COLUMNS,
    CorunError,
    corun,
    corun_summary,
    fit_contention,
    read_corun,
    write_corun,
)


def _row(**over):
    base = {"round": 0, "kind": "alone", "workload": "a", "core": 0, "co_runner": "",
            "hog_target_gb_s": np.nan, "hog_achieved_gb_s": np.nan, "hog_cpu_share": np.nan,
            "threads": 1, "window_s": 1.0, "inferences": 10, "throughput_fps": 100.0,
            "latency_p50_ms": 10.0, "latency_p10_ms": 9.0, "latency_p90_ms": 11.0,
            "cpu_fps": 100.0, "cpu_p50_ms": 10.0, "cpu": "test CPU", "cores": 2,
            "ort": "1.0", "date": "2026-12-05T18:00+00:00", "load_avg": 0.1}
    return {**base, **over}


def _table(rows):
    return pd.DataFrame([_row(**r) for r in rows], columns=list(COLUMNS))


def test_slowdowns_are_taken_within_a_round_then_the_median():
    # round 0 runs fast, round 1 slow (machine drift): within each round the slowdown is 2
    frame = _table([
        {"round": 0, "throughput_fps": 100.0},
        {"round": 0, "kind": "hog", "co_runner": "hog", "hog_target_gb_s": 2.0,
         "hog_achieved_gb_s": 1.9, "throughput_fps": 50.0},
        {"round": 1, "throughput_fps": 60.0},
        {"round": 1, "kind": "hog", "co_runner": "hog", "hog_target_gb_s": 2.0,
         "hog_achieved_gb_s": 2.1, "throughput_fps": 30.0},
        {"round": 0, "workload": "b", "core": 1, "throughput_fps": 40.0, "cpu_fps": 50.0},
        {"round": 0, "kind": "pair", "workload": "a", "co_runner": "b", "throughput_fps": 80.0,
         "cpu_fps": 90.0},
        {"round": 0, "kind": "pair", "workload": "b", "core": 1, "co_runner": "a",
         "throughput_fps": 20.0, "cpu_fps": 40.0},
    ])
    s = corun_summary(frame).set_index(["kind", "workload", "co_runner"])
    assert s.loc[("hog", "a", "hog"), "slowdown"] == pytest.approx(2.0)
    assert s.loc[("hog", "a", "hog"), "slowdown_min"] == pytest.approx(2.0)
    assert s.loc[("hog", "a", "hog"), "hog_achieved_gb_s"] == pytest.approx(2.0)
    assert s.loc[("hog", "a", "hog"), "rounds"] == 2
    assert s.loc[("pair", "a", "b"), "slowdown"] == pytest.approx(100 / 80)
    assert s.loc[("pair", "b", "a"), "slowdown"] == pytest.approx(2.0)
    cpu = corun_summary(frame, basis="cpu").set_index(["kind", "workload", "co_runner"])
    assert cpu.loc[("pair", "a", "b"), "slowdown"] == pytest.approx(100 / 90)
    assert cpu.loc[("pair", "b", "a"), "slowdown"] == pytest.approx(50 / 40)
    with pytest.raises(CorunError, match="basis: expected wall or cpu, got 'gpu'"):
        corun_summary(frame, basis="gpu")


def test_a_table_round_trips_and_bad_rows_are_all_named(tmp_path):
    frame = _table([{}, {"kind": "hog", "co_runner": "hog", "hog_achieved_gb_s": 1.0}])
    path = write_corun(frame, tmp_path / "corun.csv")
    back = read_corun(path)
    assert len(back) == 2 and back["co_runner"].tolist() == ["", "hog"]
    bad = _table([{"kind": "duet"}, {"kind": "pair"}, {"throughput_fps": -1.0},
                  {"kind": "hog", "co_runner": "hog"}])
    write_corun(bad, tmp_path / "bad.csv")
    with pytest.raises(CorunError) as info:
        read_corun(tmp_path / "bad.csv")
    text = str(info.value)
    assert "bad.csv: row 2, kind: expected one of alone, pair, hog, got 'duet'" in text
    assert "row 3, co_runner: a pair row needs its co-runner" in text
    assert "row 4, throughput_fps: expected a number > 0, got -1" in text
    assert "row 5, hog_achieved_gb_s: expected a number >= 0, got nan" in text
    frame.drop(columns=["cpu_fps"]).to_csv(tmp_path / "old.csv", index=False)
    with pytest.raises(CorunError, match=r"old\.csv: header: missing columns \['cpu_fps'\]"):
        read_corun(tmp_path / "old.csv")
    with pytest.raises(CorunError, match=r"nothing\.csv: no such file"):
        read_corun(tmp_path / "nothing.csv")


def test_bad_settings_are_refused_together_before_anything_runs():
    with pytest.raises(CorunError) as info:
        corun(["mobilenet_v2", "no_such_net"], hog_gb_s=[-1.0], window_s=0.0, rounds=0,
              cores=[0, 0])
    text = str(info.value)
    for part in ("unknown zoo model 'no_such_net'", "hog: expected GB/s > 0 or 'max', got -1.0",
                 "window_s: expected > 0", "rounds: expected >= 1", "cores: expected two "
                 "different usable CPUs"):
        assert part in text


LAW = {"knee": 0.3, "saturation": 0.9, "slope": 3.0}


def _synthetic(demands, bw, law):
    """A summary whose hog and pair slowdowns follow ``law`` exactly."""
    rows = []
    for w, own in demands.items():
        for hog in (0.5e9, 1e9, 2e9, 4e9, 8e9, 12e9):
            rows.append({"kind": "hog", "workload": w, "co_runner": "hog", "level": "",
                         "alone_fps": 100.0, "hog_achieved_gb_s": hog / 1e9,
                         "slowdown": contention_slowdown(own, hog, bw, **law)})
        for other, d in demands.items():
            if other != w:
                s = contention_slowdown(own, d, bw, **law)
                rows.append({"kind": "pair", "workload": w, "co_runner": other, "level": "",
                             "alone_fps": 100.0, "corun_fps": 100.0 / s, "slowdown": s,
                             "hog_achieved_gb_s": np.nan})
    return pd.DataFrame(rows)


def test_the_fit_recovers_a_known_law_and_predicts_its_pairs():
    demands = {"a": 1e9, "b": 3e9, "c": 6e9}
    summary = _synthetic(demands, 10e9, LAW)
    fit = fit_contention(summary, demands, 10e9)
    assert fit.fit_mape < 1e-3
    assert fit.pair_mape < 1e-3  # pairs never fitted on, predicted from demands alone
    assert fit.naive_mape > 0.05  # and the law is not trivially 1
    x = np.linspace(0, 12e9, 25)
    for own in demands.values():
        np.testing.assert_allclose(contention_slowdown(own, x, 10e9, **fit.law),
                                   contention_slowdown(own, x, 10e9, **LAW), rtol=1e-3)


def test_the_fit_needs_hog_rows_and_every_demand():
    summary = _synthetic({"a": 1e9, "b": 3e9}, 10e9, LAW)
    with pytest.raises(CorunError, match="no demand for b"):
        fit_contention(summary, {"a": 1e9}, 10e9)
    with pytest.raises(CorunError, match="no hog rows"):
        fit_contention(summary[summary["kind"] == "pair"], {"a": 1e9, "b": 3e9}, 10e9)


# ----- the recorded dataset ---------------------------------------------------------------------

def _recorded():
    from dse.catalog import catalog_dir
    from dse.devices import Catalog
    from dse.measure.corun import task_demands

    root = catalog_dir("calibration")
    raw = read_corun(root / "host" / "corun.csv")
    # the machine it was measured on, as recorded (never a fresh detection): its probe
    folder = root / "host"
    cat = Catalog(catalog_dir("devices"), folder)
    spec = cat.device("host")
    demands = task_demands(sorted(set(raw["workload"])), spec,
                           runtime=cat.runtimes.get("onnxruntime_cpu"))
    return raw, spec, demands


def test_the_recorded_dataset_states_its_machine_and_covers_both_experiments():
    raw, _, _ = _recorded()
    assert set(raw["kind"]) == {"alone", "pair", "hog"}
    assert raw["cpu"].str.len().min() > 0 and (raw["cores"] >= 2).all()
    assert raw["date"].str.match(r"\d{4}-\d\d-\d\dT").all()
    pairs = raw[raw["kind"] == "pair"]
    assert (pairs["workload"] != pairs["co_runner"]).all()  # different models
    assert pairs["workload"].nunique() >= 4
    hog = raw[raw["kind"] == "hog"]
    assert hog["hog_target_gb_s"].nunique() >= 3 and hog["hog_target_gb_s"].isna().any()


def test_the_law_fitted_on_the_recorded_hog_rows_predicts_the_pairs():
    # Recorded on a quiet 2-vCPU guest (load average 0.7-1.4, see the load_avg column), on the
    # wall-clock basis: fitted on the hog rows, checked on the pairs, which it never saw.
    raw, spec, demands = _recorded()
    fit = fit_contention(corun_summary(raw, basis="wall"), demands, spec.mem_bw_bytes_s)
    assert fit.fit_mape <= 0.05  # the fit reproduces its own rows
    assert fit.pair_mape <= 0.10  # the goal on pairs not fitted on
    # every predicted slowdown obeys the law's invariants
    assert (fit.pairs["predicted_slowdown"] >= 1.0).all()
    # the naive figure (no slowdown) depends on the data alone: calibration/host/corun.md's
    assert fit.naive_mape == pytest.approx(0.0278, abs=0.0005)


def test_the_commands_report_bad_input_in_one_error(tmp_path, capsys):
    from dse.cli import main

    assert main(["host", "corun", "mobilenet_v2", "nonet", "--hog", "1,x", "--cores",
                 "0,0"]) == 2
    text = capsys.readouterr().err
    for part in ("--hog: x: expected GB/s numbers or 'max'", "unknown zoo model 'nonet'",
                 "cores: expected two different usable CPUs"):
        assert part in text
    (tmp_path / "bad.csv").write_text("round,kind\n0,alone\n")
    assert main(["host", "contention", str(tmp_path / "bad.csv")]) == 2
    assert "bad.csv: header: missing columns" in capsys.readouterr().err
