"""Tiny, exactly known scenarios: a test catalog and a one-Gemm ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from onnx import helper

from dse.devices import Catalog
from tests.spec.catalogs import CPU, LINK, changed, source, write_catalog
from tests.workloads.onnx_cases import init, model, vi

# npu: 1 GOP/s fp32, 100 MB/s memory, no overheads; the Gemm below takes
# max(2*64*64 / 1e9, (64+64+64*64)*4 / 1e8) = 0.0001688 s on it.
NPU: dict[str, Any] = {
    "kind": "npu", "peak_ops_s": {"fp32": 1e9}, "mem_bw_bytes_s": 1e8, "onchip_mem_bytes": 0,
    "dram_bytes": 2**30, "link": "usb", "needs_host_core": True,
    "power": {"idle_w": 0.5, "active_w": 2.0}, "price_usd": 50,
    "sources": [source("peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes", "dram_bytes",
                       "power", "price_usd")],
}
GEMM_S = max(2 * 64 * 64 / 1e9, (64 + 64 + 64 * 64) * 4 / 1e8)
USB = changed(LINK, bandwidth_bytes_s=1e6, latency_s=1e-4)  # 256 B input: 0.1 ms + 0.256 ms
TRANSFER_S = 1e-4 + 256 / 1e6


def catalog(tmp_path: Path, *, host_cores: int = 2, usb_bandwidth: float = 1e6,
            **npu_changes: Any) -> Catalog:
    usb = changed(USB, bandwidth_bytes_s=usb_bandwidth)
    npu = changed(NPU, **npu_changes)
    npu["sources"] = [source(*(f for f in NPU["sources"][0]["fields"] if f in npu))]
    return Catalog(write_catalog(
        tmp_path / "catalog",
        devices={"npu": npu, "host": changed(CPU, cores=host_cores)},
        links={"usb": usb, "hub": changed(usb, shared=True)},
        platforms={"board": {"host": {"host": 1}, "board_idle_w": 1.0,
                             "sources": [source("board_idle_w")]}}))


def gemm_onnx(tmp_path: Path) -> Path:
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
    m = model(nodes, [vi("x", [1, 64])], [vi("y", [1, 64])], [init("w", (64, 64))])
    path = tmp_path / "gemm.onnx"
    onnx.save(m, str(path))
    return path


def experiment(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "tiny",
        "workload": {"onnx": str(gemm_onnx(tmp_path)), "precision": "fp32"},
        "platform": {"host": "board", "accelerators": {"npu": 1}},
        "execution": {"policy": "single"},
        # deterministic (no service-time spread): whole traces are compared exactly; the
        # spread has tests of its own (tests/sim/test_spread.py)
        "stream": {"frames": 20, "warmup": 2, "jitter": 0},
    }
    for key, value in sections.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def chain_onnx(tmp_path: Path) -> Path:
    """fc1 (Gemm) -> act (Sigmoid) -> fc2 (Gemm), 64 wide."""
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], name="fc1", transB=1),
             helper.make_node("Softmax", ["h"], ["a"], name="act"),
             helper.make_node("Gemm", ["a", "w2"], ["y"], name="fc2", transB=1)]
    m = model(nodes, [vi("x", [1, 64])], [vi("y", [1, 64])],
              [init("w1", (64, 64)), init("w2", (64, 64))])
    path = tmp_path / "chain.onnx"
    onnx.save(m, str(path))
    return path
