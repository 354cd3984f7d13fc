"""Timing models with ONNX Runtime on this machine: the host as real hardware.

:func:`measure` builds each workload as ONNX (a zoo model with random weights, as
``dse workloads export`` writes it, or an ONNX file as given) and times it with
``onnxruntime.InferenceSession`` on the CPU execution provider, on random inputs of the model's
input shapes and types. One configuration is ``threads`` intra-op threads per inference
(``SessionOptions.intra_op_num_threads``; inter-op threads 1, sequential execution mode) and
``streams`` inferences in flight: that many Python threads, each with a session of its own,
released together by a barrier (ONNX Runtime releases the GIL inside ``run``). ONNX Runtime's
other defaults are kept (graph optimizations on, intra-op threads spin while waiting), since
they are what a user of ONNX Runtime gets.

Timing: every session runs ``warmup`` inferences, then all start together and each runs
``repeats`` timed inferences. A session that has done its share keeps running until the last
one has, so that all ``streams`` are in flight during the whole measured window (from the
last session's first start to the last timed inference's end). Throughput is the inferences
done inside that window (those crossing its ends counted by the fraction inside) divided by
its length; latency is the median of every timed inference, reported with its p10, p90, p95,
p99, IQR and count (the spread :mod:`dse.calibrate.spread` fits a target's service-time
distribution from: use a few hundred repeats for a p99). With one stream the throughput is 1 / mean latency.

Results are rows of dse's measurement format (:mod:`dse.calibrate.measurements`): device
``host`` (or the ``device`` given), host ``host``, precision ``fp32``, policy ``single`` for
one stream and ``threads`` for several, ``threads`` = intra-op threads per inference,
``streams`` = sessions in flight, one ``latency`` (ms, median) and one ``throughput`` (fps)
row per configuration, the spread in ``source`` and dataset ``host``; :meth:`MeasureResult.write`
also writes the per-configuration summary with the machine it ran on (``<stem>.runs.csv``). With ``profile=True``
each (workload, threads) is run once more with ONNX Runtime's profiler on, and the median time
of every node is reported (:mod:`dse.measure.profile` says how its names match dse's graph).
"""

from __future__ import annotations

import datetime as _dt
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.loaders import options_json
from dse.calibrate.measurements import COLUMNS, validate
from dse.errors import DseError, Problem, did_you_mean
from dse.files import atomic_path
from dse.measure.profile import NODE_COLUMNS, node_times

__all__ = ["RUNS_FILE_COLUMNS", "RUNTIMES", "RUN_COLUMNS", "MeasureError", "MeasureResult",
           "WorkloadSource", "measure", "measure_function", "nodes_path", "runs_path",
           "settings_problems"]

#: A workload to time: a zoo name, an ONNX path, or either with its own zoo options.
WorkloadSource = str | Path | tuple[str | Path, Mapping[str, Any]]

#: Progress callback: ``(configurations done, configurations in all, what runs next)``.
Progress = Callable[[int, int, str], None]

#: Columns of :attr:`MeasureResult.runs`, one row per configuration.
RUN_COLUMNS = ("workload", "options", "threads", "streams", "latency_ms", "p10_ms", "p90_ms",
               "p95_ms", "p99_ms", "iqr_ms", "n", "throughput_fps", "window_s")

#: Columns of the runs sidecar (:func:`runs_path`): :data:`RUN_COLUMNS` and the machine.
RUNS_FILE_COLUMNS = (*RUN_COLUMNS, "cpu", "cores", "onnxruntime", "date")

_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}


class MeasureError(DseError, ValueError):
    """Bad measurement settings, or a model ONNX Runtime cannot load or run."""


#: Runtimes ``dse measure --runtime`` times with: name -> the module whose ``measure`` function
#: does it (the same workloads, rows in the same format; each runtime's own configuration
#: settings). Imported on use, so that an optional runtime costs nothing until asked for.
RUNTIMES: dict[str, str] = {"onnxruntime": "dse.measure.host", "openvino": "dse.measure.openvino"}


def measure_function(runtime: str) -> Callable[..., MeasureResult]:
    """The ``measure`` function of a runtime of :data:`RUNTIMES`.

    Raises:
        MeasureError: An unknown runtime (listing the known ones).
    """
    import importlib

    if runtime not in RUNTIMES:
        raise MeasureError([Problem("--runtime", "", did_you_mean(runtime, RUNTIMES,
                                                                  what="runtime"))])
    fn: Callable[..., MeasureResult] = importlib.import_module(RUNTIMES[runtime]).measure
    return fn


@dataclass(frozen=True)
class MeasureResult:
    """What :func:`measure` timed.

    Attributes:
        measurements: Rows of the measurement format, validated (columns
            :data:`~dse.calibrate.measurements.COLUMNS`); :meth:`write` saves them as a CSV
            that :func:`dse.calibrate.read_measurements` reads.
        runs: One row per configuration (:data:`RUN_COLUMNS`): median latency with p10, p90,
            p95, p99, IQR and count, throughput and the length of its window.
        nodes: With ``profile=True``, one row per (workload, threads, node) with
            :data:`dse.measure.profile.NODE_COLUMNS`; else ``None``.
    """

    measurements: pd.DataFrame
    runs: pd.DataFrame
    nodes: pd.DataFrame | None = None
    context: Mapping[str, str] | None = None

    def runs_table(self) -> pd.DataFrame:
        """:attr:`runs` with the machine they ran on (:data:`RUNS_FILE_COLUMNS`)."""
        context = dict(self.context or _context())
        table = self.runs.copy()
        for key in ("cpu", "cores", "onnxruntime", "date"):
            table[key] = context.get(key, "")
        if set(RUN_COLUMNS) <= set(table.columns):
            return table.loc[:, list(RUNS_FILE_COLUMNS)]
        return table  # another runtime's own run columns (dse.measure.openvino), and the machine

    def write(self, path: Path | str) -> list[Path]:
        """Write the measurements CSV, and the per-node sidecar if profiled, atomically.

        Args:
            path: The measurement CSV; the sidecar is :func:`nodes_path` of it.

        Returns:
            The files written.
        """
        path = Path(path)
        with atomic_path(path) as tmp:
            self.measurements.loc[:, list(COLUMNS)].to_csv(tmp, index=False)
        written = [path]
        with atomic_path(runs_path(path)) as tmp:
            self.runs_table().to_csv(tmp, index=False)
        written.append(runs_path(path))
        if self.nodes is not None:
            sidecar = nodes_path(path)
            with atomic_path(sidecar) as tmp:
                self.nodes.loc[:, list(NODE_COLUMNS)].to_csv(tmp, index=False)
            written.append(sidecar)
        return written


def nodes_path(path: Path | str) -> Path:
    """The per-node sidecar of a measurement CSV: ``out/host.csv`` -> ``out/host.nodes.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.nodes.csv")


def runs_path(path: Path | str) -> Path:
    """The per-configuration sidecar of a measurement CSV: ``out/host.csv`` ->
    ``out/host.runs.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.runs.csv")


@dataclass(frozen=True)
class _Target:
    """One workload, checked: its measurement-format name and options, and its graph nodes."""

    label: str
    options: dict[str, Any]
    zoo: bool
    graph_nodes: frozenset[str]

    @property
    def options_cell(self) -> str:
        return options_json(self.options)

    def onnx_model(self) -> bytes | str:
        """The model for ONNX Runtime: serialized bytes, or the file path as given."""
        import onnx

        from dse.workloads import zoo
        from dse.workloads.onnx_frontend import _node_ids  # the ids dse's graph gives nodes

        if self.zoo:
            return zoo.build(self.label, **self.options).SerializeToString()
        proto = onnx.load(self.label)
        if all(node.name for node in proto.graph.node):
            return self.label
        # Name unnamed nodes as dse's graph does, so that profiler names match graph names.
        for node, nid in zip(proto.graph.node, _node_ids(proto.graph.node), strict=True):
            node.name = nid
        return proto.SerializeToString()


def load_targets(workloads: Sequence[WorkloadSource], options: Mapping[str, Any] | None
                 ) -> tuple[list[_Target], list[Problem]]:
    """Every workload checked and loaded (:func:`_target`), and the problems of all of them
    together: nothing is timed before every workload has loaded."""
    problems: list[Problem] = []
    if not workloads:
        problems.append(Problem("measure", "workloads", "expected at least one workload"))
    targets: list[_Target] = []
    for source in workloads:
        try:
            targets.append(_target(source, options or {}))
        except DseError as exc:
            problems += exc.problems or [Problem(str(source), "", str(exc))]
    return targets, problems


def _target(source: WorkloadSource, options: Mapping[str, Any]) -> _Target:
    """Check one workload source (zoo name or ONNX file) and load its dse graph.

    Raises:
        WorkloadError: Unknown zoo name (listing the known ones), bad zoo options, zoo options
            on an ONNX file.
        OnnxError: A missing, malformed or hostile ONNX file.
    """
    from dse.workloads import workload, zoo

    if isinstance(source, tuple):
        source, own = source
        options = {**options, **own}
    text = str(source)
    found = None if isinstance(source, Path) else zoo.resolve(text)
    if found is not None:
        model, parsed = found
        merged = {**parsed, **options}
        w = workload(model.name, **merged)
        return _Target(model.name, merged, True, frozenset(w.graph.nodes))
    w = workload(text, **options)
    return _Target(text, {}, False, frozenset(w.graph.nodes))


def settings_problems(counts: Mapping[str, Sequence[int]], warmup: int, repeats: int,
                      device: str) -> list[Problem]:
    """Problems with measurement settings shared by every runtime: each of ``counts`` (name ->
    values) whole numbers >= 1, ``warmup`` >= 0, ``repeats`` >= 1, one device name."""
    problems = []
    for name, values in counts.items():
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                problems.append(Problem("measure", name, f"expected whole numbers >= 1, got "
                                        f"{value!r}"))
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        problems.append(Problem("measure", "warmup", f"expected a whole number >= 0, got "
                                f"{warmup!r}"))
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        problems.append(Problem("measure", "repeats", f"expected a whole number >= 1, got "
                                f"{repeats!r}"))
    if not device or "," in device:
        problems.append(Problem("measure", "device", f"expected a device name, got {device!r}"))
    return problems


def _check_settings(threads: Sequence[int], streams: Sequence[int], warmup: int, repeats: int,
                    device: str) -> list[Problem]:
    empty = [Problem("measure", name, "expected at least one value")
             for name, values in (("threads", threads), ("streams", streams)) if not values]
    return empty + settings_problems({"threads": threads, "streams": streams}, warmup, repeats,
                                     device)


def measure(
    workloads: Sequence[WorkloadSource],
    *,
    threads: Sequence[int] = (1,),
    streams: Sequence[int] = (1,),
    warmup: int = 5,
    repeats: int = 30,
    profile: bool = False,
    device: str = "host",
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> MeasureResult:
    """Time workloads with ONNX Runtime on this machine (see the module docstring).

    Args:
        workloads: Zoo names (``"mobilenet_v2"``, ``"mobilenet_v1_0.5_160"``), paths to ONNX
            files, or ``(source, zoo options)`` pairs.
        threads: Intra-op thread counts to try (one inference uses that many threads).
        streams: Concurrent sessions to try (inferences in flight).
        warmup: Untimed inferences per session before each configuration.
        repeats: Timed inferences per session in each configuration.
        profile: Also time every node with ONNX Runtime's profiler (one extra run per workload
            and thread count, one stream), into :attr:`MeasureResult.nodes`.
        device: The ``device`` cell of the rows (``host``: the device ``dse host probe``
            writes for this machine, :func:`dse.devices.host.write_probe`; each row's
            ``source`` names the CPU model, so rows and probed spec can be matched).
        options: Zoo options for every zoo workload (``{"width": 0.5}``); a pair's own options
            win.
        progress: Called before each configuration and once at the end.

    Returns:
        The measurements, a per-configuration summary and, if profiled, per-node times.

    Raises:
        MeasureError: Bad settings (threads or streams < 1, repeats < 1), or a model ONNX
            Runtime cannot load or run.
        WorkloadError: An unknown zoo name or bad zoo options; every workload is checked
            before anything is timed, and all problems are reported together.
        OnnxError: A missing, malformed or hostile ONNX file.
    """
    problems = _check_settings(threads, streams, warmup, repeats, device)
    targets, found = load_targets(workloads, options)
    problems += found
    if problems:
        raise MeasureError(problems)

    threads = sorted({int(t) for t in threads})
    streams = sorted({int(k) for k in streams})
    total = len(targets) * len(threads) * (len(streams) + (1 if profile else 0))
    context = _context()
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    nodes: list[pd.DataFrame] = []
    done = 0
    for target in targets:
        model = target.onnx_model()
        for n in threads:
            sessions = [_session(model, n, target.label) for _ in range(max(streams))]
            feeds = _feeds(sessions[0], target.label)
            for k in streams:
                if progress is not None:
                    progress(done, total, f"{target.label} threads={n} streams={k}")
                timing = _time(sessions[:k], feeds, warmup=warmup, repeats=repeats,
                               label=target.label)
                run = timing.summary()
                runs.append({"workload": target.label, "options": target.options_cell,
                             "threads": n, "streams": k, **run})
                rows += _rows(target, device, n, k, run, context, warmup, repeats)
                done += 1
            del sessions
            if profile:
                if progress is not None:
                    progress(done, total, f"{target.label} threads={n} profiling")
                table = _profile(model, n, feeds, warmup=warmup, repeats=repeats,
                                 target=target)
                nodes.append(table)
                done += 1
    if progress is not None:
        progress(done, total, "done")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    validate(frame, file="dse measure")  # the format's own check: a bug if it fails
    return MeasureResult(
        frame, pd.DataFrame(runs, columns=list(RUN_COLUMNS)),
        pd.concat(nodes, ignore_index=True).loc[:, list(NODE_COLUMNS)] if profile else None,
        context)


# ----- sessions and inputs ----------------------------------------------------------------------

def _session(model: bytes | str, threads: int, label: str,
             profile_prefix: str | None = None) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # errors only: ONNX Runtime warns about harmless things
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's errors (Fail, InvalidGraph, ...) share no narrower base
        raise MeasureError([Problem(label, "", f"ONNX Runtime cannot load the model: "
                                    f"{str(exc).strip()}")]) from None


def _feeds(session: Any, label: str) -> dict[str, np.ndarray]:
    """Random inputs of the model's shapes and types (seeded; symbolic dims become 1).

    Integer inputs (token ids, indices) are 0 or 1, valid for any embedding table.
    """
    rng = np.random.default_rng(0)
    feeds: dict[str, np.ndarray] = {}
    problems = []
    for arg in session.get_inputs():
        dtype = _DTYPES.get(arg.type)
        if dtype is None:
            problems.append(Problem(label, f"input {arg.name!r}", f"cannot make random inputs "
                                    f"of type {arg.type}; supported: {', '.join(_DTYPES)}"))
            continue
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
        if np.issubdtype(dtype, np.floating):
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[arg.name] = rng.integers(0, 2, size=shape).astype(dtype)
    if problems:
        raise MeasureError(problems)
    return feeds


# ----- timing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Timing:
    """Timed inferences of one configuration: (start, end) per inference and the window."""

    latencies_s: np.ndarray
    window_s: float
    completed: float

    def summary(self) -> dict[str, Any]:
        ms = self.latencies_s * 1e3
        p10, p25, p50, p75, p90, p95, p99 = np.percentile(ms, [10, 25, 50, 75, 90, 95, 99])
        return {"latency_ms": float(p50), "p10_ms": float(p10), "p90_ms": float(p90),
                "p95_ms": float(p95), "p99_ms": float(p99), "iqr_ms": float(p75 - p25),
                "n": len(ms),
                "throughput_fps": self.completed / self.window_s, "window_s": self.window_s}


def _time(sessions: Sequence[Any], feeds: Mapping[str, np.ndarray], *, warmup: int,
          repeats: int, label: str) -> _Timing:
    """Run the sessions concurrently, one Python thread each (see the module docstring)."""
    k = len(sessions)
    barrier = threading.Barrier(k)
    lock = threading.Lock()
    finished = threading.Event()
    state = {"left": k, "end": float("inf")}
    records: list[list[tuple[float, float]]] = [[] for _ in range(k)]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        session = sessions[i]
        try:
            for _ in range(warmup):
                session.run(None, feeds)
            barrier.wait()
            count = 0
            while not errors:
                start = time.perf_counter()
                session.run(None, feeds)
                end = time.perf_counter()
                records[i].append((start, end))
                count += 1
                if count == repeats:
                    with lock:
                        state["left"] -= 1
                        if state["left"] == 0:
                            state["end"] = end
                            finished.set()
                if count >= repeats and finished.is_set():
                    return
        except threading.BrokenBarrierError:
            return
        except Exception as exc:  # from ONNX Runtime; re-raised below as a MeasureError
            errors.append(exc)
            barrier.abort()
            finished.set()

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(k)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise MeasureError([Problem(label, "", f"ONNX Runtime failed running the model: "
                                    f"{str(errors[0]).strip()}")])
    start = max(r[0][0] for r in records)
    end = state["end"]
    completed = 0.0
    for a, b in (span for r in records for span in r):
        inside = min(b, end) - max(a, start)
        if inside > 0:
            completed += inside / (b - a)
    latencies = np.array([b - a for r in records for a, b in r[:repeats]])
    return _Timing(latencies, end - start, completed)


def _profile(model: bytes | str, threads: int, feeds: Mapping[str, np.ndarray], *,
             warmup: int, repeats: int, target: _Target) -> pd.DataFrame:
    """Per-node median times from ONNX Runtime's profiler (one session, one stream)."""
    with tempfile.TemporaryDirectory(prefix="dse-ort-profile-") as folder:
        session = _session(model, threads, target.label, profile_prefix=str(Path(folder) / "ort"))
        try:
            for _ in range(warmup + repeats):
                session.run(None, feeds)
        except Exception as exc:  # from ONNX Runtime
            raise MeasureError([Problem(target.label, "", f"ONNX Runtime failed running the "
                                        f"model: {str(exc).strip()}")]) from None
        trace = session.end_profiling()
        table = node_times(trace, runs=repeats, graph_nodes=target.graph_nodes)
    table.insert(0, "threads", threads)
    table.insert(0, "options", target.options_cell)
    table.insert(0, "workload", target.label)
    return table


# ----- rows -------------------------------------------------------------------------------------

def _context() -> dict[str, str]:
    import onnxruntime as ort

    from dse.devices.host import cpu_model_name, usable_cpus

    return {"ort": ort.__version__, "onnxruntime": ort.__version__, "cpu": cpu_model_name(),
            "cores": str(len(usable_cpus())),
            "date": _dt.datetime.now().astimezone().isoformat(timespec="minutes")}


def _rows(target: _Target, device: str, threads: int, streams: int, run: Mapping[str, Any],
          context: Mapping[str, str], warmup: int, repeats: int) -> list[dict[str, Any]]:
    source = (f"dse measure: onnxruntime {context['ort']} CPUExecutionProvider on "
              f"{context['cpu']}; intra-op threads {threads}, inter-op 1, sequential; "
              f"{streams} session{'s' if streams > 1 else ''} in flight; warmup {warmup}, "
              f"{repeats} timed runs per session; latency p10/p50/p90/p95/p99 "
              f"{run['p10_ms']:.4g}/{run['latency_ms']:.4g}/{run['p90_ms']:.4g}/"
              f"{run['p95_ms']:.4g}/{run['p99_ms']:.4g} ms, IQR "
              f"{run['iqr_ms']:.3g} ms, n={run['n']}; throughput over {run['window_s']:.3g} s; "
              f"{context['date']}")
    common = {"device": device, "host": "host", "link": "", "runtime": "onnxruntime_cpu",
              "workload": target.label,
              "options": target.options_cell, "precision": "fp32",
              "policy": "single" if streams == 1 else "threads", "threads": threads,
              "streams": streams, "count": 1, "source": source, "dataset": "host"}
    return [{**common, "metric": "latency", "value": _round(run["latency_ms"]), "unit": "ms"},
            {**common, "metric": "throughput", "value": _round(run["throughput_fps"]),
             "unit": "fps"}]


def _round(value: float) -> float:
    return float(f"{value:.6g}")
