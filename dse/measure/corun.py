"""Co-run measurements on this machine: what one inference loses to another task beside it.

Two experiments, both with ONNX Runtime sessions of one intra-op thread
(:func:`dse.measure.host._session` settings) on zoo models:

- **pairs**: two *different* models at once, each in a process of its own pinned to a core of
  its own (``os.sched_setaffinity``). Separate processes, not two threads of one process: two
  sessions in one process share its allocator and Python's interpreter (the GIL is released
  inside ``run`` but taken between runs), and an unpinned pair may be scheduled onto one core,
  which measures time sharing, not memory contention. Pinned processes on disjoint cores are
  what two applications of a SoC are, so what is left between them is the shared caches and
  DRAM.
- **hog**: one model beside a memory-bandwidth hog of set intensity, a process pinned to the
  other core that copies between two buffers far larger than the last-level cache
  (:data:`HOG_BYTES`) in periods of :data:`HOG_PERIOD_S`: each period it copies the bytes its
  target rate asks for, then sleeps to the period's end (a duty cycle). Its *achieved* rate
  (bytes read plus bytes written per second, STREAM's convention for copy) over the measured
  window is recorded, not the target; ``max`` never sleeps.

Every worker (one per model, one hog) is a long-lived process that waits for commands, so a
model is built and warmed up once. One *round* measures every model alone on every core used,
every pair, and every model beside the hog at every intensity, each in a window of ``window_s``
that all participants start together (a common ``time.monotonic`` start, which Linux shares
between processes) and run through: a model keeps running inferences until one ends after the
window, so it is in flight the whole window. Throughput counts the inferences inside the
window (those crossing its ends by the fraction inside); latency is the median (and p10, p90)
of the inferences that started in it. Rounds interleave alone and co-run windows so that a
drift of the machine's speed (other load, clock) hits both alike; slowdowns are taken within a
round and summarised across rounds by their median (:func:`corun_summary`).

Each inference is also timed in the inference thread's own CPU time (``time.thread_time``;
with one intra-op thread ONNX Runtime computes on the calling thread): memory stalls count in
it, the time the OS gives the core to other processes does not. ``cpu_fps`` (inferences per
CPU second) is therefore the basis for slowdowns measured on a machine that is not quiet;
``throughput_fps`` (wall clock) is what a user of a quiet machine sees. The hog records the
share of its window it was on a CPU (``hog_cpu_share``), and every row the 1-minute load
average when it was measured (``load_avg``), so a noisy row can be told from a clean one.

The raw rows are a sidecar format, not dse's measurement format (a co-run row has a
co-runner, which that format has no column for): one row per (round, model, condition) with
:data:`COLUMNS`, the CPU model, core count, ONNX Runtime version and date (UTC) in every row;
:func:`read_corun` validates a file of it. :func:`fit_contention` fits the contention law
(:func:`dse.cost.concurrency.contention_slowdown`) on the hog rows and predicts the pairs.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.errors import DseError, Problem, did_you_mean
from dse.files import atomic_path

__all__ = ["COLUMNS", "HOG_BYTES", "HOG_PERIOD_S", "ContentionFit", "CorunError",
           "check_settings", "corun", "corun_summary", "fit_contention", "read_corun",
           "task_demands", "write_corun"]

#: Columns of the raw co-run table (one row per round, model and condition).
COLUMNS = ("round", "kind", "workload", "core", "co_runner", "hog_target_gb_s",
           "hog_achieved_gb_s", "hog_cpu_share", "threads", "window_s", "inferences",
           "throughput_fps", "latency_p50_ms", "latency_p10_ms", "latency_p90_ms", "cpu_fps",
           "cpu_p50_ms", "cpu", "cores", "ort", "date", "load_avg")
KINDS = ("alone", "pair", "hog")

#: Bytes of the hog's two buffers together: far larger than the last-level cache of the CPUs
#: dse runs on (a desktop's 8-36 MB, a server socket's ~100 MB; a VM may report its host's LLC,
#: see ``dse devices show host``). Override with ``hog_bytes``.
HOG_BYTES = 1 << 30
#: The hog's duty-cycle period: short against any inference (milliseconds), long against the
#: sleep granularity of the OS (tens of microseconds).
HOG_PERIOD_S = 0.002

Progress = Callable[[int, int, str], None]


class CorunError(DseError, ValueError):
    """Bad co-run settings or a malformed co-run table."""


# ----- workers (run in child processes) ---------------------------------------------------------

def _model_worker(conn: Any, label: str, model: bytes, warmup: int) -> None:
    """A process holding one session; runs windows on command: ``("run", core, start, end)``."""
    from dse.measure.host import _feeds, _session

    try:
        session = _session(model, 1, label)
        feeds = _feeds(session, label)
        for _ in range(warmup):
            session.run(None, feeds)
    except Exception as exc:  # reported to the parent, which raises one error
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", None))
    while True:
        cmd = conn.recv()
        if cmd[0] == "stop":
            return
        _, core, start, end = cmd
        os.sched_setaffinity(0, {core})
        session.run(None, feeds)  # one inference on the new core, before the window
        _sleep_until(start)
        spans = []
        now = time.monotonic()
        while now < end:
            a, c = time.monotonic(), time.thread_time()
            session.run(None, feeds)
            now = time.monotonic()
            spans.append((a, now, time.thread_time() - c))
        conn.send(("done", spans))


def _hog_worker(conn: Any, nbytes: int, period_s: float) -> None:
    """A process copying between two large buffers at a target rate, on command:
    ``("run", core, start, end, rate_bytes_s or None for max)``; replies with the bytes moved
    (read + written) and the time it ran."""
    half = max(nbytes // 16, 1)  # float64 elements of each of the two buffers
    src = np.ones(half)
    dst = np.zeros(half)
    conn.send(("ready", None))
    while True:
        cmd = conn.recv()
        if cmd[0] == "stop":
            return
        _, core, start, end, rate = cmd
        os.sched_setaffinity(0, {core})
        _sleep_until(start)
        moved, pos, k = 0.0, 0, 0
        chunk = 1 << 17  # elements per copy (1 MiB): the unit of the duty cycle
        t0, c0 = time.monotonic(), time.thread_time()
        now = t0
        while now < end:
            budget = half if rate is None else int(rate * period_s / 16)  # elements this period
            while budget > 0 and now < end:
                n = min(chunk, budget, half - pos)
                np.copyto(dst[pos:pos + n], src[pos:pos + n])
                moved += 16.0 * n
                budget -= n
                pos = (pos + n) % half
                now = time.monotonic()
            k += 1
            if rate is not None:
                _sleep_until(min(t0 + k * period_s, end))
                now = time.monotonic()
        conn.send(("done", (moved, now - t0, time.thread_time() - c0)))


def _sleep_until(t: float) -> None:
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


# ----- orchestration ----------------------------------------------------------------------------

@dataclass
class _Proc:
    name: str
    process: Any
    conn: Any


def _start(ctx: Any, name: str, target: Callable[..., None], *args: Any) -> _Proc:
    parent, child = ctx.Pipe()
    p = ctx.Process(target=target, args=(child, *args), daemon=True, name=f"dse-corun-{name}")
    p.start()
    return _Proc(name, p, parent)


def _expect(proc: _Proc, what: str, timeout: float = 600.0) -> Any:
    if not proc.conn.poll(timeout):
        raise CorunError([Problem("corun", proc.name, f"no reply from its process ({what})")])
    tag, payload = proc.conn.recv()
    if tag == "error":
        raise CorunError([Problem("corun", proc.name, f"ONNX Runtime cannot run it: {payload}")])
    return payload


def _window_stats(spans: Sequence[tuple[float, float, float]], start: float, end: float
                  ) -> dict[str, float]:
    done = cpu = 0.0
    for a, b, c in spans:
        inside = min(b, end) - max(a, start)
        if inside > 0:
            done += inside / (b - a)
            cpu += c * inside / (b - a)
    lat = np.array([b - a for a, b, _ in spans if a < end]) * 1e3
    cpu_ms = np.array([c for a, _, c in spans if a < end]) * 1e3
    p10, p50, p90 = np.percentile(lat, [10, 50, 90]) if len(lat) else (np.nan,) * 3
    return {"inferences": len(lat), "throughput_fps": done / (end - start),
            "latency_p50_ms": float(p50), "latency_p10_ms": float(p10),
            "latency_p90_ms": float(p90),
            "cpu_p50_ms": float(np.median(cpu_ms)) if len(cpu_ms) else np.nan,
            "cpu_fps": done / cpu if cpu > 0 else np.nan}


def check_settings(workloads: Sequence[str], hog_gb_s: Sequence[float | str],
                   window_s: float, rounds: int, warmup: int, cores: Sequence[int] | None
                   ) -> list[Problem]:
    """Every problem of a co-run's settings (:func:`corun` raises them as one error);
    ``cores`` ``None``: the first two usable CPUs, as :func:`corun` pins to."""
    from dse.workloads import zoo

    problems = []
    if len(set(workloads)) < 2 and not hog_gb_s:
        problems.append(Problem("corun", "workloads", "expected at least two different models "
                                "(pairs) or a hog intensity"))
    for w in workloads:
        if zoo.resolve(w) is None:
            problems.append(Problem("corun", "workloads", did_you_mean(w, zoo.names(),
                                                                       what="zoo model")))
    for h in hog_gb_s:
        if not (h == "max" or (isinstance(h, int | float) and h > 0)):
            problems.append(Problem("corun", "hog", f"expected GB/s > 0 or 'max', got {h!r}"))
    if not window_s > 0:
        problems.append(Problem("corun", "window_s", f"expected > 0, got {window_s!r}"))
    if rounds < 1:
        problems.append(Problem("corun", "rounds", f"expected >= 1, got {rounds!r}"))
    if warmup < 0:
        problems.append(Problem("corun", "warmup", f"expected >= 0, got {warmup!r}"))
    usable = sorted(os.sched_getaffinity(0))
    cores = list(cores) if cores is not None else usable[:2]
    if len(cores) != 2 or len(set(cores)) != 2 or any(c not in usable for c in cores):
        problems.append(Problem("corun", "cores", f"expected two different usable CPUs of "
                                f"{usable}, got {list(cores)}"))
    return problems


def corun(workloads: Sequence[str], *, hog_gb_s: Sequence[float | str] = (),
          pairs: bool = True, window_s: float = 3.0, rounds: int = 3, warmup: int = 5,
          cores: Sequence[int] | None = None, hog_bytes: int = HOG_BYTES,
          progress: Progress | None = None,
          on_round: Callable[[pd.DataFrame], object] | None = None) -> pd.DataFrame:
    """Measure models alone, in pairs and beside the hog (see the module docstring).

    Args:
        workloads: Zoo model names (two or more for pairs).
        hog_gb_s: Hog intensities, GB/s (read + written) or ``"max"``; empty: no hog runs.
        pairs: Measure every pair of different models.
        window_s: Length of each measured window.
        rounds: Rounds of every condition (slowdowns are summarised over them).
        warmup: Inferences each model runs once, when its process starts.
        cores: The two CPUs used (default: the first two this process may run on). A model
            alone runs on each of them; in a pair the first model of the pair takes the first.
        hog_bytes: Size of the hog's buffers together.
        progress: Called with (windows done, windows in all, what runs next).
        on_round: Called with the rows so far after every round (``dse host corun`` writes
            them, so an interrupted run keeps its finished rounds).

    Returns:
        The raw table (:data:`COLUMNS`).

    Raises:
        CorunError: Bad settings (every problem at once), or ONNX Runtime cannot run a model.
    """
    import onnxruntime as ort

    from dse.devices.host import cpu_model_name
    from dse.workloads import zoo

    cores = list(cores) if cores is not None else sorted(os.sched_getaffinity(0))[:2]
    problems = check_settings(workloads, hog_gb_s, window_s, rounds, warmup, cores)
    if problems:
        raise CorunError(problems)
    workloads = list(dict.fromkeys(workloads))
    context = {"cpu": cpu_model_name(), "cores": os.cpu_count() or 0, "ort": ort.__version__,
               "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="minutes")}
    plan: list[tuple[str, Any]] = []
    for w in workloads:
        for core in cores:
            plan.append(("alone", (w, core)))
    if pairs:
        plan += [("pair", (a, b)) for a, b in combinations(workloads, 2)]
    plan += [("hog", (w, h)) for w in workloads for h in hog_gb_s]
    total = rounds * len(plan)

    ctx = mp.get_context("spawn")
    procs: dict[str, _Proc] = {}
    rows: list[dict[str, Any]] = []
    try:
        for w in workloads:
            model, options = zoo.resolve(w)  # type: ignore[misc]
            onnx_bytes = zoo.build(model.name, **options).SerializeToString()
            procs[w] = _start(ctx, w, _model_worker, w, onnx_bytes, warmup)
        if hog_gb_s:
            procs["hog"] = _start(ctx, "hog", _hog_worker, int(hog_bytes), HOG_PERIOD_S)
        for p in procs.values():
            _expect(p, "starting")
        done = 0
        for r in range(rounds):
            for kind, what in plan:
                if progress is not None:
                    progress(done, total, f"round {r + 1}: {kind} {what}")
                rows += _window(procs, kind, what, r, cores, window_s, context)
                done += 1
            if on_round is not None:
                on_round(pd.DataFrame(rows, columns=list(COLUMNS)))
        if progress is not None:
            progress(done, total, "done")
    finally:
        for p in procs.values():
            with contextlib.suppress(BrokenPipeError, OSError):
                p.conn.send(("stop",))
            p.process.join(timeout=5)
            if p.process.is_alive():
                p.process.terminate()
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame


def _window(procs: Mapping[str, _Proc], kind: str, what: Any, r: int, cores: Sequence[int],
            window_s: float, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    # The start leaves time for each model's inference on its new core (the slowest zoo
    # models at one thread take about a second).
    start = time.monotonic() + 1.5
    end = start + window_s
    base = {"round": r, "kind": kind, "threads": 1, "window_s": window_s,
            "hog_target_gb_s": np.nan, "hog_achieved_gb_s": np.nan, "hog_cpu_share": np.nan,
            "load_avg": os.getloadavg()[0], **context}
    if kind == "alone":
        w, core = what
        procs[w].conn.send(("run", core, start, end))
        stats = _window_stats(_expect(procs[w], "alone"), start, end)
        return [{**base, "workload": w, "core": core, "co_runner": "", **stats}]
    if kind == "pair":
        a, b = what
        procs[a].conn.send(("run", cores[0], start, end))
        procs[b].conn.send(("run", cores[1], start, end))
        sa = _window_stats(_expect(procs[a], "pair"), start, end)
        sb = _window_stats(_expect(procs[b], "pair"), start, end)
        return [{**base, "workload": a, "core": cores[0], "co_runner": b, **sa},
                {**base, "workload": b, "core": cores[1], "co_runner": a, **sb}]
    w, level = what
    rate = None if level == "max" else float(level) * 1e9
    procs[w].conn.send(("run", cores[0], start, end))
    procs["hog"].conn.send(("run", cores[1], start, end, rate))
    stats = _window_stats(_expect(procs[w], "hog"), start, end)
    moved, ran, cpu = _expect(procs["hog"], "hog")
    return [{**base, "workload": w, "core": cores[0], "co_runner": "hog",
             "hog_target_gb_s": np.nan if rate is None else float(level),
             "hog_achieved_gb_s": moved / ran / 1e9 if ran > 0 else 0.0,
             "hog_cpu_share": cpu / ran if ran > 0 else 0.0, **stats}]


# ----- files and summaries ----------------------------------------------------------------------

def write_corun(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write a raw co-run table atomically (numbers to 6 significant digits)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.loc[:, list(COLUMNS)].to_csv(tmp, index=False, float_format="%.6g")
    return path


def read_corun(path: Path | str) -> pd.DataFrame:
    """Read and check a raw co-run table; every problem in one error naming file, row and
    column (rows numbered as in the file, header = 1).

    Raises:
        CorunError: Missing file or columns, unknown kinds, values that are not positive numbers
            where they must be, a pair or hog row without its co-runner.
    """
    path = Path(path)
    if not path.is_file():
        raise CorunError([Problem(str(path), "", "no such file")])
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CorunError([Problem(str(path), "", f"not a CSV table: {exc}")]) from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise CorunError([Problem(str(path), "header", f"missing columns {missing}; expected "
                                  f"{', '.join(COLUMNS)}")])
    problems = []
    frame["co_runner"] = frame["co_runner"].fillna("").astype(str)
    for i, r in enumerate(frame.itertuples(index=False), start=2):
        if r.kind not in KINDS:
            problems.append(Problem(str(path), f"row {i}, kind", f"expected one of "
                                    f"{', '.join(KINDS)}, got {r.kind!r}"))
        for col in ("throughput_fps", "latency_p50_ms", "window_s"):
            value = getattr(r, col)
            if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
                problems.append(Problem(str(path), f"row {i}, {col}", f"expected a number > 0, "
                                        f"got {value!r}"))
        if r.kind in ("pair", "hog") and not r.co_runner:
            problems.append(Problem(str(path), f"row {i}, co_runner", f"a {r.kind} row needs "
                                    f"its co-runner"))
        if r.kind == "hog" and not (np.isfinite(r.hog_achieved_gb_s) and
                                    r.hog_achieved_gb_s >= 0):
            problems.append(Problem(str(path), f"row {i}, hog_achieved_gb_s", f"expected a "
                                    f"number >= 0, got {r.hog_achieved_gb_s!r}"))
    if problems:
        raise CorunError(problems)
    return frame


def corun_summary(frame: pd.DataFrame, *, basis: str = "wall") -> pd.DataFrame:
    """Slowdowns from a raw table: every co-run row divided by the same model alone on the same
    core *in the same round*, then the median over rounds.

    Args:
        frame: A raw table (:func:`corun`, :func:`read_corun`).
        basis: ``wall``: throughput over the wall-clock window (what a user sees);
            ``cpu``: inferences per second of the inference thread's own CPU time, which
            leaves out the time the OS gave the core to other processes (the right basis
            when the machine was not quiet: memory stalls still count, time slicing does not).

    Returns:
        One row per (kind, workload, co_runner, hog level): ``alone_fps`` and ``corun_fps``
        (medians), ``slowdown`` (median over rounds of alone / co-run throughput), its spread
        ``slowdown_min`` and ``slowdown_max``, ``hog_achieved_gb_s`` (median) and ``rounds``.

    Raises:
        CorunError: An unknown basis.
    """
    if basis not in ("wall", "cpu"):
        raise CorunError([Problem("corun", "basis", f"expected wall or cpu, got {basis!r}")])
    fps = "throughput_fps" if basis == "wall" else "cpu_fps"
    alone = frame[frame["kind"] == "alone"].set_index(["round", "workload", "core"])
    co = frame[frame["kind"] != "alone"].copy()
    key = pd.MultiIndex.from_frame(co[["round", "workload", "core"]])
    co["alone_fps"] = alone[fps].reindex(key).to_numpy()
    co["corun_fps"] = co[fps]
    co["slowdown"] = co["alone_fps"] / co["corun_fps"]
    co["level"] = co["hog_target_gb_s"].map(lambda v: "max" if pd.isna(v) else f"{v:g}")
    co.loc[co["kind"] == "pair", "level"] = ""
    out = co.groupby(["kind", "workload", "co_runner", "level"], sort=False).agg(
        alone_fps=("alone_fps", "median"), corun_fps=("corun_fps", "median"),
        slowdown=("slowdown", "median"), slowdown_min=("slowdown", "min"),
        slowdown_max=("slowdown", "max"), hog_achieved_gb_s=("hog_achieved_gb_s", "median"),
        rounds=("round", "nunique"))
    return out.reset_index()


# ----- the law, fitted and checked --------------------------------------------------------------

def task_demands(workloads: Sequence[str], spec: Any, *, runtime: Any = None,
                 threads: int = 1) -> dict[str, float]:
    """Each model's own DRAM demand alone on ``spec``, bytes/s, from dse's cost model: its
    memory traffic on the device over its time there (:func:`dse.cost.model_cost`, the demand
    the simulator gives the law)."""
    from dse.cost import model_cost
    from dse.workloads import workload

    out = {}
    for w in dict.fromkeys(workloads):
        cost = model_cost(workload(w, precision="fp32"), spec, "fp32", threads=threads,
                          runtime=runtime)
        on = cost.layers["runs_on"] == spec.name
        traffic = float(cost.layers.loc[on, "traffic_bytes"].sum())
        out[w] = traffic / (cost.device_s - spec.overhead_per_inference_s)
    return out


@dataclass(frozen=True)
class ContentionFit:
    """The contention law fitted on the hog rows and checked on the pairs.

    Attributes:
        law: ``knee``, ``saturation`` (``inf``: none) and ``slope``, the keyword arguments of
            :func:`dse.cost.concurrency.contention_slowdown` and the fields of
            :class:`dse.spec.device.ContentionSpec`.
        mem_bw_bytes_s: The bandwidth demands are fractions of.
        hog: The fitted rows (workload, level, own and hog demand, measured and fitted
            slowdown).
        pairs: One row per model of every pair: measured alone and co-run throughput, the
            law's prediction (alone / predicted slowdown) and the naive one (no slowdown),
            and the errors of both.
        fit_mape: Slowdown error on the hog rows it was fitted on.
        pair_mape: Co-run throughput error on the pairs (never fitted on).
        naive_mape: The same for the naive prediction (the co-run throughput is the alone one).
    """

    law: dict[str, float]
    mem_bw_bytes_s: float
    hog: pd.DataFrame
    pairs: pd.DataFrame
    fit_mape: float
    pair_mape: float
    naive_mape: float


def fit_contention(summary: pd.DataFrame, demands: Mapping[str, float],
                   mem_bw_bytes_s: float) -> ContentionFit:
    """Fit the contention law on the hog rows of a :func:`corun_summary`, then predict the
    co-run throughput of every pair from the models' own demands alone.

    The law's input is demand: the model's own (``demands``, from the cost model) and the
    co-runner's, the hog's achieved bytes/s for the fit and the other model's demand from the
    cost model for the pairs, as the simulator does. Least squares on log slowdown over knee,
    saturation and slope (bounded: knee in [0, 4], saturation above it, slope in
    [1e-3, 1e3]); the saturation is dropped (``inf``) when the fit does not reach it.

    Raises:
        CorunError: No hog rows, or a model without its demand.
    """
    from scipy.optimize import least_squares

    from dse.cost.concurrency import contention_slowdown

    hog = summary[summary["kind"] == "hog"].copy()
    pairs = summary[summary["kind"] == "pair"].copy()
    missing = sorted({*hog["workload"], *pairs["workload"], *pairs["co_runner"]} - set(demands))
    problems = [Problem("corun", "demands", f"no demand for {', '.join(missing)}")] \
        if missing else []
    if hog.empty:
        problems.append(Problem("corun", "hog", "no hog rows to fit the law on"))
    if problems:
        raise CorunError(problems)
    bw = float(mem_bw_bytes_s)
    own = hog["workload"].map(demands).to_numpy(float)
    ext = hog["hog_achieved_gb_s"].to_numpy(float) * 1e9
    measured = hog["slowdown"].to_numpy(float)

    def law(p: np.ndarray, own: Any, ext: Any) -> Any:
        knee, width, slope = p
        return contention_slowdown(own, ext, bw, knee=knee, saturation=knee + width,
                                   slope=slope)

    def residual(p: np.ndarray) -> np.ndarray:
        return np.log(law(p, own, ext)) - np.log(np.maximum(measured, 1e-9))

    best = None
    for knee0 in (0.0, 0.25, 0.5, 1.0):
        for slope0 in (1.0, 10.0, 100.0):
            res = least_squares(residual, [knee0, 1.0, slope0],
                                bounds=([0.0, 1e-3, 1e-3], [4.0, 50.0, 1e3]))
            if best is None or res.cost < best.cost:
                best = res
    assert best is not None
    knee, width, slope = (float(v) for v in best.x)
    top = float(np.max((own + ext) / bw))
    saturation = knee + width if knee + width < top else float("inf")
    fitted = {"knee": knee, "saturation": saturation, "slope": slope}
    hog["own_gb_s"] = own / 1e9
    hog["fitted_slowdown"] = contention_slowdown(own, ext, bw, **fitted)
    fit_mape = float(np.mean(np.abs(hog["fitted_slowdown"] / hog["slowdown"] - 1)))

    p_own = pairs["workload"].map(demands).to_numpy(float)
    p_ext = pairs["co_runner"].map(demands).to_numpy(float)
    pairs["own_gb_s"], pairs["co_runner_gb_s"] = p_own / 1e9, p_ext / 1e9
    pairs["predicted_slowdown"] = contention_slowdown(p_own, p_ext, bw, **fitted)
    pairs["predicted_fps"] = pairs["alone_fps"] / pairs["predicted_slowdown"]
    pairs["error"] = pairs["predicted_fps"] / pairs["corun_fps"] - 1
    pairs["naive_error"] = pairs["alone_fps"] / pairs["corun_fps"] - 1
    return ContentionFit(
        fitted, bw, hog.reset_index(drop=True), pairs.reset_index(drop=True), fit_mape,
        float(np.mean(np.abs(pairs["error"]))) if len(pairs) else float("nan"),
        float(np.mean(np.abs(pairs["naive_error"]))) if len(pairs) else float("nan"))
