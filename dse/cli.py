"""The ``dse`` command: a thin shell over the Python API.

The only module that prints, configures logging or exits. Exit codes: 0 ok, 1 failure (a bug or
an environment problem), 2 bad input (a :class:`~dse.errors.DseError`, printed without a
traceback).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dse.errors import DseError, Problem, WorkloadError

app = typer.Typer(
    help="Design-space exploration and simulation of neural-network inference on edge hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
workloads_app = typer.Typer(
    help="Workload graphs: list the zoo, show a model's totals, export zoo models as ONNX.",
    invoke_without_command=True,
)
app.add_typer(workloads_app, name="workloads")

out = Console()
err = Console(stderr=True)


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
    from dse.workloads import workload, zoo

    table = Table(title="dse zoo")
    table.add_column("name", no_wrap=True)
    table.add_column("task")
    if counts:
        for col in ("params", "MMACs", "nodes"):
            table.add_column(col, justify="right")
    else:
        table.add_column("summary")
        table.add_column("options")
    with err.status("building zoo models") if counts else contextlib.nullcontext():
        for name in zoo.names():
            model = zoo.get(name)
            if counts:
                w = workload(name)
                table.add_row(name, model.task, f"{w.params:,}", f"{w.macs / 1e6:,.1f}",
                              f"{w.nodes}")
            else:
                table.add_row(name, model.task, model.summary,
                              ", ".join(f"{k}={v}" for k, v in model.options.items()))
    out.print(table)


@workloads_app.command("show")
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
) -> None:
    """Totals (params, MACs, nodes) and the per-op-class breakdown of one workload."""
    from dse.workloads import workload

    kwargs: dict[str, Any] = _parse_options(option or [])
    if unknown_ops not in ("error", "other"):
        raise WorkloadError([Problem("--unknown-ops", "", f"expected 'error' or 'other', "
                                     f"got {unknown_ops!r}")])
    if unknown_ops != "error":
        kwargs["unknown_ops"] = unknown_ops
    if input_shape:
        kwargs["input_shapes"] = _parse_input_shapes(input_shape)
    w = workload(source, precision=precision, **kwargs)
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


def _parse_options(values: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    problems = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            problems.append(Problem("--option", value, "expected KEY=VALUE such as layers=4"))
            continue
        parsed: Any = text
        for cast in (int, float):
            try:
                parsed = cast(text)
                break
            except ValueError:
                continue
        if text.lower() in ("true", "false"):
            parsed = text.lower() == "true"
        options[key] = parsed
    if problems:
        raise WorkloadError(problems)
    return options


@workloads_app.command("export")
def workloads_export(
    name: Annotated[str, typer.Argument(help="Zoo model name.")],
    output: Annotated[Path, typer.Argument(help="The .onnx file to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Zoo model option KEY=VALUE (repeatable).")] = None,
) -> None:
    """Write a zoo model, with random weights, as an ONNX file (atomically)."""
    import onnx

    from dse.workloads import zoo

    from dse.report.files import atomic_path

    model = zoo.build(name, seed=seed, **_parse_options(option or []))
    with atomic_path(output) as tmp:
        onnx.save(model, str(tmp))
    out.print(f"wrote {output}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dse`` console script; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, standalone_mode=False)
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
