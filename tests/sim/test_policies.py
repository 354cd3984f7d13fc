"""Each policy on a tiny scenario: who runs what, in which order, and the bound holds."""

from __future__ import annotations

import pytest

from dse.errors import SpecError
from dse.run import simulate
from dse.spec.experiment import load_experiment
from tests.sim.scenarios import catalog, chain_onnx, experiment


def sim(tmp_path, cat, **sections):
    return simulate(load_experiment(experiment(tmp_path, **sections)), catalog=cat, trace=True)


def chain(tmp_path):
    return {"onnx": str(chain_onnx(tmp_path)), "precision": "fp32"}


def test_mapping_visits_devices_in_layer_order(tmp_path):
    cat = catalog(tmp_path)
    report = sim(tmp_path, cat, workload=chain(tmp_path),
                 execution={"policy": "mapping", "mapping": {"Softmax": "host"}},
                 stream={"frames": 1, "warmup": 0})
    steps = [(e[0], e[1]) for e in report.result.events]
    assert steps == [("usb:npu:0", "input"), ("npu:0", "layers"), ("usb:npu:0", "output"),
                     ("host", "layers"),
                     ("usb:npu:0", "input"), ("npu:0", "layers"), ("usb:npu:0", "output")]
    assert report.metrics.frames_per_device == {"npu:0": 2, "host": 1}


def test_mapping_unknown_device_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"execution.mapping.Softmax: 'gpu' is not on the "
                                        r"platform; it has: npu:0, host"):
        sim(tmp_path, catalog(tmp_path), workload=chain(tmp_path),
            execution={"policy": "mapping", "mapping": {"Softmax": "gpu"}})


def test_pipeline_overlaps_stages(tmp_path):
    cat = catalog(tmp_path)
    whole = sim(tmp_path, cat, workload=chain(tmp_path),
                platform={"host": "board", "accelerators": {"npu": 2}},
                stream={"frames": 40, "warmup": 4})
    piped = sim(tmp_path, cat, workload=chain(tmp_path),
                platform={"host": "board", "accelerators": {"npu": 2}},
                execution={"policy": "pipeline", "stages": [{"device": "npu", "until": "act"},
                                                            {"device": "npu"}]},
                stream={"frames": 40, "warmup": 4})
    assert set(piped.metrics.frames_per_device) == {"npu:0", "npu:1"}
    # each stage pays its own USB transfers, so the gain is less than the 2x of the compute
    assert piped.metrics.throughput_fps > 1.1 * whole.metrics.throughput_fps
    assert piped.metrics.throughput_fps <= piped.bound.throughput_fps * 1.1
    first = [e for e in piped.result.events if e[4] == 0]
    assert [e[0] for e in first if e[1] == "layers"] == ["npu:0", "npu:1"]


def test_pipeline_stage_errors(tmp_path):
    cat = catalog(tmp_path)
    with pytest.raises(SpecError, match=r"execution.stages.0.until: no layer named 'nope'"):
        sim(tmp_path, cat, workload=chain(tmp_path),
            platform={"host": "board", "accelerators": {"npu": 2}},
            execution={"policy": "pipeline", "stages": [{"device": "npu", "until": "nope"},
                                                        {"device": "npu"}]})
    with pytest.raises(SpecError, match=r"execution.stages.2.device: no free instance of 'npu'"):
        sim(tmp_path, cat, workload=chain(tmp_path),
            platform={"host": "board", "accelerators": {"npu": 2}},
            execution={"policy": "pipeline", "stages": [
                {"device": "npu", "until": "fc1"}, {"device": "npu", "until": "act"},
                {"device": "npu"}]})


def test_coexec_steals_work_and_reorders(tmp_path):
    cat = catalog(tmp_path)
    report = sim(tmp_path, cat, execution={"policy": "coexec"},
                 stream={"frames": 60, "warmup": 6})
    m = report.metrics
    assert set(m.frames_per_device) == {"npu:0", "host"}
    assert all(v > 0 for v in m.frames_per_device.values())
    f = m.frames
    assert (f["release_s"].diff().dropna() >= 0).all()       # in stream order
    assert (f["release_s"] >= f["done_s"]).all()
    assert (f["release_s"] > f["done_s"]).any()               # someone waited to be reordered
    alone = sim(tmp_path, cat, stream={"frames": 60, "warmup": 6}).metrics
    assert m.throughput_fps >= alone.throughput_fps
    assert m.throughput_fps <= report.bound.throughput_fps * 1.1


def test_round_robin_and_work_stealing(tmp_path):
    cat = catalog(tmp_path)
    rr = sim(tmp_path, cat, platform={"host": "board", "accelerators": {"npu": 2}},
             execution={"policy": "data_parallel", "dispatch": "round_robin"},
             stream={"frames": 20, "warmup": 2}).metrics
    assert rr.frames_per_device == {"npu:0": 10, "npu:1": 10}
    ws = sim(tmp_path, cat, platform={"host": "board", "accelerators": {"npu": 2}},
             execution={"policy": "data_parallel"}, stream={"frames": 20, "warmup": 2}).metrics
    assert sum(ws.frames_per_device.values()) == 20


def test_two_models_alternating_on_one_device(tmp_path):
    # 16 KiB of fp32 weights each; 20 KiB of on-chip memory and no memory of its own: either
    # model fits alone, not both.
    cat = catalog(tmp_path, onchip_mem_bytes=20 * 1024, dram_bytes=None)
    gemm = experiment(tmp_path)["workload"]
    two = [gemm, {**gemm, "name": "again"}]
    co = sim(tmp_path, cat, workload=None, workloads=two, stream={"frames": 20, "warmup": 2})
    apart = sim(tmp_path, cat, workload=None, workloads=two,
                execution={"cocompiled": False}, stream={"frames": 20, "warmup": 2})
    one = sim(tmp_path, cat, stream={"frames": 20, "warmup": 2})
    # co-compiled: the second model's weights do not fit what the first left, so they stream
    routes = co.plan.workers[0].routes
    first, second = ([s.nbytes for h in routes[i] for s in h.steps if s.what == "weights"]
                     for i in (0, 1))
    assert first == [] and second == [16 * 1024]  # 16 KiB streamed over the link per frame
    assert co.metrics.throughput_fps < one.metrics.throughput_fps
    assert not [e for e in co.result.events if e[1] == "reload"]
    # compiled apart: every switch reloads the other model's weights over the link
    reloads = [e for e in apart.result.events if e[1] == "reload"]
    assert len(reloads) == 19
    assert apart.metrics.throughput_fps < one.metrics.throughput_fps
