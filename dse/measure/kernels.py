"""The kernel benchmark suite: time single kernels with ONNX Runtime, resumably.

:func:`run_kernels` times every kernel of a suite (:mod:`dse.workloads.kernel_suite`: the zoo's layer
shapes first, then random draws, then adaptive draws around a predictor's worst errors) at each
intra-op thread count, and writes one CSV row per (kernel, threads) with the columns of
:data:`KERNEL_COLUMNS`; ``dse host kernels`` is the command over it, :func:`read_kernels` reads
the file back.

Timing one (kernel, threads), ONNX Runtime's CPU execution provider with its default graph
optimizations (what its users get: BatchNorm folded into the Conv, Conv + activation fused,
NCHWc layouts), intra-op threads as given, inter-op 1, sequential:

1. Warm-up: at least ``warmup`` runs and at least :data:`WARMUP_S` seconds (at most
   :data:`MAX_WARMUP`) runs; their median time sets the repeats.
2. ``run()`` wall time: ``repeats`` timed runs (``perf_counter`` around ``session.run``), where
   ``repeats`` aims at ``target_s`` seconds of timed runs, at least :data:`MIN_REPEATS` and at
   most :data:`MAX_REPEATS` (or fixed, with ``repeats=``). This includes ONNX Runtime's
   per-call overhead (input checks, output allocation), some microseconds. Then as many runs
   ``cold``: before each the caches are swept and the inputs read (:class:`_Evictor`), as a
   layer of a model too large for the core's private cache finds them (its input where the
   layer before left it, its weights not in the core's caches), where the runs before leave
   a lone kernel's weights in L1/L2, as a model small enough to stay there finds them.
3. Kernel time: a second session of the same graph with ONNX Runtime's profiler on, warmed up
   the same way, then ``min(repeats, MAX_PROFILED)`` runs; per run the durations of every
   ``Node``/``*_kernel_time`` event inside that run's ``model_run`` event are summed. This is
   the time in kernels, without ``run()``'s overhead, and the part of it in layout conversions
   (``layout_*``). The op types ONNX Runtime executed (after its fusions) are recorded in
   ``ort_ops``.

Each is summarised as median, p10, p90, min and n.

Resumable: every finished (kernel, threads) is appended to a journal beside the output
(``<out>.journal``, JSON lines) and flushed with ``fsync``, so that Ctrl-C or SIGKILL loses
nothing finished; a rerun reads the journal and the existing CSV and skips every row whose
``key`` (hash of spec, threads, runtime and machine) is done. The CSV is written atomically at
the end (also when the ``budget`` stops the run early), and then the journal is removed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.kernel_csv import (
    FEATURE_COLUMNS,
    KERNEL_COLUMNS,
    KernelsError,
    read_kernels,
)
from dse.errors import DseError, Problem
from dse.files import atomic_path
from dse.workloads.kernel_suite import (
    PROLOGUE,
    KernelSpec,
    adaptive_specs,
    build,
    random_specs,
    zoo_specs,
)

__all__ = ["KERNEL_COLUMNS", "RUNTIMES", "KernelRun", "KernelsError", "Machine",
           "cost_model_predictor", "journal_path", "kernel_features", "read_kernels",
           "run_kernels", "suite", "time_kernel"]

log = logging.getLogger(__name__)

#: ONNX Runtime's layout conversions (to and from the blocked NCHWc layout of its x86 kernels).
LAYOUT_OPS = frozenset({"ReorderInput", "ReorderOutput"})

#: Runtimes ``dse host kernels`` can time with.
RUNTIMES = ("onnxruntime",)

#: Warm-up: at least this long, unless :data:`MAX_WARMUP` runs come first.
WARMUP_S = 0.02
MAX_WARMUP = 50
MIN_REPEATS = 3
MAX_REPEATS = 400
#: Profiled runs at most (the profiler's trace grows with every run).
MAX_PROFILED = 40

#: Bytes swept through the caches before every timed run (:class:`_Evictor`): twice the 2 MiB
#: L2 of a current core (1-2 MiB on current x86 and Arm cores), so that none of the kernel's
#: weights are left there.
EVICT_BYTES = 4 << 20

#: Adaptive sampling draws its kernels in this many rounds.
ADAPTIVE_ROUNDS = 4

#: Progress callback: ``(pairs done, pairs in all, what runs next)``.
Progress = Callable[[int, int, str], None]
#: A predictor: a frame with :data:`FEATURE_COLUMNS` in, seconds per row out.
Predictor = Callable[[pd.DataFrame], Sequence[float] | np.ndarray]


@dataclass(frozen=True)
class Machine:
    """What the timings ran on (the ``cpu``, ``cores``, ``ort_version`` and ``runtime``
    columns)."""

    cpu: str
    cores: int
    ort_version: str
    runtime: str = "onnxruntime"

    @classmethod
    def this(cls, runtime: str = "onnxruntime") -> Machine:
        import onnxruntime as ort

        from dse.devices.host import cpu_model_name, usable_cpus

        return cls(cpu_model_name(), len(usable_cpus()), ort.__version__, runtime)

    def owns(self, row: Mapping[str, Any]) -> bool:
        """Whether a CSV row was timed on this machine and runtime."""
        return (row.get("cpu"), str(row.get("cores")), row.get("ort_version"),
                row.get("runtime")) == (self.cpu, str(self.cores), self.ort_version,
                                        self.runtime)

    def key(self, spec: KernelSpec, threads: int) -> str:
        text = "|".join([spec.family, spec.params_json, str(threads), self.runtime, self.cpu,
                         str(self.cores), self.ort_version])
        return hashlib.sha1(text.encode()).hexdigest()[:16]


# ----- features ---------------------------------------------------------------------------------

def kernel_features(spec: KernelSpec) -> dict[str, Any]:
    """dse's features of a kernel's graph (the feature columns of :data:`KERNEL_COLUMNS` after
    ``runtime``), from dse's ONNX frontend and kernel classes: the one graph code."""
    from dse.workloads.graph import Workload
    from dse.workloads.kernels import kernel_classes
    from dse.workloads.onnx_frontend import graph_from_model

    graph = graph_from_model(build(spec), source=f"kernel {spec.family}")
    w = Workload(f"kernel_{spec.family}", graph)
    keep = [n != PROLOGUE for n in w.order]
    counts = w.counts[keep].reset_index(drop=True)
    classes = [c for c, k in zip(kernel_classes(w.graph, w.order), keep, strict=True) if k]
    main = int(np.argmax(counts["ops"].to_numpy()))
    return {
        "op": counts["op"].iloc[main], "op_class": counts["op_class"].iloc[main],
        "kernel": classes[main], "dse_ops": "+".join(counts["op"]),
        "dse_kernels": "+".join(classes), "layers": len(counts),
        **{c: int(counts[c].sum()) for c in ("macs", "ops", "weight_elems", "in_elems",
                                             "out_elems")},
    }


# ----- timing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelRun:
    """The timings of one (kernel, threads): seconds per run."""

    kernel_s: np.ndarray
    run_s: np.ndarray
    ort_ops: str
    warmup: int
    layout_s: np.ndarray | None = None
    cold_s: np.ndarray | None = None

    def columns(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ort_ops": self.ort_ops}
        layout = np.zeros_like(self.kernel_s) if self.layout_s is None else self.layout_s
        cold = self.run_s if self.cold_s is None else self.cold_s
        for name, values in (("kernel", self.kernel_s), ("layout", layout),
                             ("run", self.run_s), ("cold", cold)):
            p10, p50, p90 = np.percentile(values, [10, 50, 90])
            out.update({f"{name}_median_s": _round(p50), f"{name}_p10_s": _round(p10),
                        f"{name}_p90_s": _round(p90), f"{name}_min_s": _round(values.min())})
            if name in ("kernel", "run"):  # the layout and cold times are as many
                out[f"{name}_n"] = len(values)
        out["warmup"] = self.warmup
        return out


def _round(seconds: float) -> float:
    """Four significant digits: more than the timings' repeatability."""
    return float(f"{float(seconds):.4g}")


def time_kernel(spec: KernelSpec, threads: int, *, warmup: int = 2, repeats: int | None = None,
                target_s: float = 0.1, model: bytes | None = None) -> KernelRun:
    """Time one kernel with ONNX Runtime at ``threads`` intra-op threads (see the module
    docstring).

    Args:
        spec: The kernel.
        threads: Intra-op threads.
        warmup: Untimed runs at least.
        repeats: Timed runs; ``None``: as many as fill ``target_s`` (within the bounds).
        target_s: Seconds of timed runs to aim at.
        model: ``build(spec)`` serialized, if already at hand.

    Raises:
        MeasureError: ONNX Runtime cannot load or run the graph.
    """
    from dse.measure.host import _feeds, _session

    label = f"kernel {spec.family} {spec.params_json}"
    model = build(spec).SerializeToString() if model is None else model
    session = _session(model, threads, label)
    feeds = _feeds(session, label)
    warm = _warm_up(session, feeds, warmup)
    if repeats is None:
        per_run = float(np.median(warm[-max(1, len(warm) // 2):]))
        repeats = int(min(MAX_REPEATS, max(MIN_REPEATS, math.ceil(target_s / max(per_run,
                                                                                   1e-7)))))
    run_s = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        run_s[i] = time.perf_counter() - start
    evict = _Evictor(feeds)
    cold_s = np.empty(repeats)
    for i in range(repeats):
        evict()
        start = time.perf_counter()
        session.run(None, feeds)
        cold_s[i] = time.perf_counter() - start
    del session
    profiled = min(repeats, MAX_PROFILED)
    with tempfile.TemporaryDirectory(prefix="dse-kernel-profile-") as folder:
        session = _session(model, threads, label, profile_prefix=str(Path(folder) / "ort"))
        _warm_up(session, feeds, warmup)
        for _ in range(profiled):
            session.run(None, feeds)
        trace = session.end_profiling()
        kernel_s, layout_s, ort_ops = _kernel_sums(json.loads(Path(trace).read_text()),
                                                   profiled)
    return KernelRun(kernel_s, run_s, ort_ops, len(warm), layout_s, cold_s)


class _Evictor:
    """Before each cold run, what a layer of a model too large for the core's private cache
    finds: its weights swept out of the core's caches by the layers run since its last
    inference (a lone kernel run again and again would find them in L1/L2), and its input in
    cache, where the layer before it left it. Sweeps :data:`EVICT_BYTES` on the calling thread (at 2 or more threads the workers'
    caches keep their share of the weights), then reads every input."""

    def __init__(self, feeds: Mapping[str, np.ndarray]) -> None:
        self.sweep = np.zeros(EVICT_BYTES // 4, dtype=np.float32)
        self.inputs = [np.asarray(v) for v in feeds.values()]

    def __call__(self) -> None:
        self.sweep += 1.0
        for x in self.inputs:
            x.sum()


def _warm_up(session: Any, feeds: Mapping[str, np.ndarray], warmup: int) -> list[float]:
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < MAX_WARMUP and (len(times) < warmup or
                                       time.perf_counter() - began < WARMUP_S):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return times


def _kernel_sums(events: list[dict[str, Any]], runs: int
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """Per run, the summed kernel time (s) of the last ``runs`` runs and the part of it in
    layout conversions (:data:`LAYOUT_OPS`), and the op types of the last run in execution
    order."""
    windows = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                     if e.get("cat") == "Session" and e.get("name") == "model_run")[-runs:]
    starts = np.array([a for a, _ in windows], dtype=float)
    sums = np.zeros(len(windows))
    layout = np.zeros(len(windows))
    last: list[tuple[float, str]] = []
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        i = int(np.searchsorted(starts, e["ts"], side="right")) - 1
        if i < 0 or e["ts"] > windows[i][1]:
            continue
        op = str((e.get("args") or {}).get("op_name", ""))
        sums[i] += float(e.get("dur", 0.0))
        if op in LAYOUT_OPS:
            layout[i] += float(e.get("dur", 0.0))
        if i == len(windows) - 1:
            last.append((e["ts"], op))
    return sums * 1e-6, layout * 1e-6, "+".join(op for _, op in sorted(last))


# ----- the suite --------------------------------------------------------------------------------

def suite(*, zoo: bool | Iterable[str] = True, random: int = 200, seed: int = 0
          ) -> list[tuple[KernelSpec, str]]:
    """The zoo's kernels (``zoo:<model>``) then ``random`` seeded random ones (``random``),
    distinct, in that order.

    Args:
        zoo: ``True`` for every zoo model, ``False`` for none, or zoo names.
        random: How many random specs.
        seed: Their seed.
    """
    out: list[tuple[KernelSpec, str]] = []
    if zoo:
        out += zoo_specs(None if zoo is True else list(zoo))
    seen = {s for s, _ in out}
    out += [(s, "random") for s in random_specs(random, seed=seed) if s not in seen]
    return out


def cost_model_predictor(device: Any = None, runtime: str = "onnxruntime_cpu") -> Predictor:
    """A predictor from dse's cost model (:func:`dse.cost.model.model_cost`, so
    :func:`dse.cost.compute.layer_table`) on the host target: the default for adaptive sampling
    until a fitted one is given.

    Args:
        device: The host's device spec; default: the catalog's ``host`` under ``runtime``
            (a ``dse host probe`` file), else this machine probed now
            (:func:`dse.devices.host.probe`).
        runtime: The catalog runtime.
    """
    from dse.cost import model_cost
    from dse.devices import default_catalog
    from dse.workloads.graph import Workload
    from dse.workloads.onnx_frontend import graph_from_model

    catalog = default_catalog()
    if device is not None:
        spec = device
    elif "host" in catalog.devices:
        spec = catalog.target("host", runtime)
    else:  # no probed host in the catalog: this command measures the machine anyway
        from dse.devices.host import probe

        spec = probe()
    rt = catalog.runtime(runtime)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        out = np.empty(len(frame))
        for i, (family, params, threads) in enumerate(zip(frame["family"], frame["params"],
                                                          frame["threads"], strict=True)):
            kernel = KernelSpec.from_json(family, params)
            graph = graph_from_model(build(kernel), source=f"kernel {family}")
            cost = model_cost(Workload(f"kernel_{family}", graph), spec, "fp32",
                              threads=int(threads), runtime=rt)
            out[i] = cost.time_s
        return out

    return predict


# ----- the run ----------------------------------------------------------------------------------

def journal_path(out: Path | str) -> Path:
    """The journal of a kernel CSV: ``kernels.csv`` -> ``kernels.csv.journal``."""
    out = Path(out)
    return out.with_name(f"{out.name}.journal")


@dataclass
class KernelsResult:
    """What :func:`run_kernels` did."""

    table: pd.DataFrame
    timed: int = 0
    resumed: int = 0
    skipped_budget: int = 0
    stopped: bool = False
    failed: list[str] = field(default_factory=list)


def _check(threads: Sequence[int], runtime: str, budget_min: float | None, random: int,
           adaptive: int, repeats: int | None, target_s: float) -> None:
    problems = []
    if not threads or any(isinstance(t, bool) or not isinstance(t, int) or t < 1
                          for t in threads):
        problems.append(Problem("kernels", "threads", f"expected whole numbers >= 1, got "
                                f"{list(threads)}"))
    if runtime not in RUNTIMES:
        problems.append(Problem("kernels", "runtime", f"expected one of {', '.join(RUNTIMES)}, "
                                f"got {runtime!r}"))
    if budget_min is not None and not budget_min > 0:
        problems.append(Problem("kernels", "budget", f"expected minutes > 0, got {budget_min}"))
    for name, value in (("random", random), ("adaptive", adaptive)):
        if value < 0:
            problems.append(Problem("kernels", name, f"expected a count >= 0, got {value}"))
    if repeats is not None and repeats < 1:
        problems.append(Problem("kernels", "repeats", f"expected >= 1, got {repeats}"))
    if not target_s > 0:
        problems.append(Problem("kernels", "target_s", f"expected seconds > 0, got {target_s}"))
    if problems:
        raise KernelsError(problems)


def run_kernels(
    out: Path | str,
    *,
    threads: Sequence[int] = (1, 2),
    runtime: str = "onnxruntime",
    budget_min: float | None = None,
    zoo: bool | Iterable[str] = True,
    random: int = 200,
    adaptive: int = 100,
    seed: int = 0,
    predict: Predictor | None = None,
    warmup: int = 2,
    repeats: int | None = None,
    target_s: float = 0.1,
    fresh: bool = False,
    progress: Progress | None = None,
) -> KernelsResult:
    """Time the kernel suite at each thread count into ``out`` (see the module docstring).

    Args:
        out: The kernel CSV (rows already there, and in its journal, are kept and not re-timed).
        threads: Intra-op thread counts.
        runtime: ``onnxruntime`` (CPU execution provider).
        budget_min: Start no new kernel after this many minutes; ``None``: no limit.
        zoo: Zoo models whose layer shapes come first (``True``: all).
        random: Random specs after them.
        adaptive: Specs drawn around the predictor's worst errors on the kernels timed so far,
            last, in :data:`ADAPTIVE_ROUNDS` rounds (each also sees the previous rounds'
            kernels). Counted with those already in ``out``: a rerun draws only the missing.
        seed: Seed of the random and adaptive draws.
        predict: The predictor for adaptive sampling (frame of :data:`FEATURE_COLUMNS` ->
            seconds); default :func:`cost_model_predictor` (only built if adaptive > 0).
        warmup: Untimed runs at least per session.
        repeats: Fixed timed runs per kernel (a fast mode for tests); ``None``: adaptive.
        target_s: Seconds of timed runs to aim at per (kernel, threads).
        fresh: Start over: ignore the rows of ``out`` and its journal (``out`` is replaced
            when the run ends, also if it is stopped).
        progress: Called before each (kernel, threads) and at the end.

    Raises:
        KernelsError: Bad settings, or an existing CSV or journal that is malformed.
    """
    _check(threads, runtime, budget_min, random, adaptive, repeats, target_s)
    threads = sorted({int(t) for t in threads})
    out = Path(out)
    journal = journal_path(out)
    began = time.monotonic()
    deadline = began + budget_min * 60 if budget_min is not None else math.inf
    machine = Machine.this(runtime)
    done: dict[str, dict[str, Any]] = {}
    if fresh:
        journal.unlink(missing_ok=True)
    elif out.exists():
        for row in read_kernels(out).to_dict("records"):
            done[str(row["key"])] = row
    for row in _read_journal(journal):
        done[str(row["key"])] = row
    resumed = len(done)
    result = KernelsResult(pd.DataFrame(columns=list(KERNEL_COLUMNS)), resumed=resumed)

    plan = suite(zoo=zoo, random=random, seed=seed)
    total = len(plan) * len(threads) + adaptive * len(threads)
    count = [0]

    def time_all(specs: Sequence[tuple[KernelSpec, str]], fh: Any) -> None:
        for spec, source in specs:
            features: dict[str, Any] | None = None
            model: bytes | None = None
            for n in threads:
                key = machine.key(spec, n)
                if key in done:
                    count[0] += 1
                    continue
                if time.monotonic() >= deadline:
                    result.stopped = True
                    result.skipped_budget += 1
                    continue
                if progress is not None:
                    progress(count[0], total, f"{spec.family} {source} threads={n}")
                try:
                    if features is None or model is None:
                        features = kernel_features(spec)
                        model = build(spec).SerializeToString()
                    row = {"key": key, "family": spec.family, "params": spec.params_json,
                           "source": source, "threads": n, "runtime": machine.runtime,
                           **features}
                    timing = time_kernel(spec, n, warmup=warmup, repeats=repeats,
                                         target_s=target_s, model=model)
                except DseError as exc:  # a graph ONNX Runtime cannot run: report, go on
                    log.debug("kernel %s failed: %s", spec, exc)
                    result.failed.append(f"{spec!r} threads={n}: {exc}")
                    count[0] += 1
                    continue
                row.update(timing.columns())
                row.update({"cpu": machine.cpu, "cores": machine.cores,
                            "ort_version": machine.ort_version,
                            "date": _dt.datetime.now(_dt.UTC).isoformat(
                                timespec="seconds")})
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                done[key] = row
                result.timed += 1
                count[0] += 1

    if predict is None and adaptive > 0:
        # built before anything is timed (without a probed host in the catalog: a probe now)
        predict = cost_model_predictor()
    journal.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(journal, "a", encoding="utf-8") as fh:
            time_all(plan, fh)
            # Adaptive draws in rounds, each around the worst errors on everything timed so
            # far (the previous rounds' draws included); a rerun draws only what is missing.
            drawn = {(r["family"], r["params"]) for r in done.values()
                     if r.get("source") == "adaptive" and machine.owns(r)}
            left = adaptive - len(drawn)
            cache: dict[str, float] = {}
            for round_ in range(ADAPTIVE_ROUNDS):
                if left <= 0 or time.monotonic() >= deadline:
                    break
                assert predict is not None  # built above
                if progress is not None:
                    progress(count[0], total, "adaptive: predicting")
                want = math.ceil(left / (ADAPTIVE_ROUNDS - round_))
                extra = _adaptive(done, plan, machine, want, seed + round_, predict, cache)
                if not extra:
                    break
                time_all([(s, "adaptive") for s in extra], fh)
                left -= len(extra)
    finally:  # also on Ctrl-C: the CSV gets every finished row, the journal goes
        table = pd.DataFrame(list(done.values()), columns=list(KERNEL_COLUMNS))
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
        journal.unlink(missing_ok=True)
    if progress is not None:
        progress(total, total, "done")
    result.table = read_kernels(out)
    return result


def _adaptive(done: Mapping[str, Mapping[str, Any]], plan: Sequence[tuple[KernelSpec, str]],
              machine: Machine, n: int, seed: int, predict: Predictor,
              cache: dict[str, float]) -> list[KernelSpec]:
    """Specs around the predictor's worst log errors on this machine's timed kernels
    (predictions cached by key in ``cache``: the predictor is fixed during a run)."""
    rows = pd.DataFrame([r for r in done.values() if machine.owns(r)])
    if rows.empty:
        return []
    new = rows[~rows["key"].isin(list(cache))]
    if len(new):
        values = np.asarray(predict(new.loc[:, list(FEATURE_COLUMNS)]), dtype=float)
        cache.update(zip(new["key"], values, strict=True))
    predicted = rows["key"].map(cache).to_numpy(dtype=float)
    measured = rows["kernel_median_s"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.log(predicted / measured)
    existing = {s for s, _ in plan} | {KernelSpec(r["family"], json.loads(r["params"]))
                                       for r in done.values()}
    return adaptive_specs(rows, errors, n, seed=seed, exclude=existing)


# ----- reading ----------------------------------------------------------------------------------

def _read_journal(path: Path) -> list[dict[str, Any]]:
    """The rows of a journal; a torn last line (the writer was killed mid-write) is dropped."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    problems = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "key" not in row:
                raise ValueError("not a row")
        except ValueError:
            if i == len(lines):
                log.warning("%s: line %d: dropped a torn last line", path, i)
                continue
            problems.append(Problem(str(path), f"line {i}", "expected a JSON row with a key, "
                                    f"found {line[:60]!r}"))
            continue
        rows.append(row)
    if problems:
        raise KernelsError(problems)
    return rows
