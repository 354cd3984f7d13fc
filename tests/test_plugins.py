"""The plug-in registry (dse.plugins) and the extension points built on it."""

from __future__ import annotations

import importlib.metadata
import logging
import pickle
import subprocess
import sys
from dataclasses import dataclass

import pytest

from dse.calibrate.loaders import LOADERS, load
from dse.devices.kinds import KINDS, device_kind, register_kind
from dse.errors import DseError
from dse.plugins import PluginNotFoundError, Registry
from dse.search.study import SAMPLER_FACTORIES
from dse.sim.policies import POLICIES, get_policy, policy_names
from dse.spec.experiment import SAMPLERS
from dse.workloads.frontends import FRONTENDS, frontends, register_frontend
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
