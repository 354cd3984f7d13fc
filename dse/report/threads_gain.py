"""What host threads gain on one accelerator, per model: the multithreading study's
characterisation.

With one accelerator core that runs one task at a time, extra host threads can only overlap the
work a frame does off the accelerator (pre- and post-processing, layers that fall back to the
host CPU, the driver, transfers) with the accelerator's compute. So the gain from threads is
governed by each model's *off-accelerator share*: the part of a single-threaded frame's latency
spent outside the accelerator, ``h = 1 - device_s / latency_1``. If that work overlapped
perfectly, throughput would rise to the accelerator's own rate, ``1 / (1 - h)`` times the
single-threaded one (fewer if the host's cores or the threads run out first); a model that is
nearly all accelerator time gains nothing.

:func:`threads_gain` reads a study whose dimensions include ``execution.threads``: for every
combination of the other dimensions (model, accelerator size, ...) it takes the throughput at
each thread count, the gain over the fewest threads, the model's size and its off-accelerator
share (the accelerator's busy time per frame from the configuration's plan, i.e. from the cost
model, over the measured single-thread latency). :func:`threads_figure` plots the gain against
that share, and against the model's size.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dse.search.study import ExploreResult
    from dse.spec.experiment import Experiment

__all__ = ["THREADS_PATH", "ThreadsGain", "threads_figure", "threads_gain", "threads_section"]

logger = logging.getLogger(__name__)

#: The dimension whose values are the host threads.
THREADS_PATH = "execution.threads"


@dataclass(frozen=True)
class ThreadsGain:
    """The gain from threads of every combination of a study's other dimensions.

    Attributes:
        table: One row per combination: ``group`` (its other dimensions' values, as text),
            ``workload``, ``device`` (the accelerator that did the work), ``gops`` (the model's
            operations per inference, 1e9), ``device_ms`` (the accelerator's busy time per
            frame), ``latency_1_ms`` (mean latency at the fewest threads), ``off_share``
            (``1 - device_ms / latency_1_ms``), ``ideal_gain`` (``1 / (1 - off_share)``),
            ``fps:T`` and ``gain:T`` for every thread count ``T`` (throughput, and its ratio
            to the fewest threads' throughput), ``best_gain``, ``best_threads`` and
            ``bottlenecks`` (at the most threads).
        threads: The thread counts, ascending.
    """

    table: pd.DataFrame
    threads: tuple[int, ...]


def _ops(experiment: Experiment, config: Any) -> float:
    """Operations per inference of a configuration's (first) workload."""
    from dse.workloads import workload

    ref = config.workloads[0]
    precision = ref.precision or "int8"
    if ref.zoo is not None:
        return float(workload(ref.zoo, precision=precision, **ref.options).ops)
    path = Path(ref.onnx or "")
    path = path if path.is_absolute() else experiment.base_dir / path
    return float(workload(path, precision=precision, **ref.options).ops)


def _device_s(plan: Any, device_unit: str) -> float:
    """The accelerator's busy time per frame: the holds of ``device_unit`` on one route."""
    for worker in plan.workers:
        for route in worker.routes.values():
            held = [h.time_s for h in route if h.device == device_unit]
            if held:
                return float(sum(held))
    return float("nan")


def threads_gain(result: ExploreResult) -> ThreadsGain | None:
    """The gain from threads per combination of the other dimensions (see the module
    docstring); ``None`` when the study has no ``execution.threads`` dimension with two or more
    values, or too few feasible trials."""
    from dse.report.study_report import param_value
    from dse.sim.build import build_plan

    experiment, trials = result.experiment, result.trials
    dims = list(experiment.dimensions)
    if not any(d.path == THREADS_PATH for d in dims) or trials.empty:
        return None
    ok = trials[trials["feasible"].astype(bool) & (trials["state"] == "COMPLETE")].copy()
    col = f"param:{THREADS_PATH}"
    if ok.empty or col not in ok or ok[col].nunique() < 2:
        return None
    others = [d.path for d in dims if d.path != THREADS_PATH]
    ok["_threads"] = ok[col].astype(int)
    ok["_group"] = ok.apply(lambda r: ", ".join(f"{p}={r.get(f'param:{p}')}" for p in others),
                            axis=1) if others else ""
    threads = tuple(sorted(int(t) for t in ok["_threads"].unique()))
    rows = []
    ops_cache: dict[str, float] = {}
    for group, part in ok.groupby("_group", sort=False):
        by_t = part.sort_values("trial").drop_duplicates("_threads").set_index("_threads")
        first = by_t.loc[by_t.index.min()]
        choices = {d.path: param_value(first, d) for d in dims}
        row: dict[str, Any] = {"group": group}
        try:
            config = experiment.fixed(choices)
            plan = build_plan(config, base_dir=experiment.base_dir, file=experiment.file)
        except Exception:  # an extra table: its failure must not cost the report
            logger.exception("the plan of %s could not be built", group)
            continue
        ref = config.workloads[0]
        row["workload"] = ref.label
        key = f"{ref.label}@{ref.precision}"
        if key not in ops_cache:
            ops_cache[key] = _ops(experiment, config)
        row["gops"] = ops_cache[key] / 1e9
        unit = str(first.get("devices_used") or "").split(",")[0].strip()
        row["device"] = unit.split(":")[0]
        device_s = _device_s(plan, unit)
        latency_1 = float(first["latency_mean_ms"]) / 1e3
        row["device_ms"] = device_s * 1e3
        row["latency_1_ms"] = latency_1 * 1e3
        share = 1.0 - device_s / latency_1 if latency_1 > 0 else float("nan")
        row["off_share"] = share
        row["ideal_gain"] = 1.0 / (1.0 - share) if share < 1 else float("inf")
        base = float(first["throughput_fps"])
        for t in threads:
            fps = float(by_t.loc[t, "throughput_fps"]) if t in by_t.index else float("nan")
            row[f"fps:{t}"] = fps
            row[f"gain:{t}"] = fps / base if base > 0 else float("nan")
        gains = {t: row[f"gain:{t}"] for t in threads if not np.isnan(row[f"gain:{t}"])}
        best_t = max(gains, key=lambda t: (gains[t], -t))
        row["best_gain"], row["best_threads"] = gains[best_t], best_t
        row["bottlenecks"] = str(by_t.loc[by_t.index.max()].get("bottlenecks") or "")
        rows.append(row)
    if not rows:
        return None
    return ThreadsGain(pd.DataFrame(rows), threads)


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key putting ``dpu_b512`` before ``dpu_b1024``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def threads_figure(gain: ThreadsGain) -> Figure:
    """Two panels: the best gain from threads against the off-accelerator share (the ideal
    ``1 / (1 - h)`` drawn), and against the model's operations; one colour per accelerator."""
    from matplotlib.figure import Figure

    t = gain.table
    fig = Figure(figsize=(10, 4.2))
    left, right = fig.subplots(1, 2)
    devices = sorted(dict.fromkeys(t["device"]), key=_natural)
    cmap = __import__("matplotlib").colormaps["viridis"]
    for i, dev in enumerate(devices):
        part = t[t["device"] == dev]
        colour = cmap(i / max(len(devices) - 1, 1))
        size = 12 + 60 * np.sqrt(part["gops"] / max(float(t["gops"].max()), 1e-9))
        left.scatter(part["off_share"], part["best_gain"], s=size, color=colour, label=dev,
                     alpha=0.8, edgecolors="none")
        right.scatter(part["gops"], part["best_gain"], s=20, color=colour, label=dev,
                      alpha=0.8, edgecolors="none")
    h = np.linspace(0.0, min(0.95, max(0.5, float(t["off_share"].max()))), 100)
    cap = max(gain.threads)
    left.plot(h, np.minimum(1.0 / (1.0 - h), cap), color="grey", linestyle="--", linewidth=1,
              label=f"1/(1-h), at most {cap} threads")
    left.set_xlabel("off-accelerator share of a 1-thread frame, h")
    left.set_ylabel(f"best throughput gain from threads (up to {cap})")
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="upper left")
    right.set_xscale("log")
    right.set_xlabel("model operations per inference (GOPs)")
    right.set_ylabel("best throughput gain from threads")
    right.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def threads_section(doc: Any, gain: ThreadsGain, *, image: tuple[str, bytes] | None = None,
                    top: int = 40) -> None:
    """Add the characterisation to a report :class:`~dse.report.document.Document`."""
    t = gain.table.sort_values(["off_share"], ascending=False)
    cap = max(gain.threads)
    doc.heading("What host threads gain, per model")
    corr = t[["off_share", "best_gain"]].corr(method="spearman").iloc[0, 1] \
        if len(t) > 2 else float("nan")
    size_corr = t[["gops", "best_gain"]].corr(method="spearman").iloc[0, 1] \
        if len(t) > 2 else float("nan")
    doc.text(
        f"{len(t)} combinations of the other dimensions, each at {', '.join(map(str, gain.threads))} "
        f"threads. The best gain over {min(gain.threads)} thread(s) ranges from "
        f"{t['best_gain'].min():.2f}x to {t['best_gain'].max():.2f}x (median "
        f"{t['best_gain'].median():.2f}x). Its rank correlation (Spearman) with the "
        f"off-accelerator share h is {corr:+.2f}, with the model's operations "
        f"{size_corr:+.2f}: threads help the models that spend their frame off the "
        f"accelerator, as overlapping that work with the accelerator is all they can do with "
        f"one accelerator core. The dashed curve 1/(1-h) is the gain if that work overlapped "
        f"completely, capped at {cap} threads; points below it are held back by the host's "
        f"cores, the link or frames in flight (the bottleneck column).")
    cols = [f"gain:{t_}" for t_ in gain.threads if t_ != min(gain.threads)]
    doc.table(["model", "accelerator", "GOPs", "accel ms", "1-thread ms", "h",
               "1/(1-h)", *[c.replace("gain:", "x at ") for c in cols],
               f"bottleneck at {cap}"],
              [[str(r["workload"]), str(r["device"]), f"{r['gops']:.3g}",
                f"{r['device_ms']:.3g}", f"{r['latency_1_ms']:.3g}", f"{r['off_share']:.2f}",
                f"{r['ideal_gain']:.2f}", *[f"{r[c]:.2f}" for c in cols],
                str(r["bottlenecks"] or "-")]
               for _, r in t.head(top).iterrows()])
    doc.text(f"Sorted by h; the first {min(top, len(t))} of {len(t)}. h = 1 - (accelerator "
             f"busy time per frame, from the cost model) / (mean latency with "
             f"{min(gain.threads)} thread(s), simulated).")
    if image is not None:
        doc.image(image[0], image[1],
                  "Best gain from threads against the off-accelerator share h (left; marker "
                  "size: model operations) and against the model's operations (right).")
