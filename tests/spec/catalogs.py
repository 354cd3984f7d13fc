"""Small catalogs written to a temporary folder, for validation tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


def source(*fields: str, kind: str = "datasheet", id: str = "ds") -> dict[str, Any]:
    return {"id": id, "kind": kind, "cite": "test fixture", "fields": list(fields)}


NPU: dict[str, Any] = {
    "kind": "npu",
    "peak_ops_s": {"fp16": "1 TOPS", "int8": "2 TOPS"},
    "mem_bw_bytes_s": "10 GB/s",
    "onchip_mem_bytes": "2 MiB",
    "dram_bytes": "512 MiB",
    "link": "usb3",
    "needs_host_core": True,
    "power": {"idle_w": 0.3, "active_w": "1.5 W"},
    "price_usd": 70,
    "sources": [source("peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes", "dram_bytes",
                       "power", "price_usd")],
}
CPU: dict[str, Any] = {
    "kind": "cpu",
    "cores": 4,
    "clock_hz": "1.5 GHz",
    "ops_per_cycle_per_core": {"fp32": 8, "int8": 16},
    "mem_bw_bytes_s": "4 GB/s",
    "onchip_mem_bytes": "1 MiB",
    "power": {"idle_w": 1.0, "active_w": 4.0},
    "sources": [source("cores", "clock_hz", "ops_per_cycle_per_core", "mem_bw_bytes_s",
                       "onchip_mem_bytes", "power")],
}
LINK: dict[str, Any] = {
    "bandwidth_bytes_s": "400 MB/s", "latency_s": "50 us",
    "sources": [source("bandwidth_bytes_s", "latency_s")],
}


def write_catalog(folder: Path, devices: dict[str, Any] | None = None,
                  links: dict[str, Any] | None = None,
                  platforms: dict[str, Any] | None = None) -> Path:
    """Write YAML files; values that are strings are written verbatim (for syntax errors)."""
    defaults = ({"npu": NPU, "cpu": CPU}, {"usb3": LINK}, {})
    for sub, entries, default in (("", devices, defaults[0]), ("links", links, defaults[1]),
                                  ("platforms", platforms, defaults[2])):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, data in (default if entries is None else entries).items():
            text = data if isinstance(data, str) else yaml.safe_dump(copy.deepcopy(data))
            (folder / sub / f"{name}.yaml").write_text(text)
    return folder


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level keys replaced (``None`` removes a key)."""
    data = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data
