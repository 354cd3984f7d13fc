"""The conformance suite of an execution policy (:mod:`dse.sim.policies`).

Subclass :class:`PolicyConformance` in a test module, name the registered policy and give an
experiment that uses it (small: a few dozen frames of a small zoo model)::

    from dse.testing.policies import PolicyConformance

    class TestEveryOther(PolicyConformance):
        policy = "every_other"
        experiment = {
            "name": "every_other", "workload": {"zoo": "mobilenet_v1", "precision": "fp16"},
            "platform": {"host": "raspberry_pi4", "accelerators": {"ncs2": 2},
                         "link": "usb3_hub"},
            "execution": {"policy": "every_other"},
            "stream": {"frames": 30, "warmup": 3},
        }

A policy whose workers steal frames from one queue sets ``work_stealing = True`` and gives
``more_devices``, the overrides (YAML paths, as ``--set``) that add one device to the
experiment. The suite runs the simulator only through :func:`dse.sim.simulate` and the bound
through :func:`dse.sim.bound.bound`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from dse.devices.catalog import Catalog
from dse.run import Report, simulate
from dse.sim.bound import bound
from dse.sim.policies import get_policy

__all__ = ["PolicyConformance"]


class PolicyConformance:
    """Invariants every execution policy meets.

    Attributes:
        policy: The registered policy's name.
        experiment: An experiment mapping (as a YAML file would hold) whose
            ``execution.policy`` is :attr:`policy`, or the path of such a file. Fixed values
            only, or the first of each search dimension is simulated.
        work_stealing: Whether the policy's workers take frames from one shared queue; then
            adding a device must never lower the throughput.
        more_devices: For a work-stealing policy, the overrides that give the experiment one
            more device (``{"platform.accelerators.ncs2": 3}``).
        seeds: Two stream seeds the determinism test runs.
        rel_tol: The relative slack of the throughput comparisons (float rounding only).
    """

    policy: ClassVar[str]
    experiment: ClassVar[Mapping[str, Any] | str]
    work_stealing: ClassVar[bool] = False
    more_devices: ClassVar[Mapping[str, Any] | None] = None
    seeds: ClassVar[tuple[int, int]] = (0, 1)
    rel_tol: ClassVar[float] = 1e-9

    # ----- what a subclass may override ------------------------------------------------------

    def catalog(self) -> Catalog | None:
        """The device catalog the experiment runs on (default: the built-in one)."""
        return None

    def run(self, **overrides: Any) -> Report:
        """One simulation of :attr:`experiment` with some overrides (YAML paths)."""
        return simulate(self.experiment, overrides=overrides, catalog=self.catalog())

    def deterministic_run(self, **overrides: Any) -> Report:
        """A run without service-time spread (``stream.jitter: 0``), for exact comparisons."""
        return self.run(**{"stream.jitter": 0, **overrides})

    # ----- helpers ---------------------------------------------------------------------------

    def _feasible(self, report: Report) -> Report:
        assert not report.infeasible, f"the sample experiment is infeasible: " \
                                      f"{report.infeasible}"
        assert report.metrics is not None and report.result is not None
        return report

    # ----- the invariants --------------------------------------------------------------------

    def test_the_policy_is_registered_and_used(self) -> None:
        assert get_policy(self.policy).name == self.policy
        report = self.run()
        assert report.config.execution.policy == self.policy

    def test_the_simulator_never_beats_the_bound(self) -> None:
        report = self._feasible(self.deterministic_run())
        limit = bound(report.plan)
        assert limit.throughput_fps > 0
        assert report.metrics is not None
        assert report.metrics.throughput_fps <= limit.throughput_fps * (1 + self.rel_tol), \
            f"{report.metrics.throughput_fps} fps beats the bound {limit.throughput_fps} " \
            f"({', '.join(limit.bottlenecks)})"

    def test_every_frame_that_enters_leaves_once(self) -> None:
        report = self._feasible(self.deterministic_run())
        assert report.metrics is not None
        frames = report.metrics.frames
        expected = report.config.stream.frames
        assert sorted(frames["frame"].tolist()) == list(range(expected))
        arrival, start = frames["arrival_s"].to_numpy(), frames["start_s"].to_numpy()
        done, release = frames["done_s"].to_numpy(), frames["release_s"].to_numpy()
        assert np.all(np.isfinite(release))
        assert np.all((arrival <= start) & (start <= done) & (done <= release))

    def test_a_seed_gives_the_same_frames(self) -> None:
        first, other = self.seeds
        a = self._feasible(self.run(**{"stream.seed": first}))
        b = self._feasible(self.run(**{"stream.seed": first}))
        assert a.result is not None and b.result is not None
        pd.testing.assert_frame_equal(a.result.frames, b.result.frames)
        # another seed may give other frames, but a whole stream all the same
        c = self._feasible(self.run(**{"stream.seed": other}))
        assert c.result is not None
        assert len(c.result.frames) == len(a.result.frames)

    def test_adding_a_device_never_lowers_the_throughput(self) -> None:
        if not self.work_stealing:
            pytest.skip("not a work-stealing policy")
        assert self.more_devices, "a work-stealing policy's suite gives more_devices"
        fewer = self._feasible(self.deterministic_run())
        more = self._feasible(self.deterministic_run(**self.more_devices))
        assert fewer.metrics is not None and more.metrics is not None
        assert len(more.plan.workers) > len(fewer.plan.workers)
        assert more.metrics.throughput_fps >= fewer.metrics.throughput_fps * (1 - self.rel_tol)
