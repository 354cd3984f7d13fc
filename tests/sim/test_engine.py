"""The simulator on tiny scenarios: whole traces (SimPy's style), then invariants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dse.run import simulate
from dse.sim import bound, build_plan
from dse.spec.experiment import load_experiment
from tests.sim.scenarios import GEMM_S, TRANSFER_S, catalog, experiment


def run(tmp_path, cat=None, trace=False, **sections):
    cat = cat or catalog(tmp_path)
    return simulate(load_experiment(experiment(tmp_path, **sections)), catalog=cat, trace=trace)


def test_single_trace_is_input_compute_output_then_the_next_frame(tmp_path):
    report = run(tmp_path, trace=True, stream={"frames": 2, "warmup": 0})
    events = [(track, name, round(start, 9), round(end, 9), frame)
              for track, name, start, end, frame in report.result.events]
    t1 = TRANSFER_S
    t2 = t1 + GEMM_S
    t3 = t2 + TRANSFER_S
    assert events == [
        ("usb:npu:0", "input", 0.0, round(t1, 9), 0),
        ("npu:0", "layers", round(t1, 9), round(t2, 9), 0),
        ("usb:npu:0", "output", round(t2, 9), round(t3, 9), 0),
        ("usb:npu:0", "input", round(t3, 9), round(t3 + t1, 9), 1),
        ("npu:0", "layers", round(t3 + t1, 9), round(t3 + t2, 9), 1),
        ("usb:npu:0", "output", round(t3 + t2, 9), round(2 * t3, 9), 1),
    ]
    m = report.metrics
    assert m.latency_ms["p50"] == pytest.approx(t3 * 1e3)
    assert m.throughput_fps == pytest.approx(1 / t3)
    assert report.bound.throughput_fps == pytest.approx(1 / t3)
    assert report.bound.bottlenecks == ("device npu:0",)


def test_host_work_and_the_driving_core(tmp_path):
    report = run(tmp_path, trace=True, stream={"frames": 1, "warmup": 0},
                 execution={"preprocess_s": 0.001, "postprocess_s": 0.002})
    names = [(e[0], e[1]) for e in report.result.events]
    assert names == [("host", "pre"), ("usb:npu:0", "input"), ("npu:0", "layers"),
                     ("usb:npu:0", "output"), ("host", "post")]
    cores = report.result.cores["host"]
    # pre + post on a core each, and a core driving the npu while it computes (the USB
    # transfers are DMA: they keep the link busy, not a core)
    assert cores["load_s"] == pytest.approx(0.003 + GEMM_S)


def test_threads_overlap_host_work_with_the_device(tmp_path):
    one = run(tmp_path, execution={"policy": "threads", "threads": 1, "preprocess_s": 0.001})
    two = run(tmp_path, execution={"policy": "threads", "threads": 2, "preprocess_s": 0.001})
    assert two.metrics.throughput_fps > 1.3 * one.metrics.throughput_fps
    assert two.metrics.throughput_fps <= two.bound.throughput_fps * (1 + 1e-9)


@pytest.mark.parametrize("policy", ["single", "data_parallel"])
def test_agrees_with_the_bound_without_contention(tmp_path, policy):
    report = run(tmp_path, platform={"host": "board", "accelerators": {"npu": 3}},
                 execution={"policy": policy}, stream={"frames": 60, "warmup": 6})
    assert report.metrics.throughput_fps == pytest.approx(report.bound.throughput_fps, rel=0.01)


def test_a_shared_hub_is_slower_than_dedicated_ports(tmp_path):
    cat = catalog(tmp_path)
    hub = run(tmp_path, cat=cat, platform={"host": "board", "accelerators": {"npu": 4},
                                           "link": "hub"},
              execution={"policy": "data_parallel"}, stream={"frames": 80, "warmup": 8})
    ports = run(tmp_path, cat=cat, platform={"host": "board", "accelerators": {"npu": 4}},
                execution={"policy": "data_parallel"}, stream={"frames": 80, "warmup": 8})
    assert hub.metrics.throughput_fps < ports.metrics.throughput_fps
    assert "link hub" in hub.bound.bottlenecks or hub.metrics.utilization["link hub"] > 0.5
    assert hub.metrics.throughput_fps <= hub.bound.throughput_fps * (1 + 1e-9)


def test_open_loop_sustains_a_low_rate_and_not_a_high_one(tmp_path):
    low = run(tmp_path, stream={"frames": 40, "warmup": 4, "fps": 100})
    assert low.metrics.sustained
    assert low.metrics.throughput_fps == pytest.approx(100, rel=0.02)
    high = run(tmp_path, stream={"frames": 40, "warmup": 4, "fps": 5000})
    assert not high.metrics.sustained
    assert high.metrics.latency_ms["p99"] > low.metrics.latency_ms["p99"]


def test_same_seed_same_result_and_jitter_changes_it(tmp_path):
    cat = catalog(tmp_path)
    kw = dict(stream={"frames": 30, "warmup": 3, "jitter": 0.2, "seed": 7, "fps": 1000,
                      "arrival": "poisson"})
    a = run(tmp_path, cat=cat, **kw).metrics
    b = run(tmp_path, cat=cat, **kw).metrics
    assert a.frames.equals(b.frames)
    c = run(tmp_path, cat=cat, stream={**kw["stream"], "seed": 8}).metrics
    assert not a.frames["done_s"].equals(c.frames["done_s"])


def test_energy_is_the_integral_of_power(tmp_path):
    report = run(tmp_path, stream={"frames": 10, "warmup": 1})
    m, res = report.metrics, report.result
    t = res.makespan_s
    npu_busy = res.devices["npu:0"]["busy_s"]
    host = res.cores["host"]
    expected = (0.5 * t + (2.0 - 0.5) * npu_busy              # npu: idle all along + active
                + 1.0 * t + (4.0 - 1.0) * host["load_s"] / 2   # host cluster, 2 cores
                + 1.0 * t)                                     # board idle
    assert sum(m.energy.values()) == pytest.approx(expected)
    assert m.energy_per_inference_j == pytest.approx(expected / 10)
    assert m.average_power_w == pytest.approx(expected / t)


def test_infeasible_is_a_result(tmp_path):
    report = run(tmp_path, workload={"precision": "int8"})
    assert report.metrics is None
    assert "npu does not run int8" in report.infeasible
    assert report.bound.throughput_fps == 0


def test_pipeline_and_mapping_cross_through_the_host(tmp_path):
    cat = catalog(tmp_path)
    data = experiment(tmp_path, platform={"host": "board", "accelerators": {"npu": 2}},
                      execution={"policy": "mapping", "mapping": {"Gemm": "host"}})
    report = simulate(load_experiment(data), catalog=cat, trace=True)
    tracks = {e[0] for e in report.result.events}
    assert tracks == {"npu:0", "usb:npu:0", "host"} or "host" in tracks
    assert report.metrics.throughput_fps <= report.bound.throughput_fps * (1 + 1e-9)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4), st.sampled_from(["usb", "hub"]), st.integers(1, 3),
       st.floats(0, 2e-3))
def test_invariants(tmp_path_factory, devices, link, threads, pre):
    tmp = tmp_path_factory.mktemp("inv")
    # A core per thread: with fewer cores than threads, FIFO contention for cores can make an
    # extra device cost throughput (test_oversubscribed_host_cores), so the monotonicity below
    # is a property of a host that is not oversubscribed.
    cat = catalog(tmp, host_cores=16)
    base = dict(platform={"host": "board", "accelerators": {"npu": devices}, "link": link},
                execution={"policy": "data_parallel", "threads": threads, "preprocess_s": pre},
                stream={"frames": 24, "warmup": 4})
    report = run(tmp, cat=cat, **base)
    m = report.metrics
    frames, workers = len(m.frames), len(report.plan.workers)
    # Over the whole run no schedule beats the bound; the steady-state window has edge
    # effects of at most about one frame per worker.
    assert frames / m.makespan_s <= report.bound.throughput_fps * (1 + 1e-9)
    steady = frames - 4 - workers
    assert m.throughput_fps <= report.bound.throughput_fps * (1 + workers / steady)
    assert all(0 <= u <= 1 + 1e-9 for u in m.utilization.values())
    more = run(tmp, cat=cat, **{**base, "platform": {**base["platform"],
                                                      "accelerators": {"npu": devices + 1}}})
    assert len(more.metrics.frames) / more.metrics.makespan_s >= \
        frames / m.makespan_s * (1 - 1e-9)
    fast = catalog(tmp / "fast", host_cores=16, usb_bandwidth=1e7)
    quicker = run(tmp, cat=fast, **base)
    assert len(quicker.metrics.frames) / quicker.metrics.makespan_s >= \
        frames / m.makespan_s * (1 - 1e-9)


def test_oversubscribed_host_cores(tmp_path):
    """Four sticks each fed by a thread, on two host cores with long pre-processing: the
    fourth stick adds core contention and the model predicts *less* throughput than three."""
    cat = catalog(tmp_path)
    kw = dict(execution={"policy": "data_parallel", "preprocess_s": 0.00195},
              stream={"frames": 400, "warmup": 60})
    three = run(tmp_path, cat=cat, platform={"host": "board", "accelerators": {"npu": 3},
                                             "link": "hub"}, **kw)
    four = run(tmp_path, cat=cat, platform={"host": "board", "accelerators": {"npu": 4},
                                            "link": "hub"}, **kw)
    assert three.bound.bottlenecks == four.bound.bottlenecks == ("cores host",)
    assert four.metrics.throughput_fps < three.metrics.throughput_fps


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(50, 3000), st.sampled_from(["periodic", "poisson"]))
def test_littles_law_in_open_loop(tmp_path_factory, fps, arrival):
    tmp = tmp_path_factory.mktemp("little")
    report = run(tmp, stream={"frames": 60, "warmup": 0, "fps": fps, "arrival": arrival})
    f = report.metrics.frames
    span = f["release_s"].max() - f["arrival_s"].min()
    in_system = (f["release_s"] - f["arrival_s"]).sum() / span  # time-average frames in system
    rate = len(f) / span
    assert in_system == pytest.approx(rate * f["latency_s"].mean(), rel=1e-9)


def test_plan_and_bound_name_the_bottleneck(tmp_path):
    cat = catalog(tmp_path)
    config = load_experiment(experiment(tmp_path, execution={"policy": "threads",
                                                             "threads": 8})).fixed()
    plan = build_plan(config, catalog=cat)
    b = bound(plan)
    assert b.bottlenecks[0] in ("device npu:0", "link usb:npu:0")
