"""Device specs built in code for cost tests (every number covered by one test source)."""

from __future__ import annotations

from typing import Any

from dse.spec.device import DeviceSpec
from dse.spec.platform import LinkSpec
from dse.spec.sources import numeric_paths

_FIELDS = ["peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes", "dram_bytes", "efficiency",
           "overhead_per_inference_s", "overhead_per_layer_s", "slots", "slot_speedup", "power",
           "price_usd", "cores", "clock_hz", "ops_per_cycle_per_core"]


def device(**fields: Any) -> DeviceSpec:
    """A device with sensible defaults; any field may be given."""
    data: dict[str, Any] = {
        "name": "dev", "kind": "npu", "peak_ops_s": {"fp32": 1e11, "fp16": 2e11, "int8": 4e11},
        "mem_bw_bytes_s": 1e10, "onchip_mem_bytes": 0, "power": {"idle_w": 0.5, "active_w": 2.0},
    }
    data.update(fields)
    stated = [f for f in _FIELDS if data.get(f) not in (None, {}, [])]
    data["sources"] = [{"id": "test", "kind": "assumption", "cite": "cost tests",
                        "fields": stated}]
    spec = DeviceSpec.model_validate(data)
    assert set(numeric_paths(spec)) - set(spec.derived)
    return spec


def cpu(**fields: Any) -> DeviceSpec:
    base = {"name": "host", "kind": "cpu", "cores": 4, "clock_hz": 1e9,
            "ops_per_cycle_per_core": {"fp32": 8, "int8": 16}, "peak_ops_s": {},
            "onchip_mem_bytes": 2**20, "mem_bw_bytes_s": 4e9}
    return device(**{**base, **fields})


def link(bandwidth: float = 4e8, latency: float = 5e-5, shared: bool = False) -> LinkSpec:
    return LinkSpec(name="usb3", bandwidth_bytes_s=bandwidth, latency_s=latency, shared=shared,
                    sources=[{"id": "t", "kind": "assumption", "cite": "cost tests",
                              "fields": ["bandwidth_bytes_s", "latency_s"]}])
