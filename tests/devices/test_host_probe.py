"""dse host probe: readers on fake /proc and /sys trees, figures -> device YAML, the written
catalog folder loaded like any device, bad probe files, and (marked ``live_host``) the live
measurements' code paths on tiny sizes, checking properties only."""

from __future__ import annotations

import math
import os

import pytest
import yaml

from dse.catalog import catalog_dir
from dse.cli import main
from dse.devices import Catalog
from dse.devices.catalog import CATALOG_ENV, catalog_folders
from dse.devices.host import (
    Cache,
    Cpu,
    Figure,
    ProbeFigures,
    ProbeSettings,
    device_data,
    fp32_ops_per_cycle,
    measure_clock,
    measure_copy_bandwidth,
    measure_gemm,
    probe,
    read_caches,
    read_cpu,
    write_probe,
)
from dse.errors import SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import validate
from dse.spec.sources import coverage_problems, numeric_paths, source_for

CPUINFO_SMT = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
cpu MHz\t\t: 800.012
flags\t\t: fpu sse sse2 avx avx2 fma

processor\t: 1
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
cpu MHz\t\t: 4590.100
flags\t\t: fpu sse sse2 avx avx2 fma

processor\t: 2
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
cpu MHz\t\t: 3200.000

processor\t: 3
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
cpu MHz\t\t: 3200.000
"""

CPUINFO_ARM = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU part\t: 0xd08

processor\t: 1
Features\t: fp asimd evtstrm crc32 cpuid
"""


def fake_tree(root, cpuinfo, cpus, *, siblings=None, caches=(), max_khz=None):
    """A /proc/cpuinfo and a /sys/devices/system/cpu under ``root``: ``siblings`` maps a CPU to
    its core id (default: each its own), ``caches`` are (level, type, size, shared list)."""
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text(cpuinfo)
    for cpu in cpus:
        base = root / "sys" / "devices" / "system" / "cpu" / f"cpu{cpu}"
        (base / "topology").mkdir(parents=True)
        (base / "topology" / "physical_package_id").write_text("0\n")
        (base / "topology" / "core_id").write_text(f"{(siblings or {}).get(cpu, cpu)}\n")
        for i, (level, kind, size, shared) in enumerate(caches):
            index = base / "cache" / f"index{i}"
            index.mkdir(parents=True)
            (index / "level").write_text(f"{level}\n")
            (index / "type").write_text(f"{kind}\n")
            (index / "size").write_text(f"{size}\n")
            (index / "shared_cpu_list").write_text(f"{shared}\n")
        if max_khz:
            (base / "cpufreq").mkdir()
            (base / "cpufreq" / "cpuinfo_max_freq").write_text(f"{max_khz}\n")
    return root


def figure(value, spread=0.01, n=15):
    return Figure(value, value, value * (1 - spread), value * (1 + spread), value * 1.02, n)


def figures(*, cpu=None, caches=None, clock=4.0e9, bw_all=20e9, bw_one=12e9, chain_note=""):
    cpu = cpu or Cpu("Intel(R) Xeon(R) Processor", (0, 1), 2,
                     frozenset({"sse", "sse2", "avx", "avx2", "fma", "avx512f"}), 2600.0)
    caches = caches if caches is not None else [Cache(1, "Data", 48 * 2**10, 1),
                                                 Cache(2, "Unified", 2 * 2**20, 1),
                                                 Cache(3, "Unified", 480 * 2**20, 2)]
    return ProbeFigures(cpu, caches, figure(clock) if clock else None,
                        figure(clock * 1.01) if clock else None, figure(180e9), figure(bw_all),
                        figure(bw_one), "2026-12-05T18:00+00:00", 3.2, ProbeSettings(threads=2),
                        chain_note)


# ----- readers ----------------------------------------------------------------------------

def test_read_cpu_counts_smt_siblings_once(tmp_path):
    root = fake_tree(tmp_path, CPUINFO_SMT, range(4), siblings={0: 0, 1: 1, 2: 0, 3: 1},
                     max_khz=4600000)
    cpu = read_cpu(root, cpus=[0, 1, 2, 3])
    assert cpu.model == "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz"
    assert (cpu.cpus, cpu.cores, cpu.smt) == ((0, 1, 2, 3), 2, True)
    assert cpu.flags == {"fpu", "sse", "sse2", "avx", "avx2", "fma"}
    assert cpu.reported_mhz == pytest.approx(4590.1)  # the largest of the processors
    assert cpu.max_mhz == pytest.approx(4600.0)
    # an affinity mask of one sibling per core: no SMT among the usable CPUs
    assert read_cpu(root, cpus=[0, 1]).smt is False


def test_read_cpu_on_arm_and_without_sysfs(tmp_path):
    root = tmp_path / "arm"
    root.mkdir()
    (root / "proc").mkdir()
    (root / "proc" / "cpuinfo").write_text(CPUINFO_ARM)
    cpu = read_cpu(root, cpus=[0, 1])
    assert "asimd" in cpu.flags and cpu.cores == 2  # no topology: each CPU its own core
    assert cpu.reported_mhz is None and cpu.max_mhz is None
    assert fp32_ops_per_cycle(cpu.flags) == (16.0, "asimd")
    empty = read_cpu(tmp_path / "nothing", cpus=[0])
    assert empty.cpuinfo_read is False and empty.flags == frozenset() and empty.cores == 1


def test_read_caches_sizes_levels_and_sharing(tmp_path):
    root = fake_tree(tmp_path, CPUINFO_SMT, range(4), siblings={0: 0, 1: 1, 2: 0, 3: 1},
                     caches=[(1, "Data", "32K", "0,2"), (1, "Instruction", "32K", "0,2"),
                             (2, "Unified", "256K", "0,2"), (3, "Unified", "12288K", "0-3")])
    caches = read_caches(root, cpus=[0, 1, 2, 3])
    assert [(c.key, c.size_bytes, c.shared_by) for c in caches] == [
        ("l1d", 32768, 2), ("l1i", 32768, 2), ("l2", 262144, 2), ("l3", 12 * 2**20, 4)]
    # shared_by counts usable CPUs only (a process pinned to CPU 0)
    assert {c.key: c.shared_by for c in read_caches(root, cpus=[0])} == {
        "l1d": 1, "l1i": 1, "l2": 1, "l3": 1}
    assert read_caches(tmp_path / "nothing", cpus=[0]) == []


@pytest.mark.parametrize(("flags", "ops", "rule"), [
    ({"sse", "sse2", "avx", "avx2", "fma", "avx512f"}, 64, "avx512"),
    ({"sse", "sse2", "avx", "avx2", "fma"}, 32, "fma"),
    ({"sse", "sse2", "avx"}, 16, "avx"),
    ({"sse", "sse2"}, 8, "sse"),
    ({"fp", "asimd"}, 16, "asimd"),
    (set(), 2, "scalar"),
])
def test_fp32_ops_per_cycle_rule(flags, ops, rule):
    assert fp32_ops_per_cycle(flags) == (ops, rule)


# ----- figures -> device ------------------------------------------------------------------

def spec_of(data):
    spec, problems = validate(DeviceSpec, data, file="probe")
    assert problems == []
    return spec


def test_device_data_is_a_sourced_cpu_device():
    spec = spec_of(device_data(figures()))
    assert (spec.name, spec.kind, spec.cores) == ("host", "cpu", 2)
    assert spec.default_runtime == "onnxruntime_cpu"  # the host x ORT target dse measure times
    assert spec.clock_hz == pytest.approx(4.0e9, rel=1e-3)  # the all-core median, 4 digits
    assert spec.peak_ops_s["fp32"] == pytest.approx(2 * spec.clock_hz * 64)
    assert spec.mem_bw_bytes_s == pytest.approx(20e9, rel=1e-3)
    assert spec.mem_bw_one_thread_bytes_s == pytest.approx(12e9, rel=1e-3)
    assert spec.onchip_mem_bytes == 480 * 2**20  # the largest cache
    assert spec.caches is not None and spec.caches["l3"].shared_by_cpus == 2
    assert coverage_problems(spec, spec.sources, derived=spec.derived) == []
    for path in numeric_paths(spec):
        assert path in spec.derived or source_for(spec.sources, path) is not None, path
    kinds = {p: spec.source_of(p).kind for p in ("cores", "clock_hz", "mem_bw_bytes_s",
                                                  "caches.l2.size_bytes", "power.active_w")}
    assert kinds == {"cores": "measured", "clock_hz": "measured", "mem_bw_bytes_s": "measured",
                     "caches.l2.size_bytes": "measured", "power.active_w": "estimate"}
    clock = spec.source_of("clock_hz").cite
    assert "dependent 64-bit register adds" in clock and "cpu MHz 2600" in clock
    assert "Intel(R) Xeon(R) Processor" in spec.description
    # the GEMM cross-check: 180 GFLOP/s at 4 GHz is 45 ops/cycle, above one FMA unit's 32
    ops = spec.source_of("ops_per_cycle_per_core.fp32").cite
    assert "45.0 FP32 ops per measured cycle" in ops and "consistent" in ops


def test_all_cpus_below_one_thread_records_the_floor():
    spec = spec_of(device_data(figures(bw_all=8e9, bw_one=12e9)))
    assert spec.mem_bw_bytes_s == pytest.approx(12e9, rel=1e-3)
    assert "floor" in spec.source_of("mem_bw_bytes_s").cite


def test_without_the_chain_the_clock_is_the_gemm_lower_bound():
    spec = spec_of(device_data(figures(clock=None, chain_note="no chain for aarch64 / posix")))
    assert spec.clock_hz == pytest.approx(180e9 / 64, rel=1e-3)
    cite = spec.source_of("clock_hz").cite
    assert cite.startswith("A lower bound") and "aarch64" in cite


def test_without_caches_nothing_stays_resident():
    spec = spec_of(device_data(figures(caches=[])))
    assert spec.onchip_mem_bytes == 0 and spec.caches is None
    assert spec.source_of("onchip_mem_bytes").kind == "estimate"


def test_smt_is_stated_and_counted_once():
    cpu = Cpu("Some CPU", (0, 1, 2, 3), 2, frozenset({"avx", "avx2", "fma"}), 3200.0)
    spec = spec_of(device_data(figures(cpu=cpu)))
    assert spec.cores == 2 and spec.ops_per_cycle_per_core == {"fp32": 32}
    assert "SMT on: 4 hardware threads on 2 cores" in spec.source_of("cores").cite


# ----- the written folder is a catalog folder -----------------------------------------------

def test_write_probe_is_loaded_like_any_device(tmp_path, monkeypatch):
    spec, written = write_probe(tmp_path / "probed" / "host.yaml", figures=figures())
    assert written == [tmp_path / "probed" / "host.yaml",
                       tmp_path / "probed" / "platforms" / "host.yaml"]
    assert not list((tmp_path / "probed").rglob("*.tmp"))
    cat = Catalog(catalog_dir("devices"), tmp_path / "probed")
    assert cat.device("host") == spec
    assert dict(cat.platform("host").host) == {"host": 1}
    assert cat.compose("host").host == {"host": 1}
    # DSE_CATALOG adds the folder to the default catalog
    monkeypatch.setenv(CATALOG_ENV, os.pathsep.join([str(tmp_path / "probed"), ""]))
    assert catalog_folders() == (catalog_dir("devices"), tmp_path / "probed")
    assert Catalog().device("host") == spec
    # another name: the file's stem
    other, _ = write_probe(tmp_path / "lab" / "my_box.yaml", figures=figures())
    assert Catalog(catalog_dir("devices"), tmp_path / "lab").device("my_box") == other


def test_write_probe_refuses_a_bad_path(tmp_path):
    for bad in ("host.yml", "Host.yaml"):
        with pytest.raises(SpecError, match=r"expected <folder>/<name>\.yaml"):
            write_probe(tmp_path / bad, figures=figures())
    assert not any(tmp_path.iterdir())


def test_a_bad_probe_file_is_one_error_naming_it(tmp_path):
    write_probe(tmp_path / "host.yaml", figures=figures())
    data = yaml.safe_load((tmp_path / "host.yaml").read_text())
    data["cores"] = 0
    data["caches"]["l9"] = {"size_bytes": 1024}
    data["mem_bw_one_thread_bytes_s"] = "fast"
    (tmp_path / "host.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as info:
        Catalog(catalog_dir("devices"), tmp_path)
    lines = str(info.value).splitlines()
    assert all(line.startswith(str(tmp_path / "host.yaml")) for line in lines)
    text = str(info.value)
    assert "cores: must be > 0, got 0" in text
    assert "caches: unknown cache level 'l9'" in text
    assert "mem_bw_one_thread_bytes_s" in text and "'fast'" in text


def test_cli_devices_show_and_unknown_host(tmp_path, capsys):
    write_probe(tmp_path / "host.yaml", figures=figures())
    assert main(["devices", "show", "host", "--catalog", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "probe-clock (measured)" in text and "caches.l3.size_bytes" in text
    assert main(["devices", "show", "host"]) == 2
    assert "dse host probe" in capsys.readouterr().err
    assert main(["roofline", "host", "ds_cnn", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert "dse host probe" in err and "Traceback" not in err


def test_the_recorded_probe_names_its_machine():
    cat = Catalog(catalog_dir("devices"), catalog_dir("calibration") / "host")
    spec = cat.device("host")
    assert "Intel(R) Xeon(R) Processor" in spec.description
    assert spec.source_of("clock_hz").kind == "measured"
    assert "dependent 64-bit register adds" in spec.source_of("clock_hz").cite
    assert spec.caches is not None and {"l1d", "l2", "l3"} <= set(spec.caches)
    assert spec.mem_bw_one_thread_bytes_s is not None
    assert spec.mem_bw_bytes_s >= spec.mem_bw_one_thread_bytes_s
    assert coverage_problems(spec, spec.sources, derived=spec.derived) == []


# ----- live code paths (tiny sizes; properties, never figures) -------------------------------

def test_a_test_may_not_probe_live():
    with pytest.raises(AssertionError, match="recorded probe"):
        probe()


@pytest.mark.live_host
def test_the_live_measurements_run():
    clock, why = measure_clock(2, seconds=0.001, repeats=2)
    if clock is None:
        assert why  # says why the chain cannot run here
    else:
        assert clock.n == 4 and math.isfinite(clock.value) and clock.value > 0
        assert clock.p10 <= clock.median <= clock.p90 <= clock.best
    bw = measure_copy_bandwidth(2, nbytes=2**20, repeats=2)
    assert bw.n == 2 and bw.value == bw.best > 0
    gemm = measure_gemm(n=32, repeats=2)
    assert gemm.n == 2 and gemm.value > 0


@pytest.mark.live_host
def test_a_quick_live_probe_writes_a_valid_device(tmp_path):
    spec, written = write_probe(tmp_path / "host.yaml", quick=True)
    assert spec.kind == "cpu" and spec.cores >= 1 and spec.peak_ops_s["fp32"] > 0
    assert Catalog(catalog_dir("devices"), tmp_path).device("host") == spec
    assert len(written) == 2


def test_cli_probe_refuses_a_bad_path_before_measuring(tmp_path, capsys):
    assert main(["host", "probe", "--out", str(tmp_path / "host.yml")]) == 2
    err = capsys.readouterr().err
    assert "host.yml" in err and "expected <folder>/<name>.yaml" in err
    assert "Traceback" not in err and not any(tmp_path.iterdir())
