"""The cost model's kernel models (size-dependent efficiency, thread scaling, launch cost per
kernel class) and their fitter, on synthetic kernels: validation, physics, one cost model.

Tests on the recorded kernel and zoo timings of this machine are in
``test_kernel_fit_recorded.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import dse
from dse.calibrate import kernel_fit as kf
from dse.calibrate.forward import Forward, _sim_config, predict
from dse.catalog import catalog_dir
from dse.cost import model_cost
from dse.cost.compute import kernel_model_terms, layer_table
from dse.devices import Catalog
from dse.devices.overlay import Overlay, apply_overlay, load_overlay
from dse.errors import SpecError
from dse.run import simulate
from dse.spec.device import KernelModel
from dse.workloads.kernels import KERNEL_CLASSES

NAMES = list(KERNEL_CLASSES)


@pytest.fixture(scope="module")
def cat():
    return Catalog(catalog_dir("devices"), catalog_dir("calibration") / "host")


@pytest.fixture(scope="module")
def host(cat):
    return cat.device("host")


def model(**kw):
    base = {"log10_ops": (5.0, 7.0, 9.0), "efficiency": (0.05, 0.3, 0.8),
            "parallel_fraction": (0.1, 0.6, 0.95), "launch_s": 2e-6}
    return KernelModel(**{**base, **kw})


def synthetic(host, truth, n=120, seed=0):
    """Kernel rows of one layer each (conv1x1, dwconv3x3, eltwise) timed by ``truth``."""
    rng = np.random.default_rng(seed)
    classes = ["conv1x1", "dwconv3x3", "eltwise"]
    kernel = np.array([NAMES.index(classes[i % 3]) for i in range(n)])
    ops = 10 ** rng.uniform(4.5, 9.5, n)
    rows = pd.DataFrame({"key": np.repeat(np.arange(n // 2), 2).astype(str),
                         "family": [classes[i % 3] for i in range(n)], "source": "random",
                         "threads": np.tile([1, 2], n // 2), "node_s": 1.0, "run_s": 1.0,
                         "nodes": 1.0, "ops": ops, "macs": ops / 2})
    layers = pd.DataFrame({"kernel": kernel, "ops": ops, "traffic": ops * 0.5,
                           "util": 1.0, "row": np.arange(n)})
    data = kf.KernelData(rows, layers)
    models = {c: truth for c in classes}
    t = kf.predict_kernel_times(models, data, host) + 5e-6
    rows["run_s"] = t
    rows["node_s"] = t - 5e-6
    return data, models


def test_kernel_models_are_validated_with_every_problem_at_once(host):
    with pytest.raises(ValueError, match="must increase strictly"):
        model(log10_ops=(5.0, 5.0, 9.0))
    with pytest.raises(ValueError, match="parallel_fraction: must have one entry per knot"):
        model(parallel_fraction=(0.5,))
    with pytest.raises(SpecError) as info:
        host.with_changes("test", kernel_models={"conv9x9": model(),
                                                 "fc": model(efficiency=(0.1, 0.2, 3.0))})
    text = str(info.value)
    assert "conv9x9: unknown kernel class" in text and "fc.efficiency: must be at most 2" in text


@settings(max_examples=60, deadline=None)
@given(a=st.floats(3.0, 11.0), b=st.floats(3.0, 11.0), threads=st.sampled_from([1, 2, 4]))
def test_a_kernel_model_never_takes_less_time_for_more_work(host, a, b, threads):
    spec = host.with_changes("test", kernel_models={"conv1x1": model()})
    ops = np.array([10 ** min(a, b), 10 ** max(a, b)])
    counts = pd.DataFrame({"op": "Conv", "op_class": "conv", "ops": ops, "weight_elems": 0,
                           "in_elems": 0, "out_elems": 0, "fused": False,
                           "in_shapes": [[], []], "out_shapes": [[], []]})
    kernels = np.full(2, NAMES.index("conv1x1"))
    t = layer_table(counts, spec, "fp32", np.array(["none", "none"], dtype=object),
                    threads=threads, kernels=kernels)["time_s"].to_numpy()
    assert (t > 0).all() and t[1] >= t[0] * (1 - 1e-12)


def test_two_threads_help_large_kernels_and_not_small_ones(host):
    terms = [kernel_model_terms({"conv1x1": model()}, np.full(2, NAMES.index("conv1x1")),
                                np.array([1e5, 1e9]), t, host.cores) for t in (1, 2)]
    speedup = terms[1].efficiency / terms[0].efficiency
    assert speedup[0] == pytest.approx(1 / (0.9 + 0.1 / 2))
    assert speedup[1] == pytest.approx(1 / (0.05 + 0.95 / 2)) and speedup[1] > 1.8


def test_the_fit_recovers_the_kernels_it_was_given(host):
    data, _ = synthetic(host, model())
    fit = kf.fit_kernels(data, host, kf.FitOptions(knot_step=1.0, class_bandwidth=False))
    err = np.abs(fit.table["predicted_s"] / fit.table["measured_s"] - 1)
    assert err.mean() < 0.03 and err.max() < 0.15
    for m in fit.models.values():
        assert np.all(np.diff(m.efficiency) >= 0) and np.all(np.diff(m.parallel_fraction) >= 0)
    folds = kf.cross_validate(data, host, kf.FitOptions(class_bandwidth=False))
    assert len(folds) == len(data.rows)
    held = np.abs(folds["predicted_s"] / folds["measured_s"] - 1)
    assert held.mean() < 0.05


def test_the_overlay_round_trips_through_yaml_and_apply_overlay(host, tmp_path):
    data, _ = synthetic(host, model())
    fit = kf.fit_kernels(data, host, kf.FitOptions(class_bandwidth=True))
    overlay = kf.overlay_of(fit, host, runtime="onnxruntime_cpu", data="synthetic",
                            baseline=kf.macs_proxy(data))
    path = tmp_path / "host@onnxruntime.yaml"
    path.write_text(yaml.safe_dump(overlay.model_dump(mode="json", exclude_none=True),
                                   sort_keys=False))
    loaded = load_overlay(path)
    assert isinstance(loaded, Overlay) and loaded.values == overlay.values
    spec = apply_overlay(host, loaded, label=str(path))
    assert set(spec.kernel_models) == set(fit.models)
    for name, m in fit.models.items():
        np.testing.assert_allclose(spec.kernel_models[name].efficiency, m.efficiency, rtol=1e-5)
    assert spec.overhead_per_inference_s == pytest.approx(fit.overhead_per_inference_s,
                                                          rel=1e-5)
    assert spec.source_of("kernel_models.conv1x1.efficiency").kind == "fitted"
    # the spec prices the kernels as the fit did
    np.testing.assert_allclose(kf.predict_kernel_times(spec.kernel_models, data, spec),
                               kf.predict_kernel_times(fit.models, data, host), rtol=1e-4)


@pytest.fixture(scope="module")
def fitted(cat, host):
    # a cold-cache rate on every class: mobilenet_v2 and resnet18 pay it, ds_cnn stays in L2
    models = {name: model(efficiency=(0.02, 0.2, 0.6 if name != "conv3x3s1" else 1.5),
                          cold_bw_bytes_s=2e10)
              for name in KERNEL_CLASSES}
    return host.with_changes("test", kernel_models=models, overhead_per_inference_s=4e-6)


def _rows(models, threads=(1, 2)):
    return pd.DataFrame([{
        "device": "host", "host": "host", "link": "", "runtime": "onnxruntime_cpu",
        "workload": w, "options": "", "precision": "fp32", "policy": "single", "threads": t,
        "streams": 1, "count": 1, "metric": "latency", "value": 1.0, "unit": "ms",
        "value_si": 1e-3, "source": "test", "dataset": "host"}
        for w in models for t in threads])


def test_the_fitter_forward_model_and_model_cost_agree(cat, fitted):
    rows = _rows(["mobilenet_v2", "resnet18", "ds_cnn"])
    reference = predict(fitted, rows, catalog=cat)
    fast = Forward(fitted, rows, [], catalog=cat)({})
    np.testing.assert_allclose(fast, reference, rtol=1e-9)
    assert reference[1] < reference[0]  # two threads faster than one for mobilenet_v2


def test_the_simulator_runs_the_latency_model_cost_gives(cat, fitted):
    runtime = cat.runtimes.get("onnxruntime_cpu")
    for w, threads in (("mobilenet_v2", 1), ("resnet18", 2)):
        row = next(_rows([w], (threads,)).itertuples(index=False))
        cost = model_cost(dse.workload(w), fitted, "fp32", threads=threads, runtime=runtime)
        report = simulate(_sim_config(fitted, row, cat),
                          catalog=cat.with_devices({"host": fitted}, replace=True))
        assert report.metrics.latency_ms["p50"] * 1e-3 == pytest.approx(cost.time_s, rel=1e-6)


def test_channel_alignment_reads_the_channels_of_4d_layers_only():
    from dse.cost.compute import MAX_ALIGN, channel_alignment

    counts = pd.DataFrame({"in_shapes": [[[1, 32, 8, 8]], [[1, 24, 8, 8]], [[1, 3, 224, 224]],
                                         [[1, 768]], []],
                           "out_shapes": [[[1, 64, 8, 8]], [[1, 48, 8, 8]], [[1, 32, 112, 112]],
                                          [[1, 1000]], []]})
    assert channel_alignment(counts).tolist() == [32, 8, 1, MAX_ALIGN, MAX_ALIGN]


def test_unaligned_layers_launches_and_bandwidth_follow_their_model():
    m = model(channel_block=16, unaligned_efficiency=0.5, launch_per_thread_s=1e-6,
              mem_bw_bytes_s=1e10, mem_parallel_fraction=1.0)
    kernels = np.full(4, NAMES.index("conv"))
    ops = np.full(4, 1e8)
    t = kernel_model_terms({"conv": m}, kernels, ops, np.array([1, 1, 2, 2]), 2,
                           align=np.array([16, 8, 16, 8]))
    # a layer whose channels miss the block runs at the stated share of the aligned one's
    assert t.efficiency[1] == pytest.approx(0.5 * t.efficiency[0])
    assert t.efficiency[3] == pytest.approx(0.5 * t.efficiency[2])
    # the second thread costs a launch more and, with q = 1, doubles the bandwidth
    assert t.launch_s.tolist() == pytest.approx([2e-6, 2e-6, 3e-6, 3e-6])
    assert t.mem_bw_bytes_s.tolist() == pytest.approx([1e10, 1e10, 2e10, 2e10])
    # without alignments every layer is taken as aligned
    plain = kernel_model_terms({"conv": m}, kernels, ops, 1, 2)
    assert plain.efficiency[1] == pytest.approx(t.efficiency[0])


def test_a_folded_layer_costs_nothing_under_kernel_models_and_its_share_otherwise(host, cat):
    # mobilenet_v2's BatchNorms are folded into their convs (launch nothing)
    spec = host.with_changes("test", kernel_models={"norm": model(), "conv1x1": model()})
    rt = cat.runtimes.get("onnxruntime_cpu")
    modelled = model_cost(dse.workload("mobilenet_v2"), spec, "fp32", threads=1, runtime=rt)
    plain = model_cost(dse.workload("mobilenet_v2"), host, "fp32", threads=1, runtime=rt)
    bn = (modelled.layers["op"] == "BatchNormalization").to_numpy()
    assert bn.any() and (modelled.layers.loc[bn, "launches"] == 0).all()
    assert (modelled.layers.loc[bn, "time_s"] == 0).all()
    assert (plain.layers.loc[bn, "time_s"] > 0).all()  # a datasheet target still prices them


def test_the_channel_block_is_read_from_which_pooling_kernels_ran_blocked():
    def rows(pools):
        return kf.KernelData(pd.DataFrame({
            "family": "pool", "params": [f'{{"c": {c}}}' for c, _ in pools],
            "ort_ops": ["ReorderInput+MaxPool+ReorderOutput" if b else "MaxPool"
                        for _, b in pools]}), pd.DataFrame())

    assert kf.channel_block(rows([(64, True), (48, True), (40, False), (13, False)])) == 16
    assert kf.channel_block(rows([(64, True), (24, True), (13, False)])) == 8
    assert kf.channel_block(rows([(13, False)])) == 1  # nothing ran blocked: no block
    # 32 channels unblocked beside 48 blocked: no block explains both
    assert kf.channel_block(rows([(64, True), (48, True), (32, False)])) == 1


def test_a_model_stays_in_the_private_caches_only_when_its_weights_fit(host):
    from dse.cost.compute import cache_resident

    assert host.caches["l2"].size_bytes == 2 << 20  # the recorded probe: 2 MiB per core
    tiny, large = dse.workload("ds_cnn"), dse.workload("resnet50")
    assert cache_resident(tiny.counts, host, "fp32", 1)
    assert not cache_resident(large.counts, host, "fp32", 2)
    # no probed caches: never taken as resident
    assert not cache_resident(tiny.counts, host.model_copy(update={"caches": None}), "fp32", 1)


def test_a_model_too_large_for_the_caches_pays_its_bytes_at_the_cold_rate(host, cat):
    rt = cat.runtimes.get("onnxruntime_cpu")
    warm = host.with_changes("test", kernel_models={"conv1x1": model()})
    cold = host.with_changes("test", kernel_models={"conv1x1": model(cold_bw_bytes_s=1e10)})
    for name, resident in (("mobilenet_v2", False), ("ds_cnn", True)):
        w = dse.workload(name)
        a = model_cost(w, warm, "fp32", threads=1, runtime=rt).layers
        b = model_cost(w, cold, "fp32", threads=1, runtime=rt).layers
        pointwise = (b["kernel"] == NAMES.index("conv1x1")).to_numpy() & (b["launches"] > 0)
        assert pointwise.any() and b["resident"].all() == resident
        extra = (b["time_s"] - a["time_s"]).to_numpy()
        expected = 0.0 if resident else b.loc[pointwise, "traffic_bytes"].to_numpy() / 1e10
        assert extra[pointwise] == pytest.approx(expected)
        assert extra[~pointwise] == pytest.approx(0.0)  # other classes state no cold rate


def test_the_fit_recovers_a_cold_cache_rate_from_warm_and_cold_times(host):
    truth = model(cold_bw_bytes_s=3e10)
    data, models = synthetic(host, truth)
    base = kf.predict_kernel_times(models, data, host) + 5e-6
    # warm: only layers too large for L2 pay the cold cost; cold: every layer
    warm = base + kf.cold_extra_times(models, data, host)
    assert (warm > base).any() and (warm == base).any()
    cold = base + kf.cold_extra_times(models, data)
    data = kf.KernelData(data.rows.assign(run_s=warm, node_s=warm - 5e-6, cold_s=cold),
                         data.layers)
    fit = kf.fit_kernels(data, host, kf.FitOptions(class_bandwidth=False))
    assert set(fit.table["regime"]) == {"warm", "cold"} and len(fit.table) == 2 * len(data.rows)
    err = np.abs(fit.table["predicted_s"] / fit.table["measured_s"] - 1)
    assert err.mean() < 0.03
    for m in fit.models.values():
        assert m.cold_bw_bytes_s == pytest.approx(3e10, rel=0.15)


def test_a_layer_too_large_for_the_caches_is_cold_even_in_a_resident_model(host):
    from dse.cost.compute import cold_layers, private_cache_bytes

    l2 = host.caches["l2"].size_bytes
    assert private_cache_bytes(host, np.array([1, 2, 8])).tolist() == [l2, 2 * l2, 2 * l2]
    traffic = np.array([0.5 * l2, 1.5 * l2, 3 * l2])
    assert cold_layers(traffic, True, l2).tolist() == [False, True, True]
    assert cold_layers(traffic, True, 2 * l2).tolist() == [False, False, True]  # two cores
    assert cold_layers(traffic, False, 2 * l2).all()  # a model too large: every layer
    assert private_cache_bytes(host.model_copy(update={"caches": None}), 1) == 0
