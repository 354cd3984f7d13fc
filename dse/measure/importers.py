"""Importers: the output of the usual benchmark tools as dse measurement rows.

Edge engineers already have timings from their vendor's benchmark tool; these importers turn one
tool output file into rows of dse's measurement format (:mod:`dse.calibrate.measurements`) for a
device and workload the caller names, so that ``dse calibrate`` and ``dse predict`` can use them.

**OpenVINO** ``benchmark_app`` (``format="benchmark_app"``), either of:

- the report ``benchmark_report.csv`` (``-report_type no_counters``, ``average_counters`` or
  ``detailed_counters``; ``-report_folder``): sections ``Command line parameters``,
  ``Configuration setup`` and ``Execution results``, each a title line followed by
  ``key;value`` lines and a blank line (``tools/benchmark_tool/openvino/tools/benchmark/utils/
  statistics_report.py``, ``CsvStatisticsReport.dump``). Read: ``latency (ms)`` (the median;
  ``latency (P percentile) (ms)`` with ``-latency_percentile``), ``avg latency``,
  ``min latency``, ``max latency``, ``throughput`` (FPS), ``number of parallel infer requests``,
  ``API``, ``batch size``, ``target device``, ``number of <device> streams``.
- its console log (stdout): the summary ``Count: ... iterations``, ``Duration: ... ms``, then
  ``Latency:`` with ``Median:``/``Average:``/``Min:``/``Max:`` lines in ``ms`` or ``us``
  (``main.py``: microseconds when the average is below 1 ms) and ``Throughput: ... FPS``; the
  2021-and-earlier one-line form ``Latency:    10.94 ms`` is read too. Step 8's properties
  (``NUM_STREAMS``, ``INFERENCE_NUM_THREADS``, ``INFERENCE_PRECISION_HINT``) and step 10's
  ``Start inference asynchronously, 4 inference requests`` give the configuration.

**TensorFlow Lite** ``benchmark_model`` (``format="tflite_benchmark"``), its stdout/logcat:
``Inference timings in us: Init: ..., First inference: ..., Warmup (avg): ..., Inference
(avg): ...`` (``tensorflow/lite/tools/benchmark/benchmark_model.cc``,
``BenchmarkLoggingListener::OnBenchmarkEnd``; the older ``Average inference timings in us:
Warmup: ..., Init: ..., Inference: ...``), the statistics line of the timed runs
``count=50 first=... curr=... min=... max=... avg=... std=...`` (newer versions add
``p5=... median=... p95=...``), ``Num threads: [4]`` from the parameter echo, and, with
``--enable_op_profiling=true``, the ``Run Order`` table (per operator: node type, first and
average ms, share; ``tensorflow/lite/tools/benchmark/README.md``, "Profiling model operators"),
returned as :attr:`Imported.ops`.

Latency is the median where the file has one (``benchmark_app``; ``benchmark_model`` with
percentiles), else the mean, and the row's ``source`` says which. A file of the wrong format
gets one :class:`ImportError_` naming the file, the line, what was expected and what was found.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dse.calibrate.loaders import options_json
from dse.calibrate.measurements import COLUMNS, validate
from dse.errors import DseError, Problem, did_you_mean
from dse.files import atomic_path
from dse.spec import loading
from dse.spec.loading import read_bytes_bounded, read_text_bounded
from dse.workloads.graph import PRECISION_BYTES

__all__ = ["FORMATS", "OP_COLUMNS", "ImportError_", "Imported", "import_file"]

#: Formats :func:`import_file` reads.
FORMATS = ("benchmark_app", "tflite_benchmark")

#: Columns of :attr:`Imported.ops` (one row per operator of a profile).
OP_COLUMNS = ("workload", "options", "threads", "node", "op_type", "first_ms", "avg_ms",
              "share")

#: OpenVINO device names -> the catalog runtime that runs them.
_OV_RUNTIMES = {"CPU": "openvino_cpu", "MYRIAD": "openvino_myriad"}
#: Precision names of OpenVINO's element types -> dse's.
_OV_PRECISIONS = {"f32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16",
                  "f16": "fp16", "float16": "fp16", "i8": "int8", "u8": "int8"}


class ImportError_(DseError, ValueError):  # ImportError is a builtin
    """A benchmark tool's output file that is not what its format says."""


@dataclass(frozen=True)
class Imported:
    """What :func:`import_file` read.

    Attributes:
        measurements: Rows of the measurement format, validated.
        ops: Per-operator times (:data:`OP_COLUMNS`) where the file has a profile, else
            ``None``.
    """

    measurements: pd.DataFrame
    ops: pd.DataFrame | None = None

    def write(self, path: Path | str, *, append: bool = False) -> list[Path]:
        """Write the measurement CSV (and ``<stem>.ops.csv`` with a profile), atomically.

        Args:
            path: The measurement CSV.
            append: Keep the rows already in ``path`` (read and checked first).
        """
        from dse.calibrate.measurements import read_measurements

        path = Path(path)
        frame = self.measurements.loc[:, list(COLUMNS)]
        if append and path.exists():
            frame = pd.concat([read_measurements(path).loc[:, list(COLUMNS)], frame],
                              ignore_index=True)
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        written = [path]
        if self.ops is not None:
            ops_path = path.with_name(f"{path.stem}.ops.csv")
            ops = self.ops
            if append and ops_path.exists():
                text, problems = read_text_bounded(ops_path, limit=loading.MAX_CSV_BYTES)
                if text is None:
                    raise ImportError_(problems)
                try:
                    kept = pd.read_csv(io.StringIO(text), dtype={"options": str})
                except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
                    raise ImportError_([Problem(str(ops_path), "", f"not a readable CSV: {exc}")
                                        ]) from None
                missing = [c for c in OP_COLUMNS if c not in kept.columns]
                if missing:
                    raise ImportError_([Problem(str(ops_path), "header", f"missing columns "
                                                f"{missing}; expected {', '.join(OP_COLUMNS)}")])
                ops = pd.concat([kept, ops], ignore_index=True)
            with atomic_path(ops_path) as tmp:
                ops.loc[:, list(OP_COLUMNS)].to_csv(tmp, index=False)
            written.append(ops_path)
        return written


@dataclass
class _Found:
    """What a parser found in a file: numbers with the line they came from."""

    values: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)

    def put(self, key: str, value: float | str, line: int) -> None:
        if isinstance(value, str):
            self.texts[key] = value
        else:
            self.values[key] = value
        self.lines[key] = line


def import_file(path: Path | str, *, format: str, device: str, workload: str,
                options: Mapping[str, Any] | None = None, host: str = "",
                runtime: str | None = None, precision: str | None = None,
                threads: int | None = None, dataset: str | None = None) -> Imported:
    """Read one benchmark tool output file into measurement rows (see the module docstring).

    Args:
        path: The file (``benchmark_report.csv``, a ``benchmark_app`` log, a
            ``benchmark_model`` log).
        format: One of :data:`FORMATS`.
        device: The catalog device it ran on (the rows' ``device``).
        workload: The zoo model (or ONNX path) it timed.
        options: Zoo options of the workload (``{"width": 0.5}``).
        host: The catalog platform the device sat on (empty: its own board).
        runtime: The catalog runtime; default from the file (``benchmark_app``'s target device
            ``CPU`` -> ``openvino_cpu``, ``MYRIAD`` -> ``openvino_myriad``; ``benchmark_model``
            -> ``tflite_cpu``, or ``tflite_gpu``/``tflite_nnapi`` when its delegate flag is
            on).
        precision: dse's precision; default from the file (``INFERENCE_PRECISION_HINT``), else
            fp32.
        threads: Threads of one inference (per stream); default from the file where it says
            (``Num threads``, ``INFERENCE_NUM_THREADS`` / ``NUM_STREAMS``).
        dataset: The rows' ``dataset``; default the format name.

    Raises:
        ImportError_: The file is missing, unreadable, or not of the format (naming the line),
            or the configuration cannot be told and was not given; every problem at once.
    """
    path = Path(path)
    name = str(path)
    problems = []
    if format not in FORMATS:
        problems.append(Problem("--format", "", did_you_mean(format, FORMATS, what="format")))
    if precision is not None and precision not in PRECISION_BYTES:
        problems.append(Problem("--precision", precision, f"expected one of "
                                f"{', '.join(PRECISION_BYTES)}"))
    if threads is not None and threads < 1:
        problems.append(Problem("--threads", str(threads), "expected a whole number >= 1"))
    for flag, value in (("--device", device), ("--workload", workload)):
        if not value or "," in value:
            problems.append(Problem(flag, value, "expected a name"))
    if problems:
        raise ImportError_(problems)
    data, problems = read_bytes_bounded(path, limit=loading.MAX_CSV_BYTES, label=name)
    if data is None:
        raise ImportError_(problems)
    lines = data.decode("utf-8", errors="replace").splitlines()
    common = {"device": device, "host": host, "link": "", "workload": workload,
              "options": options_json(dict(options or {})), "count": 1,
              "dataset": dataset or format}
    if format == "benchmark_app":
        rows = _benchmark_app(name, lines, common, runtime, precision, threads)
        ops = None
    else:
        rows, ops = _tflite(name, lines, common, runtime, precision, threads)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    validate(frame, file=name)  # a bug if it fails: the rows were built to the format
    return Imported(frame, ops)


# ----- OpenVINO benchmark_app -------------------------------------------------------------------

_SECTIONS = ("Command line parameters", "Configuration setup", "Execution results")
_NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
_INFO = r"^\s*(?:\[\s*INFO\s*\]\s*)?"
_LOG_PATTERNS = {
    "count": re.compile(_INFO + r"Count:\s*(\d+)\s+iterations"),
    "duration_ms": re.compile(_INFO + r"Duration:\s*" + _NUMBER + r"\s*ms"),
    "latency_one_line": re.compile(_INFO + r"Latency:\s*" + _NUMBER + r"\s*(ms|us)\s*$"),
    "median": re.compile(_INFO + r"(?:Median|\d+ percentile):\s*" + _NUMBER + r"\s*(ms|us)"),
    "average": re.compile(_INFO + r"Average:\s*" + _NUMBER + r"\s*(ms|us)"),
    "min": re.compile(_INFO + r"Min:\s*" + _NUMBER + r"\s*(ms|us)"),
    "max": re.compile(_INFO + r"Max:\s*" + _NUMBER + r"\s*(ms|us)"),
    "throughput": re.compile(_INFO + r"Throughput:\s*" + _NUMBER + r"\s*FPS", re.IGNORECASE),
    "requests": re.compile(r"Start inference \w+?hronously,\s*(\d+)\s+inference requests"),
    "sync": re.compile(r"Start inference synchronously"),
    "streams_step10": re.compile(r"using\s+(\d+)\s+streams for\s+(\w+)"),
    "NUM_STREAMS": re.compile(_INFO + r"NUM_STREAMS:\s*(\d+)"),
    "INFERENCE_NUM_THREADS": re.compile(_INFO + r"INFERENCE_NUM_THREADS:\s*(\d+)"),
    "precision_hint": re.compile(_INFO + r"INFERENCE_PRECISION_HINT:\s*(?:<Type: ')?(\w+)"),
    "device_line": re.compile(_INFO + r"Device info:"),
}


def _benchmark_app(name: str, lines: list[str], common: dict[str, Any], runtime: str | None,
                   precision: str | None, threads: int | None) -> list[dict[str, Any]]:
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ImportError_([Problem(name, "line 1", "expected benchmark_app's report or log, "
                                    "found an empty file")])
    if lines[first].strip() in _SECTIONS:
        found = _report(name, lines)
        kind = "benchmark_app report"
    else:
        found = _log(name, lines)
        kind = "benchmark_app log"
    problems = []
    requests = int(found.values.get("requests", 1))
    if found.texts.get("api", "async") == "sync":
        requests = 1
    batch = int(found.values.get("batch", 1))
    if batch != 1:
        problems.append(Problem(name, f"line {found.lines['batch']}", f"batch size {batch}: "
                                f"dse's rows are inferences of one frame; re-run with -b 1"))
    device_name = found.texts.get("target_device", "")
    rt = runtime or _OV_RUNTIMES.get(device_name.split(".")[0].upper())
    if rt is None:
        said = f"target device {device_name!r}" if device_name else "no target device"
        problems.append(Problem(name, "target device", f"cannot tell the runtime ({said} in "
                                f"the file); pass --runtime (openvino_cpu, openvino_myriad)"))
    prec = precision
    if prec is None and "precision_hint" in found.texts:
        prec = _OV_PRECISIONS.get(found.texts["precision_hint"].lower())
        if prec is None:
            problems.append(Problem(name, f"line {found.lines['precision_hint']}", f"unknown "
                                    f"INFERENCE_PRECISION_HINT {found.texts['precision_hint']!r}"
                                    f"; pass --precision"))
    assumed = prec is None
    prec = prec or "fp32"
    per_stream = threads
    if per_stream is None and "INFERENCE_NUM_THREADS" in found.values:
        streams = max(1, int(found.values.get("NUM_STREAMS", 1)))
        per_stream = max(1, int(found.values["INFERENCE_NUM_THREADS"]) // streams)
    if per_stream is None:
        problems.append(Problem(name, "configuration", "the file does not say the threads of "
                                "one stream (INFERENCE_NUM_THREADS / NUM_STREAMS are in the log's "
                                "step 8, not in the report); pass --threads"))
    if found.texts.get("latency_kind", "median") != "median" and "avg_ms" not in found.values:
        problems.append(Problem(name, f"line {found.lines['latency_kind']}", "a latency "
                                "percentile other than the median and no average latency: "
                                "dse's latency rows are medians or means"))
    if problems:
        raise ImportError_(problems)
    assert per_stream is not None and rt is not None  # for mypy: problems raised above
    spread = ", ".join(f"{k} {found.values[k]:.4g} ms" for k in ("avg_ms", "min_ms", "max_ms")
                       if k in found.values)
    streams_text = (f"NUM_STREAMS {int(found.values['NUM_STREAMS'])}, "
                    if "NUM_STREAMS" in found.values else "")
    latency = found.values["latency_ms"]
    kind_of = found.texts.get("latency_kind", "median")
    if kind_of != "median":
        # dse's latency is a median; a file run with -latency_percentile has the mean instead
        latency, kind_of = found.values["avg_ms"], (f"mean (the file's {kind_of} is "
                                                   f"{found.values['latency_ms']:.4g} ms)")
    source = (f"{kind} {name}: {streams_text}{requests} infer request"
              f"{'s' if requests > 1 else ''}, {per_stream} thread{'s' if per_stream > 1 else ''}"
              f" per stream{'' if threads is None else ' (as given)'}; precision {prec}"
              f"{' (assumed: the file does not say)' if assumed else ''}; latency = {kind_of}"
              f"{'; ' + spread if spread else ''}")
    row = {**common, "runtime": rt, "precision": prec,
           "policy": "single" if requests == 1 else "threads", "threads": per_stream,
           "streams": requests, "source": source}
    return [{**row, "metric": "latency", "value": latency, "unit": "ms"},
            {**row, "metric": "throughput", "value": found.values["throughput_fps"],
             "unit": "fps"}]


def _report(name: str, lines: list[str]) -> _Found:
    """``benchmark_report.csv``: sections of ``key;value`` lines."""
    found = _Found()
    problems = []
    section = None
    keys = {"latency (ms)": "latency_ms", "avg latency": "avg_ms", "min latency": "min_ms",
            "max latency": "max_ms", "throughput": "throughput_fps",
            "number of parallel infer requests": "requests", "batch size": "batch"}
    for i, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line in _SECTIONS:
            section = line
            continue
        if ";" not in line:
            problems.append(Problem(name, f"line {i}", f"expected a section title "
                                    f"({', '.join(_SECTIONS)}) or a key;value line, found "
                                    f"{_short(line)!r}"))
            continue
        key, value = (part.strip() for part in line.split(";", 1))
        if section == "Configuration setup":
            if key == "API":
                found.put("api", value, i)
            elif key == "target device":
                found.put("target_device", value, i)
            elif re.fullmatch(r"number of \w+ streams", key):
                _number(found, problems, name, i, "NUM_STREAMS", value)
        if key in ("number of parallel infer requests", "batch size") or (
                section == "Execution results" and (key in keys or key.startswith("latency ("))):
            target = keys.get(key, "latency_ms")
            if key.startswith("latency (") and key != "latency (ms)":
                found.put("latency_kind", key.removeprefix("latency (").split(")")[0], i)
            # group rows (-pcseq) repeat avg/min/max: the first, whole-run ones are kept
            if target not in found.values:
                _number(found, problems, name, i, target, value)
    for key, what in (("throughput_fps", "throughput;<FPS>"),
                      ("latency_ms", "latency (ms);<median>")):
        if key not in found.values and not problems:
            problems.append(Problem(name, f"line {len(lines)}", f"expected an 'Execution "
                                    f"results' section with {what}, found none"))
    if problems:
        raise ImportError_(problems)
    return found


def _log(name: str, lines: list[str]) -> _Found:
    """benchmark_app's console output."""
    found = _Found()
    in_latency = False
    for i, line in enumerate(lines, start=1):
        for key, pattern in _LOG_PATTERNS.items():
            m = pattern.search(line)
            if m is None:
                continue
            if key in ("median", "average", "min", "max"):
                # Latency block only (the per-group blocks of -pcseq come later; keep the first)
                target = {"median": "latency_ms", "average": "avg_ms", "min": "min_ms",
                          "max": "max_ms"}[key]
                if in_latency and target not in found.values:
                    scale = 1e-3 if m.group(2) == "us" else 1.0
                    found.put(target, float(m.group(1)) * scale, i)
                    if key == "median" and "percentile" in line:
                        found.put("latency_kind", line.split(":")[-2].strip().split()[-2] +
                                  " percentile", i)
            elif key == "latency_one_line":
                scale = 1e-3 if m.group(2) == "us" else 1.0
                found.put("latency_ms", float(m.group(1)) * scale, i)
            elif key == "streams_step10":
                found.put("NUM_STREAMS", float(m.group(1)), i)
                found.put("target_device", m.group(2), i)
            elif key == "sync":
                found.put("api", "sync", i)
            elif key == "precision_hint":
                found.put("precision_hint", m.group(1), i)
            elif key == "device_line":
                # the next non-empty line names the device ("[ INFO ] CPU")
                nxt = next((x for x in lines[i:] if x.strip()), "")
                found.put("target_device", re.sub(r"^\s*\[\s*INFO\s*\]\s*", "", nxt).strip(),
                          i + 1)
            elif key == "throughput":
                found.put("throughput_fps", float(m.group(1)), i)
            elif key in ("count", "duration_ms", "requests", "NUM_STREAMS",
                         "INFERENCE_NUM_THREADS") and key not in found.values:
                found.put(key, float(m.group(1)), i)
        if re.search(_INFO + r"Latency:\s*$", line):
            in_latency = True
        elif "Throughput" in line or "Latency for each data shape group" in line:
            in_latency = False
    if "throughput_fps" not in found.values or "latency_ms" not in found.values:
        raise ImportError_([_none_found(name, lines, "benchmark_app's summary ('Latency:' with "
                                        "'Median: <t> ms', or 'Latency: <t> ms', and "
                                        "'Throughput: <fps> FPS')")])
    return found


def _none_found(name: str, lines: list[str], expected: str) -> Problem:
    """A file without the lines its format must have: say so at its first line."""
    first = next((line.strip() for line in lines if line.strip()), "")
    return Problem(name, "line 1", f"expected {expected} somewhere in the file, found none in "
                   f"its {len(lines)} lines; line 1 is {_short(first)!r}")


def _number(found: _Found, problems: list[Problem], name: str, line: int, key: str,
            value: str) -> None:
    try:
        number = float(value)
    except ValueError:
        problems.append(Problem(name, f"line {line}", f"expected a number for {key}, found "
                                f"{_short(value)!r}"))
        return
    found.put(key, number, line)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ----- TensorFlow Lite benchmark_model ----------------------------------------------------------

_TIMINGS = re.compile(r"Inference timings in us:\s*(.*)$", re.IGNORECASE)
_STATS = re.compile(r"count=(\d+)\s+first=\S+\s+curr=\S+\s+(.*)$")
_KEYVAL = re.compile(r"(\w+)=" + _NUMBER)
_NUM_THREADS = re.compile(r"Num threads:\s*\[(-?\d+)\]")
_DELEGATE = re.compile(r"Use (gpu|nnapi|xnnpack)\s*:\s*\[(1|true)\]", re.IGNORECASE)


def _tflite(name: str, lines: list[str], common: dict[str, Any], runtime: str | None,
            precision: str | None, threads: int | None
            ) -> tuple[list[dict[str, Any]], pd.DataFrame | None]:
    found = _Found()
    problems: list[Problem] = []
    stats: list[tuple[int, dict[str, float]]] = []
    delegates: set[str] = set()
    for i, line in enumerate(lines, start=1):
        m = _TIMINGS.search(line)
        if m is not None:
            parts = dict(part.split(":", 1) for part in m.group(1).split(",") if ":" in part)
            parts = {k.strip(): v.strip() for k, v in parts.items()}
            value = parts.get("Inference (avg)", parts.get("Inference"))
            if value is None:
                problems.append(Problem(name, f"line {i}", f"expected 'Inference (avg): <us>' "
                                        f"in the timings line, found {_short(m.group(1))!r}"))
            else:
                _number(found, problems, name, i, "avg_us", value)
            continue
        m = _STATS.search(line)
        if m is not None:
            stats.append((i, {k: float(v) for k, v in _KEYVAL.findall(m.group(2))} |
                          {"count": float(m.group(1))}))
            continue
        m = _NUM_THREADS.search(line)
        if m is not None:
            found.put("threads", float(m.group(1)), i)
            continue
        m = _DELEGATE.search(line)
        if m is not None:
            delegates.add(m.group(1).lower())
    if "avg_us" not in found.values and not problems:
        raise ImportError_([_none_found(name, lines, "benchmark_model's 'Inference timings in "
                                        "us: ... Inference (avg): <us>' line")])
    n_threads = threads
    if n_threads is None and "threads" in found.values and found.values["threads"] >= 1:
        n_threads = int(found.values["threads"])
    if n_threads is None:
        problems.append(Problem(name, "configuration", "the log does not say the threads "
                                "('Num threads: [n]', or it is -1: the runtime's choice); pass "
                                "--threads"))
    rt = runtime or ("tflite_gpu" if "gpu" in delegates else
                     "tflite_nnapi" if "nnapi" in delegates else "tflite_cpu")
    if problems:
        raise ImportError_(problems)
    assert n_threads is not None  # for mypy: problems raised above
    # The timed runs' statistics: the last count= line (the first one is the warm-up's).
    timed = stats[-1][1] if stats else {}
    if "median" in timed:
        latency_us, kind = timed["median"], "median"
    else:
        latency_us, kind = found.values["avg_us"], "mean"
    spread = ", ".join(f"{k} {timed[k]:.6g} us" for k in ("min", "max", "avg", "std", "p5",
                                                          "p95") if k in timed)
    prec = precision or "fp32"
    source = (f"tflite benchmark_model log {name}: {n_threads} thread"
              f"{'s' if n_threads > 1 else ''}{' (as given)' if threads is not None else ''}"
              f"{', delegates ' + ', '.join(sorted(delegates)) if delegates else ''}; "
              f"latency = {kind} of {int(timed.get('count', 0)) or 'the'} timed runs"
              f"{'; ' + spread if spread else ''}; precision {prec}"
              f"{'' if precision else ' (assumed: the log does not say)'}")
    row = {**common, "runtime": rt, "precision": prec, "policy": "single",
           "threads": n_threads, "streams": 1, "source": source}
    rows = [{**row, "metric": "latency", "value": float(f"{latency_us:.6g}"), "unit": "us"}]
    ops = _run_order(name, lines, common, n_threads)
    return rows, ops


def _run_order(name: str, lines: list[str], common: Mapping[str, Any], threads: int
               ) -> pd.DataFrame | None:
    """The ``Run Order`` table of ``--enable_op_profiling``, or ``None`` when there is none."""
    start = next((i for i, line in enumerate(lines) if "= Run Order =" in line), None)
    if start is None or start + 1 >= len(lines):
        return None
    header = [h.strip().strip("[]").lower() for h in lines[start + 1].split("\t") if h.strip()]
    need = ("node type", "first", "avg ms", "%", "name")
    missing = [h for h in need if h not in header]
    if missing:
        raise ImportError_([Problem(name, f"line {start + 2}", f"expected the Run Order "
                                    f"header with columns {', '.join(need)}; missing "
                                    f"{', '.join(missing)}")])
    rows = []
    problems = []
    for i in range(start + 2, len(lines)):
        cells = [c.strip() for c in lines[i].split("\t") if c.strip()]
        if not cells or lines[i].startswith("="):
            break
        if len(cells) != len(header):
            problems.append(Problem(name, f"line {i + 1}", f"expected {len(header)} "
                                    f"tab-separated cells, found {len(cells)}"))
            continue
        cell = dict(zip(header, cells, strict=True))
        try:
            rows.append({"workload": common["workload"], "options": common["options"],
                         "threads": threads, "node": cell["name"].strip("[]"),
                         "op_type": cell["node type"], "first_ms": float(cell["first"]),
                         "avg_ms": float(cell["avg ms"]),
                         "share": float(cell["%"].rstrip("%")) / 100.0})
        except ValueError:
            problems.append(Problem(name, f"line {i + 1}", f"expected numbers in first, avg "
                                    f"ms and %, found {_short(lines[i].strip())!r}"))
    if problems:
        raise ImportError_(problems)
    return pd.DataFrame(rows, columns=list(OP_COLUMNS))
