"""The policy protocol's pieces: BasePolicy's hooks, unit roles, Infeasible as a result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from dse.errors import DseError
from dse.run import simulate
from dse.sim import build_plan
from dse.sim.context import PlanContext
from dse.sim.plan import Infeasible, Worker
from dse.sim.policies import POLICIES, BasePolicy, get_policy, register_policy
from dse.sim.policies.base import ENTRY
from dse.sim.policies.coexec import Coexec, reorder_buffer
from dse.spec.experiment import load_experiment
from tests.sim.scenarios import catalog, experiment


@pytest.fixture
def registry(monkeypatch):
    """Policies registered in a test are gone after it."""
    POLICIES.names()  # the built-ins, loaded
    monkeypatch.setattr(POLICIES, "_items", dict(POLICIES._items))


def plan_of(tmp_path, cat, **sections):
    config = load_experiment(experiment(tmp_path, **sections)).fixed(None)
    return build_plan(config, catalog=cat)


@dataclass(frozen=True)
class Delayed(BasePolicy):
    """One worker per accelerator; every frame leaves 1 ms after it is done."""

    name: str = "delayed_test"
    counts_holds: ClassVar[bool] = True

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        return [Worker(f"{u.name}/0", ENTRY, None, ctx.routes(u), u.name)
                for u in ctx.units()], [ENTRY], False

    def release_times(self, done_s: np.ndarray) -> np.ndarray:
        return done_s + 1e-3


@dataclass(frozen=True)
class Unplaceable(BasePolicy):
    name: str = "unplaceable_test"

    def workers(self, ctx: PlanContext) -> tuple[list[Worker], list[str], bool]:
        raise Infeasible("nothing fits here")


@dataclass(frozen=True)
class UnpinnedCoexec(Coexec):
    """Co-execution whose drivers are not pinned to cores."""

    name: str = "unpinned_coexec_test"
    pins_drivers: ClassVar[bool] = False


def test_units_carry_their_role(tmp_path):
    plan = plan_of(tmp_path, catalog(tmp_path))
    assert {n: (u.role, u.is_host) for n, u in plan.units.items()} == {
        "npu:0": ("accelerator", False), "host": ("host", True)}


def test_infeasible_is_a_dse_error_and_a_plan_result(tmp_path, registry):
    assert issubclass(Infeasible, DseError)
    register_policy(Unplaceable())
    report = simulate(load_experiment(experiment(
        tmp_path, execution={"policy": "unplaceable_test"})), catalog=catalog(tmp_path))
    assert report.infeasible == "nothing fits here"
    assert report.metrics is None


def test_a_base_policy_must_say_which_workers(tmp_path):
    class NoWorkers(BasePolicy):
        name = "none"

    with pytest.raises(TypeError, match="abstract"):
        NoWorkers()  # type: ignore[abstract]
    assert get_policy("single").release_times(np.array([2.0, 1.0])).tolist() == [2.0, 1.0]


def test_only_a_policy_that_pins_drivers_slows_the_driver_cluster(tmp_path, registry):
    register_policy(UnpinnedCoexec())
    cat = catalog(tmp_path)

    def host_compute(policy):
        plan = plan_of(tmp_path, cat, execution={"policy": policy})
        worker = next(w for w in plan.workers if w.unit == "host")
        return sum(s.time_s for h in worker.routes[0] for s in h.steps if s.kind == "compute")

    # two host cores, one pinned to the NPU's driver: the cluster computes on the other alone
    assert host_compute("coexec") == pytest.approx(2 * host_compute("unpinned_coexec_test"))


def test_a_registered_base_policy_runs_through_simulate(tmp_path, registry):
    register_policy(Delayed())
    report = simulate(load_experiment(experiment(
        tmp_path, execution={"policy": "delayed_test"}, stream={"frames": 6, "warmup": 1})),
        catalog=catalog(tmp_path))
    f = report.metrics.frames
    assert np.allclose(f["release_s"] - f["done_s"], 1e-3)
    assert report.metrics.frames_per_device == {"npu:0": 6}  # counted as holds
    assert report.metrics.throughput_fps <= report.bound.throughput_fps * (1 + 1e-9)


class Bare:
    """A plug-in of the bare Policy protocol: a name and workers, nothing of BasePolicy."""

    name = "bare_test"

    def workers(self, ctx):
        unit = ctx.units()[0]
        return [Worker(f"{unit.name}/0", ENTRY, None, ctx.routes(unit), unit.name)], \
            [ENTRY], False


def test_a_bare_protocol_policy_gets_the_defaults(tmp_path, registry):
    register_policy(Bare())
    cat = catalog(tmp_path)
    bare = simulate(load_experiment(experiment(
        tmp_path, execution={"policy": "bare_test"})), catalog=cat).metrics
    single = simulate(load_experiment(experiment(tmp_path)), catalog=cat).metrics
    assert (bare.frames["release_s"] == bare.frames["done_s"]).all()
    assert bare.frames_per_device == single.frames_per_device == {"npu:0": 20}
    assert bare.throughput_fps == single.throughput_fps


def test_the_reorder_buffer_releases_in_stream_order():
    assert reorder_buffer(np.array([1.0, 3.0, 2.0, 4.0])).tolist() == [1.0, 3.0, 3.0, 4.0]
    assert Coexec().release_times(np.array([2.0, 1.0])).tolist() == [2.0, 2.0]
