"""Batch evaluation (:func:`dse.cost.batch_cost`) gives exactly what :func:`dse.cost.model_cost`
gives one model at a time: every zoo model on a broad set of catalog targets (Edge TPU streaming
weights over USB, NCS2, DPUs with tile utilisation, CPUs with and without kernel models and
probed caches, GPUs with DVFS, micro-NPUs with and without fallback, DSPs), every precision each
runs and one it does not, with and without fallback devices and runtimes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import dse
from dse.catalog import catalog_dir
from dse.cost import batch_cost, energy_j, model_cost
from dse.cost.batch import (
    PER_MODEL,
    BatchCost,
    batch_costs,
    runtime_trigger_ops,
    with_model_costs,
)
from dse.cost.compute import MAX_ALIGN, channel_alignment, layer_alignment
from dse.cost.model import runtime_counts
from dse.devices import Catalog, default_catalog
from dse.devices.kinds import DPU_ARCHS, device_kind
from dse.devices.overlay import apply_overlay, load_overlay
from dse.workloads import zoo
from dse.workloads.families import family
from dse.workloads.layers import ITEM_ARRAYS, LayerBatch

FIGURES = ("time_s", "device_s", "transfer_s", "onchip_weight_bytes", "offchip_weight_bytes")

#: (device, fallback, runtime, dvfs, threads): the targets compared.
TARGETS = [
    ("coral_usb", "rpi4_cpu", "edgetpu", None, None),     # streams weights over USB 3
    ("coral_usb", None, None, None, None),                # falls back, but no fallback given
    ("coral_devboard_tpu", "zynqmp_a53", None, None, None),
    ("ncs2", None, "openvino_myriad", None, None),
    ("ncs", None, None, None, None),
    ("dpu_b4096", "zynqmp_a53", "vitis_ai", None, None),  # tile utilisation (PG338)
    ("dpu_b512", "zynqmp_a53", None, None, None),
    ("dpu_b1152", None, None, None, None),
    ("max78000_cnn", "max78000_m4", None, None, None),    # 442 KB of weight memory
    ("max78000_cnn", "max78000_m4", "ai8x", None, None),  # fuses Relu only: BN-less models
    ("ethos_u55_alif", "alif_e7_m55_hp", "ethos_u_vela", None, None),
    ("gap9_cluster_ne16", None, None, None, None),
    ("ndp120_core2", None, None, None, None),
    ("mcxn947_neutron", "mcxn947_m33", None, None, None),
    ("jetson_nano_gpu", None, "tensorrt", "mode_5w", None),
    ("adreno640", None, "tflite_gpu", None, None),
    ("mali_t628", None, None, None, None),
    ("hexagon690", None, None, None, None),
    ("kirin970_npu", None, "hiai", None, None),
    ("rpi4_cpu", None, "tflite_cpu", None, 1),
    ("x86_avx2", None, None, None, None),
    ("stm32h743_m7", None, "tflm", None, None),
    ("host@onnxruntime", None, None, None, 1),            # kernel models, probed caches
    ("host@onnxruntime", None, "onnxruntime_cpu", None, 2),
]


@pytest.fixture(scope="module")
def workloads():
    return [dse.workload(name) for name in zoo.names()]


@pytest.fixture(scope="module")
def batch(workloads):
    return LayerBatch.from_workloads(workloads)


@pytest.fixture(scope="module")
def catalog():
    return default_catalog()


def _device(catalog, name):
    if name == "host@onnxruntime":
        host = Catalog(catalog_dir("devices"), catalog_dir("calibration") / "host")
        path = catalog_dir("calibration") / "host" / "overlays" / "host@onnxruntime.yaml"
        spec = apply_overlay(host.device("host"), load_overlay(path), label=str(path))
        assert spec.kernel_models and spec.caches
        return spec
    return catalog.device(name)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: "-".join(str(v) for v in t if v))
def test_batch_cost_is_model_cost_for_every_zoo_model(target, workloads, batch, catalog):
    name, fallback_name, runtime_name, dvfs, threads = target
    device = _device(catalog, name)
    fallback = catalog.device(fallback_name) if fallback_name else None
    runtime = catalog.runtimes[runtime_name] if runtime_name else None
    link = catalog.links[device.link] if device.link else None
    # every precision it runs, and one it does not
    precisions = [*device.precisions, *[p for p in ("fp32", "int8", "fp16")
                                        if p not in device.precisions][:1]]
    compared = fell_back = 0
    for precision in precisions:
        got = batch_cost(batch, device, precision, link=link, fallback=fallback,
                         runtime=runtime, dvfs=dvfs, threads=threads, chunk_layers=700)
        assert got.names == batch.names and got.device == device.name
        for i, w in enumerate(workloads):
            if got.needs_model_path[i]:
                assert got.reason[i].startswith(PER_MODEL) and not got.feasible[i]
                assert all(getattr(got, f)[i] == 0 for f in (*FIGURES, "energy_j"))
                # what arrays cannot say: a runtime's own fusing, a device's memories
                assert "fall back" not in got.reason[i], got.reason[i]
                continue
            want = model_cost(w, device, precision, link=link, fallback=fallback,
                              runtime=runtime, dvfs=dvfs, threads=threads)
            where = f"{w.name} on {device.name} at {precision}"
            assert got.feasible[i] == want.feasible, where
            assert got.reason[i] == want.reason, where
            np.testing.assert_allclose([getattr(got, f)[i] for f in FIGURES],
                                       [getattr(want, f) for f in FIGURES], rtol=1e-12,
                                       atol=0, err_msg=where)
            energy = energy_j(device, want.device_s, want.time_s, dvfs=dvfs) \
                if want.feasible else 0.0
            assert got.energy_j[i] == pytest.approx(energy, rel=1e-12, abs=0), where
            compared += want.feasible
            fell_back += want.feasible and want.fallback_layers > 0
    # ai8x fuses Relu only, so every model with a BatchNorm is left to the per-model path, as
    # is every model on a device that declares its memories (the fit check plans the arena)
    assert compared > 0 or runtime_name == "ai8x" or device.declares_memories
    # models with layers on the fallback are priced from arrays too (edges), not skipped
    if fallback_name and name in ("coral_usb", "dpu_b4096", "dpu_b512"):
        assert fell_back > 0


def _without_edges(batch):
    """The batch as a producer that gives no edges makes it."""
    return dataclasses.replace(batch, **{a: None for names in ITEM_ARRAYS.values() for a in names})


def test_models_left_to_the_per_model_path_are_those_arrays_cannot_price(batch, catalog):
    dpu, coral = catalog.device("dpu_b4096"), catalog.device("coral_usb")
    kw = {"link": catalog.links[dpu.link], "fallback": catalog.device("zynqmp_a53")}
    assert not batch_cost(batch, dpu, "int8", **kw).needs_model_path.any()
    # without edges, the models that fall back need the graph
    got = batch_cost(_without_edges(batch), dpu, "int8", **kw)
    assert 0 < got.needs_model_path.sum() < batch.models
    assert all("fall back to zynqmp_a53" in r for r in got.reason[got.needs_model_path])
    # a runtime whose fusing reads the graph: only models with its patterns' ops
    ort = catalog.runtimes["onnxruntime_cpu"]
    cpu = catalog.device("rpi4_cpu")
    got = batch_cost(batch, cpu, "fp32", runtime=ort)
    has_add = np.array(["Add" in w for w in _ops_per_model(batch)])
    assert (got.needs_model_path >= has_add).all() and got.needs_model_path.any()
    assert "runtime onnxruntime_cpu" in got.reason[np.argmax(got.needs_model_path)]
    assert batch_cost(batch, coral, "int8", link=catalog.links["usb3"],
                      runtime=catalog.runtimes["edgetpu"]).feasible.any()


def _ops_per_model(batch):
    names = np.array(batch.op_names, dtype=object)
    return [set(names[batch.op[a:b]]) for a, b in zip(batch.offsets[:-1], batch.offsets[1:],
                                                      strict=True)]


def test_a_model_without_a_runtimes_trigger_ops_is_fused_as_by_default(workloads, catalog):
    """The soundness of :func:`runtime_trigger_ops`, on every runtime and zoo model."""
    checked = 0
    for runtime in catalog.runtimes.values():
        triggers = runtime_trigger_ops(runtime)
        for w in workloads:
            if triggers & set(w.counts["op"]):
                continue
            fused = runtime_counts(w, runtime)
            assert fused["fused"].equals(w.counts["fused"]), (runtime.name, w.name)
            assert fused["in_elems"].equals(w.counts["in_elems"]), (runtime.name, w.name)
            checked += 1
    assert checked > 50


def test_chunks_and_generators_give_the_same_results(batch, catalog):
    tpu = catalog.device("coral_usb")
    link = catalog.links["usb3"]
    whole = batch_cost(batch, tpu, "int8", link=link, fallback=catalog.device("rpi4_cpu"))
    for chunk in (1, 500, 10**9):
        part = batch_cost(batch, tpu, "int8", link=link, fallback=catalog.device("rpi4_cpu"),
                          chunk_layers=chunk)
        for f in (*FIGURES, "energy_j", "feasible"):
            np.testing.assert_array_equal(getattr(part, f), getattr(whole, f))
        assert list(part.reason) == list(whole.reason)
    halves = [batch.select(range(0, 7)), batch.select(range(7, batch.models))]
    joined = BatchCost.concat(list(batch_costs(halves, tpu, "int8", link=link,
                                               fallback=catalog.device("rpi4_cpu"))))
    np.testing.assert_array_equal(joined.time_s, whole.time_s)
    assert list(joined.reason) == list(whole.reason)
    frame = whole.to_frame()
    assert list(frame["model"]) == list(batch.names) and len(frame) == batch.models


def test_bad_calls_and_empty_batches(batch, catalog):
    tpu = catalog.device("coral_usb")
    with pytest.raises(ValueError, match="sits on link 'usb3'"):
        batch_cost(batch, tpu, "int8")
    with pytest.raises(ValueError, match="chunk_layers must be >= 1"):
        batch_cost(batch, tpu, "int8", link=catalog.links["usb3"], chunk_layers=0)
    empty = batch_cost(LayerBatch.empty(), tpu, "int8", link=catalog.links["usb3"])
    assert empty.models == 0 and len(empty.time_s) == 0 and len(empty.reason) == 0
    # a precision the device does not run: every model, before the link is asked for
    got = batch_cost(batch, tpu, "fp32")
    assert not got.feasible.any() and got.reason[0] == "coral_usb does not run fp32; it runs int8"
    with pytest.raises(ValueError, match="different targets"):
        BatchCost.concat([got, batch_cost(batch, catalog.device("ncs2"), "fp32")])


def _lanes(n, p):
    return n / (p * math.ceil(n / p)) if n > 0 and p > 0 else 1.0


def _dpu_oracle(arch, counts):
    """PG338's rule row by row, as it read a counts table before it read arrays."""
    pp, icp, ocp = DPU_ARCHS[arch]
    out = np.ones(len(counts))
    weights = counts["weight_elems"].to_numpy(dtype=float)
    for i, (cls, ins, outs) in enumerate(zip(counts["op_class"], counts["in_shapes"],
                                             counts["out_shapes"], strict=True)):
        if cls not in ("conv", "dwconv", "matmul") or not ins or not outs:
            continue
        x, y = list(ins[0]), list(outs[0])
        if cls == "conv" and len(x) == 4 and len(y) == 4:
            cin = x[1]
            if cin < icp:
                cin = cin * max(round(math.sqrt(weights[i] / max(cin * y[1], 1))), 1)
            out[i] = _lanes(cin, icp) * _lanes(y[1], ocp) * _lanes(y[3], pp)
        elif cls == "dwconv" and len(y) == 4:
            half = max(pp // 2, 1)
            out[i] = _lanes(y[1], icp) * _lanes(y[3], half) * half / (pp * ocp)
        elif cls == "matmul" and x and y:
            rows = int(np.prod(y[:-1])) if len(y) > 1 else 1
            out[i] = _lanes(x[-1], icp) * _lanes(y[-1], ocp) * _lanes(rows, pp)
    return out


def _align_oracle(counts):
    out = np.full(len(counts), MAX_ALIGN, dtype=np.int64)
    for i, (ins, outs) in enumerate(zip(counts["in_shapes"], counts["out_shapes"], strict=True)):
        if ins and outs and len(ins[0]) == 4 and len(outs[0]) == 4:
            out[i] = min(MAX_ALIGN, *(c & -c if c > 0 else MAX_ALIGN
                                      for c in (int(ins[0][1]), int(outs[0][1]))))
    return out


@pytest.mark.parametrize("arch", sorted(DPU_ARCHS))
def test_tile_utilisation_and_alignment_read_from_arrays_keep_their_rule(arch, workloads,
                                                                         batch, catalog):
    """The array forms against the row-by-row rules they replaced, on every zoo layer, from a
    counts table and from a LayerBatch alike."""
    spec = catalog.device("dpu_b4096").model_copy(update={"dpu_arch": arch})  # reads only that
    kind = device_kind("dpu")
    for w, (a, b) in zip(workloads, zip(batch.offsets[:-1], batch.offsets[1:], strict=True),
                         strict=True):
        want = _dpu_oracle(arch, w.counts)
        np.testing.assert_array_equal(kind.utilization(spec, w.counts), want, err_msg=w.name)
        np.testing.assert_array_equal(kind.layer_utilization(spec, batch)[a:b], want,
                                      err_msg=w.name)
        np.testing.assert_array_equal(channel_alignment(w.counts), _align_oracle(w.counts))
        np.testing.assert_array_equal(layer_alignment(batch)[a:b], _align_oracle(w.counts))


def test_models_left_to_the_per_model_path_are_priced_from_their_workloads(workloads, batch,
                                                                          catalog):
    dpu, host = catalog.device("dpu_b4096"), catalog.device("zynqmp_a53")
    kw = {"link": catalog.links[dpu.link], "fallback": host}
    partial = batch_cost(_without_edges(batch), dpu, "int8", **kw)
    assert partial.needs_model_path.any()
    whole = with_model_costs(partial, workloads, dpu, "int8", **kw)
    assert not whole.needs_model_path.any()
    for i, w in enumerate(workloads):
        want = model_cost(w, dpu, "int8", **kw)
        assert whole.feasible[i] == want.feasible and whole.reason[i] == want.reason
        np.testing.assert_allclose([getattr(whole, f)[i] for f in FIGURES],
                                   [getattr(want, f) for f in FIGURES], rtol=1e-12, atol=0)
    assert with_model_costs(whole, workloads, dpu, "int8", **kw) is whole
    joined = BatchCost.concat([whole, partial])
    assert list(joined.reason) == [*whole.reason, *partial.reason]
    with pytest.raises(ValueError, match="batch's models"):
        with_model_costs(partial, workloads[::-1], dpu, "int8", **kw)
    with pytest.raises(ValueError, match="not of ncs2"):
        with_model_costs(partial, workloads, catalog.device("ncs2"), "int8", **kw)


@pytest.mark.parametrize("device, fallback", [("coral_usb", "rpi4_cpu"),
                                              ("dpu_b4096", "zynqmp_a53")])
def test_nasbench_members_that_fall_back_are_priced_from_their_arrays(device, fallback,
                                                                      catalog):
    """NAS-Bench-101 cells whose vertices sum 3+ inputs (an ONNX Sum, which neither device
    runs): batch_cost from the family's arrays equals model_cost on the members' graphs."""
    nb = family("nasbench101")
    candidates = np.random.default_rng(7).choice(nb.size, 400, replace=False)
    batch = nb.batch(candidates)
    has_sum = np.array(["Sum" in ops for ops in _ops_per_model(batch)])
    picked = np.concatenate([candidates[has_sum][:8], candidates[~has_sum][:2]])
    spec, host = catalog.device(device), catalog.device(fallback)
    kw = {"link": catalog.links[spec.link], "fallback": host}
    got = batch_cost(nb.batch(picked), spec, "int8", chunk_layers=500, **kw)
    assert not got.needs_model_path.any()
    fell_back = 0
    for k, i in enumerate(picked):
        want = model_cost(nb.workload(int(i)), spec, "int8", **kw)
        where = f"member {i} on {device}"
        assert got.feasible[k] == want.feasible and got.reason[k] == want.reason, where
        np.testing.assert_allclose([getattr(got, f)[k] for f in FIGURES],
                                   [getattr(want, f) for f in FIGURES], rtol=1e-12, atol=0,
                                   err_msg=where)
        assert got.energy_j[k] == pytest.approx(
            energy_j(spec, want.device_s, want.time_s) if want.feasible else 0.0, rel=1e-12)
        fell_back += want.fallback_layers > 0
    assert fell_back >= 8


@pytest.mark.parametrize("name", ["host@onnxruntime", "rpi4_cpu", "dpu_b4096"])
def test_layers_priced_apart_cost_what_they_cost_among_all(name, batch, catalog):
    """A fallback's layers are priced alone (the rows it runs): layer_times is elementwise
    once a model's cache residence is given, kernel models and tile utilisation included."""
    from dse.cost.batch import _times
    from dse.cost.memory import METADATA_OPS, footprint_array, read_bytes_array

    spec = _device(catalog, name)
    precision = spec.precisions[0]
    op_names = np.array(batch.op_names, dtype=object)
    op = batch.op.astype(np.intp)
    footprint = footprint_array(batch.weight_elems, batch.fused, precision)
    reads = read_bytes_array(footprint, (op_names == "Gather")[op], batch.out_elems, precision)
    passless = np.isin(op_names, list(METADATA_OPS))[op] | batch.fused
    resident = np.zeros(batch.layers, dtype=bool)
    kw = {"link": None, "dvfs": None, "threads": None}
    every = _times(batch, spec, precision, footprint, resident, reads, passless,
                   batch.model_of_layer, **kw)
    rows = np.flatnonzero(np.random.default_rng(3).random(batch.layers) < 0.3)
    some = _times(batch, spec, precision, footprint, resident, reads, passless,
                  batch.model_of_layer, rows=rows, **kw)
    for f in ("time_s", "stream_s", "stream_bytes", "cold"):
        np.testing.assert_array_equal(getattr(some, f), getattr(every, f)[rows], err_msg=f)
