"""Fitting service-time spreads: from host repeats, ncnn's min/max, MLPerf Mobile's p90; the
recorded host measurement against the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import ndtri

from dse.calibrate.loaders import data_dir
from dse.calibrate.spread import (
    RUNS_REQUIRED,
    SpreadError,
    blom_level,
    check_runs,
    fit_spread,
    host_observations,
    mlperf_mobile_observations,
    ncnn_observations,
    read_runs,
    shipped_spreads,
)
from dse.catalog import catalog_dir
from dse.devices import Catalog
from dse.devices.overlay import Overlay, apply_overlay
from dse.spec.spread import DEFAULT_SPREAD, LEVELS, LatencySpread

RECORDED = catalog_dir("calibration") / "host" / "spread.csv"
RECORDED_HOST = catalog_dir("calibration") / "host"
shared = pytest.mark.skipif(not data_dir().is_dir(), reason="shared measurement tables absent")


def runs_of(spread: LatencySpread, medians=(5.0, 20.0), streams=1) -> pd.DataFrame:
    rows = []
    for i, median in enumerate(medians):
        rows.append({"workload": f"m{i}", "options": "", "threads": 1, "streams": streams,
                     "latency_ms": median, "n": 300,
                     **{f"{n}_ms": median * float(spread.ratio(LEVELS[n]))
                        for n in ("p10", "p90", "p95", "p99")}})
    return pd.DataFrame(rows)


def test_host_quantiles_are_fitted_back_exactly():
    truth = LatencySpread(p10=0.9, p90=1.07, p95=1.15, p99=1.4)
    fitted = fit_spread(host_observations(runs_of(truth)))
    assert fitted == truth


def test_only_single_session_runs_are_fitted():
    one = runs_of(LatencySpread(p10=0.95, p90=1.05, p95=1.1, p99=1.2))
    two = runs_of(LatencySpread(p10=0.5, p90=2.0, p95=3.0, p99=4.0), streams=2)
    assert fit_spread(host_observations(pd.concat([one, two]))) == \
        fit_spread(host_observations(one))
    with pytest.raises(SpreadError, match="no single-session"):
        fit_spread(host_observations(two))


def test_extremes_of_n_runs_give_a_log_normal_per_side():
    """The min and max of n runs at Blom's positions: a spread whose slopes they fix."""
    truth_lo, truth_hi = 0.02, 0.05  # log-slopes per unit normal score
    rows = []
    for n in (8, 64):
        for rank in (1, n):
            level = blom_level(rank, n)
            z = float(ndtri(level))
            slope = truth_lo if z < 0 else truth_hi
            rows.append({"device": "d", "host": "", "runtime": "", "workload": f"n{n}",
                         "options": "", "precision": "fp32", "threads": 1, "streams": 1,
                         "level": level, "ratio": float(np.exp(slope * z)), "runs": n,
                         "source": "test"})
    fitted = fit_spread(pd.DataFrame(rows))
    assert fitted.p10 == pytest.approx(np.exp(-truth_lo * 1.2815516), abs=1e-4)
    assert fitted.p90 == pytest.approx(np.exp(truth_hi * 1.2815516), abs=1e-4)
    assert fitted.p99 == pytest.approx(np.exp(truth_hi * 2.3263479), abs=1e-4)


def test_blom_positions():
    assert blom_level(1, 64) == pytest.approx(0.625 / 64.25)
    assert blom_level(64, 64) == pytest.approx(1 - 0.625 / 64.25)


def test_bad_runs_file_names_file_and_line(tmp_path):
    path = tmp_path / "runs.csv"
    runs_of(DEFAULT_SPREAD).assign(p99_ms=[-1.0, "x"]).to_csv(path, index=False)
    with pytest.raises(SpreadError) as info:
        read_runs(path)
    text = str(info.value)
    assert f"{path}: line 2: p99_ms: expected a positive number, got '-1.0'" in text
    assert f"{path}: line 3: p99_ms: expected a positive number, got 'x'" in text
    pd.DataFrame({"workload": ["a"]}).to_csv(path, index=False)
    with pytest.raises(SpreadError, match=r"columns: expected .*missing options, threads"):
        read_runs(path)
    with pytest.raises(SpreadError, match="file not found"):
        read_runs(tmp_path / "absent.csv")


@shared
def test_ncnn_targets_get_a_spread_from_min_max_rows():
    obs = ncnn_observations()
    assert {"rpi5_cpu", "jetson_nano_gpu", "mali_g72", "kirin970_a73"} <= set(obs["device"])
    assert ((obs["level"] < 0.5) == (obs["ratio"] <= 1)).all()
    table = shipped_spreads()
    assert len(table) >= 6
    for r in table.itertuples():
        s = r.spread
        assert s.p10 < 1 < s.p90 <= s.p99 < 1.2, r.target  # benchncnn spreads are narrow


@shared
def test_the_catalog_fit_writes_the_spread_into_the_overlay(tmp_path):
    from dse.calibrate.shipped import _spreads, _with_spread
    from dse.devices import default_catalog

    catalog = default_catalog()
    fitted = _spreads(None, catalog)["rpi5_cpu@ncnn_cpu"]
    overlay = _with_spread(Overlay(device="rpi5_cpu", runtime="ncnn_cpu",
                                   values={"overhead_per_inference_s": 1e-3}), fitted)
    text = yaml.safe_dump(overlay.model_dump(mode="json", exclude_none=True))
    spec = apply_overlay(catalog.device("rpi5_cpu"), Overlay(**yaml.safe_load(text)))
    assert spec.spread == fitted.spread
    assert spec.source_of("latency_spread.p99").kind == "fitted"


@shared
def test_default_spread_is_the_mlperf_mobile_fit():
    obs = mlperf_mobile_observations()
    assert len(obs) == 74
    assert fit_spread(obs) == DEFAULT_SPREAD


# ----- the recorded host measurement ----------------------------------------------------------

def recorded_host_catalog() -> Catalog:
    return Catalog(catalog_dir("devices"), RECORDED_HOST)


def test_recording_states_its_machine_and_has_a_p99():
    runs = read_runs(RECORDED)
    assert set(RUNS_REQUIRED) <= set(runs.columns)
    assert (runs["cpu"] != "").all() and (runs["cores"] >= 1).all() and (runs["date"] != "").all()
    assert (runs["n"] >= 300).all()
    assert {(w, s) for w, s in zip(runs["workload"], runs["streams"], strict=True)} >= {
        ("mobilenet_v2", 1), ("mobilenet_v2", 2), ("resnet18", 1), ("resnet18", 2)}


def test_simulated_tails_against_the_recording():
    """Each configuration simulated with the spread fitted on the *other* models' runs: its
    p99 / p50 against the measured one, beside the simulator without a spread (p99 = p50).

    What this asserts holds for any honest recording: the simulator draws what was fitted, and
    the fitted spread predicts the measured tails better, on average, than no spread does. The
    figures themselves (``dse host spread-check``) are reported, not pinned: they are this
    recording's machine and load.
    """
    runs = read_runs(RECORDED)
    table = check_runs(runs, catalog=recorded_host_catalog())
    assert (table["sim_p99_ms"] > table["sim_p50_ms"]).all()
    obs = host_observations(runs)
    for r in table.itertuples():
        if r.streams != 1:
            continue
        others = obs[obs["workload"] != r.workload]
        fitted = fit_spread(others)
        # one session alone: the simulated tail is the fitted one (300 draws: a p99 within 5%)
        assert r.sim_p99_ms / r.sim_p50_ms == pytest.approx(float(fitted.ratio(0.99)), rel=0.05)
        assert r.fitted_on == ", ".join(sorted(set(others["workload"])))
    assert table["tail_error"].abs().mean() < table["naive_tail_error"].abs().mean()
    # deterministic: the same recording and seed give the same figures
    assert check_runs(runs, catalog=recorded_host_catalog()).equals(table)


def test_cli_spread_check_writes_the_host_overlay(tmp_path, capsys):
    import json

    from dse.cli import main
    from dse.devices.overlay import load_overlay

    overlay = tmp_path / "host@onnxruntime_cpu.yaml"
    assert main(["host", "spread-check", str(RECORDED), "--overlay", str(overlay), "--json",
                 "--catalog", str(RECORDED_HOST)]) == 0
    printed = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    assert len(printed["rows"]) == len(read_runs(RECORDED))
    fitted = load_overlay(overlay)
    assert fitted.values["latency_spread"] == printed["spread"] == \
        fit_spread(host_observations(read_runs(RECORDED))).model_dump(exclude_none=True)
    # run again on an existing overlay: its other values stay, the spread is replaced
    overlay.write_text(overlay.read_text().replace("values:\n",
                                                   "values:\n  overhead_per_inference_s: 0.001\n"))
    assert main(["host", "spread-check", str(RECORDED), "--overlay", str(overlay), "--json",
                 "--catalog", str(RECORDED_HOST)]) == 0
    again = load_overlay(overlay)
    assert again.values["overhead_per_inference_s"] == 0.001
    assert again.values["latency_spread"] == fitted.values["latency_spread"]


def test_cli_spread_check_bad_file_is_exit_2(tmp_path, capsys):
    from dse.cli import main

    assert main(["host", "spread-check", str(tmp_path / "absent.csv")]) == 2
    assert "absent.csv: file not found" in capsys.readouterr().err
