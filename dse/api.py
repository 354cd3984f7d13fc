"""The tables the ``dse`` command prints, as DataFrames.

Each function here answers one command's question from the library (the zoo, the catalog, the
calibration) and returns numbers in SI units, unformatted; :mod:`dse.cli` only parses its
arguments, calls one of these, and renders the result. A notebook or a script gets the same
tables without the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dse.errors import DseError, Problem, did_you_mean
from dse.report.study_outputs import write_outputs
from dse.search import ExploreResult
from dse.search import explore as run_study

__all__ = [
    "Contention",
    "DeviceView",
    "HostKernelFit",
    "Prediction",
    "SpreadCheck",
    "catalog_device",
    "catalog_entry",
    "device_roofline",
    "device_table",
    "device_view",
    "explore",
    "fit_host_kernels",
    "fitted_parameters",
    "front_table",
    "host_contention",
    "host_summary",
    "kernel_fit_figures",
    "kernel_predictor",
    "kernel_summary",
    "link_table",
    "measurements",
    "memory_footprint",
    "metrics_table",
    "platform_table",
    "predict_measurements",
    "prediction_errors",
    "roofline_bounds",
    "spec_fields",
    "spread_check",
    "spread_overlay",
    "utilization_table",
    "validation_by_dataset",
    "zoo_table",
]


# ----- search -----------------------------------------------------------------------------------

def explore(experiment: Any, *, write: bool = True, **options: Any) -> ExploreResult:
    """Search an experiment's dimensions (:func:`dse.search.explore`, which takes
    ``options``) and write its output files into the study's folder
    (:func:`dse.report.study_outputs.write_outputs`: trials, front, plots, best YAMLs, report);
    ``write=False`` leaves the folder to the study's journal. ``dse explore`` and
    :func:`dse.explore` are this."""
    result = run_study(experiment, **options)
    if write and result.out is not None:
        write_outputs(result, result.out)
    return result


def front_table(result: ExploreResult) -> pd.DataFrame:
    """The Pareto front of a study (``dse explore``'s table), best first: its ``trial``, each
    searched parameter (``param:PATH``) and each objective's value (``value:METRIC``), in the
    units the metric's name says."""
    front = result.pareto
    params = [c for c in front.columns if c.startswith("param:")]
    values = [f"value:{g.metric}" for g in result.objectives]
    # an empty front may lack the columns: it still has them here
    return front.reindex(columns=["trial", *params, *values]).reset_index(drop=True)


# ----- workloads --------------------------------------------------------------------------------

def zoo_table(*, counts: bool = False,
              progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """The built-in zoo (``dse workloads``): one row per model with its ``name``, ``task``,
    ``summary`` and ``options`` (a dict of each option's default); with ``counts``, each model
    built and its ``params``, ``macs`` and ``nodes`` instead of the summary and options.

    Args:
        counts: Build every model (seconds) and count it.
        progress: Called with ``(done, total, label)`` before each model is built.
    """
    from dse.workloads import workload, zoo

    names = zoo.names()
    rows = []
    for i, name in enumerate(names):
        model = zoo.get(name)
        if counts:
            if progress is not None:
                progress(i, len(names), f"building {name}")
            w = workload(name)
            rows.append({"name": name, "task": model.task, "params": w.params,
                         "macs": w.macs, "nodes": w.nodes})
        else:
            rows.append({"name": name, "task": model.task, "summary": model.summary,
                         "options": dict(model.options)})
    columns = ["name", "task", *(("params", "macs", "nodes") if counts else
                                 ("summary", "options"))]
    return pd.DataFrame(rows, columns=columns)


def memory_footprint(w: Any, precision: str, *, device: str | None = None,
                     runtime: str | None = None, catalog: Any = None) -> Any:
    """A workload's memory footprint (``dse workloads show --memory``): on ``device`` (a
    catalog name; ``None``: no memories checked) under ``runtime`` (default: the device's;
    ``None`` without a device: none). Returns the :class:`dse.cost.footprint.Footprint`.

    Raises:
        DseError: An unknown device or runtime (the closest known ones named).
    """
    from dse.cost.footprint import footprint

    if catalog is None:
        from dse.devices import default_catalog

        catalog = default_catalog()
    spec = catalog_device(catalog, device) if device else None
    name = runtime or (spec.default_runtime if spec is not None else None)
    if name is not None and name not in catalog.runtimes:
        raise DseError([Problem("--runtime", "", did_you_mean(name, catalog.runtimes,
                                                               what="runtime"))])
    return footprint(w, spec, precision, runtime=catalog.runtimes.get(name) if name else None)


# ----- roofline ---------------------------------------------------------------------------------

def device_roofline(catalog: Any, device: str, source: str, *, precision: str | None = None,
                    dvfs: str | None = None, options: dict[str, Any] | None = None) -> Any:
    """Every layer of a workload priced on one device of ``catalog`` (``dse roofline``), at
    ``precision`` (default: the device's first) and DVFS level ``dvfs``; the workload is a zoo
    name or an ONNX file, built with ``options``. Returns the
    :class:`dse.cost.roofline.Roofline`.

    Raises:
        DseError: An unknown device (named as the ``DEVICE`` argument), a precision it does not
            run, an unknown DVFS level; a workload that cannot be built.
    """
    from dse.cost import roofline
    from dse.workloads import workload

    spec = catalog_device(catalog, device, "DEVICE")
    precision = precision or spec.precisions[0]
    if precision not in spec.peak_ops_s:
        raise DseError([Problem("--precision", "", f"{device} does not run {precision}; it "
                                f"runs {', '.join(spec.precisions)}")])
    w = workload(source, precision=precision, **(options or {}))
    link = catalog.link(spec.link) if spec.link else None
    try:
        return roofline(w, spec, precision, link=link, dvfs=dvfs)
    except KeyError as exc:
        raise DseError([Problem("--dvfs", "", str(exc.args[0]))]) from None


def roofline_bounds(roof: Any) -> pd.DataFrame:
    """Where a roofline's time goes (``dse roofline``'s total line): per ``bound`` (sorted),
    the layers' summed ``time_s`` and its ``share`` of the total."""
    layers = roof.layers
    total = max(float(layers["time_s"].sum()), 1e-30)
    times = layers.groupby("bound")["time_s"].sum()
    return pd.DataFrame({"bound": [str(b) for b in times.index], "time_s": times.to_numpy(),
                         "share": times.to_numpy() / total})


# ----- simulation -------------------------------------------------------------------------------

def metrics_table(report: Any) -> pd.DataFrame:
    """A simulation's headline numbers (``dse simulate``'s first table): one row per
    ``metric`` with its ``value`` and ``unit``: ``throughput`` and the closed-form
    ``throughput_bound`` (fps), the bound's ``bottlenecks`` (a list), ``latency_p50``,
    ``latency_p95`` and ``latency_p99`` (s), ``energy_per_inference`` (J), ``average_power``
    (W), ``price`` (USD; ``None``: not priced), ``sustained`` (a bool; only for a stream with
    a rate) and ``frames_per_device`` (a dict). Empty for an infeasible configuration."""
    columns = ["metric", "value", "unit"]
    m = report.metrics
    if m is None:
        return pd.DataFrame([], columns=columns)
    rows: list[tuple[str, Any, str]] = [
        ("throughput", m.throughput_fps, "fps"),
        ("throughput_bound", report.bound.throughput_fps, "fps"),
        ("bottlenecks", list(report.bound.bottlenecks), ""),
        *((f"latency_{k}", m.latency_ms[k] / 1e3, "s") for k in ("p50", "p95", "p99")),
        ("energy_per_inference", m.energy_per_inference_j, "J"),
        ("average_power", m.average_power_w, "W"),
        ("price", m.price_usd, "USD"),
        *((("sustained", m.sustained, ""),) if m.sustained is not None else ()),
        ("frames_per_device", dict(m.frames_per_device), "frames"),
    ]
    return pd.DataFrame(rows, columns=columns)


def utilization_table(metrics: Any) -> pd.DataFrame:
    """A simulation's busy resources (``dse simulate``): ``resource`` and its ``busy`` share
    of the run, busiest first; idle resources left out."""
    rows = [(name, value) for name, value in sorted(metrics.utilization.items(),
                                                    key=lambda kv: -kv[1]) if value > 0]
    return pd.DataFrame(rows, columns=["resource", "busy"])


# ----- the catalog ------------------------------------------------------------------------------

#: Where a derived number comes from (``dse devices show``'s source column).
DERIVED = "derived by the kind (from cores/clock/ops per cycle or DPU size)"


def device_table(catalog: Any) -> pd.DataFrame:
    """The catalog's devices by name (``dse devices``): ``kind``, ``peak_ops_s`` (a dict by
    precision), ``mem_bw_bytes_s``, ``onchip_mem_bytes`` and ``price_usd`` (``None``: no
    price)."""
    return pd.DataFrame(
        [{"name": name, "kind": d.kind, "peak_ops_s": dict(d.peak_ops_s),
          "mem_bw_bytes_s": d.mem_bw_bytes_s, "onchip_mem_bytes": d.onchip_mem_bytes,
          "price_usd": d.price_usd} for name, d in sorted(catalog.devices.items())],
        columns=["name", "kind", "peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes",
                 "price_usd"])


def link_table(catalog: Any) -> pd.DataFrame:
    """The catalog's links by name: ``bandwidth_bytes_s``, ``latency_s``, ``shared``,
    ``description``."""
    return pd.DataFrame(
        [{"name": name, "bandwidth_bytes_s": link.bandwidth_bytes_s,
          "latency_s": link.latency_s, "shared": link.shared, "description": link.description}
         for name, link in sorted(catalog.links.items())],
        columns=["name", "bandwidth_bytes_s", "latency_s", "shared", "description"])


def platform_table(catalog: Any) -> pd.DataFrame:
    """The catalog's platforms by name: ``host`` (its devices), ``accelerators`` (a dict of
    each accelerator's count) and ``description``."""
    return pd.DataFrame(
        [{"name": name, "host": list(p.host),
          "accelerators": {a: g.count for a, g in p.accelerators.items()},
          "description": p.description} for name, p in sorted(catalog.platforms.items())],
        columns=["name", "host", "accelerators", "description"])


def catalog_entry(catalog: Any, name: str) -> tuple[Any, str]:
    """A device, link or platform of the catalog by name, and its section (``devices``,
    ``links`` or ``platforms``).

    Raises:
        SpecError: No entry has that name (the closest known ones named).
    """
    from dse.devices.catalog import probe_hint
    from dse.errors import SpecError

    for section in ("devices", "links", "platforms"):
        entries = getattr(catalog, section)
        if name in entries:
            return entries[name], section
    known = [*catalog.devices, *catalog.links, *catalog.platforms]
    raise SpecError([Problem("catalog", "", did_you_mean(name, known, what="catalog name")
                             + probe_hint(name))])


def catalog_device(catalog: Any, name: str, option: str = "--device") -> Any:
    """A catalog device, or bad input naming the closest known ones (``option`` says which
    argument named it)."""
    if name not in catalog.devices:
        from dse.devices.catalog import probe_hint

        raise DseError([Problem(option, "", did_you_mean(name, catalog.devices, what="device")
                                + probe_hint(name))])
    return catalog.device(name)


@dataclass(frozen=True)
class DeviceView:
    """A catalog entry as ``dse devices show`` shows it (:func:`device_view`).

    Attributes:
        spec: The entry as the catalog states it (datasheet values).
        section: ``devices``, ``links`` or ``platforms``.
        fitted: The device with fitted values (an overlay file's, or its target's shipped
            overlay), shown beside ``spec``; ``None``: no second column.
        overlay: The label of the overlay file applied, if one was given.
        calibrated: The catalog the fitted values came from (``None`` with an overlay file or
            for a link or platform).
        calibration: ``shipped`` or ``datasheet``: the choice ``calibrated`` was made with.
        runtime: The runtime of the target shown (``--runtime``, else the device's default;
            ``None``: not a target, or no runtime named).
        target_fitted: Whether ``fitted`` carries fitted values (a target without a shipped
            overlay is shown with its datasheet values).
        file: The YAML file the entry came from, if known.
    """

    spec: Any
    section: str
    fitted: Any
    overlay: str | None
    calibrated: Any
    calibration: str
    runtime: Any
    target_fitted: bool
    file: Any


def device_view(name: str, *, overlay: str | None = None, runtime: str | None = None,
                host: str | None = None, calibration: str = "shipped",
                folders: Sequence[Path] = ()) -> DeviceView:
    """One catalog entry and, for a device, the fitted values to show beside its datasheet
    values (``dse devices show``): its target's shipped overlay (under ``runtime``, with
    ``host``; with ``calibration`` datasheet: none), or an ``overlay`` file's.

    Raises:
        DseError: An unknown name; a target or overlay asked of a link or platform; an overlay
            file with ``runtime``; ``overlay`` shipped where none is shipped.
    """
    from dse.devices import Catalog, default_catalog
    from dse.devices.calibrated import (
        SHIPPED,
        catalog_for,
        check_calibration,
        is_calibrated,
        resolve_overlay,
    )
    from dse.devices.catalog import catalog_folders
    from dse.devices.overlay import apply_overlay
    from dse.errors import SpecError

    calibrated: Any = catalog_for(check_calibration(calibration), folders=folders)
    cat = Catalog(*catalog_folders(), *folders) if folders else default_catalog()
    spec, section = catalog_entry(cat, name)
    if (overlay is not None or runtime is not None or host is not None) and \
            name not in cat.devices:
        flag = "--overlay" if overlay is not None else "--runtime"
        raise SpecError([Problem(flag, name, "a target is a device under a runtime; "
                                 f"{name!r} is not a device")])
    fitted = label = None
    if overlay is not None and overlay != SHIPPED:
        if runtime is not None or host is not None:
            raise SpecError([Problem("--runtime", name, "give --overlay FILE or --runtime, not "
                                     "both (--overlay shipped --runtime R shows the shipped "
                                     "overlay of that target)")])
        label, fitted_overlay = resolve_overlay(overlay, name)
        fitted = apply_overlay(spec, fitted_overlay, label=label)
        calibrated = None
    elif name in cat.devices:
        if overlay == SHIPPED:
            resolve_overlay(overlay, name, runtime=runtime, host=host)  # or: none is shipped
            calibration, calibrated = SHIPPED, catalog_for("shipped", folders=folders)
        fitted = calibrated.target(name, runtime, host)
        if runtime is None and host is None and not is_calibrated(fitted):
            fitted = None  # the datasheet values: no second column
    else:
        calibrated = None
    rt = None
    if runtime is not None or host is not None:
        rt_name = runtime or spec.default_runtime
        rt = cat.runtime(rt_name) if rt_name else None
    return DeviceView(spec=spec, section=section, fitted=fitted, overlay=label,
                      calibrated=calibrated, calibration=calibration, runtime=rt,
                      target_fitted=fitted is not None and is_calibrated(fitted),
                      file=cat.files.get(f"{section}/{name}"))


def spec_fields(spec: Any, fitted: Any = None) -> pd.DataFrame:
    """Every number a catalog entry states or its kind derives (``dse devices show``), in the
    model's field order: its ``path`` (``peak_ops_s.int8``), ``value``, the ``fitted`` value of
    ``fitted`` (the entry with an overlay applied; the column only when given) and its
    ``source`` (``id (kind)``, ``overlay (fitted)``, the derivation, or ``-``)."""
    from dse.spec.sources import numeric_paths, source_for, value_at

    derived = set(getattr(spec, "derived", ()))
    paths = set(numeric_paths(spec)) | derived
    if fitted is not None:
        paths |= set(numeric_paths(fitted))
    order = {name: i for i, name in enumerate(type(spec).model_fields)}
    rows = []
    for path in sorted(paths, key=lambda p: (order.get(p.split(".")[0], 99), p)):
        if path in derived:
            where = DERIVED
        else:
            src = source_for(spec.sources, path) or (
                source_for(fitted.sources, path) if fitted is not None else None)
            # a fitted source's id is its overlay file, listed under the entry's sources
            where = "-" if src is None else "overlay (fitted)" if src.kind == "fitted" else \
                f"{src.id} ({src.kind})"
        row = {"path": path, "value": value_at(spec, path)}
        if fitted is not None:
            row["fitted"] = value_at(fitted, path)
        rows.append({**row, "source": where})
    return pd.DataFrame(rows, columns=["path", "value", *(["fitted"] if fitted is not None
                                                          else []), "source"])


# ----- measurements and predictions -------------------------------------------------------------

def measurements(data: str, catalog: Any = None) -> pd.DataFrame:
    """A measurement CSV (its devices, runtimes and hosts checked against ``catalog``, each
    problem at its row), or the measurements of a shipped dataset loader by name.

    Raises:
        DseError: Neither a CSV file nor a dataset; a row of the CSV is invalid.
    """
    from dse.calibrate import read_measurements
    from dse.calibrate.loaders import load, loader_names

    try:
        is_file = Path(data).suffix == ".csv" or Path(data).is_file()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        is_file = False
    if is_file:
        if catalog is None:
            return read_measurements(data)
        from dse.devices.kinds import device_kind

        hosts = {*catalog.platforms, *(n for n, d in catalog.devices.items()
                                       if device_kind(d.kind).is_host)}
        return read_measurements(data, known_devices=set(catalog.devices),
                                 known_runtimes=set(catalog.runtimes), known_hosts=hosts,
                                 known_links=set(catalog.links))
    if data in loader_names():
        return load(data).measurements
    raise DseError([Problem(data, "", "neither a CSV file nor a dataset: "
                            + did_you_mean(data, loader_names(), what="dataset"))])


@dataclass(frozen=True)
class Prediction:
    """Measured rows of one device predicted (:func:`predict_measurements`).

    Attributes:
        table: One row per measurement: ``workload``, ``options``, ``metric``, ``threads``,
            ``streams``, ``kind`` (single, concurrent, power), ``measured``, ``predicted`` (SI;
            NaN in a precision the device lacks) and ``rel_error``; with a kernel fit's
            overlay also its MACs proxy's ``baseline`` and ``baseline_error``.
        device: The device's name.
        targets: The targets the rows were predicted on (``device@runtime[@host]``).
        calibrated: Those of them with fitted values.
        overlay: The overlay file applied to every row, if one was given.
        catalog: The catalog the device came from.
    """

    table: pd.DataFrame
    device: str
    targets: list[str]
    calibrated: list[str]
    overlay: str | None
    catalog: Any


def predict_measurements(data: str, device: str, *, overlay: str | None = None,
                         calibration: str = "shipped",
                         folders: Sequence[Path] = ()) -> Prediction:
    """Predict a device's measured rows (``dse predict``): by default with the device as
    dse simulate runs it, the shipped overlay of each row's target (device x runtime, x host
    where the runtime's timing includes it) applied; with ``overlay`` a fitted overlay file
    applied to the datasheet spec for every row.

    Args:
        data: A measurement CSV or a shipped dataset's name.
        device: The catalog device whose rows to predict.
        overlay: An overlay file, or ``shipped`` (the default's overlays, said explicitly).
        calibration: ``shipped`` or ``datasheet`` (without ``overlay``).
        folders: Extra catalog folders.

    Raises:
        DseError: Bad input: an unknown device or dataset, no rows of the device, an overlay
            with ``calibration`` datasheet, no shipped overlay for the rows' targets.
    """
    from dse.calibrate import predict
    from dse.calibrate.forward import row_kind
    from dse.devices.calibrated import (
        SHIPPED,
        catalog_for,
        check_calibration,
        is_calibrated,
        resolve_overlay,
    )

    fitted = None
    label = None
    if overlay == SHIPPED:
        if calibration != SHIPPED:
            raise DseError([Problem("--overlay", overlay, "the shipped overlays are "
                                    "--calibration shipped; give one or the other")])
    elif overlay is not None:
        calibration = "datasheet"  # the overlay applies to the datasheet spec
    catalog = catalog_for(check_calibration(calibration), folders=folders)
    rows_all = measurements(data, catalog)
    spec = catalog_device(catalog, device)
    if overlay is not None and overlay != SHIPPED:
        from dse.devices.overlay import apply_overlay

        label, fitted = resolve_overlay(overlay, device)
        spec = apply_overlay(spec, fitted, label=label)
    rows = rows_all[rows_all["device"] == spec.name].reset_index(drop=True)
    if rows.empty:
        raise DseError([Problem(data, "device", f"no rows of {spec.name!r}; "
                                + did_you_mean(spec.name, rows_all["device"].unique(),
                                               what="device").split("; ", 1)[-1])])
    predicted = np.full(len(rows), np.nan)  # a row in a precision the device lacks: NaN
    targets = list(_by_target(rows, catalog, spec, per_target=fitted is None))
    calibrated = [name for name, target, _ in targets if is_calibrated(target)]
    if overlay == SHIPPED and not calibrated:
        resolve_overlay(SHIPPED, spec.name)  # none shipped for the rows' targets: say so
    for _, target, part in targets:
        predicted[part.index] = predict(target, part, catalog=catalog)
    table = rows[["workload", "options", "metric", "threads", "streams"]].assign(
        kind=row_kind(spec, rows), measured=rows["value_si"], predicted=predicted,
        rel_error=predicted / rows["value_si"].to_numpy() - 1.0)
    proxy = fitted.provenance.get("macs_proxy") if fitted is not None else None
    if proxy:  # a kernel fit's naive baseline, fitted on the same kernel rows
        from dse.calibrate.baseline import _macs
        from dse.calibrate.kernel_fit import proxy_times

        latency = proxy_times({int(t): (v["s_per_mac"], v["fixed_s"]) for t, v in
                               proxy.items()}, _macs(rows), rows["threads"].to_numpy())
        baseline = np.where(rows["metric"] == "throughput", 1.0 / latency, latency)
        table = table.assign(baseline=baseline,
                             baseline_error=baseline / rows["value_si"].to_numpy() - 1.0)
    return Prediction(table=table, device=spec.name, targets=[n for n, _, _ in targets],
                      calibrated=calibrated, overlay=overlay if fitted is not None else None,
                      catalog=catalog)


def prediction_errors(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The errors of a :class:`Prediction`'s table: per kind, and per thread count of the
    ``single`` rows (with the MACs proxy's beside them where the table has it; empty unless
    the single rows have several thread counts or a baseline). Columns as
    :func:`dse.calibrate.validation.error_summary`."""
    from dse.calibrate.validation import error_summary

    by_kind = error_summary(table, "kind")
    single = table[table["kind"] == "single"]
    if single["threads"].nunique() > 1 or "baseline" in table:
        return by_kind, error_summary(single, "threads")
    return by_kind, error_summary(single.iloc[:0], "threads")


def _by_target(rows: pd.DataFrame, catalog: Any, spec: Any, *,
               per_target: bool) -> Iterator[tuple[str, Any, pd.DataFrame]]:
    """``(target name, spec, rows)`` per target of the rows (their runtime, and host where the
    runtime's timing includes it: :func:`dse.calibrate.targets.with_targets`), or ``spec`` for
    all rows."""
    if not per_target:
        yield spec.name, spec, rows
        return
    from dse.calibrate.targets import with_targets

    named = with_targets(rows.assign(row_number=range(len(rows))), catalog)
    for target, part in named.groupby("target", sort=False):
        _, runtime, *host = str(target).split("@")
        yield (str(target), catalog.target(spec.name, runtime if runtime in catalog.runtimes
                                           else None, host[0] if host else None),
               rows.iloc[part["row_number"]])


def validation_by_dataset(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`dse.calibrate.validation.by_dataset` as a table (``dse validate``'s second):
    one row per dataset and kind; the baseline columns are NaN where no row had one."""
    from dse.calibrate.validation import by_dataset

    return pd.DataFrame(by_dataset(table))


# ----- calibration ------------------------------------------------------------------------------

def fitted_parameters(cal: Any) -> pd.DataFrame:
    """A calibration's fitted values (``dse calibrate``): ``parameter``, ``value`` and
    ``sd_log`` (the standard deviation of its logarithm: ``exp(sd_log)`` is the x/÷ factor of
    one sd; a class efficiency, the overall one times a shared multiplier, has the
    multiplier's; ``inf``: not determined by the data)."""
    rows = [{"parameter": k, "value": v,
             "sd_log": cal.uncertainty.get(k, cal.uncertainty.get(f"shared:{k}", np.inf))}
            for k, v in cal.overlay.provenance["fitted"].items()]
    return pd.DataFrame(rows, columns=["parameter", "value", "sd_log"])


# ----- this machine -----------------------------------------------------------------------------

def host_summary(spec: Any) -> pd.DataFrame:
    """A probed host (``dse host probe``): one row per ``field`` with its ``value`` (SI, or
    text), its ``quantity`` (a :mod:`dse.spec.units` quantity such as ``frequency``; ``""``:
    a count or text) and a ``note`` (what shares a cache)."""
    rows: list[tuple[str, Any, str, str]] = [
        ("cpu", spec.description, "", ""), ("cores", spec.cores, "", ""),
        ("clock (loaded)", spec.clock_hz or 0, "frequency", ""),
        ("fp32 ops/cycle/core", (spec.ops_per_cycle_per_core or {}).get("fp32", 0), "", ""),
        ("fp32 peak", spec.peak_ops_s["fp32"], "ops_s", ""),
        ("memory bw (all CPUs)", spec.mem_bw_bytes_s, "bandwidth", "")]
    if spec.mem_bw_one_thread_bytes_s:
        rows.append(("memory bw (1 thread)", spec.mem_bw_one_thread_bytes_s, "bandwidth", ""))
    for key, cache in (spec.caches or {}).items():
        cpus = cache.shared_by_cpus
        rows.append((f"{key} cache", cache.size_bytes, "bytes",
                     f"shared by {cpus} CPU{'s' if cpus > 1 else ''}"))
    return pd.DataFrame(rows, columns=["field", "value", "quantity", "note"])


@dataclass(frozen=True)
class HostKernelFit:
    """The host's per-kernel cost model fitted on kernel timings (:func:`fit_host_kernels`).

    Attributes:
        data: The kernel rows priced with the cost model
            (:class:`dse.calibrate.kernel_fit.KernelData`).
        fit: The fitted kernel classes and overhead.
        overlay: The overlay to write, its figures in its provenance.
        figures: Error figures by name (``kernels_in_sample``, ``kernels_5fold``,
            ``kernels_leave_family_out``, ``zoo``, ``zoo_unseen_shapes``), each a list of
            records per thread count; :func:`kernel_fit_figures` tabulates them.
    """

    data: Any
    fit: Any
    overlay: Any
    figures: dict[str, list[dict[str, Any]]]


def fit_host_kernels(kernels: Path, device: Any, catalog: Any, *, statistic: str = "median",
                     cv: bool = True, zoo: Path | None = None, unseen: bool = False,
                     progress: Callable[[str], None] | None = None) -> HostKernelFit:
    """Fit the host's per-kernel cost model on recorded kernel timings (``dse host
    calibrate``): in sample, optionally 5-fold and leave-one-family-out over the kernels, and
    with ``zoo`` (whole-model measurements, never fitted on) the error on the zoo beside the
    MACs proxy, with ``unseen`` also from fits without the kernels whose shapes came from each
    model.

    Args:
        kernels: A kernel CSV (``dse host kernels``).
        device: The host device to fit (:func:`dse.calibrate.kernel_fit.host_device`).
        catalog: The catalog it is in.
        statistic: Fit each kernel's ``median`` or ``min`` time over its repeats.
        cv: Also cross-validate over the kernels.
        zoo: A measurement CSV of whole models.
        unseen: With ``zoo``: one fit per model without its shapes.
        progress: Called with what is being done.
    """
    from dse.calibrate import kernel_fit as kf

    def say(what: str) -> None:
        if progress is not None:
            progress(what)

    say("pricing kernels with the cost model")
    data = kf.load_kernel_data(kernels, device, catalog, statistic=statistic)
    options = kf.FitOptions()
    figures: dict[str, list[dict[str, Any]]] = {}
    say("fitting")
    fit = kf.fit_kernels(data, device, options)
    figures["kernels_in_sample"] = kf.summarize(fit.table).to_dict("records")
    if cv:
        say("5-fold cross-validation over kernels")
        folds = kf.cross_validate(data, device, options)
        figures["kernels_5fold"] = kf.summarize(folds).to_dict("records")
        say("leave one family out")
        lofo = kf.cross_validate(data, device, options, groups=data.rows["family"].to_numpy())
        figures["kernels_leave_family_out"] = kf.summarize(lofo).to_dict("records")
    proxy = kf.macs_proxy(data)
    label = f"{kernels} ({statistic} of repeats)"
    overlay = kf.overlay_of(fit, device, runtime="onnxruntime_cpu", data=label,
                            figures=figures, baseline=proxy)
    if zoo is not None:
        from dse.calibrate import read_measurements
        from dse.devices.overlay import apply_overlay

        say("predicting the zoo")
        table = kf.zoo_table(apply_overlay(device, overlay), read_measurements(zoo),
                             catalog=catalog, proxy=proxy)
        figures["zoo"] = kf.errors_by_threads(table).to_dict("records")
        if unseen:
            held = kf.unseen_shapes(data, device, read_measurements(zoo), catalog=catalog,
                                    options=options,
                                    progress=lambda m: say(f"predicting {m} without its shapes"))
            figures["zoo_unseen_shapes"] = kf.errors_by_threads(held).to_dict("records")
        overlay = kf.overlay_of(fit, device, runtime="onnxruntime_cpu", data=label,
                                figures=figures, baseline=proxy)
    return HostKernelFit(data=data, fit=fit, overlay=overlay, figures=figures)


def kernel_fit_figures(figures: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """The figures of a host kernel fit (``dse host calibrate``), one row per figure and
    thread count: ``figure``, ``threads``, ``points``, ``mape``, ``within_10``, ``worst`` and
    the MACs proxy's ``baseline_mape`` (``None`` where the figure has none)."""
    rows = [{"figure": name, "threads": r["threads"], "points": r["points"],
             "mape": r["mape"], "within_10": r["within_10"], "worst": r["worst"],
             "baseline_mape": r.get("baseline_mape")}
            for name, records in figures.items() for r in records]
    return pd.DataFrame(rows, columns=["figure", "threads", "points", "mape", "within_10",
                                       "worst", "baseline_mape"])


def kernel_summary(table: pd.DataFrame, threads: Sequence[int]) -> pd.DataFrame:
    """Timed kernels per family (``dse host kernels``): ``family``, ``kernels`` (distinct
    shapes) and, per thread count ``n``, the median kernel time in seconds in column
    ``n`` (NaN: none timed at ``n``)."""
    counts = sorted(set(threads))
    rows = []
    for family, g in table.groupby("family"):
        row: dict[Any, Any] = {"family": str(family), "kernels": g["params"].nunique()}
        for n in counts:
            at = g.loc[g["threads"] == n, "kernel_median_s"]
            row[n] = at.median() if len(at) else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["family", "kernels", *counts])


def kernel_predictor(overlay: Path | str, catalog: Any = None) -> Callable[..., Any]:
    """The cost model of the host target of ``catalog`` (default: DSE_CATALOG's) with a
    fitted overlay applied, as the predictor :func:`dse.measure.kernels.run_kernels` draws its
    adaptive kernels with (``dse host kernels --overlay``); the overlay is read first.

    Raises:
        DseError: The overlay cannot be read or is not of the host; no host in the catalog.
    """
    from dse.devices.calibrated import resolve_overlay
    from dse.devices.overlay import apply_overlay
    from dse.measure.kernels import cost_model_predictor

    _, fitted = resolve_overlay(overlay, "host")
    if catalog is None:
        from dse.devices import default_catalog

        catalog = default_catalog()
    host = catalog.target("host", "onnxruntime_cpu")
    return cost_model_predictor(apply_overlay(host, fitted, label=str(overlay)))


@dataclass(frozen=True)
class Contention:
    """The contention law fitted on a co-run table (:func:`host_contention`).

    Attributes:
        fit: The law and its errors (:class:`dse.measure.corun.ContentionFit`); its ``pairs``
            are the table ``dse host contention`` prints.
        device: The device the demands were priced on.
        basis: ``wall`` or ``cpu``: the time the slowdowns came from.
        cpu: The CPU the table was measured on.
    """

    fit: Any
    device: str
    basis: str
    cpu: str

    def record(self) -> dict[str, Any]:
        """The fit as JSON-ready data (``--json``): the law (``None``: no saturation), the
        bandwidth, basis, CPU, the three errors and the pairs' rows."""
        fit = self.fit
        return {"law": {k: (None if np.isinf(v) else v) for k, v in fit.law.items()},
                "mem_bw_bytes_s": fit.mem_bw_bytes_s, "basis": self.basis, "cpu": self.cpu,
                "fit_mape": fit.fit_mape, "pair_mape": fit.pair_mape,
                "naive_mape": fit.naive_mape, "pairs": fit.pairs.to_dict(orient="records")}


def host_contention(data: Path | str, *, basis: str = "wall", device: str = "host",
                    catalog: Any = None) -> Contention:
    """Fit the contention law on the hog rows of a raw co-run table (``dse host
    contention``) and predict its model pairs (never fitted on), the demands priced on
    ``device`` under ONNX Runtime.

    Raises:
        DseError: A malformed table, an unknown device.
    """
    from dse.measure.corun import corun_summary, fit_contention, read_corun, task_demands

    if catalog is None:
        from dse.devices import default_catalog

        catalog = default_catalog()
    raw = read_corun(data)
    spec = catalog_device(catalog, device)
    models = sorted({*raw["workload"], *raw.loc[raw["kind"] == "pair", "co_runner"]})
    demands = task_demands(models, spec, runtime=catalog.runtimes.get("onnxruntime_cpu"))
    fit = fit_contention(corun_summary(raw, basis=basis), demands, spec.mem_bw_bytes_s)
    return Contention(fit=fit, device=spec.name, basis=basis, cpu=str(raw["cpu"].iloc[0]))


@dataclass(frozen=True)
class SpreadCheck:
    """Simulated against measured latency tails of a runs table (:func:`spread_check`).

    Attributes:
        table: One row per configuration (:func:`dse.calibrate.spread.check_runs`): measured
            and simulated p50 and p99 (ms), ``p99_error``, ``tail_error`` (of p99/p50) and
            ``naive_tail_error`` (without a spread).
        spread: The spread fitted on every single-session row.
        machines: Where the runs were measured (``cpu (N cores), date``, ``; ``-separated;
            ``?``: the table does not say).
        tail_mape: The mean absolute ``tail_error``.
        naive_tail_mape: The same without a spread.
        p99_mape: The mean absolute ``p99_error``.
    """

    table: pd.DataFrame
    spread: Any
    machines: str
    tail_mape: float
    naive_tail_mape: float
    p99_mape: float


def spread_check(runs_file: Path | str, *, device: str = "host", catalog: Any = None,
                 overlay: Path | None = None) -> SpreadCheck:
    """Check a host runs table (``dse host spread-check``): each configuration simulated with
    the spread fitted on the other models' single-session runs, against its measured tails.

    Args:
        runs_file: A runs table (``dse host spread`` or ``dse measure``'s ``.runs.csv``).
        device: The host device the runs are of.
        catalog: The catalog (default: DSE_CATALOG's).
        overlay: A fitted overlay of the host: the medians come from it where the file exists.
    """
    from dse.calibrate.spread import check_runs, fit_spread, host_observations, read_runs

    runs = read_runs(runs_file)
    if catalog is None:
        from dse.devices import default_catalog

        catalog = default_catalog()
    if overlay is not None and Path(overlay).is_file():
        # the medians from the fitted host (dse host calibrate), the spread from the runs
        from dse.devices.overlay import apply_overlay, load_overlay

        fitted = apply_overlay(catalog_device(catalog, device), load_overlay(overlay),
                               label=str(overlay))
        catalog = catalog.with_devices({device: fitted}, replace=True)
    table = check_runs(runs, catalog=catalog, device=device)
    spread = fit_spread(host_observations(runs, device=device))
    machines = ", ".join(sorted({f"{r.cpu} ({r.cores} cores), {r.date}" for r in
                                 runs.itertuples(index=False)})) if "cpu" in runs else "?"
    return SpreadCheck(table=table, spread=spread, machines=machines,
                       tail_mape=float(table["tail_error"].abs().mean()),
                       naive_tail_mape=float(table["naive_tail_error"].abs().mean()),
                       p99_mape=float(table["p99_error"].abs().mean()))


def spread_overlay(spread: Any, device: str, runs_file: Path | str,
                   existing: Any = None) -> Any:
    """The overlay of the host target carrying a latency spread fitted on a runs table
    (``dse host spread-check --overlay``): ``existing`` (an overlay) with its
    ``latency_spread`` replaced, or a new overlay of ``device`` under ONNX Runtime."""
    from dse.calibrate.spread import merge_values, spread_values
    from dse.devices.overlay import Overlay

    values = spread_values(spread)
    provenance = {"latency_spread": f"dse host spread-check {runs_file}: median ratio to "
                                    f"the median over the single-session runs"}
    if existing is not None:
        return existing.model_copy(update={
            "values": merge_values(existing.values, values.items()),
            "provenance": {**existing.provenance, **provenance}})
    return Overlay(device=device, runtime="onnxruntime_cpu", values=values,
                   provenance=provenance)
