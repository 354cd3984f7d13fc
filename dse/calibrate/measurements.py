"""Measurements: the CSV format calibration reads, and its validation.

One row per measured number, long format::

    device,host,link,runtime,workload,options,precision,policy,threads,streams,count,metric,value,
    unit,source,dataset

- ``device``: a catalog device (``kirin970_npu``); ``host``: the catalog platform (or host CPU
  device) it was measured on, empty for the device's own board; ``link``: the catalog link an
  accelerator was attached by (``usb2`` vs ``usb3``), empty for its default; ``runtime``: the
  catalog runtime (``devices/runtimes/``) that ran it (``ncnn_vulkan``, ``edgetpu``), empty for
  the device's ``default_runtime`` (a file without the column is read as all empty). Device x
  runtime x precision is the *target* a row measures; rows of different runtimes are different
  targets. ``workload``: a zoo model (``googlenet``) with
  zoo ``options`` as JSON (``{"width": 0.5}``) or empty; ``precision`` as dse names it.
- ``policy``/``threads``/``streams``/``count``: the configuration (``single`` with 1/1/1 is one
  inference at a time on one device); the policy is one the forward model predicts
  (:data:`dse.calibrate.forward.PREDICTED_POLICIES`).
- ``metric``: ``latency`` (unit ``s``/``ms``/``us``), ``throughput`` (``fps``, ``img/s``,
  ``inf/s``), ``power`` (``W``/``mW``), ``energy`` (``J``/``mJ``/``uJ``) per inference.
- ``source``: where the number was published; ``dataset``: which shipped table it came from.

:func:`read_measurements` checks every row and raises one error naming file, row and column of
every problem; values are converted to SI (seconds, frames/s, watts, joules) in ``value_si``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.calibrate.forward import PREDICTED_POLICIES
from dse.errors import DseError, Problem, WorkloadError, did_you_mean
from dse.sim.policies import policy_names
from dse.spec import loading
from dse.spec.loading import read_text_bounded
from dse.workloads.graph import PRECISION_BYTES

__all__ = ["COLUMNS", "METRIC_UNITS", "OPTIONAL", "SCHEMA", "MeasurementError",
           "read_measurements", "validate"]

COLUMNS = ("device", "host", "link", "runtime", "workload", "options", "precision", "policy",
           "threads", "streams", "count", "metric", "value", "unit", "source", "dataset")
#: Columns a file may leave out, and what a missing one means (empty: the device's default).
OPTIONAL = ("runtime",)
#: The columns of a validated table (:func:`validate`), and what each holds: ``text`` (a string,
#: empty for the default), ``whole`` (an integer >= 1) or ``number`` (a real number; ``value_si``
#: in SI units).
SCHEMA: dict[str, str] = {**dict.fromkeys(COLUMNS, "text"), "threads": "whole",
                          "streams": "whole", "count": "whole", "value": "number",
                          "value_si": "number"}

#: metric -> unit -> factor to its SI unit (s, frames/s, W, J).
METRIC_UNITS: dict[str, dict[str, float]] = {
    "latency": {"s": 1.0, "ms": 1e-3, "us": 1e-6},
    "throughput": {"fps": 1.0, "img/s": 1.0, "inf/s": 1.0},
    "power": {"W": 1.0, "mW": 1e-3},
    "energy": {"J": 1.0, "mJ": 1e-3, "uJ": 1e-6},
}
#: Largest ``threads``, ``streams`` and ``count`` of a row.
MAX_COUNT = 1_000_000


class MeasurementError(DseError, ValueError):
    """A measurement file is malformed."""


def validate(frame: pd.DataFrame, *, file: str = "<measurements>",
             known_devices: set[str] | None = None, known_runtimes: set[str] | None = None,
             known_hosts: set[str] | None = None,
             known_links: set[str] | None = None) -> pd.DataFrame:
    """Check a measurement table and add ``value_si``; every problem in one error.

    Rows are numbered as in the file (header = row 1). ``known_devices``, ``known_runtimes``,
    ``known_hosts`` (catalog names; hosts are platforms or host CPU devices) and
    ``known_links``, when given, are checked too; empty ``host``, ``link`` and ``runtime``
    cells mean the defaults and are not.

    Raises:
        MeasurementError: Missing columns, unknown metrics or units, values that are not
            positive numbers, unknown precisions, policies, devices, runtimes or hosts, bad
            options JSON.
    """
    missing = [c for c in COLUMNS if c not in frame.columns and c not in OPTIONAL]
    if missing:
        raise MeasurementError([Problem(file, "header", f"missing columns {missing}; expected "
                                        f"{', '.join(COLUMNS)}")])
    problems: list[Problem] = []
    frame = frame.copy()
    if "runtime" not in frame.columns:
        frame.insert(list(frame.columns).index("link") + 1, "runtime", "")
    si = []
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        def at(col: str, i: int = i) -> str:
            return f"row {i}, column {col}"

        metric, unit = str(row.metric), str(row.unit)
        factor = None
        if metric not in METRIC_UNITS:
            problems.append(Problem(file, at("metric"), f"expected one of "
                                    f"{', '.join(METRIC_UNITS)}, got {_short(metric)}"))
        elif unit not in METRIC_UNITS[metric]:
            problems.append(Problem(file, at("unit"), f"a {metric} in {_short(unit)}? expected "
                                    f"{', '.join(METRIC_UNITS[metric])}"))
        else:
            factor = METRIC_UNITS[metric][unit]
        try:
            value = float(row.value)
        except (TypeError, ValueError):
            value = float("nan")
        if not np.isfinite(value) or value <= 0:
            problems.append(Problem(file, at("value"), f"expected a number > 0, got "
                                    f"{_short(row.value)}"))
        si.append(value * factor if factor is not None and np.isfinite(value) else np.nan)
        if str(row.precision) not in PRECISION_BYTES:
            problems.append(Problem(file, at("precision"), f"expected one of "
                                    f"{', '.join(PRECISION_BYTES)}, got {_short(row.precision)}"))
        if str(row.policy) not in PREDICTED_POLICIES:
            problems.append(Problem(file, at("policy"), _policy_problem(row.policy)))
        for col in ("threads", "streams", "count"):
            v = getattr(row, col)
            if not (isinstance(v, int | np.integer) or (isinstance(v, float) and v.is_integer()))\
                    or v < 1:
                problems.append(Problem(file, at(col), f"expected a whole number >= 1, got "
                                        f"{_short(v)}"))
            elif v > MAX_COUNT:
                problems.append(Problem(file, at(col), f"expected a whole number <= "
                                        f"{MAX_COUNT:,}, got {_short(v)}"))
        if known_devices is not None and str(row.device) not in known_devices:
            problems.append(Problem(file, at("device"), did_you_mean(row.device, known_devices,
                                                                     what="device")))
        for col, known, what in (("runtime", known_runtimes, "runtime"),
                                 ("host", known_hosts, "host"), ("link", known_links, "link")):
            name = _cell(getattr(row, col))
            if known is not None and name and name not in known:
                problems.append(Problem(file, at(col), did_you_mean(name, known, what=what)))
        options = row.options
        parsed: Any = {}
        if isinstance(options, str) and options.strip():
            try:
                parsed = json.loads(options) if len(options) <= 4096 else None
                if not isinstance(parsed, dict):
                    raise ValueError
            except (ValueError, RecursionError):
                problems.append(Problem(file, at("options"), f"expected a JSON object such as "
                                        f'{{"width": 0.5}}, got {_short(options)}'))
                parsed = None
        problems += _workload_problems(row.workload, parsed, file, at)
    if problems:
        raise MeasurementError(problems)
    frame["value_si"] = si
    for col in ("threads", "streams", "count"):
        frame[col] = frame[col].astype(int)
    for col in ("options", "host", "link", "runtime"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def _policy_problem(policy: object) -> str:
    """Why a row's policy cannot be calibrated: not a policy at all, or a registered one whose
    rows the forward model does not predict."""
    known = ", ".join(PREDICTED_POLICIES)
    if str(policy) in policy_names():
        return (f"policy {str(policy)!r} cannot be calibrated: the forward model predicts rows "
                f"of {known} only")
    return f"expected one of {known}, got {_short(policy)}"


def _ragged_rows(text: str, file: str) -> list[Problem]:
    """Rows with more or fewer cells than the header (pandas would silently take the extra
    leading cells as an index and shift every column), numbered as :func:`validate` does."""
    width, problems = 0, []
    try:
        records = [r for r in csv.reader(io.StringIO(text))
                   if r and "".join(r).strip() and not r[0].lstrip().startswith("#")]
    except csv.Error as exc:
        return [Problem(file, "", f"not a readable CSV: {exc}")]
    for i, cells in enumerate(records, start=1):
        if i == 1:
            width = len(cells)
        elif len(cells) != width:
            problems.append(Problem(file, f"row {i}", f"expected {width} cells as in the "
                                    f"header, found {len(cells)}"))
    return problems[:20]


def _workload_problems(workload: object, options: dict[str, object] | None, file: str,
                       at: Callable[[str], str]) -> list[Problem]:
    """A workload that is neither a zoo model nor an ``.onnx`` path, and zoo options the model
    does not take (checked here so that the message names the row)."""
    from dse.workloads import zoo

    name = _cell(workload)
    if name.lower().endswith(".onnx"):
        return []
    found = zoo.resolve(name)
    if found is None:
        return [Problem(file, at("workload"), f"expected a zoo model or an .onnx file: "
                        f"{zoo.unknown_name(name)}")]
    if options:
        model, parsed = found
        try:
            model.check_size(model.validate({**parsed, **options}))
        except WorkloadError as exc:
            return [Problem(file, at("options"), str(p).removeprefix(f"{p.file}: "))
                    for p in exc.problems]
    return []


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _cell(value: object) -> str:
    """A text cell, empty for a missing value (pandas reads those as NaN)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def read_measurements(path: Path | str, *, known_devices: set[str] | None = None,
                      known_runtimes: set[str] | None = None,
                      known_hosts: set[str] | None = None,
                      known_links: set[str] | None = None) -> pd.DataFrame:
    """Read and validate a measurement CSV (see the module docstring and :func:`validate`).

    Raises:
        MeasurementError: The file cannot be read, or any row is invalid.
    """
    text, problems = read_text_bounded(path, limit=loading.MAX_CSV_BYTES, label=str(path))
    if text is None:
        raise MeasurementError(problems)
    ragged = _ragged_rows(text, str(path))
    if ragged:
        raise MeasurementError(ragged)
    try:
        frame = pd.read_csv(io.StringIO(text), comment="#", dtype={
            "options": str, "host": str, "link": str, "runtime": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise MeasurementError([Problem(str(path), "", f"not a readable CSV: {exc}")]) from None
    duplicated = sorted({str(c) for c in frame.columns if re.fullmatch(r".+\.\d+", str(c))
                         and str(c).rsplit(".", 1)[0] in COLUMNS})
    if duplicated:
        raise MeasurementError([Problem(str(path), "header", f"column {c.rsplit('.', 1)[0]!r} "
                                        "appears more than once") for c in duplicated])
    return validate(frame, file=str(path), known_devices=known_devices,
                    known_runtimes=known_runtimes, known_hosts=known_hosts,
                    known_links=known_links)
