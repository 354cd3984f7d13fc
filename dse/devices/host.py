"""The machine dse runs on, as a catalog-style ``cpu`` device named ``host``.

``dse measure`` times models with ONNX Runtime on this machine; calibrating those measurements
needs a device spec for it. :func:`detect_host` builds one from what the operating system says
(``/proc/cpuinfo``, ``/sys/devices/system/cpu``, the process's CPU affinity) plus a quick
in-process memory copy, and :func:`host_platform` wraps it as a platform. Every number carries a
source like a catalog file's: what was read or measured here is ``measured``; the FP32
operations per cycle come from a rule on the ISA flags whose figures are cited (``paper`` or
``datasheet``); the power draw, which nothing here can read, is a labelled ``estimate``.

:meth:`dse.devices.Catalog.device` and :meth:`~dse.devices.Catalog.platform` return these for
the name ``host`` when the catalog defines no entry of that name.

FP32 operations per cycle per core (1 FMA = 2 ops), from the ISA flags:

============================  ====  ===============================================================
flags                         ops   why
============================  ====  ===============================================================
``avx512f`` and ``fma``       64    two 512-bit FMA units x 16 lanes x 2. An upper bound: Xeon
                                    Scalable Gold 6xxx/Platinum parts have two units, Bronze,
                                    Silver, most Gold 5xxx and client Ice/Tiger Lake one (32),
                                    and the flags cannot tell them apart. The bound is taken
                                    because calibration fits ``efficiency`` <= 1 under the peak:
                                    too high a peak only lowers the fitted efficiency, too low a
                                    peak would cap it.
``fma`` (with ``avx2``/avx)   32    two 256-bit FMA units x 8 lanes x 2 (Haswell to Coffee Lake;
                                    AMD Zen 2 and later)
``avx``                       16    one 256-bit add + one 256-bit multiply per cycle (Sandy Bridge)
``sse``/``sse2``              8     one 128-bit add + one 128-bit multiply per cycle (Core 2,
                                    Nehalem)
``asimd`` (AArch64)           16    two 128-bit NEON FMA pipes x 4 lanes x 2 (Cortex-A76 class; an
                                    upper bound again, the Cortex-A72 of a Raspberry Pi 4 sustains
                                    8)
none of these                 2     one scalar FMA per cycle (estimate)
============================  ====  ===============================================================
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform as _platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import validate
from dse.spec.platform import PlatformSpec

__all__ = ["HOST", "cpu_info", "cpu_model_name", "detect_host", "fp32_ops_per_cycle",
           "host_platform", "measure_copy_bandwidth"]

#: The name of the detected device and platform.
HOST = "host"

_CPUINFO = Path("/proc/cpuinfo")
_SYS_CPU = Path("/sys/devices/system/cpu")

#: Size of each array of the memory-copy measurement; far beyond any per-core L2.
_COPY_BYTES = 128 * 2**20

#: Assumed active power per core when nothing can be read (see :func:`detect_host`).
_WATTS_PER_CORE = 5.0

_DOLBEAU = ("R. Dolbeau, \"Theoretical Peak FLOPS per instruction set on modern Intel CPUs\" "
            "(Bull Center for Excellence in Parallel Programming, rev. 1.41, 2016), and the "
            "per-microarchitecture table of Stack Overflow question 15655835, \"FLOPS per cycle "
            "for Sandy Bridge and Haswell SSE2/AVX/AVX2\" (FMAs per clock x lanes x 2)")
_FLOPS_TABLE_URL = ("https://stackoverflow.com/questions/15655835/"
                    "flops-per-cycle-for-sandy-bridge-and-haswell-sse2-avx-avx2")


def _rule(ops: float, kind: str, cite: str, url: str | None) -> dict[str, Any]:
    return {"ops": ops, "kind": kind, "cite": cite, "url": url}


_RULES: dict[str, dict[str, Any]] = {
    "avx512": _rule(64.0, "paper", (
        "Colfax Research, \"Capabilities of Intel AVX-512 in Intel Xeon Scalable Processors "
        "(Skylake)\" (2017), section 2.2 Clock Frequency and Peak Performance: two 512-bit FMA "
        "units per core, 16 FP32 lanes x 2 ops x 2 units = 64 FP32 ops/cycle; WikiChip FLOPS "
        "table, Skylake (server): \"2 x 512-bit FMA (varies by SKU)\", SP 64 FLOPs/cycle. Gold "
        "5xxx and lower SKUs have one AVX-512 FMA unit (Intel Software Tuning forum, \"Calculate "
        "the Max Flops on Skylake\"), i.e. 32; the ISA flags cannot tell, so the two-unit upper "
        "bound is taken (calibration fits efficiency below it)."),
        "https://colfaxresearch.com/skl-avx512/"),
    "fma": _rule(32.0, "paper", (
        f"{_DOLBEAU}: Haswell and later AVX2 cores issue two 256-bit FMA per cycle, 8 FP32 "
        "lanes x 2 ops x 2 = 32 FP32 ops/cycle (also the Intel 64 and IA-32 Architectures "
        "Optimization Reference Manual, Skylake client: FMA on ports 0 and 1)"), _FLOPS_TABLE_URL),
    "avx": _rule(16.0, "paper", (
        f"{_DOLBEAU}: Sandy Bridge AVX issues one 256-bit add and one 256-bit multiply per "
        "cycle, 8 + 8 = 16 FP32 ops/cycle"), _FLOPS_TABLE_URL),
    "sse": _rule(8.0, "paper", (
        f"{_DOLBEAU}: Nehalem/Westmere SSE issues one 128-bit add and one 128-bit multiply per "
        "cycle, 4 + 4 = 8 FP32 ops/cycle"), _FLOPS_TABLE_URL),
    "asimd": _rule(16.0, "datasheet", (
        "Arm Cortex-A76 Software Optimization Guide: two ASIMD/FP pipelines (V0, V1) each "
        "issue one 128-bit FMLA per cycle, 4 FP32 lanes x 2 ops x 2 = 16 FP32 ops/cycle; an "
        "upper bound for cores with one such pipe (the Cortex-A72 of a Raspberry Pi 4 sustains "
        "8, see devices/rpi4_cpu.yaml)"), None),
    "scalar": _rule(2.0, "estimate", (
        "No SIMD flags found (or none readable): one scalar FMA per cycle assumed, 2 FP32 "
        "ops/cycle"), None),
}


def fp32_ops_per_cycle(flags: frozenset[str] | set[str]) -> tuple[float, str]:
    """FP32 operations per cycle per core from the ISA flags (see the module docstring).

    Args:
        flags: CPU flags as ``/proc/cpuinfo`` lists them (``flags`` on x86, ``Features`` on
            Arm).

    Returns:
        The ops per cycle and the key of the rule used (``avx512``, ``fma``, ``avx``, ``sse``,
        ``asimd`` or ``scalar``).
    """
    if "avx512f" in flags and "fma" in flags:
        key = "avx512"
    elif "fma" in flags and ("avx2" in flags or "avx" in flags):
        key = "fma"
    elif "avx" in flags:
        key = "avx"
    elif "sse" in flags or "sse2" in flags:
        key = "sse"
    elif "asimd" in flags:
        key = "asimd"
    else:
        key = "scalar"
    return float(_RULES[key]["ops"]), key


def cpu_info() -> dict[str, str]:
    """The first processor block of ``/proc/cpuinfo`` as key -> value (empty if unreadable)."""
    try:
        text = _CPUINFO.read_text(errors="replace")
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            info.setdefault(key.strip(), value.strip())
    return info


def cpu_model_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what :mod:`platform` says)."""
    info = cpu_info()
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if info.get(key):
            return info[key]
    return _platform.processor() or _platform.machine() or "unknown CPU"


def _usable_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def _clock_hz(cpus: list[int]) -> tuple[float | None, str]:
    """Max clock from cpufreq (what ``lscpu`` shows as max MHz), else ``cpu MHz``."""
    for cpu in cpus[:1] or [0]:
        path = _SYS_CPU / f"cpu{cpu}" / "cpufreq" / "cpuinfo_max_freq"
        try:
            return float(path.read_text().strip()) * 1e3, f"{path} (kHz, the max clock)"
        except (OSError, ValueError):
            pass
    try:
        mhz = [float(line.partition(":")[2]) for line in
               _CPUINFO.read_text(errors="replace").splitlines()
               if line.startswith("cpu MHz")]
    except (OSError, ValueError):
        mhz = []
    if mhz:
        return max(mhz) * 1e6, "/proc/cpuinfo \"cpu MHz\" (current clock; no cpufreq max given)"
    return None, ""


def _largest_cache_bytes(cpus: list[int]) -> tuple[int | None, str]:
    folder = _SYS_CPU / f"cpu{(cpus or [0])[0]}" / "cache"
    best: tuple[int, int] | None = None
    for index in sorted(folder.glob("index*")):
        try:
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        factor = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:], 1)
        try:
            value = int(size.rstrip("KMG")) * factor
        except ValueError:
            continue
        if best is None or (level, value) > best:
            best = (level, value)
    if best is None:
        return None, ""
    return best[1], f"{folder}/index*/size: the level-{best[0]} cache"


def measure_copy_bandwidth(nbytes: int = _COPY_BYTES, repeats: int = 5) -> float:
    """Sustained memory bandwidth in bytes/s: the best of a few numpy copies of a large array.

    Counts the bytes read plus the bytes written (STREAM's convention for copy). One thread, so
    a lower bound for what all cores together sustain; takes about 0.2 s.

    Args:
        nbytes: Size of the array copied.
        repeats: Copies timed; the fastest counts (the first also faults the pages in).
    """
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(max(repeats, 2)):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2.0 * src.nbytes / best


@functools.cache
def detect_host() -> DeviceSpec:
    """This machine's CPU as a ``cpu`` device named ``host``; detected once per process.

    ``cores`` is the number of CPUs this process may run on (``os.sched_getaffinity``; with SMT
    those are hardware threads, so the derived peak then counts each core's FMA units twice and
    the fitted efficiency absorbs it). ``clock_hz`` is the cpufreq max clock if the kernel
    gives one, else the ``cpu MHz`` of ``/proc/cpuinfo``. FP32 ops per cycle follow
    :func:`fp32_ops_per_cycle`; the peak is derived by the ``cpu`` kind (cores x clock x ops
    per cycle). ``mem_bw_bytes_s`` is measured by :func:`measure_copy_bandwidth`;
    ``onchip_mem_bytes`` is the largest cache sysfs reports (in a virtual machine that may be
    the whole host socket's). Power cannot be read portably: ``active_w`` is an estimate of
    5 W per core.

    Returns:
        A validated :class:`DeviceSpec`, every number covered by a source.

    Raises:
        SpecError: The detected values do not make a valid spec (a bug, or a very odd system).
    """
    cpus = _usable_cpus()
    cores = max(len(cpus), 1)
    model = cpu_model_name()
    info = cpu_info()
    flags = frozenset((info.get("flags") or info.get("Features") or "").split())
    ops, rule = fp32_ops_per_cycle(flags)
    clock, clock_from = _clock_hz(cpus)
    cache, cache_from = _largest_cache_bytes(cpus)
    bandwidth = measure_copy_bandwidth()
    today = _dt.date.today().isoformat()
    read_from = "/proc/cpuinfo" if info else "the platform module (no /proc/cpuinfo)"
    sources: list[dict[str, Any]] = [
        {"id": "host-cpuinfo", "kind": "measured",
         "cite": f"Read on {today}: {model}; {cores} usable CPUs (os.sched_getaffinity: "
                 f"{_cpu_list(cpus)}); ISA flags from {read_from} select the {rule!r} rule; "
                 f"clock from {clock_from or 'nowhere (see host-clock-estimate)'}",
         "fields": ["cores", *(["clock_hz"] if clock is not None else [])]},
        {"id": f"fp32-ops-per-cycle-{rule}", "kind": _RULES[rule]["kind"],
         "cite": _RULES[rule]["cite"], "url": _RULES[rule]["url"],
         "fields": ["ops_per_cycle_per_core.fp32"]},
        {"id": "host-copy-bandwidth", "kind": "measured",
         "cite": f"Measured on {today} by dse in-process: best of 5 numpy copies of a "
                 f"{_COPY_BYTES // 2**20} MiB float64 array, bytes read + written (STREAM copy "
                 f"convention), one thread",
         "fields": ["mem_bw_bytes_s"]},
        {"id": "host-power-estimate", "kind": "estimate",
         "cite": f"Not measured (no portable power reading): {_WATTS_PER_CORE:g} W per usable "
                 f"CPU when busy, between a server core's share of its TDP (about 3 W) and a "
                 f"desktop core's (about 11 W); idle power 0 (left to a platform's board "
                 f"power). Calibrate before trusting energy figures.",
         "fields": ["power"]},
    ]
    if clock is None:
        clock = 2.0e9
        sources.append({"id": "host-clock-estimate", "kind": "estimate",
                        "cite": "No clock readable (no cpufreq, no cpu MHz): 2 GHz assumed",
                        "fields": ["clock_hz"]})
    if cache is None:
        cache = 0
        cache_from = "no cache size readable; 0 (weights never stay resident)"
        sources.append({"id": "host-cache-estimate", "kind": "estimate", "cite": cache_from,
                        "fields": ["onchip_mem_bytes"]})
    else:
        sources.append({"id": "host-cache", "kind": "measured",
                        "cite": f"Read on {today} from {cache_from}",
                        "fields": ["onchip_mem_bytes"]})
    data = {
        "name": HOST, "kind": "cpu",
        "description": f"This machine: {model}, {cores} usable CPUs (detected by dse)",
        "vendor": info.get("vendor_id", ""),
        "cores": cores, "clock_hz": clock, "ops_per_cycle_per_core": {"fp32": ops},
        "mem_bw_bytes_s": bandwidth, "onchip_mem_bytes": cache,
        "power": {"idle_w": 0.0, "active_w": _WATTS_PER_CORE * cores},
        "sources": sources,
        "notes": (f"Detected at run time by dse.devices.host.detect_host on {today}; not a "
                  f"catalog file. FP32 ops/cycle: {rule!r} rule (an upper bound where the ISA "
                  f"flags cannot tell the number of FMA units). Peak = cores x clock x "
                  f"ops/cycle. Measure this machine with `dse measure` and fit it with "
                  f"`dse calibrate ... --device host`."),
    }
    spec, problems = validate(DeviceSpec, data, file="host (detected)")
    if spec is None:
        raise SpecError(problems)
    return spec


@functools.cache
def host_platform() -> PlatformSpec:
    """A platform named ``host`` whose host cluster is :func:`detect_host`, no accelerators.

    Raises:
        SpecError: The platform does not validate (a bug).
    """
    device = detect_host()
    what = device.description.removeprefix("This machine: ")
    spec, problems = validate(PlatformSpec, {
        "name": HOST, "description": f"This machine ({what}), no accelerators",
        "host": {HOST: 1}}, file="host (detected)")
    if spec is None:
        raise SpecError(problems)
    return spec


def _cpu_list(cpus: list[int]) -> str:
    """``0-3,6`` for CPUs 0, 1, 2, 3, 6."""
    runs: list[list[int]] = []
    for cpu in cpus:
        if runs and cpu == runs[-1][-1] + 1:
            runs[-1].append(cpu)
        else:
            runs.append([cpu])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
