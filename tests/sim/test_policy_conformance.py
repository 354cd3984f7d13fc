"""Every built-in execution policy passes the policy conformance suite (dse.testing.policies).

Small experiments on the built-in catalog (datasheet values): MobileNet v1, 30 frames.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from dse.sim.plan import Worker
from dse.sim.policies import POLICIES, BasePolicy, register_policy
from dse.testing.policies import PolicyConformance

STREAM = {"frames": 30, "warmup": 3}


def _on_pi(policy: str, accelerator: str, count: int, precision: str,
           **execution: Any) -> dict[str, Any]:
    return {"name": f"conformance_{policy}", "calibration": "datasheet",
            "workload": {"zoo": "mobilenet_v1", "precision": precision},
            "platform": {"host": "raspberry_pi4", "accelerators": {accelerator: count},
                         "link": "usb3_hub"},
            "execution": {"policy": policy, **execution}, "stream": STREAM}


class TestSingle(PolicyConformance):
    policy = "single"
    experiment = _on_pi("single", "ncs2", 1, "fp16")


class TestThreads(PolicyConformance):
    policy = "threads"
    experiment = _on_pi("threads", "ncs2", 1, "fp16", threads=2)


class TestDataParallel(PolicyConformance):
    policy = "data_parallel"
    experiment = _on_pi("data_parallel", "ncs2", 2, "fp16", threads=2)
    work_stealing = True
    more_devices: ClassVar[dict[str, Any]] = {"platform.accelerators.ncs2": 3}


class TestCoexec(PolicyConformance):
    policy = "coexec"
    experiment: ClassVar[dict[str, Any]] = {
        "name": "conformance_coexec", "calibration": "datasheet",
        "workload": {"zoo": "mobilenet_v1"}, "platform": {"host": "hikey970"},
        "execution": {"policy": "coexec", "devices": ["kirin970_a73", "mali_g72"]},
        "stream": STREAM}
    work_stealing = True
    more_devices: ClassVar[dict[str, Any]] = {
        "execution.devices": ["kirin970_a73", "mali_g72", "kirin970_npu"]}


class TestPipeline(PolicyConformance):
    policy = "pipeline"
    experiment = _on_pi("pipeline", "coral_usb", 2, "int8",
                        stages=[{"device": "coral_usb", "until": 0.5}, {"device": "coral_usb"}])


class TestMapping(PolicyConformance):
    policy = "mapping"
    # the pooling and classifier tail on the Pi's CPU, the rest on the Edge TPU
    experiment = _on_pi("mapping", "coral_usb", 1, "int8",
                        mapping={"GlobalAveragePool": "rpi4_cpu", "conv28": "rpi4_cpu",
                                 "Flatten": "rpi4_cpu"})


class _HalfLost(BasePolicy):
    """Threads on the first device, but every other frame enters a queue no worker takes."""

    name = "conformance_half_lost"

    def workers(self, ctx):
        unit = ctx.units()[0]
        routes = ctx.routes(unit)
        return [Worker(f"{unit.name}/0", "frames", None, routes, unit.name)], \
            ["frames", "nowhere"], False


class _LosesFrames(PolicyConformance):
    policy = "conformance_half_lost"
    experiment = _on_pi("conformance_half_lost", "ncs2", 1, "fp16")


def test_the_suite_catches_a_policy_that_loses_frames(monkeypatch):
    monkeypatch.setattr(POLICIES, "_items", dict(POLICIES._items))
    register_policy(_HalfLost())
    suite = _LosesFrames()
    with pytest.raises(AssertionError):
        suite.test_every_frame_that_enters_leaves_once()
    # the bound sees the queue no worker takes: no stream of frames gets through it
    with pytest.raises(AssertionError):
        suite.test_the_simulator_never_beats_the_bound()
