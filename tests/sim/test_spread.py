"""Service-time spread: the distribution a spec states, and the simulator drawing from it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from dse.errors import SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import validate
from dse.spec.spread import DEFAULT_SPREAD, LEVELS, LatencySpread
from tests.sim.scenarios import GEMM_S, TRANSFER_S, catalog
from tests.sim.test_engine import run

SPREAD = {"p10": 0.93, "p90": 1.06, "p95": 1.12, "p99": 1.35}


# ----- the distribution ------------------------------------------------------------------------

def test_inverse_cdf_passes_through_every_stated_quantile():
    spread = LatencySpread(**SPREAD)
    for name, ratio in SPREAD.items():
        assert float(spread.ratio(LEVELS[name])) == pytest.approx(ratio, rel=1e-12)
    assert float(spread.ratio(0.5)) == pytest.approx(1.0)
    grid = spread.ratio(np.linspace(0.001, 0.999, 999))
    assert np.all(np.diff(grid) > 0)  # strictly increasing between and beyond the points


def test_sampled_quantiles_match_the_stated_ones():
    spread = LatencySpread(**SPREAD)
    draws = spread.sample(np.random.default_rng(1), 400_000)
    for name, ratio in {**SPREAD, "p50": 1.0}.items():
        q = float(np.quantile(draws, float(name[1:]) / 100))
        assert q == pytest.approx(ratio, rel=0.004), name
    assert draws.mean() == pytest.approx(spread.mean_ratio(), rel=0.002)


def test_one_upper_quantile_is_a_log_normal():
    spread = LatencySpread(p90=1.2)
    sigma = np.log(1.2) / ndtri(0.9)
    for q in (0.01, 0.1, 0.3, 0.7, 0.99):
        assert float(spread.ratio(q)) == pytest.approx(np.exp(sigma * ndtri(q)), rel=1e-12)
    assert spread.mean_ratio() == pytest.approx(np.exp(sigma**2 / 2), rel=1e-6)


def test_zero_spread_draws_exactly_one():
    for zero in (LatencySpread(), LatencySpread(p10=1.0, p99=1.0)):
        assert zero.is_zero
        assert np.array_equal(zero.sample(np.random.default_rng(0), 5), np.ones(5))
    assert not DEFAULT_SPREAD.is_zero


@pytest.mark.parametrize(("spread", "message"), [
    ({"p10": 0.9, "p5": 0.95}, r"latency_spread: .*must not decrease.*p5=0.95, p10=0.9"),
    ({"p90": 0.9}, r"npu.yaml: latency_spread.p90: must be >= 1, got 0.9"),
    ({"p10": 1.1}, r"npu.yaml: latency_spread.p10: must be <= 1, got 1.1"),
    ({"p50": 1.0}, r"latency_spread.p50: unknown key 'p50'; did you mean 'p5'"),
])
def test_bad_spreads_name_the_path(spread, message):
    from tests.sim.scenarios import NPU

    data = {**NPU, "name": "npu", "latency_spread": spread,
            "sources": [{**NPU["sources"][0], "fields": [*NPU["sources"][0]["fields"],
                                                         "latency_spread"]}]}
    spec, problems = validate(DeviceSpec, data, file="npu.yaml")
    assert spec is None
    with pytest.raises(SpecError, match=message):
        raise SpecError(problems)


def test_a_stated_spread_needs_a_source():
    from tests.sim.scenarios import NPU

    spec, problems = validate(DeviceSpec, {**NPU, "name": "npu", "latency_spread": {"p90": 1.1}},
                              file="npu.yaml")
    assert spec is None
    assert [(p.path, p.message.split(" (")[0]) for p in problems] == [
        ("latency_spread.p90", "no source given for this number")]


# ----- the simulator ---------------------------------------------------------------------------

def spread_catalog(tmp_path, spread):
    """The scenario catalog with the npu's spread stated (and sourced)."""
    from dse.devices import Catalog
    from tests.sim.scenarios import CPU, NPU, USB
    from tests.spec.catalogs import changed, source, write_catalog

    npu = {**NPU, "latency_spread": spread,
           "sources": [source(*NPU["sources"][0]["fields"]),
                       {"id": "spread", "kind": "measured", "cite": "test",
                        "fields": ["latency_spread"]}]}
    if not spread:
        npu["sources"] = npu["sources"][:1]
    return Catalog(write_catalog(
        tmp_path / f"catalog-{abs(hash(str(spread)))}",
        devices={"npu": npu, "host": changed(CPU, cores=2)},
        links={"usb": USB, "hub": changed(USB, shared=True)},
        platforms={"board": {"host": {"host": 1}, "board_idle_w": 1.0,
                             "sources": [source("board_idle_w")]}}))


def closed(tmp_path, cat, frames=40, **stream):
    return run(tmp_path, cat=cat, stream={"frames": frames, "warmup": 0, "jitter": None,
                                          **stream})


def test_same_seed_same_trace_another_seed_another(tmp_path):
    cat = spread_catalog(tmp_path, SPREAD)
    a = run(tmp_path, cat=cat, trace=True, stream={"frames": 30, "jitter": None, "seed": 3})
    b = run(tmp_path, cat=cat, trace=True, stream={"frames": 30, "jitter": None, "seed": 3})
    assert a.result.events == b.result.events
    assert a.metrics.frames.equals(b.metrics.frames)
    c = run(tmp_path, cat=cat, trace=True, stream={"frames": 30, "jitter": None, "seed": 4})
    assert a.result.events != c.result.events


def test_p99_above_p50_with_a_spread_and_equal_without(tmp_path):
    spread = closed(tmp_path, spread_catalog(tmp_path, SPREAD)).metrics.latency_ms
    assert spread["p99"] > spread["p95"] > spread["p50"]
    flat = closed(tmp_path, spread_catalog(tmp_path, {})).metrics.latency_ms
    assert flat["p99"] == pytest.approx(flat["p50"], rel=1e-12)


def test_zero_spread_reproduces_the_deterministic_results_exactly(tmp_path):
    """A target stating no spread (or all ratios 1) runs as with ``stream.jitter: 0``: the
    exact trace of the deterministic simulator."""
    deterministic = run(tmp_path, trace=True, stream={"frames": 12, "jitter": 0})
    for zero in ({}, {"p10": 1.0, "p90": 1.0}):
        report = run(tmp_path, cat=spread_catalog(tmp_path, zero), trace=True,
                     stream={"frames": 12, "jitter": None})
        assert report.result.events == deterministic.result.events
        assert report.metrics.frames.equals(deterministic.metrics.frames)
    assert deterministic.metrics.latency_ms["p50"] == pytest.approx(
        (2 * TRANSFER_S + GEMM_S) * 1e3)


def test_each_inference_draws_its_compute_time_from_the_target_spread(tmp_path):
    """One frame at a time: latency = transfers + the Gemm's time x one draw, so the latency
    quantiles are the spread's, shifted by the (deterministic) transfers."""
    report = closed(tmp_path, spread_catalog(tmp_path, SPREAD), frames=4000, seed=11)
    compute_ms = (report.metrics.frames["done_s"] - report.metrics.frames["start_s"]
                  - 2 * TRANSFER_S) * 1e3
    for name, ratio in {**SPREAD, "p50": 1.0}.items():
        q = float(np.quantile(compute_ms, float(name[1:]) / 100))
        assert q == pytest.approx(GEMM_S * 1e3 * ratio, rel=0.02), name


def test_targets_without_a_spread_get_the_default(tmp_path):
    report = closed(tmp_path, catalog(tmp_path), frames=2000, seed=5)
    compute = (report.metrics.frames["done_s"] - report.metrics.frames["start_s"]
               - 2 * TRANSFER_S)
    assert float(np.quantile(compute, 0.9)) == pytest.approx(
        GEMM_S * float(DEFAULT_SPREAD.ratio(0.9)), rel=0.004)


def test_jitter_overrides_the_target_spread(tmp_path):
    cat = spread_catalog(tmp_path, {"p90": 3.0, "p99": 9.0})
    wide = closed(tmp_path, cat, frames=300).metrics.latency_ms
    narrow = closed(tmp_path, cat, frames=300, jitter=0.01).metrics.latency_ms
    assert wide["p99"] / wide["p50"] > 2  # transfers (no spread) are 80% of the latency
    assert narrow["p99"] / narrow["p50"] < 1.05
