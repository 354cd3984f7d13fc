"""Planning's caches (dse.sim.memo): cached and uncached planning agree exactly, and a change of
any input of a cached function changes its result (the key covers every input)."""

from __future__ import annotations

import dataclasses

import onnx

import dse
from dse.catalog import catalog_dir
from dse.cost import model_cost as uncached_cost
from dse.devices.calibrated import catalog_for
from dse.devices.kinds import device_kind, register_kind
from dse.sim import Simulation, build_plan, memo
from dse.spec.experiment import load_experiment
from dse.workloads import workload as uncached_workload
from dse.workloads import zoo

EXPERIMENTS = ("multi_ncs.yaml", "mobile_soc_coexec.yaml", "edgetpu_pipeline.yaml")


def _configs():
    for name in EXPERIMENTS:
        path = catalog_dir("experiments") / name
        if not path.exists():
            continue
        exp = dse.load_experiment(path)
        yield exp, exp.fixed()
        for dim in exp.dimensions:
            for value in dim.ends:
                try:
                    yield exp, exp.fixed({dim.path: value})
                except dse.SpecError:
                    continue


def _plan_or_error(exp, config):
    try:
        return build_plan(config, base_dir=exp.base_dir, file=exp.file)
    except dse.DseError as exc:
        return str(exc)


def test_cached_and_uncached_plans_and_runs_are_identical():
    memo.clear()
    seen = 0
    for exp, config in _configs():
        config = config.model_copy(update={"stream": config.stream.model_copy(
            update={"frames": 40})})
        with memo.caching(False):
            plain = _plan_or_error(exp, config)
        cached = [_plan_or_error(exp, config) for _ in range(2)]
        assert cached[0] == plain and cached[1] == plain
        if isinstance(plain, str):
            continue
        if not plain.infeasible:
            a, b = Simulation(plain).run(), Simulation(cached[1]).run()
            assert a.frames.equals(b.frames) and a.devices == b.devices
        seen += 1
    assert seen > 10
    hits, misses, _ = memo.cache_info()["model_cost"]
    assert hits > misses > 0


def _same(a, b):
    return a.feasible == b.feasible and a.reason == b.reason and a.segments == b.segments and \
        a.onchip_weight_bytes == b.onchip_weight_bytes


def test_every_input_of_model_cost_is_in_the_key():
    """Each pair changes one input; the cached result follows it (and equals the uncached)."""
    memo.clear()
    cat = catalog_for("datasheet")
    tpu, host = cat.device("coral_usb"), cat.device("rpi4_cpu")
    mnv2 = uncached_workload("mobilenet_v2", precision="int8")
    bert = uncached_workload("bert_encoder", precision="int8")  # falls back to the host
    usb3, usb2 = cat.link("usb3"), cat.link("usb2")
    on_tpu = dict(fallback=host, link=usb3)
    ort, tfl = cat.runtimes["onnxruntime_cpu"], cat.runtimes["tflite_cpu"]
    pairs = [  # (workload, device, precision, keywords) before -> after
        ((mnv2, tpu, "int8", on_tpu), (mnv2.at("fp32"), tpu, "fp32", on_tpu)),
        ((mnv2, tpu, "int8", on_tpu), (bert, tpu, "int8", on_tpu)),
        ((mnv2, tpu, "int8", on_tpu),
         (mnv2, tpu.with_changes("what-if", onchip_mem_bytes=1e5), "int8", on_tpu)),
        ((mnv2, tpu, "int8", on_tpu), (mnv2, tpu, "int8", {**on_tpu, "link": usb2})),
        ((bert, tpu, "int8", on_tpu),
         (bert, tpu, "int8", {**on_tpu, "fallback": host.with_changes(
             "what-if", clock_hz=host.clock_hz / 4)})),
        ((bert, host, "fp32", {"runtime": tfl}), (bert, host, "fp32", {"runtime": ort})),
        ((bert, host, "fp32", {"threads": 1}), (bert, host, "fp32", {"threads": 2})),
    ]
    for before, after in pairs:
        results = []
        for workload, device, precision, kw in (before, after):
            cached = memo.model_cost(workload, device, precision, **kw)
            assert memo.model_cost(workload, device, precision, **kw) is cached  # a hit
            assert _same(cached, uncached_cost(workload, device, precision, **kw))
            results.append(cached)
        assert not _same(*results), f"{after[1].name} {after[2]} {after[3]}: no change"


def test_a_spec_equal_by_value_hits_and_a_changed_one_misses():
    memo.clear()
    cat = catalog_for("datasheet")
    host = cat.device("rpi4_cpu")
    w = uncached_workload("squeezenet1_1")
    a = memo.model_cost(w, host)
    assert memo.model_cost(w, host.model_copy()) is a
    assert memo.model_cost(w, host.with_changes("what-if", cores=2)) is not a


def test_dvfs_is_in_the_key():
    memo.clear()
    cat = catalog_for("datasheet")
    spec = next(d for d in cat.devices.values() if len(d.power.dvfs) > 1)
    kw = {"link": cat.link(spec.link)} if spec.link else {}
    w = uncached_workload("squeezenet1_1", precision=spec.precisions[0])
    levels = [lv.name for lv in spec.power.dvfs]
    times = {lv: memo.model_cost(w, spec, dvfs=lv, **kw).time_s for lv in levels}
    assert times == {lv: uncached_cost(w, spec, dvfs=lv, **kw).time_s for lv in levels}
    assert len(set(times.values())) > 1


def test_a_re_registered_device_kind_misses_the_cache():
    memo.clear()
    host = catalog_for("datasheet").device("rpi4_cpu")
    w = uncached_workload("squeezenet1_1")
    kind = device_kind(host.kind)
    memo.model_cost(w, host)
    try:
        register_kind(dataclasses.replace(kind), replace=True)  # an equal but new registration
        memo.model_cost(w, host)
    finally:
        register_kind(kind, replace=True)
    hits, misses, _ = memo.cache_info()["model_cost"]
    assert (hits, misses) == (0, 2)


def test_an_edited_onnx_file_is_read_again(tmp_path):
    memo.clear()
    path = tmp_path / "m.onnx"
    onnx.save(zoo.get("squeezenet1_1").build(weights=False), str(path))
    first = memo.workload(path)
    assert memo.workload(path) is first
    onnx.save(zoo.get("mobilenet_v2").build(weights=False), str(path))
    second = memo.workload(path)
    assert second is not first and second.params != first.params
    assert second.params == uncached_workload(path).params


def test_the_same_zoo_model_is_the_same_workload_at_any_precision():
    memo.clear()
    a = memo.workload("googlenet", precision="fp16")
    b = memo.workload("googlenet", precision="fp32")
    assert a.graph is b.graph and (a.precision, b.precision) == ("fp16", "fp32")
    assert memo.workload("googlenet", precision="fp16") == a
    assert memo.workload("googlenet", precision="fp16", resolution=160).graph is not a.graph


def test_caches_are_bounded():
    lru: memo.LRU[int] = memo.LRU("test", 3)
    for i in range(10):
        assert lru.get(i, lambda i=i: i * i) == i * i
    assert list(lru.data) == [7, 8, 9]
    assert lru.get(8, lambda: -1) == 64  # a hit moves it to the end
    assert list(lru.data) == [7, 9, 8]


def test_inline_devices_and_calibration_reach_the_costs(tmp_path):
    exp = load_experiment({"name": "x", "workload": {"zoo": "squeezenet1_1"},
                           "platform": {"host": "raspberry_pi4"},
                           "execution": {"policy": "single"}, "stream": {"frames": 5}})
    memo.clear()
    shipped = build_plan(exp.fixed())
    datasheet = build_plan(exp.fixed().model_copy(update={"calibration": "datasheet"}))
    with memo.caching(False):
        assert datasheet == build_plan(exp.fixed().model_copy(
            update={"calibration": "datasheet"}))
        assert shipped == build_plan(exp.fixed())
