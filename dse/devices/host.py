"""Probing the machine dse runs on: a ``cpu`` device YAML, every number with how it was found.

The host is a target like any other: ``dse host probe`` (:func:`write_probe`) measures this
machine once and writes a catalog folder (``<dir>/host.yaml``, the device, and
``<dir>/platforms/host.yaml``, that CPU alone as a platform), which the catalog then loads like
any device file (``--catalog <dir>`` or the ``DSE_CATALOG`` environment variable, see
:mod:`dse.devices.catalog`). Nothing is measured when a name is looked up.

What the probe records and how (:func:`probe`):

- ``cores``: the physical cores among the CPUs this process may use (``os.sched_getaffinity``;
  SMT siblings, read from sysfs ``topology/``, count once, since they share the FMA units).
- ``clock_hz``: the clock *under load*, measured: a chain of dependent 64-bit integer adds
  (one cycle each on every x86-64 core since the P6, Agner Fog's instruction tables) run as
  machine code on every usable CPU at once, timed with each thread's own CPU time (so time
  spent descheduled on a shared machine does not count). The reported ``cpu MHz`` is the base
  or a stale figure, below the turbo clock a busy core runs at. Where the chain cannot run
  (not x86-64, or no executable memory), the clock is the lower bound implied by the measured
  FP32 GEMM rate (rate / ops per cycle / efficiency 1), and its source says so.
- ``ops_per_cycle_per_core.fp32``: a rule on the ISA flags, each figure cited (table below).
  A single-thread FP32 GEMM (ONNX Runtime ``MatMul``) is timed as a cross-check: its rate per
  cycle is recorded beside the rule's figure.
- ``caches``: every level of sysfs ``cache/index*`` (size of one instance, CPUs sharing it);
  ``onchip_mem_bytes`` is the largest of them (in a virtual machine the last level may be the
  whole host socket's).
- ``mem_bw_bytes_s`` / ``mem_bw_one_thread_bytes_s``: sustained memory bandwidth, a numpy copy
  of arrays far beyond the per-core caches by all usable CPUs at once and by one, bytes read
  plus bytes written (STREAM's convention for copy), the best of several repeats (STREAM's
  "best rate").
- ``power``: a labelled ``estimate`` (nothing portable reads it).

FP32 operations per cycle per core (1 FMA = 2 ops), from the ISA flags:

============================  ====  ===============================================================
flags                         ops   why
============================  ====  ===============================================================
``avx512f`` and ``fma``       64    two 512-bit FMA units x 16 lanes x 2. An upper bound: Xeon
                                    Scalable Gold 6xxx/Platinum parts have two units, Bronze,
                                    Silver, most Gold 5xxx and client Ice/Tiger Lake one (32),
                                    and the flags cannot tell them apart (the GEMM cross-check
                                    can: a rate above 32 ops per measured cycle needs two).
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

The readers (:func:`read_cpu`, :func:`read_caches`) take the root of a file tree, so tests feed
them fake ``/proc`` and ``/sys`` trees; :func:`device_data` turns measured figures into the
device's YAML data without measuring anything.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import logging
import mmap
import os
import platform as _platform
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dse.errors import Problem, SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import validate
from dse.spec.units import format_quantity

__all__ = ["HOST", "Cache", "Cpu", "Figure", "ProbeFigures", "ProbeSettings", "cpu_model_name", "device_data",
           "fp32_ops_per_cycle", "measure_clock", "measure_copy_bandwidth", "measure_gemm",
           "measure_probe", "probe", "probe_yaml", "read_caches", "read_cpu",
           "usable_cpus", "write_probe"]

logger = logging.getLogger(__name__)

#: The conventional name of the probed device (``dse measure`` rows say ``device=host``).
HOST = "host"

#: Assumed active power per core when nothing can be read (see :func:`device_data`).
_WATTS_PER_CORE = 5.0

#: Dependent adds per loop iteration of the clock chain (the loop's own counter and branch
#: run beside them on other ports, so an iteration takes this many cycles).
_CHAIN_ADDS = 16

#: Bytes each memory-copy run moves from source to destination (all threads together).
_COPY_BYTES = 256 * 2**20

#: Side of the square FP32 GEMM of the cross-check: 3 x 256 KiB, resident in a 1 MiB+ L2.
_GEMM_N = 256

_DOLBEAU = ("R. Dolbeau, \"Theoretical Peak FLOPS per instruction set on modern Intel CPUs\" "
            "(Bull Center for Excellence in Parallel Programming, rev. 1.41, 2016), and the "
            "per-microarchitecture table of Stack Overflow question 15655835, \"FLOPS per cycle "
            "for Sandy Bridge and Haswell SSE2/AVX/AVX2\" (FMAs per clock x lanes x 2)")
_FLOPS_TABLE_URL = ("https://stackoverflow.com/questions/15655835/"
                    "flops-per-cycle-for-sandy-bridge-and-haswell-sse2-avx-avx2")
_AGNER = ("A. Fog, \"Instruction tables: lists of instruction latencies, throughputs and "
          "micro-operation breakdowns for Intel, AMD and VIA CPUs\" (Technical University of "
          "Denmark, updated 2022): ADD r64,r64 has a latency of 1 clock cycle on every listed "
          "x86-64 microarchitecture")
_AGNER_URL = "https://www.agner.org/optimize/instruction_tables.pdf"


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


# ----- readers (pure: a file tree in, facts out) -------------------------------------------------

@dataclass(frozen=True)
class Cpu:
    """What the operating system says about the CPUs this process may use.

    Attributes:
        model: The CPU's model name.
        cpus: The usable logical CPUs (hardware threads).
        cores: Physical cores among them (SMT siblings count once).
        flags: ISA flags (``flags`` on x86, ``Features`` on Arm).
        reported_mhz: The ``cpu MHz`` of ``/proc/cpuinfo`` (``None`` if absent).
        max_mhz: The cpufreq maximum (``cpuinfo_max_freq``), if the kernel gives one.
        cpuinfo_read: Whether ``/proc/cpuinfo`` was readable.
    """

    model: str
    cpus: tuple[int, ...]
    cores: int
    flags: frozenset[str]
    reported_mhz: float | None = None
    max_mhz: float | None = None
    cpuinfo_read: bool = True

    @property
    def smt(self) -> bool:
        """Whether some usable CPUs are SMT siblings of one core."""
        return self.cores < len(self.cpus)


@dataclass(frozen=True)
class Cache:
    """One cache of the first usable CPU, from sysfs ``cache/index*``.

    Attributes:
        level: 1, 2, 3, ...
        type: ``Data``, ``Instruction`` or ``Unified``.
        size_bytes: Size of one instance.
        shared_by: Usable CPUs sharing that instance.
    """

    level: int
    type: str
    size_bytes: int
    shared_by: int

    @property
    def key(self) -> str:
        """``l1d``, ``l1i``, ``l2``, ``l3``: the key of the spec's ``caches``."""
        return f"l{self.level}" + {"Data": "d", "Instruction": "i"}.get(self.type, "")


def _cpuinfo_blocks(root: Path) -> list[dict[str, str]] | None:
    try:
        text = (root / "proc" / "cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1].setdefault(key.strip(), value.strip())
    return [b for b in blocks if b]


def cpu_model_name(root: Path | str = "/") -> str:
    """The CPU's model name (``/proc/cpuinfo`` under ``root``, else what :mod:`platform` says).
    """
    for block in _cpuinfo_blocks(Path(root)) or []:
        for key in ("model name", "Model", "Hardware", "cpu model"):
            if block.get(key):
                return block[key]
    return _platform.processor() or _platform.machine() or "unknown CPU"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _cpu_list(text: str) -> list[int]:
    """``0-3,6`` -> [0, 1, 2, 3, 6]."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus += range(int(first), int(last or first) + 1)
    return cpus


def _cpu_ranges(cpus: Sequence[int]) -> str:
    """[0, 1, 2, 3, 6] -> ``0-3,6``."""
    runs: list[list[int]] = []
    for cpu in cpus:
        if runs and cpu == runs[-1][-1] + 1:
            runs[-1].append(cpu)
        else:
            runs.append([cpu])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def usable_cpus() -> tuple[int, ...]:
    """The logical CPUs this process may run on (``os.sched_getaffinity``)."""
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return tuple(range(os.cpu_count() or 1))


def read_cpu(root: Path | str = "/", cpus: Sequence[int] | None = None) -> Cpu:
    """The usable CPUs as ``/proc/cpuinfo`` and sysfs under ``root`` describe them.

    Args:
        root: Root of the file tree (``/``; a fake tree in tests).
        cpus: The usable logical CPUs (default: :func:`usable_cpus`).
    """
    root = Path(root)
    cpus = tuple(sorted(cpus)) if cpus is not None else usable_cpus()
    blocks = _cpuinfo_blocks(root)
    first = (blocks or [{}])[0]
    flags = frozenset((first.get("flags") or first.get("Features") or "").split())
    mhz = []
    for block in blocks or []:
        try:
            mhz.append(float(block["cpu MHz"]))
        except (KeyError, ValueError):
            continue
    sys_cpu = root / "sys" / "devices" / "system" / "cpu"
    physical: set[tuple[int, int] | tuple[str, int]] = set()
    for cpu in cpus:
        topology = sys_cpu / f"cpu{cpu}" / "topology"
        package, core = (_read_int(topology / "physical_package_id"),
                         _read_int(topology / "core_id"))
        physical.add((package, core) if package is not None and core is not None
                     else ("cpu", cpu))  # no topology: each CPU its own core
    max_khz = _read_int(sys_cpu / f"cpu{cpus[0] if cpus else 0}" / "cpufreq" /
                        "cpuinfo_max_freq")
    return Cpu(model=cpu_model_name(root), cpus=cpus, cores=max(len(physical), 1), flags=flags,
               reported_mhz=max(mhz) if mhz else None,
               max_mhz=max_khz / 1e3 if max_khz else None, cpuinfo_read=blocks is not None)


def read_caches(root: Path | str = "/", cpus: Sequence[int] | None = None) -> list[Cache]:
    """Every cache of the first usable CPU (sysfs ``cache/index*`` under ``root``), by level.

    Args:
        root: Root of the file tree.
        cpus: The usable logical CPUs (default: :func:`usable_cpus`); ``shared_by`` counts those
            sharing each instance (all CPUs sharing it if its ``shared_cpu_list`` is missing).
    """
    cpus = tuple(sorted(cpus)) if cpus is not None else usable_cpus()
    folder = Path(root) / "sys" / "devices" / "system" / "cpu" / f"cpu{(cpus or (0,))[0]}" / \
        "cache"
    caches = []
    for index in sorted(folder.glob("index*")):
        level = _read_int(index / "level")
        try:
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        factor = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:].upper(), 1)
        try:
            nbytes = int(size.rstrip("KMGkmg")) * factor
        except ValueError:
            continue
        try:
            shared = len(set(_cpu_list((index / "shared_cpu_list").read_text())) & set(cpus))
        except (OSError, ValueError):
            shared = len(cpus)
        if level is not None and nbytes > 0:
            caches.append(Cache(level, kind, nbytes, max(shared, 1)))
    return sorted(caches, key=lambda c: (c.level, c.key))


# ----- measurements -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """A measured rate with its spread over repeats.

    Attributes:
        value: The figure recorded (the median, or the best for a bandwidth).
        median / p10 / p90 / best: Over the repeats.
        n: Repeats.
        note: How it was timed, where that varies (a copy's clock and concurrency).
    """

    value: float
    median: float
    p10: float
    p90: float
    best: float
    n: int
    note: str = ""

    @classmethod
    def of(cls, samples: Sequence[float], *, take: str = "median", note: str = "") -> Figure:
        a = np.asarray(samples, dtype=float)
        median, best = float(np.median(a)), float(a.max())
        return cls(best if take == "best" else median, median, float(np.percentile(a, 10)),
                   float(np.percentile(a, 90)), best, len(a), note)

    def spread(self, scale: float, unit: str) -> str:
        """``median 4.12 GHz (p10-p90 4.05-4.15, best 4.16, n=15)``-style text."""
        return (f"median {self.median / scale:.3g} {unit} (p10-p90 {self.p10 / scale:.3g}-"
                f"{self.p90 / scale:.3g}, best {self.best / scale:.3g}, n={self.n}"
                f"{'; ' + self.note if self.note else ''})")


# x86-64 System V: uint64_t chain(uint64_t n) { runs n iterations of 16 dependent
# `add rax, rdx` }. Register-register adds: recent Intel cores fold chains of add-immediate
# at rename, so an immediate would run faster than one per cycle.
_X86_64_CHAIN = (bytes.fromhex("4831c0" "ba01000000")      # xor rax,rax; mov edx,1
                 + bytes.fromhex("4801d0") * _CHAIN_ADDS    # add rax,rdx
                 + bytes.fromhex("48ffcf")                   # dec rdi
                 + bytes([0x75, (-(3 * _CHAIN_ADDS + 5)) & 0xFF])  # jnz loop
                 + bytes.fromhex("c3"))                      # ret


class _Chain:
    """The add chain as callable machine code (x86-64 System V only), or why it is not."""

    def __init__(self) -> None:
        self.fn: Callable[[int], int] | None = None
        self.why_not = ""
        if _platform.machine().lower() not in ("x86_64", "amd64") or os.name != "posix":
            self.why_not = f"no chain for {_platform.machine()} / {os.name}"
            return
        try:
            self._buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE |
                                  mmap.PROT_EXEC)
        except (OSError, ValueError, AttributeError) as exc:
            self.why_not = f"no executable memory ({exc})"
            return
        self._buf.write(_X86_64_CHAIN)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._buf))
        # CFUNCTYPE releases the GIL during the call, so threads run chains in parallel.
        self.fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64)(address)


def measure_clock(threads: int = 1, *, seconds: float = 0.02, repeats: int = 15
                  ) -> tuple[Figure | None, str]:
    """The clock of busy cores: dependent adds (1 cycle each) per second of thread CPU time.

    ``threads`` threads run the chain at once (all usable CPUs: the sustained all-core clock;
    one: the single-core turbo); each times its own runs with ``time.thread_time``, so time it
    spent descheduled does not count. Every run's rate is one sample.

    Args:
        threads: Chains run at once.
        seconds: Length of one run (its iteration count is set from a first short run).
        repeats: Runs per thread.

    Returns:
        The clock in Hz over every run of every thread, or ``None`` and why the chain cannot
        run here.
    """
    chain = _Chain()
    if chain.fn is None:
        return None, chain.why_not
    fn = chain.fn
    start = time.thread_time()
    fn(10_000)
    guess = _CHAIN_ADDS * 10_000 / max(time.thread_time() - start, 1e-6)
    iterations = max(int(seconds * guess / _CHAIN_ADDS), 1000)
    samples: list[float] = []
    barrier = threading.Barrier(threads)
    lock = threading.Lock()

    def run() -> None:
        fn(iterations)  # warm-up: let the core reach its loaded clock
        barrier.wait()
        mine = []
        for _ in range(repeats):
            t = time.thread_time()
            fn(iterations)
            elapsed = time.thread_time() - t
            if elapsed > 0:
                mine.append(_CHAIN_ADDS * iterations / elapsed)
        with lock:
            samples.extend(mine)

    _run_threads(run, threads)
    return (Figure.of(samples) if samples else None), "" if samples else "no timed run"


def _run_threads(fn: Callable[[], None], threads: int) -> None:
    workers = [threading.Thread(target=fn, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def measure_copy_bandwidth(threads: int = 1, *, nbytes: int = _COPY_BYTES, repeats: int = 6
                           ) -> Figure:
    """Sustained memory bandwidth in bytes/s: ``threads`` numpy copies at once.

    Each thread copies its own ``nbytes / threads`` array (numpy releases the GIL while it
    copies). Bytes read plus bytes written count (STREAM's convention for copy); the first run
    (page faults) is not counted and the best of the rest is the figure (STREAM's best rate).

    One thread is timed with its own CPU time, so time spent descheduled on a busy machine does
    not count (on a loaded 2-CPU machine wall-clock copies read a third of it). Several threads
    are timed from a common start to the last copy's end, the aggregate only while all of them
    run: a run counts as *concurrent* if every thread was on a CPU for at least 90% of that
    window (its CPU time over the window); :attr:`Figure.note` says how many were.

    Args:
        threads: Copies at once.
        nbytes: Bytes copied per run, all threads together.
        repeats: Timed runs.
    """
    n = max(nbytes // 8 // threads, 1)
    src = [np.ones(n) for _ in range(threads)]
    dst = [np.zeros(n) for _ in range(threads)]
    samples: list[float] = []
    concurrent = 0
    for run in range(repeats + 1):
        barrier = threading.Barrier(threads + 1)
        ends = [0.0] * threads
        cpu = [0.0] * threads

        def copy(i: int, barrier: threading.Barrier = barrier, ends: list[float] = ends,
                 cpu: list[float] = cpu) -> None:
            barrier.wait()
            t = time.thread_time()
            np.copyto(dst[i], src[i])
            cpu[i] = time.thread_time() - t
            ends[i] = time.perf_counter()

        workers = [threading.Thread(target=copy, args=(i,), daemon=True)
                   for i in range(threads)]
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        wall = max(max(ends) - start, 1e-9)
        if run:
            seconds = max(cpu[0], 1e-9) if threads == 1 else wall
            samples.append(2.0 * 8 * n * threads / seconds)
            concurrent += min(cpu) >= 0.9 * wall
    note = ("thread CPU time" if threads == 1 else
            f"{concurrent} of {repeats} runs with every thread on a CPU for >= 90% of the run")
    return Figure.of(samples, take="best", note=note)


def measure_gemm(*, n: int = _GEMM_N, repeats: int = 15) -> Figure:
    """FP32 ops/s of one ONNX Runtime ``MatMul`` (n x n x n, one intra-op thread), timed with
    the calling thread's CPU time (ONNX Runtime runs a one-thread session on it)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "ab"],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {x: rng.random((n, n), dtype=np.float32) for x in "ab"}
    for _ in range(3):
        session.run(None, feed)
    samples = []
    for _ in range(repeats):
        t = time.thread_time()
        session.run(None, feed)
        elapsed = time.thread_time() - t
        if elapsed > 0:
            samples.append(2.0 * n**3 / elapsed)
    return Figure.of(samples)


@dataclass(frozen=True)
class ProbeSettings:
    """How long and how large the probe's measurements are (defaults: about 3-5 s in all).

    Attributes:
        threads: Threads of the all-CPU runs (the usable CPUs).
        chain_s / chain_repeats: Length and count of the clock chain's runs.
        copy_bytes / copy_repeats: Bytes per memory-copy run and timed runs.
        gemm_n / gemm_repeats: GEMM size and timed runs.
    """

    threads: int = 1
    chain_s: float = 0.02
    chain_repeats: int = 15
    copy_bytes: int = _COPY_BYTES
    copy_repeats: int = 6
    gemm_n: int = _GEMM_N
    gemm_repeats: int = 15

    @classmethod
    def quick(cls, threads: int) -> ProbeSettings:
        """A fraction of a second: for code-path tests and smoke runs, not for figures."""
        return cls(threads, chain_s=0.002, chain_repeats=3, copy_bytes=4 * 2**20,
                   copy_repeats=2, gemm_n=64, gemm_repeats=3)


@dataclass(frozen=True)
class ProbeFigures:
    """Everything a probe found: read facts and measured figures.

    Attributes:
        cpu / caches: Read from the operating system.
        clock_all / clock_one: The add-chain clock on every usable CPU at once and on one
            (``None`` where the chain cannot run; ``chain_note`` says why).
        gemm: Single-thread FP32 GEMM rate.
        bw_all / bw_one: Copy bandwidth, all usable CPUs and one thread.
        date: When (ISO, with the time zone).
        seconds: How long the measurements took.
        settings: How they were run (for the sources).
    """

    cpu: Cpu
    caches: list[Cache]
    clock_all: Figure | None
    clock_one: Figure | None
    gemm: Figure
    bw_all: Figure
    bw_one: Figure
    date: str
    seconds: float
    settings: ProbeSettings
    chain_note: str = ""


def measure_probe(*, root: Path | str = "/", quick: bool = False) -> ProbeFigures:
    """Read this machine and take its measurements (about 3 s; ``quick``: a fraction of a
    second, for code-path tests, the figures then mean little)."""
    began = time.perf_counter()
    cpus = usable_cpus()
    cpu = read_cpu(root, cpus)
    caches = read_caches(root, cpus)
    s = ProbeSettings.quick(len(cpus)) if quick else ProbeSettings(threads=len(cpus))
    clock_all, note = measure_clock(s.threads, seconds=s.chain_s, repeats=s.chain_repeats)
    clock_one, _ = measure_clock(1, seconds=s.chain_s, repeats=s.chain_repeats)
    gemm = measure_gemm(n=s.gemm_n, repeats=s.gemm_repeats)
    bw_all = measure_copy_bandwidth(s.threads, nbytes=s.copy_bytes, repeats=s.copy_repeats)
    bw_one = measure_copy_bandwidth(1, nbytes=s.copy_bytes, repeats=s.copy_repeats)
    return ProbeFigures(cpu, caches, clock_all, clock_one, gemm, bw_all, bw_one,
                        _dt.datetime.now().astimezone().isoformat(timespec="minutes"),
                        time.perf_counter() - began, s, note)


# ----- figures -> device YAML data (pure) ---------------------------------------------------------

def device_data(f: ProbeFigures, *, name: str = HOST) -> dict[str, Any]:
    """The device's YAML data from what a probe found (nothing measured here).

    Returns:
        A mapping that validates as a :class:`DeviceSpec` of kind ``cpu``, every number
        covered by a source saying how it was found.
    """
    cpu, s = f.cpu, f.settings
    ops, rule = fp32_ops_per_cycle(cpu.flags)
    day = f.date[:10]
    sources: list[dict[str, Any]] = []
    cpus = _cpu_ranges(cpu.cpus)
    smt = (f"SMT on: {len(cpu.cpus)} hardware threads on {cpu.cores} cores" if cpu.smt
           else f"no SMT siblings among them: {cpu.cores} cores")
    sources.append({"id": "probe-cpu", "kind": "measured", "fields": ["cores"], "cite": (
        f"Read by dse host probe on {day}: {cpu.model}; usable CPUs {cpus} "
        f"(os.sched_getaffinity), {smt} (sysfs topology/physical_package_id and core_id)")})
    reported = (f"/proc/cpuinfo reports cpu MHz {cpu.reported_mhz:g}" if cpu.reported_mhz
                else "/proc/cpuinfo reports no cpu MHz")
    if cpu.max_mhz:
        reported += f", cpufreq cpuinfo_max_freq {cpu.max_mhz:g} MHz"
    per_core_peak = None
    if f.clock_all is not None:
        clock = f.clock_all.value
        one = (f"; one busy core: {f.clock_one.spread(1e9, 'GHz')}" if f.clock_one else "")
        uncertainty = max(f.clock_all.p90 - f.clock_all.median,
                          f.clock_all.median - f.clock_all.p10) / f.clock_all.median
        sources.append({"id": "probe-clock", "kind": "measured", "fields": ["clock_hz"],
                        "url": _AGNER_URL, "cite": (
            f"Measured by dse host probe on {day}: a chain of {_CHAIN_ADDS} dependent 64-bit "
            f"register adds per loop iteration, run as machine code on all {s.threads} "
            f"usable CPUs at once ({s.chain_repeats} runs of {s.chain_s * 1e3:g} ms per "
            f"CPU after a warm-up run), adds per second of each thread's CPU time (time "
            f"descheduled does not count): {f.clock_all.spread(1e9, 'GHz')}{one}; the median "
            f"all-core figure is recorded, uncertainty about {uncertainty:.1%} (p10/p90 "
            f"around it). One cycle per add: {_AGNER}. For comparison {reported}.")})
        per_core_peak = clock * ops
    else:
        clock = f.gemm.value / ops
        sources.append({"id": "probe-clock", "kind": "measured", "fields": ["clock_hz"],
                        "cite": (
            f"A lower bound, measured by dse host probe on {day}: the add-chain clock "
            f"measurement cannot run here ({f.chain_note}), so the clock is the single-thread "
            f"FP32 GEMM rate ({f.gemm.spread(1e9, 'GFLOP/s')}) divided by the rule's "
            f"{ops:g} FP32 ops/cycle at efficiency 1; the true clock is higher by the GEMM's "
            f"inefficiency. For comparison {reported}.")})
    gemm_cite = (f"; cross-check by dse host probe on {day}: one ONNX Runtime MatMul "
                 f"{s.gemm_n}x{s.gemm_n}x{s.gemm_n} FP32, one intra-op thread, "
                 f"{f.gemm.spread(1e9, 'GFLOP/s')}")
    if per_core_peak:
        gemm_cite += (f" = {f.gemm.value / clock:.1f} FP32 ops per measured cycle, "
                      f"{f.gemm.value / per_core_peak:.0%} of this figure"
                      + (" (above what half the units could deliver, so the full count is "
                         "consistent)" if f.gemm.value > per_core_peak / 2 else ""))
    sources.append({"id": f"fp32-ops-per-cycle-{rule}", "kind": _RULES[rule]["kind"],
                    "cite": f"{_RULES[rule]['cite']} (ISA flags read from /proc/cpuinfo)"
                    + gemm_cite, "url": _RULES[rule]["url"],
                    "fields": ["ops_per_cycle_per_core.fp32"]})
    copy = (f"numpy copies of float64 arrays, {s.copy_bytes // 2**20} MiB per run split "
            f"over the threads, bytes read + written (STREAM copy convention), best of "
            f"{s.copy_repeats} runs after one untimed run (STREAM's best rate); one thread "
            f"timed by its own CPU time (time descheduled does not count), several from their "
            f"common start to the last copy's end")
    largest_cache = max((c.size_bytes for c in f.caches), default=0)
    if 4 * largest_cache > s.copy_bytes:
        copy += (f"; STREAM asks for arrays of 4x the largest cache "
                 f"({format_quantity(largest_cache, 'bytes')} here), impractical in a few "
                 f"seconds, so part of a copy may be served by that cache")
    bw_all = max(f.bw_all.value, f.bw_one.value)
    floor = ("" if f.bw_all.value >= f.bw_one.value else
             " All CPUs came out below one thread (the machine was busy: a thread waiting for "
             "a CPU stretches the run), so mem_bw_bytes_s records the one-thread best as the "
             "floor the aggregate cannot be under; re-probe on a quiet machine.")
    sources.append({"id": "probe-bandwidth", "kind": "measured",
                    "fields": ["mem_bw_bytes_s", "mem_bw_one_thread_bytes_s"], "cite": (
        f"Measured by dse host probe on {day}: {copy}. All {s.threads} usable CPUs at "
        f"once: {f.bw_all.spread(1e9, 'GB/s')}; one thread: {f.bw_one.spread(1e9, 'GB/s')}. "
        f"The best rates are recorded.{floor}")})
    data: dict[str, Any] = {
        "name": name, "kind": "cpu",
        "description": (f"{cpu.model}, {cpu.cores} cores ({len(cpu.cpus)} usable CPUs), "
                        f"probed {day} by dse host probe"),
        "vendor": cpu.model.split()[0].replace("(R)", "") if cpu.model else "",
        "cores": cpu.cores,
        "clock_hz": format_quantity(clock, "frequency", digits=4),
        "ops_per_cycle_per_core": {"fp32": ops},
        "mem_bw_bytes_s": format_quantity(bw_all, "bandwidth", digits=4),
        "mem_bw_one_thread_bytes_s": format_quantity(f.bw_one.value, "bandwidth", digits=4),
        # what `dse measure` and the kernel benchmarks time it with: the host x ORT target
        "default_runtime": "onnxruntime_cpu",
    }
    if f.caches:
        largest = max(f.caches, key=lambda c: (c.level, c.size_bytes))
        data["onchip_mem_bytes"] = largest.size_bytes
        data["caches"] = {c.key: {"size_bytes": c.size_bytes, "shared_by_cpus": c.shared_by}
                          for c in f.caches}
        listing = "; ".join(f"{c.key} {format_quantity(c.size_bytes, 'bytes')} shared by "
                            f"{c.shared_by} usable CPU{'s' if c.shared_by > 1 else ''}"
                            for c in f.caches)
        sources.append({"id": "probe-caches", "kind": "measured",
                        "fields": ["caches", "onchip_mem_bytes"], "cite": (
            f"Read by dse host probe on {day} from sysfs cpu{cpu.cpus[0]}/cache/index*/"
            f"(level, type, size, shared_cpu_list): {listing}. onchip_mem_bytes is the "
            f"level-{largest.level} cache (in a virtual machine possibly the whole host "
            f"socket's, shared with other guests)")})
    else:
        data["onchip_mem_bytes"] = 0
        sources.append({"id": "probe-caches", "kind": "estimate",
                        "fields": ["onchip_mem_bytes"], "cite": (
            "No cache sizes readable from sysfs: 0 (weights never stay resident)")})
    data["power"] = {"idle_w": 0.0, "active_w": _WATTS_PER_CORE * cpu.cores}
    sources.append({"id": "probe-power-estimate", "kind": "estimate", "fields": ["power"],
                    "cite": (
        f"Not measured (no portable power reading): {_WATTS_PER_CORE:g} W per core when busy, "
        f"between a server core's share of its TDP (about 3 W) and a desktop core's (about "
        f"11 W); idle power 0 (left to a platform's board power). Calibrate before trusting "
        f"energy figures.")})
    data["sources"] = sources
    data["notes"] = (
        f"Written by dse host probe ({f.seconds:.1f} s) on {f.date}. The peak is derived by "
        f"the cpu kind: cores x clock x FP32 ops per cycle. Re-run `dse host probe` on another "
        f"machine; this file describes only the one named above.")
    return data


def _validated(data: dict[str, Any], file: str) -> DeviceSpec:
    spec, problems = validate(DeviceSpec, data, file=file)
    if spec is None:
        raise SpecError(problems)
    return spec


def probe(*, name: str = HOST, quick: bool = False) -> DeviceSpec:
    """Probe this machine (about 3 s) and return it as a validated ``cpu`` device.

    Args:
        name: The device's name.
        quick: Short measurements (code-path tests; the figures then mean little).

    Raises:
        SpecError: The figures do not make a valid spec (a bug, or a very odd system).
    """
    return _validated(device_data(measure_probe(quick=quick), name=name),
                      f"{name} (probed)")


def probe_yaml(data: dict[str, Any]) -> str:
    """The device YAML text of :func:`device_data`'s mapping."""
    header = ("# This machine as a dse device, written by `dse host probe` (dse.devices.host).\n"
              "# Load it like any catalog device: --catalog <this folder> or DSE_CATALOG.\n")
    return header + yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True)


def write_probe(path: Path | str, *, quick: bool = False,
                figures: ProbeFigures | None = None) -> tuple[DeviceSpec, list[Path]]:
    """Probe this machine and write it as a catalog folder, atomically.

    ``path`` is the device file (``<dir>/<name>.yaml``, the name being its stem);
    ``<dir>/platforms/<name>.yaml`` makes that CPU alone a platform of the same name.

    Args:
        path: The device YAML to write.
        quick: Short measurements (tests).
        figures: What a probe found already (nothing is measured then).

    Returns:
        The spec and the files written.

    Raises:
        SpecError: ``path`` is not a ``.yaml`` file with a valid device name, or the figures do
            not make a valid spec.
    """
    from dse.files import atomic_path

    path = Path(path)
    name = path.stem
    if path.suffix != ".yaml" or re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", name) is None:
        raise SpecError([Problem(str(path), "", "expected <folder>/<name>.yaml with a device "
                                 "name of lower-case letters, digits, '_', '.', '-', got "
                                 f"{path.name!r}")])
    data = device_data(figures or measure_probe(quick=quick), name=name)
    spec = _validated(data, str(path))
    platform = path.parent / "platforms" / path.name
    with atomic_path(path) as tmp:
        tmp.write_text(probe_yaml(data), encoding="utf-8")
    with atomic_path(platform) as tmp:
        tmp.write_text(
            f"# {name} (the device file beside this folder) alone as a platform: written by "
            f"`dse host probe`.\n" + yaml.safe_dump(
                {"description": f"{spec.description}; no accelerators", "host": {name: 1}},
                sort_keys=False, width=100), encoding="utf-8")
    return spec, [path, platform]
