"""A sampler plug-in (dse.samplers) is named in an experiment's ``search.sampler``."""

from __future__ import annotations

import copy

import optuna
import pytest

from dse.errors import SpecError
from dse.search import SAMPLER_FACTORIES, explore
from dse.spec.experiment import SearchSettings
from dse.spec.samplers import SAMPLER_FACTORIES as SPEC_SAMPLERS
from dse.spec.samplers import SAMPLERS, sampler_names
from tests.search.test_explore import SMALL

SEEDS: list[int | None] = []


class PluginSampler(optuna.samplers.RandomSampler):
    """The sampler a plug-in makes."""


def plugin_sampler(seed, constraints_func):
    """A plug-in sampler factory, as an entry point in group ``dse.samplers`` would name."""
    SEEDS.append(seed)
    return PluginSampler(seed=seed)


@pytest.fixture
def samplers(monkeypatch):
    monkeypatch.setattr(SAMPLER_FACTORIES, "_items", dict(SAMPLER_FACTORIES._items))
    return SAMPLER_FACTORIES


def test_the_spec_validates_against_the_search_layers_registry():
    assert SPEC_SAMPLERS is SAMPLER_FACTORIES
    assert sampler_names()[:len(SAMPLERS)] == list(SAMPLERS)


def test_a_registered_sampler_is_named_in_yaml_and_used(tmp_path, samplers):
    samplers.register(plugin_sampler, "mine")
    assert SearchSettings(sampler="mine").sampler == "mine"
    data = {**copy.deepcopy(SMALL), "search": {"trials": 3, "sampler": "mine", "seed": 5}}
    SEEDS.clear()
    result = explore(data, out=tmp_path)
    assert len(result.trials) == 3
    assert SEEDS == [5]
    assert isinstance(result.study.sampler, PluginSampler)


def test_an_unknown_sampler_is_refused_at_its_yaml_path(tmp_path):
    data = {**copy.deepcopy(SMALL), "search": {"sampler": "tpee"}}
    with pytest.raises(SpecError, match=r"search.sampler: unknown sampler 'tpee'; did you mean "
                                         r"'tpe'\? known samplers: grid, nsga2, random, tpe"):
        explore(data, out=tmp_path)
    assert not list(tmp_path.iterdir())
