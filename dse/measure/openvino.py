"""Timing models with OpenVINO's CPU plugin on this machine: the target host x ``openvino_cpu``.

An optional runtime (``pip install 'dse[openvino]'``); without it :func:`measure` raises one
:class:`~dse.measure.host.MeasureError` with the install command. The workloads are the ones
``dse measure`` times with ONNX Runtime (:mod:`dse.measure.host`: a zoo model built as ONNX with
random weights, or an ONNX file), read by ``openvino.Core().read_model`` and compiled with
``Core().compile_model(model, "CPU", config)`` at FP32 (``INFERENCE_PRECISION_HINT`` ``f32``:
on CPUs with AVX512_BF16 or AMX the plugin's default is bf16, another target).

Two kinds of configuration, as OpenVINO's ``benchmark_app`` runs them:

- **latency mode**: ``PERFORMANCE_HINT`` ``LATENCY`` (one stream over every core), one
  synchronous ``InferRequest.infer`` at a time; ``warmup`` untimed, ``repeats`` timed
  inferences, wall-clock around each call (as :mod:`dse.measure.host` times ONNX Runtime).
- **throughput mode**: ``PERFORMANCE_HINT`` ``THROUGHPUT`` with ``NUM_STREAMS`` = s, driven by an
  ``AsyncInferQueue`` of r infer requests kept full (a request is resubmitted as soon as one is
  free). The plugin splits the cores between its streams and caps the streams at what the cores
  allow (``NUM_STREAMS`` 4 on 2 cores compiles to 2 streams of 1 thread); a request beyond the
  streams waits in the plugin's queue. After ``warmup`` x r untimed inferences,
  max(``repeats``, 6 r) are timed: the latency of each is OpenVINO's own
  (``InferRequest.latency``, from ``start_async`` to its completion, queueing included, as
  ``benchmark_app`` reports it), the throughput is counted between the r-th completion and the
  r-th before last, so that neither the ramp-up nor the drain of the queue is in the window.

With ``rounds`` > 1 every configuration of a model is timed that many times, the configurations
interleaved round by round, and the round with the highest throughput is kept (on a shared
machine, the least disturbed one; the source says so).

Rows (:mod:`dse.calibrate.measurements`): device ``host``, host ``host``, runtime
``openvino_cpu``, precision ``fp32``, one ``latency`` (ms, median) and one ``throughput`` (fps)
row per configuration. The configuration columns say what dse's simulator needs to replay it on
a CPU cluster (:func:`dse.calibrate.forward.predict`): ``threads`` = threads of one stream (the
compiled model's ``INFERENCE_NUM_THREADS`` / ``NUM_STREAMS``), ``streams`` = inferences in
flight (the infer requests; 1 in latency mode), policy ``single`` for one request and ``threads``
for several. The simulator's CPU cluster then runs cores // ``threads`` inferences at once, the
plugin's stream count on this machine (checked: a configuration where the two differ, which
happens when streams x threads per stream is not the core count, is timed but reported in the
source as such). The requested and compiled ``NUM_STREAMS``, the requests, the spread, the CPU,
the OpenVINO version and the date are in ``source``.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.measurements import COLUMNS, validate
from dse.errors import DseError, Problem
from dse.measure.host import (
    MeasureError,
    MeasureResult,
    Progress,
    WorkloadSource,
    _round,
    _Target,
    load_targets,
    settings_problems,
)

__all__ = ["CHECK_COLUMNS", "CONFIGURATION_FREE", "INSTALL", "MODEL_FREE", "RUNTIME", "RUN_COLUMNS", "ThroughputCheck", "check",
           "import_openvino", "measure"]

#: The measurement-format runtime of the rows (``devices/runtimes/openvino_cpu.yaml``).
RUNTIME = "openvino_cpu"
#: How to get OpenVINO.
INSTALL = "pip install 'dse[openvino]'  (or: pip install openvino)"

#: Columns of :attr:`MeasureResult.runs` for OpenVINO, one row per configuration.
RUN_COLUMNS = ("workload", "options", "mode", "num_streams", "compiled_streams",
               "threads_per_stream", "requests", "latency_ms", "p10_ms", "p90_ms", "iqr_ms", "n",
               "throughput_fps", "window_s")


def import_openvino() -> ModuleType:
    """The ``openvino`` module.

    Raises:
        MeasureError: OpenVINO is not installed (naming the install command).
    """
    try:
        import openvino
    except ImportError:
        raise MeasureError([Problem("--runtime openvino", "", f"OpenVINO is not installed; "
                                    f"install it with: {INSTALL}")]) from None
    return openvino


def _check(streams: Sequence[int], requests: Sequence[int], warmup: int, repeats: int,
           device: str) -> list[Problem]:
    problems = settings_problems({"streams": streams, "requests": requests}, warmup, repeats,
                                 device)
    if bool(streams) != bool(requests):
        problems.append(Problem("measure", "streams/requests", "throughput mode needs both "
                                "streams and requests (or neither)"))
    return problems


def measure(
    workloads: Sequence[WorkloadSource],
    *,
    streams: Sequence[int] = (1, 2, 3, 4),
    requests: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
    latency_mode: bool = True,
    warmup: int = 5,
    repeats: int = 30,
    rounds: int = 1,
    device: str = "host",
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> MeasureResult:
    """Time workloads with OpenVINO's CPU plugin on this machine (see the module docstring).

    Args:
        workloads: Zoo names, ONNX paths, or ``(source, zoo options)`` pairs, as for
            :func:`dse.measure.host.measure`.
        streams: ``NUM_STREAMS`` values of throughput mode (empty: no throughput mode).
        requests: Infer requests in flight in throughput mode, for every stream count.
        latency_mode: Also time ``PERFORMANCE_HINT`` ``LATENCY`` with synchronous inference.
        warmup: Untimed inferences (per request in throughput mode).
        repeats: Timed inferences per configuration (at least 6 per request in throughput
            mode).
        rounds: Times each configuration is timed, the configurations of a model interleaved;
            the round with the highest throughput is reported (the least disturbed by other
            load on a shared machine).
        device: The ``device`` cell of the rows.
        options: Zoo options for every zoo workload.
        progress: Called before each configuration and once at the end.

    Returns:
        The measurements and a per-configuration summary (:data:`RUN_COLUMNS`).

    Raises:
        MeasureError: OpenVINO missing (with the install command), bad settings, or a model the
            plugin cannot compile or run.
        WorkloadError: An unknown zoo name or bad zoo options (all reported together).
        OnnxError: A missing, malformed or hostile ONNX file.
    """
    problems = _check(streams, requests, warmup, repeats, device)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        problems.append(Problem("measure", "rounds", f"expected a whole number >= 1, got "
                                f"{rounds!r}"))
    if not latency_mode and not streams:
        problems.append(Problem("measure", "streams", "nothing to time: no latency mode and no "
                                "throughput-mode streams"))
    targets, found = load_targets(workloads, options)
    problems += found
    if problems:
        raise MeasureError(problems)
    ov = import_openvino()

    streams = sorted({int(s) for s in streams})
    requests = sorted({int(r) for r in requests})
    per_target = (1 if latency_mode else 0) + len(streams) * len(requests)
    total = len(targets) * per_target * rounds
    core = ov.Core()
    context = _context(ov, core)
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    done = 0

    def step(label: str) -> None:
        if progress is not None:
            progress(done, total, label)

    for target in targets:
        model = _read(core, target)
        feeds = _feeds(model, target.label)
        # Every configuration of the model, compiled once: (requested streams, requests);
        # requested None is latency mode.
        configs: list[tuple[Any, int | None, int]] = []
        if latency_mode:
            configs.append((_compile(core, model, {"PERFORMANCE_HINT": "LATENCY"},
                                     target.label), None, 1))
        for n in streams:
            compiled = _compile(core, model, {"PERFORMANCE_HINT": "THROUGHPUT",
                                              "NUM_STREAMS": n}, target.label)
            configs += [(compiled, n, r) for r in requests]
        best: list[_Timing | None] = [None] * len(configs)
        # Rounds interleave the configurations, so that a burst of other load on a shared
        # machine hits one round of a configuration, not all of it; the least disturbed round
        # (highest throughput) is kept.
        for rnd in range(rounds):
            for i, (compiled, asked, r) in enumerate(configs):
                step(f"{target.label} " + ("latency mode" if asked is None else
                                           f"streams={asked} requests={r}") +
                     (f" (round {rnd + 1}/{rounds})" if rounds > 1 else ""))
                if asked is None:
                    timing = _time_sync(compiled, feeds, warmup=warmup, repeats=repeats,
                                        label=target.label)
                else:
                    timing = _time_async(ov, compiled, feeds, requests=r, warmup=warmup,
                                         repeats=repeats, label=target.label)
                kept = best[i]
                if kept is None or np.isnan(kept.throughput_fps) or \
                        timing.throughput_fps > kept.throughput_fps:
                    best[i] = timing
                done += 1
        for (compiled, asked, r), kept in zip(configs, best, strict=True):
            if kept is None:  # cannot happen: rounds >= 1 was checked
                raise MeasureError([Problem(target.label, "", "no round timed")])
            shape = _Shape.of(compiled, requested=asked, requests=r)
            runs.append(_run(target, "latency" if asked is None else "throughput", shape,
                             kept))
            rows += _rows(target, device, shape, kept, context, warmup, repeats, rounds)
        del configs
    step("done")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    validate(frame, file="dse measure --runtime openvino")  # the format's own check
    return MeasureResult(frame, pd.DataFrame(runs, columns=list(RUN_COLUMNS)))


# ----- models and inputs ------------------------------------------------------------------------

def _read(core: Any, target: _Target) -> Any:
    model = target.onnx_model()
    try:
        if isinstance(model, bytes):
            return core.read_model(model, b"")
        return core.read_model(model)
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
        raise MeasureError([Problem(target.label, "", f"OpenVINO cannot read the model: "
                                    f"{_first_line(exc)}")]) from None


def _compile(core: Any, model: Any, config: Mapping[str, Any], label: str) -> Any:
    # FP32 explicitly: the CPU plugin's default is bf16 where the CPU has AVX512_BF16 or AMX.
    try:
        return core.compile_model(model, "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"})
    except Exception as exc:  # OpenVINO's own exception types
        raise MeasureError([Problem(label, "", f"OpenVINO's CPU plugin cannot compile the model "
                                    f"({dict(config)}): {_first_line(exc)}")]) from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _feeds(model: Any, label: str) -> dict[str, np.ndarray]:
    """Random inputs of the model's shapes and types, as :mod:`dse.measure.host` makes them
    (seeded; dynamic dimensions become 1; integer inputs 0 or 1)."""
    rng = np.random.default_rng(0)
    feeds: dict[str, np.ndarray] = {}
    problems = []
    for port in model.inputs:
        name = port.get_any_name()
        try:
            dtype = np.dtype(port.get_element_type().to_dtype())
        except Exception:  # an element type numpy has no dtype for
            problems.append(Problem(label, f"input {name!r}", f"cannot make random inputs of "
                                    f"type {port.get_element_type()}"))
            continue
        shape = [d.get_length() if d.is_static else 1 for d in port.get_partial_shape()]
        if np.issubdtype(dtype, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[name] = rng.integers(0, 2, size=shape).astype(dtype)
    if problems:
        raise MeasureError(problems)
    return feeds


@dataclass(frozen=True)
class _Shape:
    """How the plugin compiled a configuration: streams asked and got, threads per stream."""

    requested: int | None
    streams: int
    threads: int
    requests: int

    @classmethod
    def of(cls, compiled: Any, *, requested: int | None, requests: int) -> _Shape:
        streams = max(1, int(compiled.get_property("NUM_STREAMS")))
        threads = max(1, int(compiled.get_property("INFERENCE_NUM_THREADS")) // streams)
        return cls(requested, streams, threads, requests)


# ----- timing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Timing:
    latencies_ms: np.ndarray
    throughput_fps: float
    window_s: float
    #: The 1-minute load average when it ended: how busy the (shared) machine was.
    load: float = field(default_factory=lambda: _load())

    def summary(self) -> dict[str, Any]:
        p10, p25, p50, p75, p90 = np.percentile(self.latencies_ms, [10, 25, 50, 75, 90])
        return {"latency_ms": float(p50), "p10_ms": float(p10), "p90_ms": float(p90),
                "iqr_ms": float(p75 - p25), "n": len(self.latencies_ms),
                "throughput_fps": self.throughput_fps, "window_s": self.window_s}


def _load() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):  # not on this platform
        return float("nan")


def _failed(label: str, exc: BaseException) -> MeasureError:
    return MeasureError([Problem(label, "", f"OpenVINO failed running the model: "
                                 f"{_first_line(exc)}")])


def _time_sync(compiled: Any, feeds: Mapping[str, np.ndarray], *, warmup: int, repeats: int,
               label: str) -> _Timing:
    request = compiled.create_infer_request()
    spans = np.empty(repeats)
    try:
        for _ in range(warmup):
            request.infer(feeds)
        for i in range(repeats):
            start = time.perf_counter()
            request.infer(feeds)
            spans[i] = time.perf_counter() - start
    except Exception as exc:  # OpenVINO's own exception types
        raise _failed(label, exc) from None
    return _Timing(spans * 1e3, 1.0 / float(spans.mean()), float(spans.sum()))


def _time_async(ov: ModuleType, compiled: Any, feeds: Mapping[str, np.ndarray], *, requests: int,
                warmup: int, repeats: int, label: str) -> _Timing:
    queue = ov.AsyncInferQueue(compiled, requests)
    ends: list[float] = []
    latencies: list[float] = []

    def done(request: Any, _: Any) -> None:
        # Runs on the plugin's threads; list.append is atomic under the GIL.
        ends.append(time.perf_counter())
        latencies.append(float(request.latency))

    queue.set_callback(done)
    n = max(repeats, 6 * requests)
    try:
        for _ in range(warmup * requests):
            queue.start_async(feeds)
        queue.wait_all()
        ends.clear()
        latencies.clear()
        for _ in range(n):
            queue.start_async(feeds)  # blocks until a request is free: the queue stays full
        queue.wait_all()
    except Exception as exc:  # OpenVINO's own exception types
        raise _failed(label, exc) from None
    completed = np.sort(np.array(ends))
    # Leave out the ramp-up (the first r completions) and the drain (the last r).
    k = min(requests, (len(completed) - 2) // 2)
    first, last = completed[k], completed[len(completed) - 1 - k]
    window = float(last - first)
    count = len(completed) - 1 - 2 * k
    return _Timing(np.array(latencies), count / window if window > 0 else float("nan"), window)


# ----- rows -------------------------------------------------------------------------------------

def _cores() -> int:
    """The cores this process may run on (what the plugin splits between its streams)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context(ov: ModuleType, core: Any) -> dict[str, str]:
    from dse.devices.host import cpu_model_name

    try:
        plugin = str(core.get_property("CPU", "FULL_DEVICE_NAME"))
    except Exception:  # an old plugin without the property
        plugin = ""
    return {"ov": str(ov.get_version()).split("-")[0], "cpu": cpu_model_name(), "plugin": plugin,
            "date": _dt.datetime.now().astimezone().isoformat(timespec="minutes")}


def _run(target: _Target, mode: str, shape: _Shape, timing: _Timing) -> dict[str, Any]:
    return {"workload": target.label, "options": target.options_cell, "mode": mode,
            "num_streams": shape.requested or 0, "compiled_streams": shape.streams,
            "threads_per_stream": shape.threads, "requests": shape.requests, **timing.summary()}


def _rows(target: _Target, device: str, shape: _Shape, timing: _Timing, context: Mapping[str, str],
          warmup: int, repeats: int, rounds: int) -> list[dict[str, Any]]:
    run = timing.summary()
    if shape.requested is None:
        how = (f"latency mode (PERFORMANCE_HINT LATENCY: {shape.streams} stream x "
               f"{shape.threads} threads), synchronous infer; warmup {warmup}, {repeats} timed; "
               f"throughput 1 / mean latency")
    else:
        how = (f"throughput mode (PERFORMANCE_HINT THROUGHPUT, NUM_STREAMS {shape.requested} "
               f"requested, {shape.streams} compiled x {shape.threads} threads); "
               f"AsyncInferQueue of {shape.requests} request{'s' if shape.requests > 1 else ''};"
               f" warmup {warmup} per request, {run['n']} timed; throughput between the "
               f"{min(shape.requests, (run['n'] - 2) // 2)}-th completion and as many before "
               f"the last")
    cores = _cores()
    if shape.streams * shape.threads != cores:
        how += (f"; NOTE {shape.streams} streams x {shape.threads} threads != {cores} cores: "
                f"dse's CPU cluster runs {cores // shape.threads} at once")
    source = (f"dse measure --runtime openvino: OpenVINO {context['ov']} CPU plugin, FP32 "
              f"(INFERENCE_PRECISION_HINT f32), on {context['cpu']} ({cores} cores); {how}; "
              f"1-min load average {timing.load:.2f} when timed; "
              f"latency p10/p50/p90 {run['p10_ms']:.4g}/{run['latency_ms']:.4g}/"
              f"{run['p90_ms']:.4g} ms, IQR {run['iqr_ms']:.3g} ms, n={run['n']}; window "
              f"{run['window_s']:.3g} s"
              f"{f'; the best of {rounds} interleaved rounds' if rounds > 1 else ''}; "
              f"{context['date']}")
    common = {"device": device, "host": "host", "link": "", "runtime": RUNTIME,
              "workload": target.label, "options": target.options_cell, "precision": "fp32",
              "policy": "single" if shape.requests == 1 else "threads",
              "threads": shape.threads, "streams": shape.requests, "count": 1,
              "source": source, "dataset": "host_openvino"}
    return [{**common, "metric": "latency", "value": _round(run["latency_ms"]), "unit": "ms"},
            {**common, "metric": "throughput", "value": _round(run["throughput_fps"]),
             "unit": "fps"}]


# ----- predicting the target host x openvino_cpu ------------------------------------------------

#: What the ``configuration`` protocol of :func:`check` fits per model: the peak (OpenVINO's
#: FP32 kernels run faster than the host spec's peak at the reported clock allows, so an
#: efficiency <= 1 cannot reach them: the turbo clock is higher), the sustained bandwidth (its
#: fused layers keep activations in cache, so the copy-measured DRAM figure overstates their
#: memory time) and the Amdahl fraction of two threads over one. The one-request rows have two
#: thread counts: the split between compute and memory time is not determined by them, and
#: bounded least squares settles it; the DRAM sharing of two streams in the simulator rests on
#: that split.
CONFIGURATION_FREE = ("peak_ops_s.fp32", "mem_bw_bytes_s", "parallel_fraction")

#: What the ``model`` protocol of :func:`check` fits on the other models: the same, plus a fixed
#: cost per inference, and the kernel-class multipliers and per-kernel cost the data can tell
#: (shared as :func:`dse.calibrate.fit.calibrate_targets` shares them, with their priors).
MODEL_FREE = (*CONFIGURATION_FREE, "overhead_per_inference_s")

#: Columns of :attr:`ThroughputCheck.table`.
CHECK_COLUMNS = ("protocol", "workload", "options", "metric", "threads", "requests",
                 "measured", "predicted", "baseline", "rel_error", "baseline_error")


@dataclass(frozen=True)
class ThroughputCheck:
    """Held-out prediction error of the target host x ``openvino_cpu``, beside a naive baseline.

    Attributes:
        table: One row per held-out measurement and protocol (:data:`CHECK_COLUMNS`), values in
            SI units (s, frames/s).
        summary: Per protocol and metric: points, MAPE, share within +-10%, worst, and the
            baseline's MAPE.
    """

    table: pd.DataFrame
    summary: pd.DataFrame


def check(measurements: pd.DataFrame, *, device: str = "host", catalog: Any = None,
          protocols: Sequence[str] = ("configuration", "model"),
          progress: Callable[[str], None] | None = None) -> ThroughputCheck:
    """Predict the target's throughput (and latency) with several requests in flight from fits
    that never saw them, and compare with a naive baseline.

    The rows with one request in flight (latency mode, and throughput mode with one request:
    one inference at a time at ``threads`` threads) are the training data; every row with
    several requests is held out and predicted through dse's simulator
    (:func:`dse.calibrate.predict`: the CPU cluster runs cores // ``threads`` inferences at
    once, further requests queue).

    Protocols:
        ``configuration``: leave-configuration-out. Each model is fitted on its own one-request
            rows (:data:`CONFIGURATION_FREE`, by :func:`dse.calibrate.calibrate`), then its
            several-request rows are predicted: what a user gets who timed a model once per
            thread count and asks what streams and requests would give.
        ``model``: leave-one-model-out. Each model's several-request rows are predicted from a
            fit (:data:`MODEL_FREE`) on the one-request rows of the other models only: a model
            never timed.

    Baseline (naive, no simulator): throughput = the model's measured latency-mode throughput
    x min(requests, streams), streams = cores // ``threads``; latency = the latency-mode latency
    x max(1, requests / streams). Under ``model`` it sees the held-out model's latency-mode
    row, which the simulator's prediction does not: it is a baseline a user with that one
    measurement would use, not a rival fit.

    Raises:
        DseError: No OpenVINO rows of ``device``, or no row with one request or with several.
    """
    from dse.calibrate import calibrate, predict
    from dse.calibrate.fit import calibrate_targets
    from dse.devices import default_catalog
    from dse.devices.overlay import apply_overlay

    catalog = catalog or default_catalog()
    spec = catalog.device(device)
    rows = measurements[(measurements["device"] == spec.name)
                        & (measurements["runtime"] == RUNTIME)
                        & measurements["metric"].isin(["latency", "throughput"])]
    rows = rows.reset_index(drop=True)
    single = rows[rows["streams"] == 1]
    several = rows[rows["streams"] > 1]
    if single.empty or several.empty:
        raise DseError([Problem("measurements", "rows", f"expected {spec.name} x {RUNTIME} rows "
                                f"with one request and with several (dse measure --runtime "
                                f"openvino), found {len(single)} and {len(several)}")])
    cores = spec.cores or 1
    keys = rows["workload"] + rows["options"]
    models = list(dict.fromkeys(keys))
    out = []
    for protocol in protocols:
        if protocol not in ("configuration", "model"):
            raise DseError([Problem("protocols", protocol, "expected configuration or model")])
        for key in models:
            if progress is not None:
                progress(f"{protocol}: {key}")
            mine = keys == key
            held = rows[mine & (rows["streams"] > 1)].reset_index(drop=True)
            if held.empty:
                continue
            if protocol == "configuration":
                train = rows[mine & (rows["streams"] == 1)]
                cal = calibrate(train, device=spec, catalog=catalog, cross_validation=False,
                                free=CONFIGURATION_FREE)
            else:
                train = rows[~mine & (rows["streams"] == 1)].reset_index(drop=True)
                cal = calibrate_targets(train, {spec.name: spec}, free=MODEL_FREE,
                                        catalog=catalog, cross_validation=False)[spec.name]
            fitted = apply_overlay(spec, cal.overlay, label=f"{protocol} fit without {key}")
            predicted = predict(fitted, held, catalog=catalog)
            latency_mode = rows[mine & (rows["streams"] == 1) & (rows["threads"] == cores)]
            base_fps = float(latency_mode.loc[latency_mode["metric"] == "throughput",
                                              "value_si"].median())
            base_s = float(latency_mode.loc[latency_mode["metric"] == "latency",
                                            "value_si"].median())
            streams = np.maximum(1, cores // held["threads"].to_numpy())
            requests = held["streams"].to_numpy()
            baseline = np.where(held["metric"] == "throughput",
                                base_fps * np.minimum(requests, streams),
                                base_s * np.maximum(1.0, requests / streams))
            measured = held["value_si"].to_numpy()
            out.append(pd.DataFrame({
                "protocol": protocol, "workload": held["workload"], "options": held["options"],
                "metric": held["metric"], "threads": held["threads"], "requests": requests,
                "measured": measured, "predicted": predicted, "baseline": baseline,
                "rel_error": predicted / measured - 1.0,
                "baseline_error": baseline / measured - 1.0}))
    table = pd.concat(out, ignore_index=True).loc[:, list(CHECK_COLUMNS)]
    return ThroughputCheck(table, _summary(table))


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (protocol, metric), g in table.groupby(["protocol", "metric"], sort=False):
        err = g["rel_error"].abs()
        rows.append({"protocol": protocol, "metric": metric, "points": len(g),
                     "models": (g["workload"] + g["options"]).nunique(),
                     "mape": float(err.mean()), "within_10": float((err <= 0.10).mean()),
                     "worst": float(err.max()),
                     "baseline_mape": float(g["baseline_error"].abs().mean())})
    return pd.DataFrame(rows)
