"""Micro-NPUs and microcontrollers: which model fits which device, at what latency and energy,
and how far the achieved ops/s fall from the claimed peak.

A study whose platforms run on a micro-NPU or a microcontroller (device kinds ``micro_npu`` and
``mcu``) gets a section of its report from :func:`add_section`:

- **fit and achieved against claimed peak**: per (model, device doing the work), the memory
  footprint (:func:`dse.cost.footprint.footprint`: weights and where they live, the planned
  arena, whether everything fits and by how much it is over), the simulated latency and energy,
  a naive baseline (latency = the model's ops / the device's claimed peak), and the achieved
  ops/s as a share of that peak. Ops here are 2 x the multiply-accumulates, as peaks are
  claimed: the other work (pooling, element-wise) is part of what keeps a device below it;
- **latency against model size**, one panel per device, with the naive baseline as a line, so
  that scaling that is not proportional to the work shows (a model falling back to the host
  core, a model too small to fill the array);
- **spec against measurement**: for every microcontroller or micro-NPU with MLPerf Tiny rows in
  the shared data (``mlperf_tiny_results.csv``, through
  :mod:`dse.calibrate.loaders.mlperf_tiny`) running the study's models, the measured latency
  beside the engine's prediction from datasheet values and the naive baseline, with their
  errors. Devices of the study without rows are named: their figures are predictions only.

Claimed peaks and memories are the catalog's datasheet values (not a calibration overlay): the
question is how far the datasheet is from what runs.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dse.files import save_figure
from dse.spec.units import format_quantity
from dse.workloads.graph import PRECISION_BYTES

if TYPE_CHECKING:
    from dse.devices import Catalog
    from dse.report.document import Document
    from dse.search.study import ExploreResult
    from dse.workloads import Workload

__all__ = ["KINDS", "add_section", "applies", "fit_table", "latency_figure", "measured_table"]

logger = logging.getLogger(__name__)

#: The device kinds this section is about.
KINDS = ("micro_npu", "mcu")

FIGURE = "unpu_latency"


def _catalog() -> Catalog:
    from dse.devices import default_catalog

    return default_catalog()


def _platforms(result: ExploreResult) -> list[str]:
    names = [str(p) for p in result.trials.get("platform", pd.Series(dtype=str)).dropna()]
    dims = [d for d in result.experiment.dimensions if d.path == "platform.host"]
    names += [str(c) for d in dims for c in d.choices]
    names.append(str(result.experiment.config.platform.host))
    return list(dict.fromkeys(n for n in names if n))


def applies(result: ExploreResult, catalog: Catalog | None = None) -> bool:
    """Whether a platform of the study has a micro-NPU or microcontroller."""
    catalog = catalog or _catalog()
    used = result.trials.get("devices_used", pd.Series(dtype=str)).dropna()
    for names in used:
        for name in str(names).split(","):
            name = name.strip().split(":")[0]
            if name in catalog.devices and catalog.device(name).kind in KINDS:
                return True
    for name in _platforms(result):
        platform = catalog.platforms.get(name.split("+", 1)[0])
        if platform is None:
            continue
        for device in [*platform.host, *platform.accelerators]:
            if device in catalog.devices and catalog.device(device).kind in KINDS:
                return True
    return False


def _workload(result: ExploreResult, row: pd.Series) -> tuple[Workload, str]:
    from dse.workloads import workload

    exp = result.experiment
    choices = {d.path: row[f"param:{d.path}"] for d in exp.dimensions
               if f"param:{d.path}" in row and pd.notna(row[f"param:{d.path}"])}
    ref = exp.fixed(choices).workloads[0]
    precision = ref.precision or "int8"
    source: Any = ref.zoo
    if source is None:
        path = Path(ref.onnx or "")
        source = path if path.is_absolute() else exp.base_dir / path
    return workload(source, precision=precision, **ref.options), precision


def _worker(row: pd.Series, catalog: Catalog) -> str | None:
    """The device that did the work in a trial (the first of ``devices_used``), else the
    platform's first accelerator, else its host."""
    used = str(row.get("devices_used") or "").split(",")[0].strip().split(":")[0]
    if used in catalog.devices:
        return used
    label = str(row.get("platform") or row.get("param:platform.host") or "")
    platform = catalog.platforms.get(label.split("+", 1)[0])
    if platform is None:
        return None
    names = [*platform.accelerators, *platform.host]
    return names[0] if names else None


def fit_table(result: ExploreResult, catalog: Catalog | None = None) -> pd.DataFrame:
    """One row per trial on a micro-NPU or microcontroller (the last trial of each (model,
    platform)): model, ops, platform, device, runtime, weight bytes and where they live, the
    planned arena, ``fits``, ``use`` (each declared memory's share in use) and ``over`` (the
    footprint's reason), the simulated latency and
    energy (``NaN`` when the trial was infeasible; ``reason`` says why), the naive latency
    (ops / claimed peak), the achieved ops/s and its share of the claimed peak, and
    ``host_layers``: the layers the device does not support (run on its host core when it
    falls back)."""
    from dse.cost.footprint import footprint
    from dse.cost.memory import no_pass
    from dse.cost.model import layers_on_device, runtime_counts, supported_layers

    catalog = catalog or _catalog()
    trials = result.trials
    if trials.empty:
        return pd.DataFrame()
    rows = []
    keys = [c for c in trials.columns if c.startswith("param:")]
    done = trials[trials["state"] == "COMPLETE"] if "state" in trials else trials
    for _, row in done.drop_duplicates(keys, keep="last").iterrows():
        name = _worker(row, catalog)
        if name is None or catalog.device(name).kind not in KINDS:
            continue
        device = catalog.device(name)
        w, precision = _workload(result, row)
        runtime = device.default_runtime
        spec = catalog.runtimes.get(runtime) if runtime else None
        counts = runtime_counts(w, spec)
        # as the simulation counts it: the weights of the layers the device runs itself
        fp = footprint(w, device, precision, runtime=spec, counts=counts,
                       mask=layers_on_device(counts, device))
        feasible = bool(row.get("feasible"))
        latency_s = float(row["latency_p50_ms"]) / 1e3 if feasible else math.nan
        peak = device.peak_ops_s.get(precision, math.nan)
        ops = 2.0 * w.macs  # as peaks are claimed: 1 MAC = 2 ops, other work not counted
        achieved = ops / latency_s if feasible and latency_s > 0 else math.nan
        where = ", ".join(f"{m}" for m, b in fp.weights.items() if b)
        # fused layers and reshapes run nowhere
        host_layers = int((~supported_layers(counts, device) & ~no_pass(counts)).sum())
        rows.append({
            "model": w.name, "ops": ops, "params": float(w.params),
            "platform": str(row.get("platform") or ""), "device": name,
            "runtime": runtime or "", "weights_bytes": fp.weight_bytes, "weights_in": where,
            "arena_bytes": float(fp.arena_bytes + fp.scratch_bytes), "fits": fp.fits,
            "use": ", ".join(f"{m} {fp.used.get(m, 0.0) / cap:.0%}"
                             for m, cap in fp.capacity.items() if cap),
            "over": fp.reason, "feasible": feasible,
            "reason": "" if feasible else str(row.get("reason") or ""),
            "latency_ms": latency_s * 1e3,
            "energy_uj": float(row["energy_per_inference_j"]) * 1e6 if feasible else math.nan,
            "naive_ms": ops / peak * 1e3 if peak == peak else math.nan,
            "peak_ops_s": peak, "achieved_ops_s": achieved, "host_layers": host_layers,
            "share_of_peak": achieved / peak if peak == peak else math.nan,
        })
    out = pd.DataFrame(rows)
    return out.sort_values(["device", "ops"], ignore_index=True) if not out.empty else out


def measured_table(models: list[str], catalog: Catalog | None = None,
                   data: Path | None = None) -> pd.DataFrame:
    """MLPerf Tiny latencies of ``models`` on every microcontroller and micro-NPU of the
    catalog that has rows (one row per device and model: the device's default runtime if it
    was measured, else the fastest stack), beside the engine's prediction from datasheet
    values and the naive ops / claimed peak. ``error`` and ``naive_error`` are relative to the
    measurement (positive: predicted slower). Empty when the data file is absent."""
    from dse.calibrate.loaders import data_dir, load
    from dse.cost.model import model_cost
    from dse.workloads import workload

    catalog = catalog or _catalog()
    path = data or data_dir() / "mlperf_tiny_results.csv"
    if not path.is_file():
        return pd.DataFrame()
    rows = load("mlperf_tiny", path).measurements
    rows = rows[(rows["metric"] == "latency") & rows["workload"].isin(models)]
    out = []
    for (name, model), group in rows.groupby(["device", "workload"], sort=True):
        if name not in catalog.devices or catalog.device(name).kind not in KINDS:
            continue
        device = catalog.device(name)
        mine = group[group["runtime"] == device.default_runtime]
        pick = (mine if not mine.empty else group).sort_values("value_si").iloc[0]
        precision = str(pick["precision"]) if pick["precision"] in PRECISION_BYTES else "int8"
        w = workload(str(model), precision=precision)
        runtime = catalog.runtimes.get(str(pick["runtime"]))
        link = catalog.links.get(device.link) if device.link else None
        host = catalog.platforms.get(str(pick["host"]))
        fallback = catalog.device(next(iter(host.host))) if host is not None and \
            device.link else None
        cost = model_cost(w, device, precision, fallback=fallback, link=link, runtime=runtime)
        measured = float(pick["value_si"])
        predicted = cost.time_s if cost.feasible else math.nan
        ops = 2.0 * w.macs
        naive = ops / device.peak_ops_s[precision] if precision in device.peak_ops_s \
            else math.nan
        out.append({"device": name, "model": str(model), "runtime": str(pick["runtime"]),
                    "measured_ms": measured * 1e3, "predicted_ms": predicted * 1e3,
                    "naive_ms": naive * 1e3, "error": predicted / measured - 1,
                    "naive_error": naive / measured - 1,
                    "achieved_share": ops / measured / device.peak_ops_s.get(precision,
                                                                             math.nan),
                    "source": str(pick["source"])})
    return pd.DataFrame(out)


def latency_figure(table: pd.DataFrame) -> Any:
    """One panel per device: simulated latency (points, by model) against the model's ops,
    the naive ops / claimed peak as a line, both axes log. ``None`` for an empty table."""
    ok = table[table["feasible"]] if not table.empty else table
    if ok.empty:
        return None
    from matplotlib.figure import Figure

    devices = list(dict.fromkeys(table["device"]))
    cols = min(2, len(devices))
    rows = math.ceil(len(devices) / cols)
    fig = Figure(figsize=(5.2 * cols, 3.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, devices, strict=False):
        part = table[table["device"] == name]
        good = part[part["feasible"]]
        ax.scatter(good["ops"], good["latency_ms"], color="tab:blue", zorder=3,
                   label="simulated")
        for _, r in good.iterrows():
            ax.annotate(str(r["model"]), (r["ops"], r["latency_ms"]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        bad = part[~part["feasible"]]
        if not bad.empty:
            ax.scatter(bad["ops"], bad["naive_ms"], marker="x", color="firebrick", zorder=3,
                       label="infeasible (at naive)")
        peak = float(part["peak_ops_s"].iloc[0])
        xs = np.geomspace(float(part["ops"].min()) / 2, float(part["ops"].max()) * 2, 20)
        ax.plot(xs, xs / peak * 1e3, color="grey", ls="--",
                label=f"ops / claimed peak ({peak / 1e9:,.3g} GOPS)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("model ops per inference")
        ax.set_ylabel("latency (ms)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(devices):]:
        ax.set_visible(False)
    return fig


def _ms(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _pct(value: float) -> str:
    return "-" if value != value else f"{value:.1%}" if value < 0.1 else f"{value:.0%}"


def _bytes(value: float) -> str:
    return format_quantity(float(value), "bytes", digits=3)


def add_section(doc: Document, result: ExploreResult, *, catalog: Catalog | None = None,
                out: Path | None = None) -> list[str]:
    """Add the micro-NPU section to ``doc`` (see the module docstring) when the study's
    platforms have such devices; the latency figure is written to ``out`` (atomically) when
    given. Returns the names of the files written."""
    catalog = catalog or _catalog()
    if not applies(result, catalog):
        return []
    table = fit_table(result, catalog)
    if table.empty:
        return []
    doc.heading("Fit, latency and achieved against claimed peak")
    doc.table(["model", "device", "weights (where)", "arena", "fits", "latency ms",
               "naive ms", "energy uJ", "achieved GOPS", "of peak"],
              [[str(r["model"]), str(r["device"]),
                f"{_bytes(r['weights_bytes'])} ({r['weights_in'] or '-'})",
                _bytes(r["arena_bytes"]),
                f"yes ({r['use']})" if r["fits"] else f"**no**: {r['over']}",
                _ms(r["latency_ms"]) if r["feasible"] else f"infeasible: {r['reason']}",
                _ms(r["naive_ms"]), _ms(r["energy_uj"]),
                "-" if r["achieved_ops_s"] != r["achieved_ops_s"]
                else f"{r['achieved_ops_s'] / 1e9:.3g}", _pct(r["share_of_peak"])]
               for _, r in table.iterrows()])
    fits = table.groupby("device")["fits"].agg(["sum", "count"])
    doc.text("Per (model, device doing the work): the weights and the memory they live in, "
             "the planned activation arena (with the runtime's scratch buffers), whether "
             "everything fits the device's declared memories and how full each one is "
             "(" + ", ".join(f"{d} {int(s)} of {int(c)}" for d, (s, c) in fits.iterrows())
             + " models fit), the simulated p50 latency and energy, the naive latency (the "
             "model's ops / the datasheet's claimed peak) and the achieved ops/s as a share "
             "of that peak. A model that does not fit is an infeasible configuration in the "
             "search too.")
    ok = table[table["feasible"] & (table["share_of_peak"] == table["share_of_peak"])]
    if not ok.empty:
        lines = []
        for name, part in ok.groupby("device", sort=False):
            lo, hi = part.loc[part["share_of_peak"].idxmin()], \
                part.loc[part["share_of_peak"].idxmax()]
            ratio = part["latency_ms"] / part["naive_ms"]
            line = (f"{name}: {_pct(lo['share_of_peak'])} ({lo['model']}) to "
                    f"{_pct(hi['share_of_peak'])} ({hi['model']}) of the claimed "
                    f"{hi['peak_ops_s'] / 1e9:,.3g} GOPS; latency {ratio.min():.3g}x to "
                    f"{ratio.max():.3g}x the naive one")
            if ratio.max() < 1.1:
                line += (" (the engine knows no efficiency below the peak for this device: "
                         "no measurement is behind it, so its prediction is the naive "
                         "baseline; see the measured parts below for how far that is)")
            fallback = part[part["host_layers"] > 0]
            if not fallback.empty:
                line += "; layers run on the host core: " + ", ".join(
                    f"{r['model']} {int(r['host_layers'])}" for _, r in fallback.iterrows())
            lines.append(line)
        doc.items(lines)
    written = []
    fig = latency_figure(table)
    if fig is not None:
        caption = ("Simulated latency against the model's ops, one panel per device; the "
                   "dashed line is ops / claimed peak. Points far above it, or a slope other "
                   "than the line's, are the gap between the datasheet and what runs.")
        if out is not None:
            paths = save_figure(fig, out / FIGURE)
            written = [p.name for p in paths]
            doc.image(f"{FIGURE}.png", paths[0].read_bytes(), caption)
        else:
            import io

            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=110)
            doc.image(f"{FIGURE}.png", buffer.getvalue(), caption)
    models = sorted(set(table["model"]))
    try:
        measured = measured_table(models, catalog)
    except Exception:  # the comparison is extra: its failure must not cost the report
        logger.exception("the MLPerf Tiny comparison failed")
        measured = pd.DataFrame()
    doc.heading("Spec against measurement (MLPerf Tiny)", 3)
    studied = sorted(set(table["device"]))
    have = set(measured["device"]) if not measured.empty else set()
    missing = [d for d in studied if d not in have]
    if missing:
        doc.text(f"No MLPerf Tiny row in the shared data for {', '.join(missing)}: their "
                 f"figures above are predictions only. The measured microcontrollers and "
                 f"micro-NPUs below run the same models; they show how far the engine's "
                 f"datasheet-based prediction and the naive ops / peak are from a "
                 f"measurement on parts of the same classes.")
    if measured.empty:
        doc.text("No measured rows found (mlperf_tiny_results.csv not in the data folder).")
        return written
    doc.table(["device", "model", "runtime", "measured ms", "predicted ms", "error",
               "naive ms", "naive error", "of peak"],
              [[str(r["device"]), str(r["model"]), str(r["runtime"]), _ms(r["measured_ms"]),
                _ms(r["predicted_ms"]), f"{r['error']:+.0%}", _ms(r["naive_ms"]),
                f"{r['naive_error']:+.0%}", _pct(r["achieved_share"])]
               for _, r in measured.iterrows()])
    err = measured["error"].abs()
    naive = measured["naive_error"].abs()
    doc.text(f"Predicted from datasheet values (no calibration overlay), so the rows are not "
             f"fitted to: median absolute error {err.median():.0%} (max {err.max():.0%}) for "
             f"the engine, {naive.median():.0%} (max {naive.max():.0%}) for the naive ops / "
             f"claimed peak, over {len(measured)} (device, model) pairs. 'of peak' is the "
             f"measured ops/s as a share of the claimed peak.")
    return written
