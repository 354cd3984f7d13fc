"""The kernel CSV: what ``dse host kernels`` (:mod:`dse.measure.kernels`) writes, one row per
kernel and thread count, and the host kernel fit (:mod:`dse.calibrate.kernel_fit`) reads. Its
columns and its reader, checked row by row, live here beside the measurement CSV's
(:mod:`dse.calibrate.measurements`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from dse.errors import DseError, Problem
from dse.workloads.kernel_suite import KernelSpec, SuiteError

__all__ = ["FEATURE_COLUMNS", "INT_COLUMNS", "KERNEL_COLUMNS", "TIME_COLUMNS", "KernelsError",
           "read_kernels"]

#: The columns of the kernel CSV, in order:
#:
#: - ``key``: hash of (family, params, threads, runtime, cpu, cores, ort_version): the resume key
#: - ``family``, ``params`` (canonical JSON): the spec, :func:`dse.workloads.kernel_suite.build` rebuilds
#:   the graph; ``source``: ``zoo:<model>``, ``random`` or ``adaptive``
#: - ``threads``: intra-op threads; ``runtime``: ``onnxruntime`` (CPU execution provider)
#: - dse's features of the kernel's graph, built through dse's ONNX frontend: ``op``,
#:   ``op_class``, ``kernel`` (:data:`dse.workloads.kernels.KERNEL_CLASSES`) of its main layer
#:   (the one with the most ops); ``dse_ops`` and ``dse_kernels``: op types and kernel classes
#:   of all its layers, ``+``-joined in graph order; ``layers``; ``macs``, ``ops``,
#:   ``weight_elems``, ``in_elems``, ``out_elems``: summed over its layers
#: - ``ort_ops``: op types ONNX Runtime executed in one run, after its fusions, ``+``-joined
#: - ``kernel_median_s``, ``kernel_p10_s``, ``kernel_p90_s``, ``kernel_min_s``, ``kernel_n``:
#:   the profiler's per-run sum of kernel times
#: - ``layout_median_s``, ``layout_p10_s``, ``layout_p90_s``, ``layout_min_s``: the part of
#:   that sum spent in layout conversions (:data:`dse.measure.kernels.LAYOUT_OPS`): a lone kernel graph converts its
#:   input to and its output from ONNX Runtime's blocked NCHWc layout, which a layer inside a
#:   model does not (the model's activations stay blocked from layer to layer)
#: - ``run_median_s``, ``run_p10_s``, ``run_p90_s``, ``run_min_s``, ``run_n``: ``run()`` wall time
#:   run after run (the kernel's weights and data stay in the core's caches)
#: - ``cold_median_s``, ``cold_p10_s``, ``cold_p90_s``, ``cold_min_s``: ``run()`` wall time with
#:   the caches swept before every run and the inputs read (``dse.measure.kernels._Evictor``):
#:   what a layer of a model too large for the core's private cache finds
#: - ``warmup``: untimed runs before the timed ones (wall-time session)
#: - ``cpu`` (model name), ``cores`` (usable CPUs), ``ort_version``, ``date`` (UTC, ISO 8601)
KERNEL_COLUMNS = (
    "key", "family", "params", "source", "threads", "runtime",
    "op", "op_class", "kernel", "dse_ops", "dse_kernels", "layers", "macs", "ops",
    "weight_elems", "in_elems", "out_elems", "ort_ops",
    "kernel_median_s", "kernel_p10_s", "kernel_p90_s", "kernel_min_s", "kernel_n",
    "layout_median_s", "layout_p10_s", "layout_p90_s", "layout_min_s",
    "run_median_s", "run_p10_s", "run_p90_s", "run_min_s", "run_n",
    "cold_median_s", "cold_p10_s", "cold_p90_s", "cold_min_s", "warmup",
    "cpu", "cores", "ort_version", "date",
)
#: Whole-number columns, and the times (seconds).
INT_COLUMNS = ("threads", "layers", "macs", "ops", "weight_elems", "in_elems", "out_elems",
                "kernel_n", "run_n", "warmup", "cores")
TIME_COLUMNS = tuple(c for c in KERNEL_COLUMNS if c.endswith("_s"))
#: Feature columns (what a predictor may use; no timings).
FEATURE_COLUMNS = KERNEL_COLUMNS[:KERNEL_COLUMNS.index("ort_ops")]



class KernelsError(DseError, ValueError):
    """Bad kernel-suite settings, or a malformed kernel CSV or journal."""


def read_kernels(path: Path | str) -> pd.DataFrame:
    """Read a kernel CSV (:data:`KERNEL_COLUMNS`), checked.

    Raises:
        KernelsError: A missing file, missing columns, or rows with bad values, every problem
            naming the file and line (the header is line 1).
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise KernelsError([Problem(file, "", "expected a kernel CSV, found no such file")])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise KernelsError([Problem(file, "", f"expected a CSV, could not parse it ({exc})")]
                           ) from None
    missing = [c for c in KERNEL_COLUMNS if c not in frame.columns]
    if missing:
        raise KernelsError([Problem(file, "line 1", f"missing columns {', '.join(missing)}; "
                                    f"expected {', '.join(KERNEL_COLUMNS)}")])
    problems: list[Problem] = []
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        r = row._asdict()
        where = f"line {i}"
        try:
            KernelSpec.from_json(r["family"], r["params"], file=file, where=where)
        except SuiteError as exc:
            problems += exc.problems
        for col in INT_COLUMNS:
            try:
                whole = int(r[col])
                if whole < (1 if col in ("threads", "cores", "layers") else 0):
                    raise ValueError
            except ValueError:
                problems.append(Problem(file, f"{where}: {col}", f"expected a whole number, "
                                        f"got {r[col]!r}"))
        for col in TIME_COLUMNS:
            try:
                value = float(r[col])
                if not (math.isfinite(value) and value >= 0):
                    raise ValueError
            except ValueError:
                problems.append(Problem(file, f"{where}: {col}", f"expected seconds >= 0, got "
                                        f"{r[col]!r}"))
        if not r["key"]:
            problems.append(Problem(file, f"{where}: key", "expected a key, found none"))
    if problems:
        raise KernelsError(problems)
    for col in INT_COLUMNS:
        frame[col] = frame[col].astype(np.int64)
    for col in TIME_COLUMNS:
        frame[col] = frame[col].astype(float)
    return frame.loc[:, list(KERNEL_COLUMNS)]
