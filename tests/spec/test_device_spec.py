"""Device, link and platform specs: every validation message, all problems at once."""

from __future__ import annotations

import pytest

from dse.devices import Catalog
from dse.errors import SpecError
from tests.spec.catalogs import CPU, LINK, NPU, changed, source, write_catalog


def load(tmp_path, **files):
    return Catalog(write_catalog(tmp_path, **files))


def error_of(tmp_path, **files) -> str:
    with pytest.raises(SpecError) as info:
        load(tmp_path, **files)
    return str(info.value)


def test_valid_catalog_loads(tmp_path):
    cat = load(tmp_path, platforms={"board": {"host": {"cpu": 1}, "accelerators": {"npu": 2}}})
    assert cat.device("npu").peak_ops_s == {"fp16": 1e12, "int8": 2e12}
    assert cat.device("npu").onchip_mem_bytes == 2 * 2**20
    assert cat.device("cpu").peak_ops_s == {"fp32": 4 * 1.5e9 * 8, "int8": 4 * 1.5e9 * 16}
    assert cat.device("cpu").derived == ("peak_ops_s.fp32", "peak_ops_s.int8")
    assert cat.platform("board").accelerators["npu"].count == 2
    assert cat.attached_link(cat.platform("board"), "npu").name == "usb3"


@pytest.mark.parametrize(("changes", "message"), [
    ({"kind": "npux"}, r"npu.yaml: kind: unknown device kind 'npux'; did you mean 'npu'\? known device kinds: cpu, "),
    ({"peak_ops_s": {"fp16": -1}}, r"npu.yaml: peak_ops_s.fp16: must be > 0, got -1"),
    ({"peak_ops_s": {"fp64": 1}}, r"peak_ops_s.fp64: unknown precision 'fp64'; did you mean 'fp16'\? known precisions: bf16, "),
    ({"mem_bw_bytes_s": "25.6 GB"}, r"mem_bw_bytes_s: unknown unit 'GB' in '25.6 GB'"),
    ({"onchip_mem_bytes": "2 KB"}, r"onchip_mem_bytes: unit 'KB' in '2 KB' is ambiguous"),
    ({"onchip_mem_bytes": -1}, r"onchip_mem_bytes: must be >= 0, got -1"),
    ({"bogus": 1}, r"bogus: unknown key 'bogus'; \d+ known keys, such as "),
    ({"power": {"idle_w": 2, "active_w": 1}}, r"power: active_w \(1 W\) must be >= idle_w"),
    ({"power": {"idle_w": 0.1}}, r"power.active_w: required, but missing"),
    ({"efficiency": {"conv": 1.5}}, r"efficiency.conv: must be in \(0, 1\], got 1.5"),
    ({"efficiency": {"convolution": 0.5}}, r"efficiency.convolution: unknown efficiency key 'convolution'; \d+ known efficiency keys, such as .*conv, "),
    ({"slots": 2, "slot_speedup": [1, 1.5, 2]}, r"slot_speedup: must have one entry per slot"),
    ({"slots": 2, "slot_speedup": [0.5, 1]}, r"slot_speedup: first entry .* must be 1, got 0.5"),
    ({"slots": 3, "slot_speedup": [1, 2, 1.5]}, r"slot_speedup: must not decrease"),
    ({"slots": 2, "slot_speedup": [1, 2.5]}, r"cannot be more than k times faster"),
    ({"slots": 0}, r"slots: must be > 0, got 0"),
    ({"slots": 1.5}, r"slots: expected a whole number, got 1.5"),
    ({"on_unsupported": "fallback_tail"}, r"on_unsupported: only meaningful with a supported_ops"),
    ({"on_unsupported": "drop"}, r"on_unsupported: expected 'infeasible', 'fallback_layer' or "
                                 r"'fallback_tail', got 'drop'"),
    ({"fallback_device": "cpu"}, r"npu.yaml: fallback_device: only 'host' \(the platform's host "
                                 r"CPU\) can take .*; a named fallback device is not modelled, "
                                 r"got 'cpu'"),
    ({"sources": [source("peak_ops_s")]}, r"mem_bw_bytes_s: no source given for this number"),
    ({"sources": [source("peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes", "dram_bytes",
                         "power", "price_usd", "clock_hz")]},
     r"sources.ds: field 'clock_hz' names no number this spec states"),
    ({"sources": []}, r"sources: must have at least 1 entry, got \[\]"),
    ({"sources": [source("power", kind="rumour")]}, r"sources.0.kind: expected 'datasheet'"),
    ({"name": "other"}, r"name: must match the file name 'npu', got 'other'"),
    ({"link": None, "dram_bytes": None, "kind": "micro_npu", "onchip_mem_bytes": 0},
     r"onchip_mem_bytes: a microcontroller NPU runs from on-chip memory"),
])
def test_device_messages(tmp_path, changes, message):
    text = error_of(tmp_path, devices={"npu": changed(NPU, **changes), "cpu": CPU})
    assert "npu.yaml" in text
    import re

    assert re.search(message, text), text


@pytest.mark.parametrize(("changes", "message"), [
    ({"cores": None, "peak_ops_s": {"fp32": 1e9}, "ops_per_cycle_per_core": None},
     r"cpu.yaml: cores: required for a device of kind 'cpu'"),
    ({"link": "usb3"}, r"cpu.yaml: link: a CPU cluster is the host and sits on no link"),
    ({"clock_hz": "1.5 GB/s"}, r"clock_hz: unknown unit 'GB/s' .* \(that is a unit of bandwidth\)"),
])
def test_cpu_messages(tmp_path, changes, message):
    import re

    text = error_of(tmp_path, devices={"npu": NPU, "cpu": changed(CPU, **changes)})
    assert re.search(message, text), text


def test_dpu_peak_is_size_times_clock_and_int8_only(tmp_path):
    dpu = {"kind": "dpu", "dpu_arch": "B1024", "clock_hz": "300 MHz", "mem_bw_bytes_s": 4e9,
           "onchip_mem_bytes": "256 KiB", "link": "usb3", "power": {"idle_w": 0, "active_w": 1},
           "sources": [source("clock_hz", "mem_bw_bytes_s", "onchip_mem_bytes", "power")]}
    cat = load(tmp_path, devices={"dpu": dpu})
    assert cat.device("dpu").peak_ops_s == {"int8": 1024 * 300e6}
    text = error_of(tmp_path / "bad", devices={
        "dpu": changed(dpu, dpu_arch="B9999"),
        "dpu2": changed(dpu, peak_ops_s={"fp16": 1e12},
                        sources=[source("clock_hz", "mem_bw_bytes_s", "onchip_mem_bytes",
                                        "power", "peak_ops_s")])})
    assert "dpu.yaml: dpu_arch: expected one of B512, B800" in text
    assert "dpu2.yaml: peak_ops_s: a DPU core runs int8 only, got fp16, int8" in text


def test_every_problem_of_every_file_at_once(tmp_path):
    text = error_of(tmp_path, devices={
        "npu": changed(NPU, peak_ops_s={"fp16": -1}, mem_bw_bytes_s="fast"),
        "cpu": changed(CPU, cores=0),
        "broken": "kind: [npu\n",
        "empty": "",
    }, links={"usb3": changed(LINK, bandwidth_bytes_s=0)},
        platforms={"board": {"host": {"cpu": 1}, "accelerators": {"npu": {"count": -1}}}})
    lines = text.splitlines()
    for expected in ("npu.yaml: peak_ops_s.fp16: must be > 0, got -1",
                     "npu.yaml: mem_bw_bytes_s: expected a number with a unit",
                     "cpu.yaml: cores: must be > 0, got 0",
                     "broken.yaml: line 2, column 1: invalid YAML",
                     "empty.yaml: expected a mapping of keys to values, got an empty file",
                     "links/usb3.yaml: bandwidth_bytes_s: must be > 0, got 0",
                     "platforms/board.yaml: accelerators.npu.count: must be >= 0, got -1"):
        assert any(expected in line for line in lines), (expected, text)


def test_platform_names_are_checked_against_the_catalog(tmp_path):
    text = error_of(tmp_path, platforms={"board": {
        "host": {"cpu2": 1, "npu": 1}, "accelerators": {"gpu": 1, "npu": {"link": "pcie"}},
        "price_usd": 10}})
    assert "board.yaml: host.cpu2: unknown device 'cpu2'; did you mean 'cpu'? known devices: " \
        "cpu, npu" in text
    assert "board.yaml: host.npu: a host must be a CPU cluster, 'npu' is a npu" in text
    assert "board.yaml: accelerators.gpu: unknown device 'gpu'" in text
    assert "board.yaml: accelerators.npu.link: unknown link 'pcie'; known links: usb3" in text
    assert "board.yaml: price_usd: no source given for this number" in text


def test_base_inherits_and_rederives(tmp_path):
    fast = {"base": "cpu", "clock_hz": "3 GHz",
            "sources": [source("clock_hz", kind="assumption", id="what-if")]}
    bigger = {"base": "npu", "onchip_mem_bytes": "4 MiB",
              "sources": [source("onchip_mem_bytes", kind="assumption", id="twice")]}
    cat = load(tmp_path, devices={"npu": NPU, "cpu": CPU, "cpu_fast": fast, "npu_big": bigger})
    assert cat.device("cpu_fast").peak_ops_s["fp32"] == 2 * cat.device("cpu").peak_ops_s["fp32"]
    big = cat.device("npu_big")
    assert big.onchip_mem_bytes == 2 * cat.device("npu").onchip_mem_bytes
    assert big.source_of("onchip_mem_bytes").id == "twice"
    assert big.source_of("mem_bw_bytes_s").id == "ds"


def test_base_errors(tmp_path):
    text = error_of(tmp_path, devices={
        "npu": NPU, "cpu": CPU,
        "a": {"base": "b"}, "b": {"base": "a"},
        "c": {"base": "nope"}})
    assert "a.yaml: base: 'base' chain loops: a -> b -> a" in text
    assert "c.yaml: base: unknown device 'nope'; known devices: a, b, c, cpu, npu" in text


def test_later_folders_cannot_redefine(tmp_path):
    first = write_catalog(tmp_path / "one")
    second = write_catalog(tmp_path / "two", devices={"npu": NPU}, links={})
    with pytest.raises(SpecError, match=r"two/npu.yaml: 'npu' is already defined in"):
        Catalog(first, second)


def test_unknown_names_list_the_known_ones(tmp_path):
    cat = load(tmp_path)
    with pytest.raises(SpecError, match=r"unknown device 'ncs3'; known devices: cpu, npu"):
        cat.device("ncs3")
    with pytest.raises(SpecError, match=r"unknown link 'usb9'; did you mean 'usb3'\? known "
                                        r"links: usb3"):
        cat.link("usb9")
    with pytest.raises(SpecError, match=r"unknown platform 'pi'$"):
        cat.platform("pi")


def test_compose(tmp_path):
    cat = load(tmp_path, links={"usb3": LINK, "hub": changed(LINK, shared=True)},
               platforms={"board": {"host": {"cpu": 1}}})
    p = cat.compose("board", {"npu": 4}, link="hub")
    assert p.name == "board+4xnpu"
    assert p.accelerators["npu"].count == 4
    assert cat.attached_link(p, "npu").shared
    assert cat.compose("cpu", {"npu": {"count": 1}}).host == {"cpu": 1}
    with pytest.raises(SpecError, match=r"unknown host 'pi'; known hosts: board, cpu"):
        cat.compose("pi", {"npu": 1})
    with pytest.raises(SpecError, match=r"accelerators.gpu: unknown device 'gpu'"):
        cat.compose("board", {"gpu": 1})
    with pytest.raises(SpecError, match=r"accelerators.npu.link: unknown link 'usb7'"):
        cat.compose("board", {"npu": 1}, link="usb7")


def test_inline_device_from_experiment(tmp_path):
    cat = load(tmp_path)
    spec = cat.device_from({"base": "npu", "name": "npu2", "mem_bw_bytes_s": "20 GB/s",
                            "sources": [source("mem_bw_bytes_s", kind="assumption", id="x")]},
                           file="experiments/x.yaml", prefix="platform.devices.npu2")
    assert spec.mem_bw_bytes_s == 20e9
    with pytest.raises(SpecError, match=r"experiments/x.yaml: platform.devices.npu2.slots: "
                                        r"must be > 0, got 0"):
        cat.device_from({"base": "npu", "name": "npu2", "slots": 0}, file="experiments/x.yaml",
                        prefix="platform.devices.npu2")


def test_specs_are_frozen(tmp_path):
    spec = load(tmp_path).device("npu")
    with pytest.raises(Exception, match="frozen"):
        spec.slots = 4  # type: ignore[misc]


def test_what_if_copies_are_validated_and_sourced(tmp_path):
    cat = load(tmp_path)
    host = cat.device("cpu")
    faster = host.with_changes("overclocked to 3 GHz", clock_hz="3 GHz")
    assert faster.peak_ops_s["fp32"] == 2 * host.peak_ops_s["fp32"]
    assert faster.source_of("clock_hz").kind == "assumption"
    assert faster.source_of("clock_hz").cite == "overclocked to 3 GHz"
    assert host.clock_hz == 1.5e9
    with pytest.raises(SpecError, match=r"cpu \(what-if\): onchip_mem_bytes: must be >= 0"):
        host.with_changes("broken", onchip_mem_bytes=-1)
    with pytest.raises(SpecError, match=r"platform: accelerators.npu.count: must be >= 0, got -2"):
        cat.compose("cpu", {"npu": -2})
