"""The conformance suite of a device kind (:class:`~dse.devices.kinds.BaseDeviceKind`).

Subclass :class:`DeviceKindConformance` in a test module and name the kind; the catalog's
devices of that kind are the sample specs unless :meth:`~DeviceKindConformance.specs` is
overridden (a third-party kind has no catalog device: return specs of your own)::

    from dse.testing.kinds import DeviceKindConformance

    class TestSystolicKind(DeviceKindConformance):
        kind = "systolic"

        def specs(self):
            return [my_catalog().device("my_array")]

Every test uses only the kind's public methods and the cost model's public functions.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

from dse.cost.memory import ONCHIP, place_weights, weight_footprint
from dse.devices.catalog import default_catalog
from dse.devices.kinds import BaseDeviceKind, device_kind
from dse.spec.device import DeviceSpec
from dse.workloads.frontends import workload
from dse.workloads.graph import Workload
from dse.workloads.layers import LayerBatch

__all__ = ["DeviceKindConformance"]


class DeviceKindConformance:
    """Invariants every device kind meets.

    Attributes:
        kind: The kind under test: a registered name or an instance (registered or not).
        zoo_models: Zoo models whose layers the utilisation and placement tests run (small
            ones, of convolutions, depthwise convolutions and fully connected layers).
        max_specs: How many sample specs to test (the first of :meth:`specs`).
    """

    kind: ClassVar[str | BaseDeviceKind]
    zoo_models: ClassVar[tuple[str, ...]] = ("mobilenet_v1", "resnet18", "squeezenet1_1",
                                             "ds_cnn", "fc_autoencoder")
    max_specs: ClassVar[int] = 3

    # ----- what a subclass may override ------------------------------------------------------

    def kind_under_test(self) -> BaseDeviceKind:
        """The kind (:attr:`kind`, looked up if a name)."""
        return device_kind(self.kind) if isinstance(self.kind, str) else self.kind

    def specs(self) -> list[DeviceSpec]:
        """Valid sample specs of this kind; default: the built-in catalog's devices of it."""
        name = self.kind_under_test().name
        return [d for d in default_catalog().devices.values() if d.kind == name]

    def raw_data(self, spec: DeviceSpec) -> dict[str, Any]:
        """A spec's YAML mapping before validation, derived values removed (what
        :meth:`~dse.devices.kinds.BaseDeviceKind.derive` is given)."""
        data = spec.model_dump(exclude_unset=True)
        for path in data.pop("derived", ()) or ():
            top, _, key = path.partition(".")
            if isinstance(data.get(top), Mapping) and key:
                data[top] = {k: v for k, v in data[top].items() if k != key}
        return data

    # ----- helpers ---------------------------------------------------------------------------

    def _specs(self) -> list[DeviceSpec]:
        found = self.specs()[:self.max_specs]
        if not found:
            pytest.skip(f"no sample spec of kind {self.kind_under_test().name!r}")
        return found

    def _workloads(self, spec: DeviceSpec) -> list[Workload]:
        return [workload(name, precision=spec.precisions[0]) for name in self.zoo_models]

    # ----- the invariants --------------------------------------------------------------------

    def test_the_kind_has_a_name_and_its_attributes(self) -> None:
        kind = self.kind_under_test()
        assert isinstance(kind, BaseDeviceKind)
        assert isinstance(kind.name, str) and kind.name
        assert isinstance(kind.is_host, bool)
        assert kind.onchip in ("cache", "scratchpad", "buffer")
        assert isinstance(kind.streams_weights, bool)

    def test_the_sample_specs_are_of_this_kind(self) -> None:
        for spec in self._specs():
            assert spec.kind == self.kind_under_test().name

    def test_peak_per_precision_is_positive_and_finite(self) -> None:
        for spec in self._specs():
            assert spec.peak_ops_s, spec.name
            for precision, peak in spec.peak_ops_s.items():
                assert 0 < peak < math.inf, f"{spec.name} {precision}: {peak}"

    def test_utilization_is_in_zero_one_for_every_layer(self) -> None:
        kind = self.kind_under_test()
        for spec in self._specs():
            for w in self._workloads(spec):
                u = np.asarray(kind.utilization(spec, w.counts), dtype=float)
                assert u.shape == (len(w.counts),), f"{spec.name} {w.name}"
                assert np.all((u > 0) & (u <= 1)), f"{spec.name} {w.name}: {u}"

    def test_utilization_of_a_batch_is_in_zero_one_and_equals_the_counts(self) -> None:
        kind = self.kind_under_test()
        for spec in self._specs():
            models = self._workloads(spec)
            batch = LayerBatch.from_workloads(models)
            u = np.asarray(kind.layer_utilization(spec, batch), dtype=float)
            assert u.shape == (batch.layers,)
            assert np.all((u > 0) & (u <= 1)), f"{spec.name}: {u}"
            each = np.concatenate([kind.utilization(spec, w.counts) for w in models])
            np.testing.assert_allclose(u, each, rtol=1e-12, err_msg=spec.name)

    def test_weight_placement_conserves_bytes(self) -> None:
        for spec in self._specs():
            for w in self._workloads(spec):
                precision = w.precision
                placement = place_weights(w.counts, spec, precision)
                footprint = weight_footprint(w.counts, precision)
                total = float(footprint.sum())
                assert placement.onchip_bytes >= 0 and placement.offchip_bytes >= 0
                assert placement.onchip_bytes + placement.offchip_bytes == \
                    pytest.approx(total, rel=1e-12, abs=0.5), f"{spec.name} {w.name}"
                onchip = float(footprint[placement.where == ONCHIP].sum())
                assert onchip == pytest.approx(placement.onchip_bytes, rel=1e-12, abs=0.5)
                assert set(placement.where[footprint > 0]) <= {ONCHIP, "dram", "link"}

    def test_derive_does_not_overwrite_stated_values_nor_mutate_its_input(self) -> None:
        kind = self.kind_under_test()
        for spec in self._specs():
            data = self.raw_data(spec)
            before = copy.deepcopy(data)
            out, derived = kind.derive(data)
            assert data == before, f"{spec.name}: derive mutated its input"
            for path in derived:
                top, _, key = path.partition(".")
                stated = before.get(top)
                assert not (isinstance(stated, Mapping) and key in stated) and \
                    (key or top not in before), f"{spec.name}: {path} was stated"
            for top, value in before.items():
                if isinstance(value, Mapping):
                    for key, item in value.items():
                        assert out[top][key] == item, f"{spec.name}: {top}.{key} overwritten"
                else:
                    assert out[top] == value, f"{spec.name}: {top} overwritten"
            # with every value stated, nothing is derived again
            full = spec.model_dump(exclude_unset=True)
            full.pop("derived", None)
            again, _ = kind.derive(copy.deepcopy(full))
            assert {k: again[k] for k in full} == full, spec.name

    def test_check_of_a_valid_spec_finds_no_problem(self) -> None:
        kind = self.kind_under_test()
        for spec in self._specs():
            assert kind.check(spec) == [], spec.name

    def test_thread_scale_is_a_share_that_never_falls(self) -> None:
        kind = self.kind_under_test()
        for spec in self._specs():
            cores = spec.cores or 1
            scales = [kind.thread_scale(spec, t) for t in range(1, cores + 2)]
            assert all(0 < s <= 1 for s in scales), f"{spec.name}: {scales}"
            assert all(b >= a for a, b in itertools.pairwise(scales)), spec.name
            assert kind.thread_scale(spec, None) == pytest.approx(scales[cores - 1])
