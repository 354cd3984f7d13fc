"""Every built-in device kind passes the kind conformance suite (dse.testing.kinds)."""

from __future__ import annotations

from dse.testing.kinds import DeviceKindConformance


class TestCpu(DeviceKindConformance):
    kind = "cpu"


class TestGpu(DeviceKindConformance):
    kind = "gpu"


class TestNpu(DeviceKindConformance):
    kind = "npu"


class TestDpu(DeviceKindConformance):
    kind = "dpu"


class TestMicroNpu(DeviceKindConformance):
    kind = "micro_npu"


class TestMcu(DeviceKindConformance):
    kind = "mcu"


class _Broken(DeviceKindConformance):
    """The suite on kinds that break one rule each: it must fail."""

    def __init__(self, kind):
        self._broken = kind

    def kind_under_test(self):
        return self._broken

    def specs(self):
        from dse.devices import default_catalog

        return [default_catalog().device("rpi4_cpu")]


def test_the_suite_catches_a_kind_that_breaks_a_rule():
    import dataclasses

    import numpy as np
    import pytest

    from dse.devices.kinds import device_kind

    cpu = device_kind("cpu")
    idle = dataclasses.replace(cpu, utilization_fn=lambda spec, s: np.zeros(len(s.op_class)))
    with pytest.raises(AssertionError):
        _Broken(idle).test_utilization_is_in_zero_one_for_every_layer()

    def overwrite(data):
        return {**data, "peak_ops_s": {"fp32": 1.0}}, ["peak_ops_s.fp32"]

    with pytest.raises(AssertionError):
        _Broken(dataclasses.replace(cpu, derive_fn=overwrite)) \
            .test_derive_does_not_overwrite_stated_values_nor_mutate_its_input()
    with pytest.raises(AssertionError):
        _Broken(dataclasses.replace(cpu, check_fn=lambda spec: ["cores: too few"])) \
            .test_check_of_a_valid_spec_finds_no_problem()
