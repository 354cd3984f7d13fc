"""The plug-in registry (dse.plugins) and the extension points built on it."""

from __future__ import annotations

import importlib.metadata
import logging
import pickle
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from dse.calibrate.loaders import LOADERS, load
from dse.cost.model import model_cost
from dse.devices import Catalog
from dse.devices.kinds import KINDS, BaseDeviceKind, DeviceKind, device_kind, register_kind
from dse.devices.runtimes import RUNTIMES, BaseRuntime, SpecRuntime, register_runtime
from dse.errors import DseError, SpecError
from dse.plugins import ENTRY_POINT_GROUPS, PluginNotFoundError, Registry
from dse.search.study import SAMPLER_FACTORIES
from dse.sim.policies import POLICIES, get_policy, policy_names
from dse.spec.experiment import SAMPLERS
from dse.workloads import workload
from dse.workloads.frontends import (
    FRONTENDS,
    BaseFrontend,
    OnnxFrontend,
    WorkloadFrontend,
    ZooFrontend,
    frontends,
    register_frontend,
)
from dse.workloads.ops import COUNTERS
from dse.workloads.zoo.registry import ZOO


@dataclass(frozen=True)
class Thing:
    name: str


def _entry_points(found: dict[str, list[importlib.metadata.EntryPoint]]):
    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return found.get(group, [])
    return entry_points


def test_a_fresh_interpreter_finds_a_builtin_policy():
    out = subprocess.run(
        [sys.executable, "-c",
         "from dse.sim.policies import get_policy; print(get_policy('single').name)"],
        capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "single"


def test_an_unknown_name_is_a_key_error_and_a_dse_error_with_the_known_names():
    registry: Registry[Thing] = Registry("dse.test", what="gadget")
    registry.register(Thing("alpha"))
    registry.register(Thing("beta"))
    with pytest.raises(PluginNotFoundError) as info:
        registry.get("alpah")
    error = info.value
    assert isinstance(error, KeyError)
    assert isinstance(error, DseError)
    assert (error.name, error.group, error.known) == ("alpah", "dse.test", ["alpha", "beta"])
    assert str(error) == "unknown gadget 'alpah'; did you mean 'alpha'? known gadgets: alpha, beta"
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_a_taken_name_is_refused_unless_replaced():
    registry: Registry[Thing] = Registry("dse.test", what="gadget")
    first = registry.register(Thing("alpha"))
    with pytest.raises(ValueError, match="gadget 'alpha' is already registered"):
        registry.register(Thing("alpha"))
    second = Thing("alpha")
    registry.register(second, replace=True)
    assert registry.get("alpha") is second is not first


def test_register_is_a_decorator_and_takes_a_name():
    registry: Registry[object] = Registry("dse.test", instantiate=False)

    @registry.register(name="double")
    def twice(x: int) -> int:
        return 2 * x

    assert registry.get("double") is twice
    assert "double" in registry and list(registry) == ["double"]
    assert registry.items() == [("double", twice)]


def test_an_instance_is_returned_as_it_is():
    registry: Registry[Thing] = Registry("dse.test")
    unregistered = Thing("elsewhere")
    assert registry.get(unregistered) is unregistered
    policy = get_policy("single")
    assert get_policy(policy) is policy


def test_first_puts_a_plugin_ahead():
    registry: Registry[Thing] = Registry("dse.test")
    registry.register(Thing("a"))
    registry.register(Thing("b"), first=True)
    assert registry.names() == ["b", "a"]


def test_builtins_load_before_any_lookup_or_listing():
    calls: list[str] = []

    def builtins() -> None:
        calls.append("loaded")
        registry.register(Thing("builtin"))

    registry: Registry[Thing] = Registry("dse.test", builtins=builtins)
    assert "builtin" in registry
    assert registry.get("builtin") == Thing("builtin")
    assert registry.names() == ["builtin"]
    assert calls == ["loaded"]


def test_an_entry_point_is_found(monkeypatch):
    ep = importlib.metadata.EntryPoint("gamma", "tests.test_plugins:GAMMA", "dse.test")
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points({"dse.test": [ep]}))
    registry: Registry[Thing] = Registry("dse.test")
    assert registry.get("gamma") is GAMMA


def test_an_entry_point_class_is_instantiated_and_named_by_the_entry_point(monkeypatch):
    eps = [importlib.metadata.EntryPoint("named", "tests.test_plugins:Named", "dse.test"),
           importlib.metadata.EntryPoint("plain", "tests.test_plugins:plain", "dse.test")]
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points({"dse.test": eps}))
    registry: Registry[object] = Registry("dse.test")
    assert isinstance(registry.get("from_class"), Named)
    assert registry.get("plain") is plain


def test_a_broken_entry_point_is_skipped_with_a_warning(monkeypatch, caplog):
    eps = [importlib.metadata.EntryPoint("broken", "tests.no_such_module:X", "dse.test"),
           importlib.metadata.EntryPoint("gamma", "tests.test_plugins:GAMMA", "dse.test")]
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points({"dse.test": eps}))
    registry: Registry[Thing] = Registry("dse.test")
    with caplog.at_level(logging.WARNING, logger="dse.plugins"):
        assert registry.names() == ["gamma"]
    assert "skipping dse.test plug-in 'broken'" in caplog.text


def test_a_policy_entry_point_is_found(monkeypatch):
    ep = importlib.metadata.EntryPoint("mine", "tests.test_plugins:MyPolicy", "dse.policies")
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points({"dse.policies": [ep]}))
    builtins = policy_names()
    monkeypatch.setattr(POLICIES, "_items", dict(POLICIES._items))
    monkeypatch.setattr(POLICIES, "_loaded", False)  # as if never looked up
    assert isinstance(get_policy("mine"), MyPolicy)
    assert policy_names() == [*builtins, "mine"]


@pytest.mark.parametrize(("registry", "group", "builtin"), [
    (KINDS, "dse.kinds", "cpu"),
    (POLICIES, "dse.policies", "single"),
    (FRONTENDS, "dse.frontends", "zoo"),
    (LOADERS, "dse.loaders", "coral"),
    (SAMPLER_FACTORIES, "dse.samplers", "tpe"),
    (ZOO, "dse.zoo", "resnet50"),
    (COUNTERS, "dse.ops", "Conv"),
])
def test_each_extension_point_is_a_registry(registry, group, builtin):
    assert isinstance(registry, Registry)
    assert registry.group == group
    assert builtin in registry
    with pytest.raises(PluginNotFoundError, match=rf"did you mean '{builtin}'"):
        registry.get(builtin + "x")


def test_the_wrappers_raise_plugin_not_found():
    with pytest.raises(KeyError, match=r"unknown device kind 'npux'; did you mean 'npu'\?"):
        device_kind("npux")
    with pytest.raises(KeyError, match=r"unknown policy 'singel'; did you mean 'single'\?"):
        get_policy("singel")
    with pytest.raises(PluginNotFoundError, match=r"unknown dataset 'coarl'"):
        load("coarl")


def test_a_duplicate_kind_is_refused():
    with pytest.raises(ValueError, match="device kind 'cpu' is already registered"):
        register_kind(device_kind("cpu"))


def test_a_frontend_registered_first_is_asked_first(monkeypatch):
    monkeypatch.setattr(FRONTENDS, "_items", dict(FRONTENDS._items))
    mine = Thing("mine")
    register_frontend(mine, first=True)  # type: ignore[arg-type]
    assert [f.name for f in frontends()] == ["mine", "zoo", "onnx"]


def test_the_sampler_registry_has_the_spec_samplers():
    assert SAMPLER_FACTORIES.names() == list(SAMPLERS)


GAMMA = Thing("gamma")


class Named:
    name = "from_class"


def plain() -> None:
    """A plug-in without a name attribute."""


class MyPolicy:
    name = "mine"

    def workers(self, ctx):
        raise NotImplementedError


# ----- the base classes of kinds, frontends and runtimes ---------------------------------------

def test_every_builtin_kind_is_a_base_device_kind():
    for name in KINDS.names():
        assert isinstance(device_kind(name), BaseDeviceKind)
    assert isinstance(device_kind("cpu"), DeviceKind)


class Systolic(BaseDeviceKind):
    """A kind written as a subclass: it keeps weights on chip only if the whole model fits, and
    a layer uses half the array."""

    name = "systolic_test"
    description = "a test kind"
    onchip = "cache"

    def layer_utilization(self, spec, shapes):
        return np.full(len(shapes.op_class), 0.5)


def test_a_subclassed_kind_is_used_by_the_cost_model(monkeypatch):
    monkeypatch.setattr(KINDS, "_items", dict(KINDS._items))
    register_kind(Systolic())
    cat = Catalog()
    npu = cat.device("coral_usb")
    mine = npu.model_copy(update={"kind": "systolic_test"})
    w = workload("mobilenet_v1")
    assert device_kind("systolic_test").utilization(mine, w.counts).tolist() == \
        [0.5] * len(w.counts)
    base, ours = model_cost(w, npu, "int8", link=cat.links["usb3"]), \
        model_cost(w, mine, "int8", link=cat.links["usb3"])
    assert ours.time_s > base.time_s
    # the kind's residency rule: a cache holds the weights of a model that fits whole only
    assert ours.onchip_weight_bytes in (0.0, ours.onchip_weight_bytes + ours.offchip_weight_bytes)


def test_the_default_kind_methods():
    kind = Systolic()
    assert kind.derive({"a": 1}) == ({"a": 1}, [])
    spec = Catalog().device("rpi4_cpu")
    assert kind.thread_scale(spec, 1) == pytest.approx(1 / spec.cores)
    footprint = np.array([4.0, 0.0, 4.0, 4.0])
    one = np.array([0, 4])
    assert kind.resident_weights(footprint, np.array([12.0]), one).tolist() == \
        [True, False, True, True]
    assert kind.resident_weights(footprint, np.array([11.0]), one).tolist() == [False] * 4


def test_every_builtin_frontend_is_a_base_frontend():
    assert all(isinstance(f, BaseFrontend) for f in frontends())
    assert WorkloadFrontend is BaseFrontend
    assert isinstance(FRONTENDS.get("onnx"), OnnxFrontend)
    assert isinstance(FRONTENDS.get("zoo"), ZooFrontend)
    with pytest.raises(TypeError, match="abstract"):
        BaseFrontend()  # type: ignore[abstract]


class OldStyleFrontend:
    """A frontend written against the earlier protocol: no base class."""

    name = "old"

    def can_load(self, source):
        return source == "old:model"

    def load(self, source, **options):
        return ZooFrontend().load("resnet18")


def test_a_frontend_without_the_base_class_still_counts_as_one(monkeypatch):
    assert isinstance(OldStyleFrontend(), WorkloadFrontend)
    assert not isinstance(Thing("x"), BaseFrontend)
    monkeypatch.setattr(FRONTENDS, "_items", dict(FRONTENDS._items))
    register_frontend(OldStyleFrontend())  # type: ignore[arg-type]
    assert workload("old:model").params == 11689512


def test_runtimes_have_an_entry_point_group():
    assert "dse.runtimes" in ENTRY_POINT_GROUPS
    assert isinstance(RUNTIMES, Registry) and RUNTIMES.group == "dse.runtimes"


class NoBatchNormFusion(BaseRuntime):
    """TFLite on the CPU as if its converter did not fold BatchNormalization."""

    name = "tflite_cpu_nobn"

    def spec(self, runtimes):
        data = runtimes["tflite_cpu"].model_dump(exclude_unset=True)
        data.update(name=self.name, fuses=["Relu", "Clip"],
                    sources=[s for s in data["sources"] if s["id"] != "tflite-bn-folded"])
        return data


@pytest.fixture
def runtimes(monkeypatch):
    monkeypatch.setattr(RUNTIMES, "_items", dict(RUNTIMES._items))
    return RUNTIMES


def test_a_registered_runtime_is_in_the_catalog_and_changes_a_cost(runtimes):
    register_runtime(NoBatchNormFusion())
    cat = Catalog()
    assert cat.runtimes["tflite_cpu_nobn"].fuses == ("Relu", "Clip")
    w, cpu = workload("resnet18"), cat.device("rpi4_cpu")
    folded = model_cost(w, cpu, "fp32", runtime=cat.runtimes["tflite_cpu"])
    unfolded = model_cost(w, cpu, "fp32", runtime=cat.runtimes["tflite_cpu_nobn"])
    # each BatchNormalization is now a pass over its activations of its own
    assert unfolded.time_s > folded.time_s
    assert cat.runtime_problem("tflite_cpu_nobn", "rpi4_cpu") is None


def test_a_runtime_spec_registers_as_a_spec_runtime(runtimes):
    spec = Catalog().runtimes["tflite_cpu"].model_copy(update={"name": "tflite_copy"})
    registered = register_runtime(spec)
    assert isinstance(registered, SpecRuntime) and registered.name == "tflite_copy"
    assert Catalog().runtimes["tflite_copy"] == spec


def test_a_runtime_entry_point_is_found(monkeypatch, runtimes):
    ep = importlib.metadata.EntryPoint("nobn", "tests.test_plugins:NoBatchNormFusion",
                                       "dse.runtimes")
    monkeypatch.setattr(importlib.metadata, "entry_points", _entry_points({"dse.runtimes": [ep]}))
    monkeypatch.setattr(RUNTIMES, "_loaded", False)
    assert "tflite_cpu_nobn" in Catalog().runtimes


def test_a_registered_runtime_may_not_redefine_a_file_or_state_unsourced_claims(runtimes):
    register_runtime(SpecRuntime(Catalog().runtimes["tflite_cpu"]))

    class Unsourced(NoBatchNormFusion):
        name = "unsourced"

        def spec(self, runtimes):
            return {**super().spec(runtimes), "name": "unsourced", "code_bytes": 1000}

    register_runtime(Unsourced())
    with pytest.raises(SpecError) as info:
        Catalog()
    text = str(info.value)
    assert "runtime plug-in 'tflite_cpu' (SpecRuntime): 'tflite_cpu' is already defined in " \
           "devices/runtimes/tflite_cpu.yaml" in text
    assert "runtime plug-in 'unsourced' (Unsourced): code_bytes: no source given" in text
