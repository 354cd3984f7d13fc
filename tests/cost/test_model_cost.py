"""Whole-model cost: placement, streaming, fallback, infeasibility, segments."""

from __future__ import annotations

import math

import pytest
from onnx import helper

from dse import workload
from dse.cost import model_cost, place_weights, roofline
from dse.cost.compute import clock_scale
from dse.workloads.graph import Workload
from dse.workloads.onnx_frontend import graph_from_model
from tests.cost.devices import cpu, device, link
from tests.workloads.onnx_cases import init, model, vi


def chain(*ops: str) -> Workload:
    """x -> Gemm -> op1 -> Gemm -> op2 ...: every listed op between two 64x64 Gemms."""
    nodes, inits, prev = [], [], "x"
    for i, op in enumerate(("Gemm", *[o for p in ops for o in (p, "Gemm")])):
        out = f"t{i}"
        if op == "Gemm":
            inits.append(init(f"w{i}", (64, 64)))
            nodes.append(helper.make_node("Gemm", [prev, f"w{i}"], [out], name=f"n{i}",
                                          transB=1))
        else:
            nodes.append(helper.make_node(op, [prev], [out], name=f"n{i}"))
        prev = out
    m = model(nodes, [vi("x", [1, 64])], [vi(prev, [1, 64])], inits)
    return Workload("chain", graph_from_model(m, source="chain"), "fp32", "chain")


def test_single_gemm_matches_a_hand_computation():
    w = chain()
    dev = device(peak_ops_s={"fp32": 1e9}, mem_bw_bytes_s=1e8, efficiency={"matmul": 0.5},
                 overhead_per_layer_s=1e-6, overhead_per_inference_s=1e-4)
    cost = model_cost(w, dev)
    ops = 2 * 64 * 64
    traffic = (64 + 64 + 64 * 64) * 4  # input, output, weights from memory (no on-chip memory)
    expected = max(ops / (1e9 * 0.5), traffic / 1e8) + 1e-6 + 1e-4
    assert cost.feasible
    assert math.isclose(cost.time_s, expected, rel_tol=1e-12)
    assert [s.what for s in cost.segments] == ["overhead", "layers"]


def test_segments_sum_to_latency_and_transfers_use_the_link():
    w = chain("Relu")
    lk = link(bandwidth=1e6, latency=1e-4)
    dev = device(link="usb3", needs_host_core=True, dram_bytes=2**30)
    cost = model_cost(w, dev, link=lk)
    assert math.isclose(cost.time_s, sum(s.time_s for s in cost.segments))
    ins = [s for s in cost.segments if s.what == "input"]
    outs = [s for s in cost.segments if s.what == "output"]
    assert ins[0].nbytes == outs[0].nbytes == 64 * 4
    assert math.isclose(ins[0].time_s, 1e-4 + 256 / 1e6)
    assert cost.transfer_s == pytest.approx(2 * (1e-4 + 256 / 1e6))
    with pytest.raises(ValueError, match="sits on link 'usb3': pass its LinkSpec"):
        model_cost(w, dev)


def test_precision_the_device_cannot_run_is_infeasible():
    cost = model_cost(chain(), device(peak_ops_s={"int8": 1e12}), "fp32")
    assert not cost.feasible
    assert cost.reason == "dev does not run fp32; it runs int8"
    assert cost.time_s == 0 and cost.segments == ()


def test_unsupported_layers_infeasible_or_fallback():
    w = chain("Softmax", "Relu", "Sigmoid")
    host = cpu()
    strict = device(supported_ops=["matmul", "Relu"], link="usb3")
    cost = model_cost(w, strict, link=link())
    assert not cost.feasible
    assert cost.reason == "dev does not support Sigmoid x1, Softmax x1"

    no_host = device(supported_ops=["matmul", "Relu"], on_unsupported="fallback_layer",
                     link="usb3")
    cost = model_cost(w, no_host, link=link())
    assert "falls back to 'host' for Sigmoid x1, Softmax x1, but no fallback device" in \
        cost.reason

    per_layer = model_cost(w, no_host, fallback=host, link=link())
    runs = list(per_layer.layers["runs_on"])
    assert runs == ["dev", "host", "dev", "dev", "dev", "host", "dev"]
    crossings = [s for s in per_layer.segments if s.what == "crossing"]
    assert len(crossings) == 4 and all(s.nbytes == 64 * 4 for s in crossings)
    assert per_layer.fallback_layers == 2
    assert per_layer.busy_s("host") > 0

    tail = device(supported_ops=["matmul", "Relu"], on_unsupported="fallback_tail",
                  link="usb3")
    cost = model_cost(w, tail, fallback=host, link=link())
    assert list(cost.layers["runs_on"]) == ["dev"] + ["host"] * 6
    # no memory of its own: the Gemm's weights stream in before it runs
    assert [s.what for s in cost.segments] == ["input", "weights", "layers", "crossing",
                                               "layers"]


def test_fallback_without_the_precision_is_infeasible():
    w = chain("Softmax")
    dev = device(supported_ops=["matmul"], on_unsupported="fallback_layer",
                 peak_ops_s={"fp16": 1e12})
    cost = model_cost(w, dev, "fp16", fallback=cpu())
    assert cost.reason == "fallback host does not run fp16"


def test_edge_tpu_streams_what_does_not_fit_and_more_memory_helps():
    w = workload("resnet50", precision="int8")
    tpu = device(peak_ops_s={"int8": 4e12}, mem_bw_bytes_s=1e11, onchip_mem_bytes=8 * 2**20,
                 dram_bytes=None, link="usb3")
    lk = link()
    cost = model_cost(w, tpu, link=lk)
    assert cost.onchip_weight_bytes <= 8 * 2**20
    assert cost.offchip_weight_bytes > 15e6
    assert math.isclose(cost.onchip_weight_bytes + cost.offchip_weight_bytes,
                        place_weights(w.counts, tpu, "int8").onchip_bytes
                        + place_weights(w.counts, tpu, "int8").offchip_bytes)
    assert (cost.layers["weights"] == "link").sum() > 0
    assert cost.layers["stream_s"].sum() >= cost.offchip_weight_bytes / lk.bandwidth_bytes_s
    # streamed weights are transfers over the link, before the compute that needs them
    weights = [s for s in cost.segments if s.what == "weights"]
    assert sum(s.nbytes for s in weights) == pytest.approx(cost.offchip_weight_bytes)
    assert all(s.kind == "transfer" and s.resource == "usb3" for s in weights)
    assert cost.time_s == pytest.approx(sum(s.time_s for s in cost.segments))

    big = device(peak_ops_s={"int8": 4e12}, mem_bw_bytes_s=1e11, onchip_mem_bytes=64 * 2**20,
                 dram_bytes=None, link="usb3")
    roomy = model_cost(w, big, link=lk)
    assert roomy.offchip_weight_bytes == 0
    assert roomy.layers["stream_s"].sum() == 0
    assert roomy.time_s < cost.time_s


def test_model_that_fits_never_streams():
    w = workload("mobilenet_v1", precision="int8")  # 4.2 M params
    tpu = device(peak_ops_s={"int8": 4e12}, onchip_mem_bytes=8 * 2**20, dram_bytes=None,
                 link="usb3")
    cost = model_cost(w, tpu, link=link())
    assert cost.offchip_weight_bytes == 0
    assert set(cost.layers["weights"]) <= {"onchip", "none"}
    assert cost.layers["stream_bytes"].sum() == 0


def test_micro_npu_cannot_hold_a_big_model():
    w = workload("mobilenet_v1", precision="int8")
    mcu_npu = device(kind="micro_npu", peak_ops_s={"int8": 3e10}, onchip_mem_bytes=442 * 1024,
                     link="usb3")
    cost = model_cost(w, mcu_npu, link=link())
    assert not cost.feasible
    assert "cannot stream the rest" in cost.reason and "MiB" in cost.reason
    tiny = model_cost(workload("ds_cnn", precision="int8"), mcu_npu, link=link())
    assert tiny.feasible and tiny.offchip_weight_bytes == 0


def test_cache_keeps_weights_only_if_the_whole_model_fits():
    w = chain("Relu")  # two 64x64 fp32 weights = 32 KiB
    roomy = model_cost(w, cpu(onchip_mem_bytes=2**20))
    tight = model_cost(w, cpu(onchip_mem_bytes=20 * 1024))
    assert set(roomy.layers["weights"]) <= {"onchip", "none"}
    assert set(tight.layers["weights"]) <= {"dram", "none"}  # no partial residency
    assert tight.layers["traffic_bytes"].sum() > roomy.layers["traffic_bytes"].sum()


def test_dpu_buffer_keeps_no_weights():
    w = chain()
    dpu = device(kind="dpu", dpu_arch="B1024", clock_hz=3e8, peak_ops_s={},
                 onchip_mem_bytes=2**20, dram_bytes=2**30, link="usb3")
    assert dpu.peak_ops_s == {"int8": 1024 * 3e8}
    cost = model_cost(w, dpu, "int8", link=link())
    assert list(cost.layers["weights"]) == ["dram"]


def test_fused_layers_move_no_memory():
    w = workload("resnet18")
    layers = model_cost(w, cpu()).layers
    fused = layers[w.counts["fused"].to_numpy()]
    assert len(fused) > 10
    assert set(fused["op"]) <= {"BatchNormalization", "Relu"}
    assert (fused["traffic_bytes"] == 0).all() and (fused["overhead_s"] == 0).all()


def test_dvfs_scales_compute_only():
    dev = cpu(power={"idle_w": 0.5, "active_w": 4, "dvfs": [
        {"name": "low", "clock_hz": 5e8, "active_w": 1.5}]})
    assert clock_scale(dev, "low") == 0.5
    w = workload("resnet18")
    nominal = roofline(w, dev)
    low = roofline(w, dev, dvfs="low")
    assert low.peak_ops_s == nominal.peak_ops_s / 2
    assert (low.layers["time_s"] >= nominal.layers["time_s"] - 1e-18).all()
    assert (low.layers["memory_s"] == nominal.layers["memory_s"]).all()
    with pytest.raises(KeyError, match="unknown dvfs level 'turbo' of host; known: low"):
        roofline(w, dev, dvfs="turbo")


def test_roofline_marks_unsupported_layers():
    w = chain("Softmax")
    r = roofline(w, device(supported_ops=["matmul"], on_unsupported="fallback_layer"))
    assert list(r.layers["supported"]) == [True, False, True]
    assert r.ridge_intensity == r.peak_ops_s / r.mem_bw_bytes_s
    with pytest.raises(KeyError, match="does not run int4"):
        roofline(w, device(), "int4")


def test_a_runtime_that_does_not_fold_batchnorm_pays_a_pass_for_it():
    """ARM Compute Library 18.05 folds activations, not BatchNorm, into the convolution; ncnn
    folds both: the same device and model cost more under ACL by the BatchNorm passes."""
    from dse.devices import default_catalog

    cat = default_catalog()
    spec = cat.device("kirin970_a73")
    w = workload("mobilenet_v2")
    acl = model_cost(w, spec, runtime=cat.runtime("acl"))
    ncnn = model_cost(w, spec, runtime=cat.runtime("ncnn_cpu"))
    bn = (acl.layers["op"] == "BatchNormalization").to_numpy()
    assert bn.sum() == 52
    assert (acl.layers.loc[bn, "traffic_bytes"] > 0).all()
    assert (ncnn.layers.loc[bn, "traffic_bytes"] == 0).all()
    assert acl.time_s > ncnn.time_s
    assert model_cost(w, spec).time_s == ncnn.time_s  # the default folds like ncnn


def test_onchip_memory_shared_with_activations_leaves_less_for_weights():
    # On-chip memory exactly the weights: with the largest layer's activations in it too, the
    # last weights spill.
    w = chain("Relu")
    from dse.cost.memory import activation_working_set

    counts = w.counts
    live = activation_working_set(counts, "fp32")
    assert live == max((counts["in_elems"] + counts["out_elems"]) * 4)
    weights = float((counts["weight_elems"] * 4).sum())
    exact = device(onchip_mem_bytes=weights)
    shared = device(onchip_mem_bytes=weights, onchip_holds_activations=True)
    assert place_weights(counts, exact, "fp32").offchip_bytes == 0
    # with the activations in the same memory, the last layer's weights no longer fit
    assert place_weights(counts, shared, "fp32").offchip_bytes > 0
    roomy = device(onchip_mem_bytes=weights + live, onchip_holds_activations=True)
    assert place_weights(counts, roomy, "fp32").offchip_bytes == 0


def test_edge_tpu_streams_part_of_ssd_but_caches_mobilenet():
    # The Edge TPU's 8 MiB of SRAM also holds activations: SSD MobileNet v1 at 300x300 (6.8 M
    # int8 parameters, 2.2 MB for its largest layer's input and output) no longer fits, while
    # MobileNet v1 (4.2 M, 1.2 MB) still does.
    from dse.devices import default_catalog

    tpu = default_catalog().device("coral_usb")
    ssd = workload("ssd_mobilenet_v1", precision="int8").counts
    mnet = workload("mobilenet_v1", precision="int8").counts
    assert place_weights(ssd, tpu, "int8").offchip_bytes > 0
    assert place_weights(mnet, tpu, "int8").offchip_bytes == 0
