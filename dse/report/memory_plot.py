"""A model's memory footprint as a table, and its arena as a lifetime plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dse.cost.footprint import Footprint
from dse.files import save_figure
from dse.spec.units import format_quantity

__all__ = ["footprint_record", "memory_table", "plot_lifetimes"]


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    return format_quantity(float(n), "bytes", digits=3) if n else "0"


def memory_table(fp: Footprint) -> Any:
    """A rich table (fits 80 columns): one column per memory, rows for what uses it, the
    total, the capacity and what is free (red and negative: over)."""
    from rich.table import Table

    on = f" on {fp.device}" if fp.device else ""
    by = f" with {fp.runtime}" if fp.runtime else ""
    title = f"memory of {fp.workload}{on}{by} ({fp.precision})"
    table = Table(title=title, title_justify="left", min_width=min(len(title), 80))
    rows = fp.table().set_index("memory")
    table.add_column("", no_wrap=True)
    for memory in rows.index:
        table.add_column(str(memory), justify="right", no_wrap=True)
    for label, col in (("weights", "weights_bytes"), ("arena", "arena_bytes"),
                       ("scratch", "scratch_bytes"), ("runtime", "runtime_bytes"),
                       ("total", "used_bytes"), ("has", "capacity_bytes")):
        table.add_row(label, *(_size(_number(rows.at[m, col])) for m in rows.index),
                      style="bold" if label == "total" else None)
    free = []
    for m in rows.index:
        cap, used = _number(rows.at[m, "capacity_bytes"]), float(rows.at[m, "used_bytes"])
        free.append("-" if cap is None else _size(cap - used) if cap >= used
                    else f"[red]-{_size(used - cap)}[/red]")
    table.add_row("free", *free)
    return table


def _number(value: Any) -> float | None:
    """A table cell as a number; ``None`` for a memory not declared (None or NaN)."""
    return None if value is None or value != value else float(value)


def footprint_record(fp: Footprint) -> dict[str, Any]:
    """The footprint as plain data (for JSON)."""
    return {"workload": fp.workload, "device": fp.device, "runtime": fp.runtime,
            "precision": fp.precision, "weights_bytes": fp.weights,
            "arena_bytes": fp.arena_bytes, "scratch_bytes": fp.scratch_bytes,
            "runtime_ram_bytes": fp.runtime_ram_bytes,
            "runtime_code_bytes": fp.runtime_code_bytes, "used_bytes": fp.used,
            "capacity_bytes": fp.capacity, "over_bytes": fp.over, "fits": fp.fits,
            "reason": fp.reason, "notes": list(fp.notes)}


def plot_lifetimes(fp: Footprint, stem: Path | str, *,
                   formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw the arena plan: every buffer a rectangle from the step its tensor is written to
    the last step that reads it (x) at its offset in the arena (y); scratch buffers hatched.
    Written as ``stem.png`` and ``stem.svg`` (atomically).

    Returns:
        The files written.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    steps = max((b.last for b in fp.buffers), default=0) + 1
    kib = 1024.0
    for i, b in enumerate(sorted(fp.buffers, key=lambda b: b.first)):
        scratch = b.name.endswith(":scratch")
        ax.add_patch(Rectangle(
            (b.first - 0.45, fp.plan.offsets[b.name] / kib), b.last - b.first + 0.9, b.size / kib,
            facecolor="none" if scratch else f"C{i % 10}", alpha=0.9 if scratch else 0.55,
            edgecolor="black" if scratch else f"C{i % 10}", hatch="///" if scratch else None,
            lw=0.6))
    ax.axhline(fp.plan.size / kib, color="black", lw=1,
               label=f"arena {fp.plan.size / kib:,.1f} KiB")
    ax.axhline(fp.arena_bytes / kib, color="grey", lw=0.8, ls="--",
               label=f"without scratch {fp.arena_bytes / kib:,.1f} KiB")
    sram = fp.capacity.get("sram")
    if sram is not None and sram < 2 * fp.plan.size:
        ax.axhline(sram / kib, color="firebrick", lw=1, ls=":",
                   label=f"{fp.device} SRAM {sram / kib:,.0f} KiB")
    ax.set_xlim(-1, steps)
    shown_sram = sram if sram is not None and sram < 2 * fp.plan.size else 0.0
    ax.set_ylim(0, max(fp.plan.size, shown_sram, 1) / kib * 1.2)
    ax.set_xlabel("op step (topological order)")
    ax.set_ylabel("arena offset (KiB)")
    ax.set_title(f"{fp.workload} ({fp.precision}) arena: {len(fp.buffers)} buffers"
                 f"{' with ' + fp.runtime if fp.runtime else ''}", fontsize=11)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(True, alpha=0.3)
    return save_figure(fig, stem, formats)
