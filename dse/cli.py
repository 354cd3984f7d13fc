"""The ``dse`` command: a thin shell over the Python API.

The only module that prints, configures logging or exits. Exit codes: 0 ok, 1 failure (a bug or
an environment problem), 2 bad input (a :class:`~dse.errors.DseError`, printed without a
traceback).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dse import api
from dse.errors import DseError, Problem, WorkloadError

#: Short column headings of metrics, so that a front's table reads at 80 columns.
_SHORT = {"throughput_fps": "fps", "energy_per_inference_j": "J/inference",
          "average_power_w": "W", "price_usd": "USD", "latency_p50_ms": "p50 ms",
          "latency_p95_ms": "p95 ms", "latency_p99_ms": "p99 ms", "latency_mean_ms": "mean ms",
          "infer_requests": "requests", "intra_op_threads": "intra-op"}


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _examples(*commands: str) -> str:
    """A command's ``--help`` epilog: its examples, one a paragraph (typer folds lines)."""
    return "\n\n".join(["[bold]Examples[/bold]", *(f"  $ {c}" for c in commands)])


app = typer.Typer(
    epilog=_examples('dse devices', 'dse simulate experiments/multi_ncs.yaml', 'dse explore experiments/what_to_buy.yaml --trials 20', 'dse --version'),
    help="Design-space exploration and simulation of neural-network inference on edge hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
workloads_app = typer.Typer(
    epilog=_examples('dse workloads', 'dse workloads --counts', 'dse workloads show mobilenet_v2 --precision int8'),
    help="Workload graphs: list the zoo, show a model's totals, export zoo models as ONNX.",
    invoke_without_command=True,
)
app.add_typer(workloads_app, name="workloads")
devices_app = typer.Typer(
    epilog=_examples('dse devices', 'dse devices --calibration datasheet', 'dse devices show coral_usb'),
    help="The device catalog: devices, links and platforms, every number with its source.",
    invoke_without_command=True,
)
app.add_typer(devices_app, name="devices")
host_app = typer.Typer(
    epilog=_examples('dse host probe --out dse_host/host.yaml', 'dse host kernels --budget 5', 'dse host calibrate --budget 10'),
    help="This machine as a live laboratory: probe it as a device, time a kernel suite, fit "
    "and predict it.",
    no_args_is_help=True,
)
app.add_typer(host_app, name="host")

out = Console()
err = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from dse import __version__

        out.print(f"dse {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version of dse and exit.")] = False,
) -> None:
    """Design-space exploration and simulation of neural-network inference on edge hardware."""


def _progress(*, remaining: bool = False, best: bool = False) -> Any:
    """A progress bar on stderr: description, bar, done of total, elapsed time (and the time
    remaining, and a task's ``best`` field); transient unless it shows the best value."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               *([TextColumn("{task.fields[best]}")] if best else []), TimeElapsedColumn(),
               *([TimeRemainingColumn()] if remaining else [])]
    return Progress(*columns, console=err, transient=not best)


@contextlib.contextmanager
def _progress_bar(description: str, *, remaining: bool = False) -> Any:
    """A transient progress bar on stderr; yields the ``(done, total, label)`` callback the
    measuring functions take."""
    bar = _progress(remaining=remaining)
    with bar:
        task = bar.add_task(description, total=None)

        def step(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        yield step


def _int_list(text: str, option: str, *,
              expected: str = "whole numbers separated by commas, such as 1,2",
              minimum: int | None = None, error: type[DseError] = DseError) -> list[int]:
    """The whole numbers of a comma-separated flag (``--threads 1,2``; blank items skipped),
    or ``error`` naming ``option`` and saying what was ``expected``: none at all, a part that
    is not a whole number, one below ``minimum`` (the library checks its own bounds)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or (minimum is not None and min(values) < minimum):
        raise error([Problem(option, text, f"expected {expected}")])
    return values


def _parse_input_shapes(values: list[str]) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    problems = []
    for value in values:
        name, sep, dims = value.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            shapes[name] = [int(d) for d in dims.split(",")]
        except ValueError:
            problems.append(Problem("--input-shape", value,
                                    "expected NAME=D1,D2,... such as input=1,3,224,224"))
    if problems:
        raise WorkloadError(problems)
    return shapes


@workloads_app.callback()
def workloads_list(
    ctx: typer.Context,
    counts: Annotated[bool, typer.Option("--counts", help="Build every model and show its params "
                                         "and MACs.")] = False,
) -> None:
    """List the built-in zoo (run a subcommand for one model)."""
    if ctx.invoked_subcommand is not None:
        return

    table = _listing("dse zoo")
    table.add_column("name", no_wrap=True)
    table.add_column("task", no_wrap=True)
    if counts:
        for col in ("params", "MMACs", "nodes"):
            table.add_column(col, justify="right")
        with _progress_bar("building zoo models") as step:
            models = api.zoo_table(counts=True, progress=step)
        for _, m in models.iterrows():
            table.add_row(m["name"], m["task"], f"{m['params']:,}", f"{m['macs'] / 1e6:,.1f}",
                          f"{m['nodes']}")
    else:
        table.add_column("summary")
        table.add_column("options", no_wrap=True)
        for _, m in api.zoo_table().iterrows():
            # one option (key=value) a line: only the summary wraps, at spaces
            table.add_row(m["name"], m["task"], m["summary"],
                          "\n".join(f"{k}={v}" for k, v in m["options"].items()))
    out.print(table)


@workloads_app.command("show", epilog=_examples(
    'dse workloads show resnet50', 'dse workloads show mobilenet_v1 -o width=0.5 -o resolution=160 --json', 'dse workloads show model.onnx --input-shape input=1,3,224,224 --layers', 'dse workloads show ds_cnn --precision int8 --memory --device stm32h743_m7 --runtime tflm --out out/'))
def workloads_show(
    source: Annotated[str, typer.Argument(help="Zoo name (resnet50, mobilenet_v1_0.5_160) or "
                                          "path to an .onnx file.")],
    precision: Annotated[str, typer.Option(help="fp32, fp16, bf16, int8 or int4.")] = "fp32",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    layers: Annotated[bool, typer.Option("--layers", help="Also list every layer.")] = False,
    unknown_ops: Annotated[str, typer.Option(help="'error' rejects unknown op types; 'other' "
                                             "records them as class other.")] = "error",
    input_shape: Annotated[list[str] | None, typer.Option(
        help="Shape of a model input with symbolic dims, NAME=1,3,224,224 (repeatable).")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Zoo model option KEY=VALUE (repeatable), e.g. -o layers=4.")] = None,
    memory: Annotated[bool, typer.Option(
        "--memory", help="Show the memory footprint (weights, planned arena, scratch, runtime) "
        "and write the arena's lifetime plot.")] = False,
    device: Annotated[str | None, typer.Option(
        help="With --memory: check the footprint against this device's memories.")] = None,
    runtime: Annotated[str | None, typer.Option(
        help="With --memory: the runtime (default: the device's).")] = None,
    out_dir: Annotated[Path, typer.Option(
        "--out", help="With --memory: folder for the lifetime plot (PNG and SVG).")] = Path("."),
    no_plot: Annotated[bool, typer.Option("--no-plot", help="With --memory: no plot.")] = False,
) -> None:
    """Totals (params, MACs, nodes) and the per-op-class breakdown of one workload; with
    --memory, its memory footprint instead."""
    from dse.workloads import workload

    kwargs: dict[str, Any] = _parse_options(option or [])
    if unknown_ops not in ("error", "other"):
        raise WorkloadError([Problem("--unknown-ops", "", f"expected 'error' or 'other', "
                                     f"got {unknown_ops!r}")])
    if unknown_ops != "error":
        kwargs["unknown_ops"] = unknown_ops
    if input_shape:
        kwargs["input_shapes"] = _parse_input_shapes(input_shape)
    with err.status(f"building {source}"):
        w = workload(source, precision=precision, **kwargs)
    if memory or device or runtime:
        _show_memory(w, precision, device, runtime, out_dir, plot=not no_plot,
                     as_json=as_json)
        return
    summary = w.summary()
    if layers:
        summary["layers"] = json.loads(w.layers.to_json(orient="records"))
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(f"[bold]{w.name}[/bold]  ({summary['source']}, {precision})")
    out.print(f"params {w.params:,}   MACs {w.macs:,}   ops {w.ops:,}   nodes {w.nodes}   "
              f"weights {w.weight_bytes / 1e6:.2f} MB")
    if summary["other_ops"]:
        out.print(f"[yellow]op types recorded as class 'other' (zero MACs): "
                  f"{summary['other_ops']}[/yellow]")
    table = Table(title="per op class")
    for col in ("op class", "nodes", "MACs", "ops", "params", "share of ops"):
        table.add_column(col, justify="left" if col == "op class" else "right")
    for cls, row in w.by_op_class().iterrows():
        if row["nodes"]:
            table.add_row(str(cls), f"{int(row['nodes'])}", f"{int(row['macs']):,}",
                          f"{int(row['ops']):,}", f"{int(row['params']):,}",
                          f"{row['ops_share']:.1%}")
    out.print(table)
    if layers:
        lt = Table(title="layers")
        for col in ("name", "op", "class", "MACs", "params", "out shape"):
            lt.add_column(col)
        for _, r in w.layers.iterrows():
            lt.add_row(r["name"], r["op"], r["op_class"], f"{r['macs']:,}", f"{r['params']:,}",
                       "x".join(str(d) for d in r["out_shapes"][0]) if r["out_shapes"] else "")
        out.print(lt)


def _show_memory(w: Any, precision: str, device: str | None, runtime: str | None,
                 out_dir: Path, *, plot: bool, as_json: bool) -> None:
    """``workloads show --memory``: the footprint table and the arena's lifetime plot."""
    from dse.report.memory_plot import footprint_record, memory_table, plot_lifetimes

    catalog = _catalog(None)
    with err.status("planning the arena"):
        fp = api.memory_footprint(w, precision, device=device, runtime=runtime,
                                  catalog=catalog)
    if as_json:
        out.print_json(json.dumps(footprint_record(fp)))
    else:
        out.print(memory_table(fp))
        if fp.reason:
            out.print(f"[red]does not fit:[/red] {fp.reason}", highlight=False)
        for note in fp.notes:
            out.print(f"[dim]{note}[/dim]", highlight=False)
    if plot:
        stem = out_dir / f"memory_{w.name}_{fp.device or 'any'}_{precision}"
        with err.status("plotting"):
            paths = plot_lifetimes(fp, stem)
        for path in paths:
            err.print(f"wrote {path}", highlight=False)


def _parse_options(values: list[str]) -> dict[str, Any]:
    """``-o KEY=VALUE`` options, each value read as YAML (as ``--set`` reads its values)."""
    from dse.spec.experiment import parse_override

    options: dict[str, Any] = {}
    problems = []
    for value in values:
        try:
            key, parsed = parse_override(value)
        except ValueError as exc:
            problems.append(Problem("--option", value, "expected KEY=VALUE such as layers=4"
                                    if "=" not in value.lstrip("=") else str(exc)))
            continue
        options[key] = parsed
    if problems:
        raise WorkloadError(problems)
    return options


@workloads_app.command("export", epilog=_examples(
    'dse workloads export resnet18 out/resnet18.onnx', 'dse workloads export bert_encoder out/bert.onnx -o layers=4'))
def workloads_export(
    name: Annotated[str, typer.Argument(help="Zoo model name.")],
    output: Annotated[Path, typer.Argument(help="The .onnx file to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Zoo model option KEY=VALUE (repeatable).")] = None,
) -> None:
    """Write a zoo model, with random weights, as an ONNX file (atomically)."""
    import onnx

    from dse.files import atomic_path
    from dse.workloads import zoo

    with err.status(f"building {name}"):
        model = zoo.build(name, seed=seed, **_parse_options(option or []))
    with atomic_path(output) as tmp:
        onnx.save(model, str(tmp))
    out.print(f"wrote {output}")


def _fmt(path: str, value: Any) -> str:
    """A spec's number with the unit its field's type says (:mod:`dse.spec.units`)."""
    from dse.spec.units import format_quantity

    units = _field_quantities()
    unit = units.get(path.split(".")[-1]) or units.get(path.split(".")[0])
    if unit and isinstance(value, int | float) and not isinstance(value, bool):
        return format_quantity(float(value), unit)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@functools.cache
def _field_quantities() -> dict[str, Any]:
    from dse.spec.device import DeviceSpec
    from dse.spec.platform import LinkSpec, PlatformSpec
    from dse.spec.units import field_quantities

    return field_quantities(DeviceSpec, LinkSpec, PlatformSpec)


def _listing(title: str | None = None) -> Table:
    """A table that reads at 80 columns: a rule under the header and no vertical lines (wide
    columns are the names, kept whole: they are ``no_wrap``; the rest wraps at spaces)."""
    from rich import box

    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False,
                 padding=(0, 1, 0, 0))


def _catalog(folders: list[Path] | None) -> Any:
    from dse.devices import Catalog, default_catalog
    from dse.devices.catalog import catalog_folders

    return Catalog(*catalog_folders(), *folders) if folders else default_catalog()


CatalogOption = Annotated[list[Path] | None, typer.Option(
    "--catalog", help="An extra catalog folder (devices/*.yaml, links/, platforms/); "
    "repeatable; added to those of DSE_CATALOG.")]
CalibrationOption = Annotated[str, typer.Option(
    "--calibration", help="shipped: the devices with the overlays fitted to measured data "
    "(calibration/overlays), as dse simulate and dse explore run them; datasheet: their "
    "datasheet values.")]


def _calibrated(calibration: str, folders: list[Path] | None) -> Any:
    """The catalog of a ``--calibration`` choice (:func:`dse.devices.calibrated.catalog_for`,
    as experiments choose theirs)."""
    from dse.devices.calibrated import catalog_for, check_calibration

    with err.status("loading the device catalog"):
        return catalog_for(check_calibration(calibration), folders=folders or ())


def _device(catalog: Any, name: str, option: str = "--device") -> Any:
    return api.catalog_device(catalog, name, option)


def _say_calibration(catalog: Any, calibration: str, devices: list[str] | None = None, *,
                     as_json: bool = False) -> None:
    """The one line saying which device values a command used (stderr under --json)."""
    from dse.devices.calibrated import calibration_line

    (err if as_json else out).print(calibration_line(catalog, calibration,  # type: ignore[arg-type]
                                                     devices), highlight=False, markup=False)


@devices_app.callback()
def devices_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    catalog: CatalogOption = None,
    calibration: CalibrationOption = "shipped",
) -> None:
    """List the devices, links and platforms of the catalog."""
    if ctx.invoked_subcommand is not None:
        return
    import pandas as pd

    cat = _calibrated(calibration, catalog)
    _say_calibration(cat, calibration, as_json=as_json)
    if as_json:
        out.print_json(json.dumps({
            "devices": {n: d.model_dump(mode="json") for n, d in cat.devices.items()},
            "links": {n: v.model_dump(mode="json") for n, v in cat.links.items()},
            "platforms": {n: p.model_dump(mode="json") for n, p in cat.platforms.items()},
        }))
        return
    # a device's link and power are in `dse devices show`: at 80 columns the names, kinds
    # and these numbers fill the width
    table = _listing("devices")
    for col in ("name", "kind", "peak", "memory bw", "on-chip", "USD"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right",
                         no_wrap=col in ("name", "kind"))
    for _, d in api.device_table(cat).iterrows():
        peak = "\n".join(f"{p} {_fmt('peak_ops_s', v)}" for p, v in d["peak_ops_s"].items())
        table.add_row(d["name"], d["kind"], peak, _fmt("mem_bw_bytes_s", d["mem_bw_bytes_s"]),
                      _fmt("onchip_mem_bytes", d["onchip_mem_bytes"]),
                      "-" if d["price_usd"] is None or pd.isna(d["price_usd"]) else
                      f"{d['price_usd']:,.0f}")
    out.print(table)
    links = _listing("links")
    for col in ("name", "bandwidth", "latency", "shared", "description"):
        links.add_column(col, no_wrap=col != "description",
                         justify="right" if col in ("bandwidth", "latency") else "left")
    for _, link in api.link_table(cat).iterrows():
        links.add_row(link["name"], _fmt("bandwidth_bytes_s", link["bandwidth_bytes_s"]),
                      _fmt("latency_s", link["latency_s"]), "yes" if link["shared"] else "no",
                      link["description"])
    out.print(links)
    platforms = _listing("platforms")
    for col in ("name", "host + accelerators", "description"):
        platforms.add_column(col, no_wrap=col == "name")
    for _, p in api.platform_table(cat).iterrows():
        platforms.add_row(p["name"], "\n".join([*p["host"], *(f"+ {n}x {a}" for a, n in
                                                             p["accelerators"].items())]),
                          p["description"])
    out.print(platforms)


@devices_app.command("show", epilog=_examples(
    'dse devices show coral_usb', 'dse devices show coral_usb --runtime edgetpu --host raspberry_pi4', 'dse devices show kirin970_npu --overlay shipped', 'dse devices show ncs2 --calibration datasheet --json'))
def devices_show(
    name: Annotated[str, typer.Argument(help="A device, link or platform name.")],
    overlay: Annotated[str | None, typer.Option(
        help="An overlay YAML of fitted values to show next to the datasheet values, or "
        "'shipped' for the shipped overlay of the device's target.")] = None,
    runtime: Annotated[str | None, typer.Option(
        help="Show the device as a target under this runtime: the shipped overlay fitted on "
             "it next to the datasheet values.")] = None,
    host: Annotated[str | None, typer.Option(
        help="With --runtime: the host whose work the target's timing includes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    catalog: CatalogOption = None,
    calibration: CalibrationOption = "shipped",
) -> None:
    """One catalog entry, every number with its source, and the fitted values of its shipped
    overlay beside the datasheet values (--calibration datasheet: without them; --overlay FILE:
    another overlay's)."""

    with err.status("loading the device catalog"):
        view = api.device_view(name, overlay=overlay, runtime=runtime, host=host,
                               calibration=calibration, folders=catalog or ())
    spec, fitted = view.spec, view.fitted
    if view.overlay is not None:
        (err if as_json else out).print(f"devices: datasheet values; fitted: overlay "
                                        f"{view.overlay}", highlight=False, markup=False)
    elif view.calibrated is not None:
        _say_calibration(view.calibrated, view.calibration, [name], as_json=as_json)
    target_note = ""
    if runtime is not None or host is not None:
        rt = view.runtime
        target_note = (f"target: {name} under {rt.name} {rt.version} ({rt.description}); fuses "
                       f"{', '.join(rt.fuses) if rt.fuses is not None else 'not documented'}; "
                       f"kernels "
                       f"{', '.join(rt.kernels) if rt.kernels is not None else 'not documented'}"
                       if rt else f"target: {name} (no runtime named)")
        if not view.target_fitted:
            target_note += "\nno overlay fitted on this target: datasheet values"
    if as_json:
        data = {"spec": spec.model_dump(mode="json")}
        if fitted is not None:
            data["fitted"] = fitted.model_dump(mode="json")
        out.print_json(json.dumps(data))
        return
    out.print(f"[bold]{name}[/bold]  {getattr(spec, 'description', '')}")
    if target_note:
        out.print(target_note, highlight=False)
    file = view.file
    if file is not None:
        out.print(f"file: {file}", highlight=False)
    table = _listing()
    table.add_column("field", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    if fitted is not None:
        table.add_column("fitted", justify="right", no_wrap=True)
    table.add_column("source")
    sources = {s.id: s for s in [*spec.sources, *(fitted.sources if fitted is not None else ())]}
    for _, r in api.spec_fields(spec, fitted).iterrows():
        value = r["value"]
        row = [r["path"], "-" if value is None else _fmt(r["path"], value)]
        if fitted is not None:
            row.append("" if r["fitted"] == value else _fmt(r["path"], r["fitted"]))
        table.add_row(*row, r["source"])
    out.print(table)
    for key in ("kind", "link", "needs_host_core", "supported_ops", "on_unsupported",
                "fallback_device", "host", "accelerators", "shared"):
        if hasattr(spec, key) and getattr(spec, key) is not None:
            value = getattr(spec, key)
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {getattr(v, 'count', v)}" for k, v in value.items())
            elif isinstance(value, tuple):
                value = ", ".join(value)
            out.print(f"{key}: {value}", highlight=False, markup=False)
    out.print("[bold]sources[/bold]")
    for sid, src in sources.items():
        out.print(f"  {sid} ({src.kind}): {src.cite}" + (f" <{src.url}>" if src.url else ""),
                  highlight=False, markup=False)
    if getattr(spec, "notes", ""):
        out.print(f"notes: {spec.notes}", highlight=False, markup=False)


@app.command("roofline", epilog=_examples(
    'dse roofline coral_usb mobilenet_v2 --no-plot', 'dse roofline ncs2 resnet50 --precision fp16 --out out/', 'dse roofline coral_usb mobilenet_v2 --calibration datasheet --json --no-plot'))
def roofline_cmd(
    device: Annotated[str, typer.Argument(help="A catalog device name.")],
    source: Annotated[str, typer.Argument(help="Zoo name or path to an .onnx file.")],
    precision: Annotated[str | None, typer.Option(
        help="fp32, fp16, int8, ... (default: the device's first precision).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the plot (PNG and SVG).")
                       ] = Path("."),
    dvfs: Annotated[str | None, typer.Option(help="DVFS level of the device.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Zoo model option KEY=VALUE (repeatable).")] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Only print the table.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    catalog: CatalogOption = None,
    calibration: CalibrationOption = "shipped",
) -> None:
    """Per-layer roofline of a workload on one device: table and plot.

    The device is the one dse simulate runs (its shipped overlay applied, unless
    --calibration datasheet); the total is a lower bound on one frame's latency (no transfers
    over the link, no host work, no per-inference overhead).
    """
    from dse.report import plot_roofline

    cat = _calibrated(calibration, catalog)
    spec = _device(cat, device, "DEVICE")
    _say_calibration(cat, calibration, [device], as_json=as_json)
    with err.status(f"pricing every layer of {source} on {device}"):
        roof = api.device_roofline(cat, device, source, precision=precision, dvfs=dvfs,
                                   options=_parse_options(option or []))
    layers, precision = roof.layers, roof.precision
    if as_json:
        out.print_json(layers.drop(columns=[]).to_json(orient="records"))
    else:
        # at 80 columns: each layer's op type, traffic and weight placement are in --json
        # (and the plot); a long layer name folds, every other cell stays whole; "ceiling" is
        # the attainable ops/s at the layer's intensity
        table = _listing(f"{roof.workload} on {device} ({precision})")
        for col in ("layer", "class", "MOPs", "ops/B", "ceiling", "time", "bound"):
            table.add_column(col, justify="left" if col in ("layer", "class", "bound") else
                             "right", no_wrap=col != "layer", overflow="fold")
        for _, r in layers.iterrows():
            intensity = r["intensity"]
            table.add_row(str(r["name"]), str(r["op_class"]), f"{r['ops'] / 1e6:,.2f}",
                          "-" if intensity == float("inf") else f"{intensity:,.0f}"
                          if intensity >= 100 else f"{intensity:.3g}",
                          _fmt("peak_ops_s", r["attainable_ops_s"]),
                          _fmt("latency_s", r["time_s"]),
                          str(r["bound"]) + ("" if r["supported"] else "*"))
        out.print(table)
        unsupported = int((~layers["supported"]).sum())
        out.print(f"layers {len(layers)}, {_fmt('latency_s', layers['time_s'].sum())} in total: "
                  + ", ".join(f"{b.bound} {b.share:.0%}"
                              for b in api.roofline_bounds(roof).itertuples(index=False))
                  + f"; ridge at {roof.ridge_intensity:.3g} ops/B"
                  + (f"; {unsupported} layers unsupported on {device} (bound*)"
                     if unsupported else ""))
        out.print(f"a lower bound on one frame's latency: one inference also pays "
                  f"{_fmt('latency_s', spec.overhead_per_inference_s)} fixed cost"
                  + (f" and its transfers over {spec.link}" if spec.link else "")
                  + " (dse simulate has them)", highlight=False)
    if not no_plot:
        stem = out_dir / f"roofline_{roof.workload}_{device}_{precision}"
        with err.status("plotting"):
            paths = plot_roofline(roof, stem)
        for path in paths:
            err.print(f"wrote {path}", highlight=False)


@app.command("simulate", epilog=_examples(
    'dse simulate experiments/multi_ncs.yaml', 'dse simulate experiments/multi_ncs.yaml --set platform.accelerators.ncs2.count=2 --trace out/trace.json', 'dse simulate experiments/mobile_soc_coexec.yaml --json'))
def simulate_cmd(
    experiment: Annotated[Path, typer.Argument(help="An experiment YAML.")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a YAML path, e.g. --set platform.accelerators.ncs2.count=2 "
        "(repeatable; the value is read as YAML).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    trace: Annotated[Path | None, typer.Option(
        help="Write the timeline as Chrome trace JSON (open in Perfetto).")] = None,
) -> None:
    """Simulate one configuration of an experiment (the first value of every search list)."""
    from dse.report.trace import write_chrome_trace
    from dse.run import simulate

    with err.status("simulating") if not as_json else contextlib.nullcontext():
        report = simulate(experiment, overrides=set_ or [], trace=trace is not None)
    if trace is not None and report.result is not None:
        write_chrome_trace(report.result, trace)
        err.print(f"wrote {trace}", highlight=False)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    cfg = report.config
    out.print(f"[bold]{cfg.name}[/bold]: {', '.join(w.label for w in cfg.workloads)} on "
              f"{report.plan.platform.name}, policy {cfg.execution.policy}", highlight=False)
    if report.infeasible:
        out.print(f"[red]infeasible:[/red] {report.infeasible}", highlight=False)
        return
    m = report.metrics
    assert m is not None
    v = api.metrics_table(report).set_index("metric")["value"]
    table = Table(show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("throughput", f"{v['throughput']:,.2f} fps  (bound "
                  f"{v['throughput_bound']:,.2f}: {', '.join(v['bottlenecks'])})")
    table.add_row("latency p50 / p95 / p99", " / ".join(f"{v[f'latency_{k}'] * 1e3:,.2f}"
                                                      for k in ("p50", "p95", "p99")) + " ms")
    table.add_row("energy per inference", f"{v['energy_per_inference'] * 1e3:,.2f} mJ")
    table.add_row("average power", f"{v['average_power']:,.2f} W")
    table.add_row("price", "-" if v["price"] is None else f"${v['price']:,.2f}")
    if "sustained" in v:
        table.add_row("sustains the stream", "yes" if v["sustained"] else "no")
    table.add_row("frames per device", ", ".join(f"{k}: {n}"
                                                 for k, n in v["frames_per_device"].items()))
    out.print(table)
    util = Table(title="utilization")
    util.add_column("resource")
    util.add_column("busy", justify="right")
    for _, r in api.utilization_table(m).iterrows():
        util.add_row(r["resource"], f"{r['busy']:.1%}")
    out.print(util)
    for note in m.notes:
        out.print(f"note: {note}", highlight=False)


@app.command("explore", epilog=_examples(
    'dse explore experiments/what_to_buy.yaml', 'dse explore experiments/multi_ncs.yaml --trials 50 --workers 2 --out out/multi_ncs'))
def explore_cmd(
    experiment: Annotated[Path, typer.Argument(help="An experiment YAML with search dimensions.")],
    trials: Annotated[int | None, typer.Option(help="Total finished trials wanted (a resumed "
                                               "study runs only what is missing).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop starting trials after this many "
                                                  "seconds.")] = None,
    storage: Annotated[str | None, typer.Option(
        help="Optuna storage URL, e.g. postgresql+psycopg2://user@host/db (default: a journal "
        "file in the output folder).")] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes.")] = 1,
    sampler: Annotated[str | None, typer.Option(
        help="tpe, nsga2, random, grid or a plug-in sampler's name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampler seed.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder (default: "
                                                 "out/<experiment name>).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a YAML path before searching (repeatable).")] = None,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Start a new study; the old journal is moved aside to "
        "NAME.journal.old-<time> (a study in --storage is deleted).")] = False,
    resume_anyway: Annotated[bool, typer.Option(
        "--resume-anyway", help="Resume the study even though the experiment changed since "
        "its earlier trials.")] = False,
) -> None:
    """Search an experiment's dimensions with Optuna; resumable, with Pareto front and report.

    A study resumes only with the experiment it was made of (more --trials is fine): a changed
    experiment is refused unless --fresh or --resume-anyway.
    """
    import optuna

    from dse.search import planned_trials
    from dse.sim.resolve import load_experiment

    # optuna logs every trial at INFO; the progress bar says as much
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    exp = load_experiment(experiment, overrides=set_ or [])
    total = planned_trials(exp, trials=trials, sampler=sampler)
    progress = _progress(remaining=True, best=True)

    def done(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
        ok = [t for t in finished if t.user_attrs.get("feasible") and t.values]
        best = ""
        if ok and len(study.directions) == 1:
            pick = max if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else min
            best = f"best {pick(t.values[0] for t in ok):.4g}"
        elif ok:
            best = f"{len(ok)} feasible"
        progress.start()  # at the first trial: a refused study shows no bar
        progress.update(task, completed=min(len(finished), int(total)), best=best)

    task = progress.add_task(exp.name, total=int(total), best="")
    try:
        result = api.explore(exp, trials=trials, timeout_s=timeout, storage=storage,
                         workers=workers, sampler=sampler, seed=seed, out=out_dir,
                         callbacks=[done], fresh=fresh, resume_anyway=resume_anyway)
        progress.update(task, completed=len(result.trials))
    finally:
        progress.stop()
    for note in result.notes:
        err.print(note, style="yellow", highlight=False, markup=False, soft_wrap=True)
    front = result.pareto
    table = _listing(f"{exp.name}: {len(result.trials)} trials, "
                     f"{int(result.trials['feasible'].sum()) if len(result.trials) else 0} "
                     f"feasible, Pareto front of {len(front)}")
    shown = api.front_table(result)
    values = [c for c in shown.columns if c.startswith("value:")]
    # records keep each column's type (a row of iterrows would make the trial a float)
    rows = [[str(row["trial"]), *(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c])
                                  for c in shown.columns[1:])]
            for row in shown.head(10).to_dict("records")]
    for i, col in enumerate(shown.columns):
        # A column is never narrower than its longest word: rich folds between words only.
        words = [w for r in rows for w in r[i].replace(",", " ").split()]
        numeric = col == "trial" or col in values or all(
            _is_number(r[i]) for r in rows)
        name = col.split(":", 1)[-1].split(".")[-1]
        table.add_column(_SHORT.get(name, name), justify="right" if numeric else "left",
                         min_width=max(map(len, words), default=1))
    for r in rows:
        table.add_row(*r)
    out.print(table)
    if not front.empty:
        out.print(f"trial {front.iloc[0]['trial']} is limited by "
                  f"{front.iloc[0]['bottlenecks'] or 'nothing the bound names'}; report.md "
                  "says what adding it does", highlight=False)
    if front.empty:
        out.print("[yellow]no feasible configuration found; see report.md for the reasons"
                  "[/yellow]")
    out.print(f"results in {result.out}/ (report.md, trials.csv, pareto.csv, best_1.yaml, ...)",
              highlight=False)


def _measurements(data: str, catalog: Any = None) -> Any:
    return api.measurements(data, catalog)


@app.command("calibrate", epilog=_examples(
    'dse calibrate mobile_soc --device kirin970_npu', 'dse calibrate my_measurements.csv --device ncs2 --out out/ncs2.yaml'))
def calibrate_cmd(
    data: Annotated[str, typer.Argument(help="A measurement CSV, or a shipped dataset name "
                                        "(mobile_soc, vitis, coral, ...).")],
    device: Annotated[str, typer.Option(help="The catalog device to fit.")],
    free: Annotated[list[str] | None, typer.Option(
        help="A spec path to fit (repeatable); default: what the data can tell "
        "(efficiency.default and overhead_per_inference_s, plus parallel_fraction, "
        "host_overhead_per_inference_s, slot_scaling or power.active_w where the data has "
        "thread counts, concurrency or power).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the fitted overlay "
                                                   "YAML here (and a PNG/SVG plot beside it)."
                                                   )] = None,
    no_cv: Annotated[bool, typer.Option("--no-cv", help="Skip leave-one-model-out "
                                        "cross-validation.")] = False,
) -> None:
    """Fit a device's free parameters to measurements; report in-sample and LOO error."""
    from dse.calibrate import calibrate

    measurements = _measurements(data)
    with err.status(f"fitting {device}"):
        cal = calibrate(measurements, device=device, free=tuple(free) if free else None,
                        cross_validation=not no_cv)
    table = Table(title=f"{device}: fitted")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column("x/÷ (1 sd)", justify="right")
    for _, r in api.fitted_parameters(cal).iterrows():
        sd = r["sd_log"]
        table.add_row(r["parameter"], _fmt(r["parameter"], r["value"]),
                      f"{math.exp(sd):.2f}" if sd < 5 else "not determined by the data")
    out.print(table)
    points = Table(title="predicted vs measured")
    for col in ("workload", "metric", "measured", "predicted", "error", "90% interval"):
        points.add_column(col, justify="left" if col in ("workload", "metric") else "right")
    for _, r in cal.table.iterrows():
        points.add_row(str(r["workload"]), str(r["metric"]), f"{r['measured']:.4g}",
                       f"{r['predicted']:.4g}", f"{r['rel_error']:+.1%}",
                       f"{r['low_90']:.3g}-{r['high_90']:.3g}")
    out.print(points)
    out.print(f"in-sample MAPE {cal.mape:.1%}, within ±10% {cal.within_10:.0%}" +
              (f"; leave-one-model-out MAPE {cal.cv_mape:.1%}, within ±10% "
               f"{cal.cv_within_10:.0%}" if cal.cv_mape is not None else ""))
    if out_file is not None:
        from dse.files import atomic_path
        from dse.report.calibration_plot import plot_calibration

        with atomic_path(out_file) as tmp:
            tmp.write_text(cal.overlay_yaml())
        plot_calibration(cal, out_file.with_suffix(""))
        out.print(f"wrote {out_file}", highlight=False)


@app.command("predict", epilog=_examples(
    'dse predict mobile_soc --device kirin970_npu', 'dse predict mobile_soc --device kirin970_npu --calibration datasheet', 'dse predict my.csv --device ncs2 --overlay out/ncs2.yaml'))
def predict_cmd(
    data: Annotated[str, typer.Argument(help="A measurement CSV, or a shipped dataset name.")],
    device: Annotated[str, typer.Option(help="The catalog device whose rows to predict.")],
    overlay: Annotated[str | None, typer.Option(
        help="A fitted overlay (dse calibrate --out) applied to the datasheet spec for every "
        "row, or 'shipped': the shipped overlay of each row's target (the default).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    calibration: CalibrationOption = "shipped",
) -> None:
    """Predict measured rows with a device and report the error of each: by default the device
    as dse simulate runs it, the shipped overlay of each row's target (device x runtime, x host
    where the runtime's timing includes it) applied."""

    with err.status(f"predicting the rows of {device}"):
        pred = api.predict_measurements(data, device, overlay=overlay, calibration=calibration)
    table = pred.table
    if pred.overlay is not None:
        (err if as_json else out).print(f"devices: datasheet values; {pred.device}: overlay "
                                        f"{overlay}", highlight=False, markup=False)
    else:
        _say_calibration(pred.catalog, calibration, pred.targets, as_json=as_json)
    if as_json:
        out.print_json(table.to_json(orient="records"))
        return
    t = _listing(f"{pred.device}: predicted vs measured"
                 + (f" (overlay {overlay})" if pred.overlay is not None else
                    " (shipped overlays)" if pred.calibrated else " (datasheet)"))
    for col in ("workload", "metric", "threads", "streams", "measured", "predicted", "error"):
        t.add_column(col, justify="left" if col in ("workload", "metric") else "right",
                     no_wrap=col != "workload")
    for _, r in table.iterrows():
        t.add_row(str(r["workload"]), str(r["metric"]), str(r["threads"]), str(r["streams"]),
                  f"{r['measured']:.4g}", f"{r['predicted']:.4g}", f"{r['rel_error']:+.1%}")
    out.print(t)
    by_kind, by_threads = api.prediction_errors(table)
    for e in by_kind.to_dict("records"):
        out.print(f"{e['kind']}: {e['points']} points, MAPE {e['mape']:.1%}, within ±10% "
                  f"{e['within_10']:.0%}, worst {e['worst']:.0%}")
    for e in by_threads.to_dict("records"):  # records keep each column's type
        threads = e["threads"]
        line = (f"single, {threads} thread{'s' if threads != 1 else ''}: {e['points']} "
                f"points, MAPE {e['mape']:.1%}, within ±10% {e['within_10']:.0%}, worst "
                f"{e['worst']:.0%}")
        if "baseline_mape" in e:
            line += (f"; MACs proxy MAPE {e['baseline_mape']:.1%}, within ±10% "
                     f"{e['baseline_within_10']:.0%}, worst {e['baseline_worst']:.0%}")
        out.print(line)


@host_app.command("calibrate", epilog=_examples(
    'dse host calibrate --budget 10', 'dse host calibrate --kernels calibration/host/kernels.csv --zoo out/host.csv'))
def host_calibrate_cmd(
    kernels: Annotated[Path | None, typer.Option(
        "--kernels", help="Fit these recorded kernel timings (dse host kernels --out) instead "
        "of timing the suite now.")] = None,
    budget: Annotated[float | None, typer.Option(
        help="Minutes for timing the kernel suite (without --kernels).")] = 10.0,
    threads: Annotated[str, typer.Option(help="Intra-op threads to time kernels at.")] = "1,2",
    kernels_out: Annotated[Path, typer.Option(
        "--kernels-out", help="Where the timed kernels go (without --kernels).")
        ] = Path("out/host/kernels.csv"),
    zoo: Annotated[Path | None, typer.Option(
        help="Whole-model measurements (dse measure) to report the prediction error on; never "
        "fitted on.")] = None,
    catalog_dir: Annotated[Path | None, typer.Option(
        "--catalog", help="A catalog folder with the 'host' device to fit (a recorded probe); "
        "default: probe this machine now into <out dir>/probe/ (without --kernels), else the "
        "catalog's host (DSE_CATALOG).")] = None,
    cv: Annotated[bool, typer.Option(help="Also report 5-fold and leave-one-family-out error "
                                     "on the kernels.")] = True,
    statistic: Annotated[str, typer.Option(
        help="Fit each kernel's median or min time over its repeats (min on a busy machine: "
        "other processes only add time).")] = "median",
    unseen: Annotated[bool, typer.Option(
        help="With --zoo: also predict every zoo model from a fit without the kernels whose "
        "shapes came from it (one fit per model).")] = False,
    out_file: Annotated[Path, typer.Option("--out", help="The overlay YAML to write.")
                        ] = Path("out/host/host@onnxruntime.yaml"),
) -> None:
    """Fit the host's per-kernel cost model on kernel timings (probe -> kernels -> fit) and
    write its overlay; with --zoo, report whole-model error beside the MACs proxy."""
    import yaml

    from dse.calibrate import kernel_fit as kf
    from dse.catalog import catalog_dir as shipped_dir
    from dse.devices import Catalog, default_catalog
    from dse.files import atomic_path

    if catalog_dir is None and kernels is None:
        # a fresh calibration of this machine: probe it first, and fit on that device
        from dse.devices.host import write_probe

        with err.status("probing this machine"):
            _, written = write_probe(out_file.parent / "probe" / "host.yaml")
        catalog_dir = written[0].parent
        out.print(f"probed this machine into {written[0]}", highlight=False)
    catalog = Catalog(shipped_dir("devices"), catalog_dir) if catalog_dir else default_catalog()
    device = kf.host_device(catalog)
    if kernels is None:
        from dse.measure.kernels import cost_model_predictor, run_kernels

        with err.status("timing kernels") as status:
            # adaptive sampling around the worst errors of the cost model on this host
            run_kernels(kernels_out, threads=_int_list(
                threads, "--threads", expected="whole numbers >= 1, comma-separated",
                minimum=1), budget_min=budget,
                        predict=cost_model_predictor(device),
                        progress=lambda d, n, what: status.update(f"kernels {d}/{n}: {what}"))
        kernels = kernels_out
    with err.status("pricing kernels with the cost model") as status:
        host = api.fit_host_kernels(kernels, device, catalog, statistic=statistic, cv=cv, zoo=zoo,
                                unseen=unseen, progress=status.update)
    data, fit, overlay, figures = host.data, host.fit, host.overlay, host.figures
    with atomic_path(out_file) as tmp:
        tmp.write_text(yaml.safe_dump(overlay.model_dump(mode="json", exclude_none=True),
                                      sort_keys=False))
    t = Table(title=f"host kernel fit: {len(data.rows)} kernel rows, "
                    f"{data.rows['key'].nunique()} kernels, {len(fit.models)} kernel classes")
    for col in ("figure", "threads", "points", "MAPE", "within ±10%", "worst",
                "MACs proxy MAPE"):
        t.add_column(col, justify="left" if col == "figure" else "right",
                     no_wrap=col == "figure", min_width=25 if col == "figure" else None)
    for _, r in api.kernel_fit_figures(figures).iterrows():
        proxy_mape = r["baseline_mape"]
        t.add_row(r["figure"], str(r["threads"]), str(r["points"]), f"{r['mape']:.1%}",
                  f"{r['within_10']:.0%}", f"{r['worst']:.0%}",
                  "" if proxy_mape is None or math.isnan(proxy_mape) else f"{proxy_mape:.1%}")
    out.print(t)
    out.print(f"overhead per inference {fit.overhead_per_inference_s * 1e6:.1f} us; "
              f"wrote {out_file}", highlight=False)


@app.command("calibrate-catalog", epilog=_examples(
    'dse calibrate-catalog --out-dir out/overlays', 'dse calibrate-catalog --dataset mobile_soc --no-cv --out-dir out/overlays'))
def calibrate_catalog_cmd(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write the overlays.")
                       ] = Path("calibration/overlays"),
    dataset: Annotated[list[str] | None, typer.Option(help="Only these datasets "
                                                      "(repeatable).")] = None,
    no_cv: Annotated[bool, typer.Option("--no-cv", help="Skip leave-one-model-out "
                                        "cross-validation.")] = False,
) -> None:
    """Fit every target (device x runtime) the shipped datasets cover, the targets of one
    runtime and device kind together; write one overlay per target."""
    from dse.calibrate.shipped import fit_catalog

    with err.status("fitting") as status:
        summary = fit_catalog(out_dir, datasets=dataset, cross_validation=not no_cv,
                              progress=lambda d: status.update(f"fitting {d}"))
    t = Table(title=f"overlays in {out_dir}")
    for col in ("target", "datasets", "points", "models", "free", "MAPE", "LOO MAPE"):
        t.add_column(col, justify="left" if col in ("target", "datasets", "free") else "right",
                     overflow="fold")
    for _, r in summary.iterrows():
        if r["error"]:
            t.add_row(str(r["target"]), str(r["datasets"]), str(r["points"]), str(r["models"]),
                      f"not fitted: {r['error']}", "", "")
            continue
        loo = "" if r["loo_mape"] is None or math.isnan(r["loo_mape"]) else \
            f"{r['loo_mape']:.1%}"
        free = str(r["free"]).split(", ")
        shared = [p for p in free if p.startswith("shared:")]
        own = ", ".join(p for p in free if p not in shared)
        t.add_row(str(r["target"]), str(r["datasets"]), str(r["points"]), str(r["models"]),
                  own + (f" + {len(shared)} shared" if shared else ""), f"{r['mape']:.1%}",
                  loo)
    out.print(t)


@host_app.command("probe", epilog=_examples(
    'dse host probe --out dse_host/host.yaml'))
def host_probe_cmd(
    out_file: Annotated[Path, typer.Option(
        "--out", help="The device YAML to write (<dir>/<name>.yaml; <dir>/platforms/<name>.yaml "
        "is written beside it). Load <dir> with --catalog <dir> or DSE_CATALOG=<dir>.")
    ] = Path("dse_host/host.yaml"),
) -> None:
    """Measure this machine (a few seconds) and write it as a catalog device and platform."""
    from dse.devices.host import write_probe
    from dse.spec.units import format_quantity

    with err.status("probing this machine: clock under load, GEMM, memory bandwidth"):
        spec, written = write_probe(out_file)
    table = Table(title=f"{spec.name}: probed")
    table.add_column("field")
    table.add_column("value", justify="right")
    for _, r in api.host_summary(spec).iterrows():
        value = r["value"]
        text = format_quantity(value, r["quantity"]) if r["quantity"] else \
            f"{value:g}" if isinstance(value, float) else str(value)
        table.add_row(r["field"], text + (f" ({r['note']})" if r["note"] else ""))
    out.print(table)
    for path in written:
        out.print(f"wrote {path}", highlight=False)
    out.print(f"use it with --catalog {out_file.parent} or DSE_CATALOG={out_file.parent}; "
              f"`dse devices show {spec.name} --catalog {out_file.parent}` lists every "
              f"number with how it was measured", highlight=False)


@app.command("measure", epilog=_examples(
    'dse measure mobilenet_v2 resnet18 --threads 1,2 --out out/host.csv', 'dse measure mobilenet_v2 --runtime openvino --streams 1,2 --out out/ov.csv'))
def measure_cmd(
    workloads: Annotated[list[str], typer.Argument(
        help="Zoo names (mobilenet_v2, mobilenet_v1_0.5_160) or .onnx files.")],
    runtime: Annotated[str, typer.Option(
        help="onnxruntime, or openvino (its CPU plugin; pip install 'dse[openvino]').")
                       ] = "onnxruntime",
    threads: Annotated[str, typer.Option(
        help="onnxruntime: intra-op threads per inference, comma-separated (1,2).")] = "1",
    streams: Annotated[str | None, typer.Option(
        help="onnxruntime: sessions in flight, comma-separated (default 1); openvino: "
        "throughput-mode NUM_STREAMS (default 1,2,3,4).")] = None,
    requests: Annotated[str, typer.Option(
        help="openvino: infer requests in flight per stream count, comma-separated.")
                        ] = "1,2,3,4,5,6,7,8",
    latency_mode: Annotated[bool, typer.Option(
        "--latency-mode/--no-latency-mode", help="openvino: also time PERFORMANCE_HINT "
        "LATENCY.")] = True,
    warmup: Annotated[int, typer.Option(help="Untimed runs per session (per request) before "
                                        "each configuration.")] = 5,
    repeats: Annotated[int, typer.Option(help="Timed runs per session (openvino: per "
                                         "configuration) in each configuration.")] = 30,
    rounds: Annotated[int, typer.Option(help="openvino: time every configuration this many "
                                        "times, interleaved, and keep the least disturbed "
                                        "round.")] = 1,
    profile: Annotated[bool, typer.Option(
        "--profile", help="onnxruntime: also time every node with its profiler, into "
        "<out stem>.nodes.csv.")] = False,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Zoo model option KEY=VALUE for every zoo workload "
        "(repeatable).")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="The measurement CSV to write.")
                        ] = Path("out/host.csv"),
    device: Annotated[str, typer.Option(help="The device column of the rows (host: this "
                                        "machine's CPU as `dse host probe` describes it).")
                      ] = "host",
) -> None:
    """Time workloads on this machine with ONNX Runtime or OpenVINO; write measurements."""
    from dse.measure import MeasureError
    from dse.measure.host import measure_function

    fn = measure_function(runtime)
    openvino = runtime == "openvino"
    problems: list[Problem] = []
    parsed: dict[str, list[int]] = {}
    lists = [("--streams", streams or ("1,2,3,4" if openvino else "1"))]
    lists.append(("--requests", requests) if openvino else ("--threads", threads))
    for flag, text in lists:
        try:
            parsed[flag] = _int_list(text, flag) if text else []
        except DseError as exc:  # with every other problem of the flags
            problems.extend(exc.problems)
    if not openvino and rounds != 1:
        problems.append(Problem("--rounds", str(rounds), "an openvino setting"))
    if openvino and (profile or threads != "1"):
        problems.append(Problem("--runtime openvino", "--profile/--threads", "onnxruntime "
                                "settings; OpenVINO's are --streams, --requests and "
                                "--latency-mode"))
    if problems:
        raise MeasureError(problems)
    settings: dict[str, Any] = (
        {"streams": parsed["--streams"], "requests": parsed["--requests"],
         "latency_mode": latency_mode, "rounds": rounds} if openvino else
        {"threads": parsed["--threads"], "streams": parsed["--streams"], "profile": profile})
    with _progress_bar("measuring") as step:
        result = fn(workloads, warmup=warmup, repeats=repeats, device=device,
                    options=_parse_options(option or []), progress=step, **settings)
    name = "OpenVINO CPU plugin" if openvino else "ONNX Runtime"
    table = Table(title=f"{device}: {name} on this machine, {repeats} timed runs per "
                        f"{'configuration' if openvino else 'session'}")
    config = (("mode", "num_streams", "compiled_streams", "threads_per_stream", "requests")
              if openvino else ("threads", "streams"))
    heads = {"num_streams": "NUM_STREAMS", "compiled_streams": "compiled",
             "threads_per_stream": "threads/stream"}
    for col in ("workload", *(heads.get(c, c) for c in config), "latency ms", "p10-p90 ms",
                "n", "fps"):
        table.add_column(col, justify="left" if col == "workload" else "right",
                         no_wrap=col != "workload")
    for _, r in result.runs.iterrows():
        options = ", ".join(f"{k}={v}" for k, v in json.loads(r["options"] or "{}").items())
        table.add_row(f"{r['workload']}" + (f" ({options})" if options else ""),
                      *(str(r[c]) for c in config), f"{r['latency_ms']:.3f}",
                      f"{r['p10_ms']:.3f}-{r['p90_ms']:.3f}", str(r["n"]),
                      f"{r['throughput_fps']:,.1f}")
    # Wider than a default 80-column pipe: the table is read in files and CI logs too.
    (out if out.is_terminal else Console(width=140)).print(table)
    if result.nodes is not None:
        matched = (result.nodes["graph_node"] != "").mean() if len(result.nodes) else 0.0
        out.print(f"profiled {len(result.nodes)} node timings; {matched:.0%} matched to dse "
                  f"graph nodes", highlight=False)
    for path in result.write(out_file):
        out.print(f"wrote {path}", highlight=False)


@host_app.command("kernels", epilog=_examples(
    'dse host kernels --budget 5 --out out/kernels.csv', 'dse host kernels --zoo mobilenet_v2 --random 50 --adaptive 0'))
def host_kernels_cmd(
    budget: Annotated[float | None, typer.Option(
        help="Minutes: start no new kernel after this long (the CSV keeps what is done; a "
        "rerun goes on from there).")] = 15.0,
    threads: Annotated[str, typer.Option(
        help="Intra-op threads, comma-separated (1,2).")] = "1,2",
    runtime: Annotated[str, typer.Option(help="The runtime to time with.")] = "onnxruntime",
    out_file: Annotated[Path, typer.Option("--out", help="The kernel CSV (resumed if present).")
                        ] = Path("calibration/host/kernels.csv"),
    zoo: Annotated[list[str] | None, typer.Option(
        help="Only these zoo models' layer shapes (repeatable; default: every zoo model).")
                   ] = None,
    no_zoo: Annotated[bool, typer.Option("--no-zoo", help="No zoo layer shapes.")] = False,
    random: Annotated[int, typer.Option(help="Random kernels after the zoo's.")] = 200,
    adaptive: Annotated[int, typer.Option(
        help="Kernels drawn around the worst predictions of dse's cost model, last.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the random and adaptive draws.")] = 0,
    repeats: Annotated[int | None, typer.Option(
        help="Fixed timed runs per kernel (default: as many as fill --target-ms).")] = None,
    target_ms: Annotated[float, typer.Option(
        help="Milliseconds of timed runs to aim at per kernel and thread count.")] = 100.0,
    overlay: Annotated[Path | None, typer.Option(
        help="A fitted overlay of the host: adaptive draws go where the cost model with it is "
        "worst (default: the host's datasheet-style spec).")] = None,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Start over: time everything again and replace --out at the end.")
                     ] = False,
) -> None:
    """Time a suite of single kernels (the zoo's layer shapes, random and adaptive draws) with
    ONNX Runtime on this machine, resumably, into a kernel CSV."""
    from dse.measure.kernels import KernelsError, run_kernels

    parsed = _int_list(threads, "--threads", error=KernelsError)
    # read before anything is timed: bad input fails fast
    predict = api.kernel_predictor(overlay) if overlay is not None else None
    with _progress_bar("building the suite", remaining=True) as step:
        result = run_kernels(out_file, threads=parsed, runtime=runtime, budget_min=budget,
                             zoo=False if no_zoo else (zoo or True), random=random,
                             adaptive=adaptive, seed=seed, repeats=repeats,
                             target_s=target_ms / 1e3, predict=predict, fresh=fresh,
                             progress=step)

    table = result.table
    summary = Table(title=f"kernels on {table['cpu'].iloc[0] if len(table) else 'this machine'}"
                          f" (median kernel time, ms)")
    for col in ("family", "kernels", *(f"{n} thread{'s' if n > 1 else ''}" for n in
                                       sorted(set(parsed)))):
        summary.add_column(col, justify="left" if col == "family" else "right")
    for _, r in api.kernel_summary(table, parsed).iterrows():
        summary.add_row(r["family"], str(r["kernels"]),
                        *("-" if math.isnan(r[n]) else f"{r[n] * 1e3:.3f}"
                          for n in sorted(set(parsed))))
    out.print(summary)
    out.print(f"timed {result.timed} (kernel, threads) pairs, {result.resumed} already done"
              + (f", {result.skipped_budget} left for a rerun (budget reached)"
                 if result.stopped else ""), highlight=False)
    for failure in result.failed:
        err.print(f"failed: {failure}", highlight=False, markup=False)
    out.print(f"wrote {out_file}", highlight=False)


@host_app.command("corun", epilog=_examples(
    'dse host corun mobilenet_v2 resnet18 --out out/corun.csv', 'dse host corun mobilenet_v2 --hog 1,max --no-pairs'))
def host_corun_cmd(
    workloads: Annotated[list[str], typer.Argument(help="Zoo models (two or more for pairs).")],
    hog: Annotated[str, typer.Option(
        help="Memory-hog intensities in GB/s (read + written), comma-separated; 'max' for an "
        "unthrottled copy; '' for none.")] = "1,2,4,max",
    pairs: Annotated[bool, typer.Option(help="Measure every pair of different models.")] = True,
    window: Annotated[float, typer.Option(help="Seconds of each measured window.")] = 3.0,
    rounds: Annotated[int, typer.Option(help="Rounds of every condition.")] = 3,
    cores: Annotated[str, typer.Option(help="The two CPUs to pin to, such as 0,1 (default: "
                                       "the first two usable).")] = "",
    basis: Annotated[str, typer.Option(help="Slowdowns shown from 'wall' or 'cpu' time.")
                     ] = "wall",
    out_file: Annotated[Path, typer.Option("--out", help="The raw co-run CSV to write.")
                        ] = Path("out/corun.csv"),
) -> None:
    """Co-run models on this machine (pairs on two pinned cores, and beside a memory hog of set
    intensity), one intra-op thread each; write the raw table and show the slowdowns."""
    from dse.measure.corun import CorunError, corun, corun_summary, write_corun

    problems = []
    levels: list[float | str] = []
    for part in filter(None, (p.strip() for p in hog.split(","))):
        try:
            levels.append("max" if part == "max" else float(part))
        except ValueError:
            problems.append(Problem("--hog", part, "expected GB/s numbers or 'max'"))
    try:
        pinned = [int(c) for c in cores.split(",")] if cores else None
    except ValueError:
        pinned = None
        problems.append(Problem("--cores", cores, "expected two CPU numbers, such as 0,1"))
    if problems:  # with every problem of the rest of the settings
        from dse.measure.corun import check_settings

        raise CorunError(problems + check_settings(workloads, levels, window, rounds, 0,
                                                   pinned or None))
    with _progress_bar("co-running") as step:
        # every finished round is written at once: an interrupted run keeps them
        raw = corun(workloads, hog_gb_s=levels, pairs=pairs, window_s=window, rounds=rounds,
                    cores=pinned, progress=step,
                    on_round=lambda rows: write_corun(rows, out_file))
    written = write_corun(raw, out_file)
    summary = corun_summary(raw, basis=basis)
    table = Table(title=f"co-run slowdowns on {raw['cpu'].iloc[0]} ({basis} time, median of "
                        f"{rounds} rounds)")
    for col in ("model", "beside", "alone fps", "co-run fps", "slowdown", "range", "hog GB/s"):
        table.add_column(col, justify="left" if col in ("model", "beside") else "right")
    for _, r in summary.iterrows():
        beside = r["co_runner"] + (f" {r['level']}" if r["kind"] == "hog" else "")
        table.add_row(r["workload"], beside, f"{r['alone_fps']:.1f}", f"{r['corun_fps']:.1f}",
                      f"{r['slowdown']:.3f}", f"{r['slowdown_min']:.2f}-{r['slowdown_max']:.2f}",
                      "" if r["kind"] == "pair" else f"{r['hog_achieved_gb_s']:.2f}")
    out.print(table)
    out.print(f"wrote {written}", highlight=False)


@host_app.command("contention", epilog=_examples(
    'dse host contention out/corun.csv', 'dse host contention out/corun.csv --basis cpu --json'))
def host_contention_cmd(
    data: Annotated[Path, typer.Argument(help="A raw co-run CSV (dse host corun).")],
    basis: Annotated[str, typer.Option(help="Slowdowns from 'wall' or 'cpu' time (cpu when "
                                       "the machine was not quiet).")] = "wall",
    device: Annotated[str, typer.Option(help="The device the demands are priced on.")
                      ] = "host",
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")
                       ] = False,
) -> None:
    """Fit the contention law on the hog rows of a co-run table and predict the co-run
    throughput of its model pairs (never fitted on), beside the naive no-slowdown figure."""
    cat = _catalog(catalog)
    with err.status("pricing the models and fitting the contention law"):
        contention = api.host_contention(data, basis=basis, device=device, catalog=cat)
    if as_json:
        out.print_json(json.dumps(contention.record(), default=float))
        return
    fit = contention.fit
    sat = fit.law["saturation"]
    out.print(f"law on {contention.device} ({fit.mem_bw_bytes_s / 1e9:.3g} GB/s): knee "
              f"{fit.law['knee']:.3g}, saturation {'none' if math.isinf(sat) else f'{sat:.3g}'},"
              f" slope {fit.law['slope']:.3g}; slowdown error on the {len(fit.hog)} hog rows it "
              f"was fitted on {fit.fit_mape:.1%}", highlight=False)
    table = Table(title=f"co-run throughput of pairs not fitted on ({basis} time)")
    for col in ("model", "beside", "own GB/s", "other GB/s", "alone fps", "measured",
                "predicted", "error", "naive error"):
        table.add_column(col, justify="left" if col in ("model", "beside") else "right")
    for _, r in fit.pairs.iterrows():
        table.add_row(r["workload"], r["co_runner"], f"{r['own_gb_s']:.2f}",
                      f"{r['co_runner_gb_s']:.2f}", f"{r['alone_fps']:.1f}",
                      f"{r['corun_fps']:.1f}", f"{r['predicted_fps']:.1f}", f"{r['error']:+.1%}",
                      f"{r['naive_error']:+.1%}")
    out.print(table)
    out.print(f"pairs: throughput MAPE {fit.pair_mape:.1%} (naive, no slowdown: "
              f"{fit.naive_mape:.1%})", highlight=False)


@host_app.command("spread", epilog=_examples(
    'dse host spread mobilenet_v2 resnet18 --repeats 300'))
def host_spread_cmd(
    workloads: Annotated[list[str], typer.Argument(
        help="Zoo names or .onnx files to time (a few hundred runs each).")],
    threads: Annotated[str, typer.Option(help="Intra-op threads per session (1,2).")] = "1",
    streams: Annotated[str, typer.Option(help="Sessions in flight (1,2).")] = "1,2",
    warmup: Annotated[int, typer.Option(help="Untimed runs per session.")] = 20,
    repeats: Annotated[int, typer.Option(help="Timed runs per session.")] = 300,
    out_file: Annotated[Path, typer.Option("--out", help="The runs table to write.")
                        ] = Path("calibration/host/spread.csv"),
) -> None:
    """Record the host's latency spread: time each workload with ONNX Runtime (p10-p99 of
    every configuration, with the CPU and date), write the runs table, then check it
    (`dse host spread-check`)."""
    from dse.files import atomic_path
    from dse.measure import MeasureError, measure

    parsed = {flag: _int_list(text, flag, error=MeasureError)
              for flag, text in (("--threads", threads), ("--streams", streams))}
    with err.status("measuring") as status:
        result = measure(workloads, threads=parsed["--threads"], streams=parsed["--streams"],
                         warmup=warmup, repeats=repeats,
                         progress=lambda d, t, label: status.update(f"{label} ({d}/{t})"))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_file) as tmp:
        result.runs_table().to_csv(tmp, index=False)
    out.print(f"wrote {out_file}", highlight=False)
    host_spread_check_cmd(out_file, catalog=None, overlay=None)


@host_app.command("spread-check", epilog=_examples(
    'dse host spread-check calibration/host/spread.csv', 'dse host spread-check out/host.runs.csv --overlay out/host.yaml'))
def host_spread_check_cmd(
    runs_file: Annotated[Path, typer.Argument(help="A runs table (`dse host spread`, or "
                                              "`dse measure`'s <stem>.runs.csv).")
                         ] = Path("calibration/host/spread.csv"),
    device: Annotated[str, typer.Option(help="The host device the runs are of.")] = "host",
    catalog: CatalogOption = None,
    overlay: Annotated[Path | None, typer.Option(
        "--overlay", help="Also write the spread fitted on every single-session row into "
        "this overlay of the host target (created, or its latency_spread replaced).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Simulated against measured p99 per configuration of a runs table, each with the spread
    fitted on the other models' single-session runs."""
    import yaml

    from dse.calibrate.spread import describe
    from dse.devices.overlay import load_overlay
    from dse.files import atomic_path

    with err.status("simulating"):
        check = api.spread_check(runs_file, device=device, catalog=_catalog(catalog),
                                 overlay=overlay)
    table, spread = check.table, check.spread
    if as_json:
        out.print_json(json.dumps({"spread": spread.model_dump(exclude_none=True),
                                   "rows": table.to_dict(orient="records")}))
    else:
        t = Table(title=f"{runs_file}: simulated vs measured latency (ms); measured on "
                        f"{check.machines}")
        for col in ("workload", "threads", "streams", "measured p50", "measured p99",
                    "sim p50", "sim p99", "p99 error", "p99/p50 error", "no spread"):
            t.add_column(col, justify="left" if col == "workload" else "right")
        for _, r in table.iterrows():
            t.add_row(str(r["workload"]), str(r["threads"]), str(r["streams"]),
                      f"{r['measured_p50_ms']:.3f}", f"{r['measured_p99_ms']:.3f}",
                      f"{r['sim_p50_ms']:.3f}", f"{r['sim_p99_ms']:.3f}",
                      f"{r['p99_error']:+.1%}", f"{r['tail_error']:+.1%}",
                      f"{r['naive_tail_error']:+.1%}")
        out.print(t)
        out.print(f"spread fitted on every single-session row: {describe(spread)} of the "
                  f"median; p99/p50 error MAPE {check.tail_mape:.1%} "
                  f"(no spread: {check.naive_tail_mape:.1%}); p99 error "
                  f"MAPE {check.p99_mape:.1%}", highlight=False)
    if overlay is not None:
        new = api.spread_overlay(spread, device, runs_file,
                             load_overlay(overlay) if overlay.is_file() else None)
        with atomic_path(overlay) as tmp:
            tmp.write_text(yaml.safe_dump(new.model_dump(mode="json", exclude_none=True),
                                          sort_keys=False))
        (err if as_json else out).print(f"wrote {overlay}", highlight=False)


@app.command("measure-import", epilog=_examples(
    'dse measure-import benchmark_report.csv --format benchmark_app --device ncs2 --workload googlenet --out out/ncs2.csv'))
def measure_import_cmd(
    file: Annotated[Path, typer.Argument(help="A benchmark tool's output: benchmark_app's "
                                         "benchmark_report.csv or console log, TFLite "
                                         "benchmark_model's log.")],
    format: Annotated[str, typer.Option("--format", help="benchmark_app or tflite_benchmark.")],
    device: Annotated[str, typer.Option(help="The catalog device it ran on.")],
    workload: Annotated[str, typer.Option(help="The zoo model (or ONNX file) it timed.")],
    out_file: Annotated[Path, typer.Option("--out", help="The measurement CSV to write.")],
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Zoo model option KEY=VALUE (repeatable).")] = None,
    host: Annotated[str, typer.Option(help="The catalog platform it sat on (default: the "
                                      "device's own board).")] = "",
    runtime: Annotated[str | None, typer.Option(help="The catalog runtime (default: from the "
                                                "file).")] = None,
    precision: Annotated[str | None, typer.Option(help="fp32, fp16, int8, ... (default: from "
                                                  "the file, else fp32).")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads of one inference (per stream); "
                                                "default: from the file.")] = None,
    append: Annotated[bool, typer.Option("--append", help="Add to the rows already in --out."
                                         )] = False,
) -> None:
    """Import a benchmark tool's output (OpenVINO benchmark_app, TFLite benchmark_model) as
    measurement rows."""
    from dse.measure.importers import import_file

    result = import_file(file, format=format, device=device, workload=workload,
                         options=_parse_options(option or []), host=host, runtime=runtime,
                         precision=precision, threads=threads)
    table = Table(title=f"{file}: {len(result.measurements)} rows")
    for col in ("runtime", "precision", "threads", "streams", "metric", "value", "unit"):
        table.add_column(col, justify="right" if col in ("threads", "streams", "value")
                         else "left")
    for _, r in result.measurements.iterrows():
        table.add_row(*(str(r[c]) for c in ("runtime", "precision", "threads", "streams",
                                            "metric", "value", "unit")))
    out.print(table)
    if result.ops is not None:
        out.print(f"operator profile: {len(result.ops)} operators", highlight=False)
    for path in result.write(out_file, append=append):
        out.print(f"wrote {path}", highlight=False)


@host_app.command("openvino-check", epilog=_examples(
    'dse host openvino-check out/ov.csv', 'dse host openvino-check out/ov.csv --protocol model --json'))
def host_openvino_check_cmd(
    data: Annotated[str, typer.Argument(help="A measurement CSV with host x openvino_cpu rows "
                                        "(dse measure --runtime openvino).")],
    device: Annotated[str, typer.Option(help="The device of the rows.")] = "host",
    protocol: Annotated[list[str] | None, typer.Option(
        help="configuration (leave-configuration-out: each model fitted on its one-request "
        "rows) and/or model (leave-one-model-out); default both.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    catalog: CatalogOption = None,
) -> None:
    """Predict host x OpenVINO throughput (and latency) at several streams and requests from
    fits that never saw them, beside a naive baseline."""
    from dse.measure.openvino import check

    measurements = _measurements(data)
    with err.status("fitting and simulating") as status:
        result = check(measurements, device=device, catalog=_catalog(catalog), protocols=tuple(protocol or
                                                                    ("configuration", "model")),
                       progress=lambda s: status.update(f"fitting and simulating: {s}"))
    if as_json:
        out.print_json(data={"rows": json.loads(result.table.to_json(orient="records")),
                             "summary": json.loads(result.summary.to_json(orient="records"))})
        return
    t = Table(title=f"{device} x openvino_cpu: held-out rows with several requests in flight")
    for col in ("protocol", "workload", "metric", "threads/stream", "requests", "measured",
                "predicted", "error", "baseline error"):
        t.add_column(col, justify="left" if col in ("protocol", "workload", "metric")
                     else "right")
    for _, r in result.table.iterrows():
        t.add_row(str(r["protocol"]), str(r["workload"]), str(r["metric"]), str(r["threads"]),
                  str(r["requests"]), f"{r['measured']:.4g}", f"{r['predicted']:.4g}",
                  f"{r['rel_error']:+.1%}", f"{r['baseline_error']:+.1%}")
    (out if out.is_terminal else Console(width=140)).print(t)
    for _, o in result.summary.iterrows():
        out.print(f"{o['protocol']} {o['metric']}: {o['points']} points of {o['models']} models,"
                  f" MAPE {o['mape']:.1%}, within ±10% {o['within_10']:.0%}, worst "
                  f"{o['worst']:.0%}; naive baseline MAPE {o['baseline_mape']:.1%}",
                  highlight=False)


@app.command("validate", epilog=_examples(
    'dse validate', 'dse validate --dataset mobile_soc --json'))
def validate_cmd(
    dataset: Annotated[list[str] | None, typer.Option(help="Only these datasets (repeatable)."
                                                      )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Leave-one-model-out prediction error per target over every shipped dataset, beside a
    MACs-proxy baseline left out the same way, with the 90% intervals' coverage."""
    import json

    import pandas as pd

    from dse.calibrate.validation import by_dataset, overall, validate_all

    with err.status("cross-validating") as status:
        table = validate_all(dataset, progress=lambda s: status.update(f"cross-validating {s}"))
    summary = overall(table)
    tables = by_dataset(table)
    if as_json:
        records = json.loads(table.to_json(orient="records"))
        out.print_json(data={"rows": records, "datasets": tables, "overall": summary})
        return
    failed = table[table["error"] != ""]
    table = table[table["error"] == ""]
    t = Table(title="leave-one-model-out error (fit on the other models, predict this one)")
    for col in ("dataset", "target (device@runtime@host)", "kind", "points", "models", "MAPE",
                "±10%", "worst", "MACs proxy", "90% cov."):
        t.add_column(col, justify="left" if col in ("dataset", "kind") or
                     col.startswith("target") else "right", no_wrap=col.startswith("target"))
    for _, r in table.iterrows():
        target = "@".join(str(x) for x in (r["device"], r["runtime"], r["host"]) if x)
        base = r["baseline_mape"]
        base_text = "" if base is None or (isinstance(base, float) and math.isnan(base)) else \
            f"{base:.1%}"
        t.add_row(str(r["dataset"]), target, str(r["kind"]), str(r["points"]),
                  str(r["models"]), f"{r['mape']:.1%}", f"{r['within_10']:.0%}",
                  f"{r['worst']:.0%}", base_text, f"{r['coverage_90']:.0%}")
    # Wider than a default 80-column pipe: the table is read in files and CI logs too.
    (out if out.is_terminal else Console(width=140)).print(t)
    by = Table(title="by table, point-weighted")
    for col in ("dataset", "kind", "points", "MAPE", "within ±10%", "MACs proxy",
                "beating it", "90% coverage"):
        by.add_column(col, justify="left" if col in ("dataset", "kind") else "right")
    for _, o in api.validation_by_dataset(table).iterrows():
        has = "baseline_mape" in o and not pd.isna(o["baseline_mape"])
        by.add_row(o["dataset"], o["kind"], str(o["points"]), f"{o['mape']:.1%}",
                   f"{o['within_10']:.0%}", f"{o['baseline_mape']:.1%}" if has else "",
                   f"{int(o['beats_baseline'])} of {int(o['rows_with_baseline'])}"
                   if has else "", f"{o['coverage_90']:.0%}")
    out.print(by)
    for _, r in failed.iterrows():
        out.print(f"not fitted: {r['dataset']} {r['device']}@{r['runtime']}"
                  f"{'@' + r['host'] if r['host'] else ''} ({r['points']} points): "
                  f"{r['error']}", highlight=False)
    for kind, o in summary.items():
        if kind == "errors":
            continue
        line = (f"{kind}: {o['points']} points on {o['targets']} targets, MAPE "
                f"{o['mape']:.1%}, {o['within_10']:.0%} within ±10%, 90% intervals cover "
                f"{o['coverage_90']:.0%}")
        if "baseline_mape" in o:
            line += (f"; MACs proxy {o['baseline_mape']:.1%}, beaten on "
                     f"{o['beats_baseline']} of {o['rows_with_baseline']} rows")
        out.print(line, highlight=False)


@app.command("compare", epilog=_examples(
    "dse compare experiments/multi_ncs.yaml experiments/what_to_buy.yaml",
    "dse compare experiments/multi_ncs.yaml --set platform.accelerators.ncs2.count=2"))
def compare_cmd(
    experiments: Annotated[list[Path], typer.Argument(help="Experiment YAMLs.")],
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="A variant PATH=VALUE (repeatable): each one is simulated as a column of "
        "its own beside every experiment's first configuration.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Simulate each experiment's first configuration (and each --set variant of it) and show
    the metrics side by side."""
    from dse.report.compare import ROWS, compare

    with err.status("simulating") if not as_json else contextlib.nullcontext():
        table = compare(experiments, variants=set_ or [])
    if as_json:
        out.print_json(data={col: {row: (None if v is None or (isinstance(v, float) and
                                                                math.isnan(v)) else v)
                                   for row, v in table[col].items()}
                             for col in table.columns})
        return
    t = Table(title="first configuration of each experiment" + (", and variants" if set_
                                                                 else ""))
    t.add_column("metric")
    for col in table.columns:
        t.add_column(str(col).replace(" [", "\n["), justify="right", overflow="fold")
    for row, values in table.iterrows():
        if row == "infeasible" and not any(values):
            continue
        t.add_row(str(row), *("-" if v is None else f"{v:,.4g}" if row in ROWS else str(v)
                              for v in values))
    (out if out.is_terminal else Console(width=160)).print(t)


@app.command("sweep", epilog=_examples(
    "dse sweep experiments/edgetpu_nasbench.yaml --workers 2",
    "dse sweep zoo --targets coral_usb,ncs2,dpu_b4096",
    "dse sweep nasbench101 --targets edgetpu_v1,edgetpu_v2,edgetpu_v3 --engine ray --workers 2",
    "dse sweep zoo -o models=resnet8,ds_cnn --targets coral_usb+raspberry_pi4 --out out/zoo",
    "dse sweep report sweeps/zoo"))
def sweep_cmd(
    family: Annotated[str, typer.Argument(help="A model family (zoo, nasbench101, ...), a "
                                          "sweep file (experiments/edgetpu_nasbench.yaml), or "
                                          "'report' to analyse the sweep in DIR again.")],
    folder: Annotated[Path | None, typer.Argument(
        metavar="[DIR]", help="With 'report': the sweep folder.")] = None,
    targets: Annotated[str | None, typer.Option(
        help="Comma-separated targets DEVICE\\[@RUNTIME]\\[+HOST]: a catalog device, optionally "
        "the runtime it runs and the platform whose host CPU takes fallback layers.")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Family option KEY=VALUE (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(
        help="Sweep N members (required above 1,000,000): a uniform sample (--sample random, "
        "seeded) or the first N.")] = None,
    sample: Annotated[str, typer.Option(help="random or first (with --limit).")] = "random",
    seed: Annotated[int, typer.Option(help="Seed of the random sample.")] = 0,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output folder (default: sweeps/<family>).")] = None,
    engine: Annotated[str, typer.Option(help="local or ray.")] = "local",
    address: Annotated[str | None, typer.Option(
        help="Join the Ray cluster at HOST:PORT (--engine ray); default: start Ray here.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (local) or Ray CPUs.")] = 1,
    chunk: Annotated[int, typer.Option(help="Members per chunk (one Parquet file each).")
                     ] = 1000,
    precision: Annotated[str, typer.Option(
        help="Precision on every target, or auto: int8 where the device runs it, else its "
        "narrowest.")] = "auto",
    calibration: CalibrationOption = "shipped",
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Move an earlier, different sweep in --out aside to "
        "DIR.old-<time> and start again.")] = False,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="Write summary.md and the figures when done.")] = True,
) -> None:
    """Evaluate every member of a model family (or --limit N of them) on each target, in
    resumable chunks written as Parquet, locally or on Ray; then summarise which features
    explain latency on which target and how far the targets agree.

    A sweep run again into the same folder evaluates only the chunks not yet written; a
    different sweep there is refused unless --fresh. 'dse sweep report DIR' writes summary.md
    and the figures again from the Parquet files.
    """
    from dse.report.sweep_report import write_report
    from dse.sweep import run_sweep

    if family == "report":
        if folder is None:
            raise DseError([Problem("dse sweep report", "", "give the sweep folder: dse sweep "
                                    "report DIR")])
        with err.status(f"analysing {folder}"):
            path = write_report(folder)
        out.print(f"wrote {path}", highlight=False)
        return
    if folder is not None:
        raise DseError([Problem(str(folder), "", "a second argument is taken only by 'dse "
                                "sweep report DIR'; the output folder is --out DIR")])
    settings: dict[str, Any] = {
        "family": family, "options": _parse_options(option or []),
        "targets": targets.split(",") if targets else [], "limit": limit, "sample": sample,
        "seed": seed, "precision": precision, "calibration": calibration, "chunk": chunk,
        "out": out_dir}
    if family.endswith((".yaml", ".yml")):
        # a sweep file states what is swept; a flag given here overrides it
        from dse.spec.sweep import load_sweep, merge_options

        settings = merge_options(load_sweep(family), settings)
    if not settings["targets"]:
        raise DseError([Problem("--targets", "", "give the targets, such as --targets "
                                "coral_usb,ncs2")])
    if settings["sample"] not in ("random", "first"):
        raise DseError([Problem("--sample", "", f"expected random or first, got "
                                f"{settings['sample']!r}")])
    with _progress_bar("sweeping", remaining=True) as step:
        result = run_sweep(settings.pop("family"), settings.pop("targets"), **settings,
                           engine=engine, address=address, workers=workers, fresh=fresh,
                           progress=step)
    rate = (result.evaluated and result.members / max(result.seconds, 1e-9))
    out.print(f"{result.members:,} members in {result.chunks} chunks; {result.evaluated} "
              f"evaluated now in {result.seconds:.1f} s"
              + (f" ({rate:,.0f} members/s)" if result.evaluated == result.chunks else "")
              + ("" if result.evaluated else " (all were done already)"), highlight=False)
    if report:
        with err.status("analysing"):
            path = write_report(result.out)
        out.print(f"results in {result.out}/ ({path.name}, part-*.parquet, figures)",
                  highlight=False)
    else:
        out.print(f"results in {result.out}/ (part-*.parquet)", highlight=False)


@app.command("schema", epilog=_examples(
    'dse schema --out experiment.schema.json',
    'dse schema --reference docs/experiment_reference.md'))
def schema_cmd(
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the JSON Schema here (default: print it).")] = None,
    reference: Annotated[Path | None, typer.Option(
        help="Also write the Markdown reference of every key here "
             "(docs/experiment_reference.md).")] = None,
) -> None:
    """The JSON Schema of an experiment YAML (every value may be a search dimension), for
    editors and validators; with --reference, the Markdown page of every key."""
    from dse.files import atomic_path
    from dse.report.reference import reference_markdown
    from dse.spec.schema import experiment_schema

    text = json.dumps(experiment_schema(), indent=2) + "\n"
    if out_file is None and reference is None:
        sys.stdout.write(text)
    for path, content in ((out_file, text), (reference, None)):
        if path is None:
            continue
        with atomic_path(path) as tmp:
            tmp.write_text(content if content is not None else reference_markdown())
        err.print(f"wrote {path}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dse`` console script; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # typer turns Ctrl-C into Exit(130) and returns it
            err.print("aborted")
            return 1
    except DseError as exc:
        err.print("[red]error:[/red]", end=" ")
        err.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: unknown flag, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err.print(str(exc), markup=False, highlight=False)
        return int(getattr(exc, "exit_code", 2))
    except Exception:  # a bug: show everything
        err.print("[red]internal error (a bug in dse; please report it):[/red]")
        err.print(traceback.format_exc(), markup=False, highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
