"""The roofline chart: a device's ceilings and a workload's layers as points under them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dse.cost.roofline import Roofline
from dse.files import save_figure
from dse.workloads.ops import OP_CLASSES

__all__ = ["plot_roofline"]


def plot_roofline(roof: Roofline, stem: Path | str, *,
                  formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw ``roof`` and write it as ``stem.png`` and ``stem.svg`` (atomically).

    x: operational intensity (ops per byte of memory traffic), y: ops/s, both log. The memory
    ceiling rises to the ridge point, the compute ceiling is flat after it; dashed lines are the
    compute ceilings at the device's per-op-class efficiency. Each layer is a point at its
    intensity and achieved ops/s, coloured by op class; layers the device does not support are
    crosses, layers whose weights stream over the link are hollow. Layers with no memory traffic
    of their own (fused into the layer before) or no arithmetic are counted in the caption, and
    a model whose weights cannot be placed at all says so.

    Returns:
        The files written.
    """
    import matplotlib
    from matplotlib.figure import Figure

    layers = roof.layers
    shown = layers[np.isfinite(layers["intensity"]) & (layers["achieved_ops_s"] > 0)]
    hidden = len(layers) - len(shown)
    lo = min(float(shown["intensity"].min()) if len(shown) else 1.0, roof.ridge_intensity) / 4
    hi = max(float(shown["intensity"].max()) if len(shown) else 1.0, roof.ridge_intensity) * 4
    x = np.geomspace(lo, hi, 200)

    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(x, np.minimum(roof.peak_ops_s, x * roof.mem_bw_bytes_s), color="black", lw=2,
            label=f"roofline: {roof.peak_ops_s / 1e9:,.1f} GOP/s, "
                  f"{roof.mem_bw_bytes_s / 1e9:,.2f} GB/s")
    ax.axvline(roof.ridge_intensity, color="grey", lw=0.8, ls=":")
    cmap = matplotlib.colormaps["tab10"]
    colours = {cls: cmap(i % 10) for i, cls in enumerate(OP_CLASSES)}
    for cls, group in shown.groupby("op_class", sort=False):
        colour = colours.get(str(cls), "grey")
        eff_peak = roof.class_peaks_ops_s[str(cls)]
        if eff_peak < roof.peak_ops_s * 0.999:
            ax.axhline(eff_peak, color=colour, lw=0.8, ls="--")
        label: str | None = str(cls)  # once per class, whichever marker comes first
        for supported, streamed in ((True, False), (True, True), (False, False), (False, True)):
            pts = group[(group["supported"] == supported) &
                        ((group["weights"] == "link") == streamed)]
            if not len(pts):
                continue
            kw: dict[str, Any] = {"marker": "o" if supported else "x"}
            if supported and streamed:
                kw.update(facecolors="none", edgecolors=colour)
            else:
                kw.update(color=colour)
            ax.scatter(pts["intensity"], pts["achieved_ops_s"], s=22, alpha=0.8, label=label,
                       **kw)
            label = None
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ymin = float(shown["achieved_ops_s"].min()) / 3 if len(shown) else roof.peak_ops_s / 1e3
    ax.set_ylim(min(ymin, roof.peak_ops_s / 100), roof.peak_ops_s * 3)
    ax.set_xlabel("operational intensity (ops / byte of memory traffic)")
    ax.set_ylabel("ops / s")
    total = float(layers["time_s"].sum())
    ax.set_title(f"{roof.workload} on {roof.device} ({roof.precision}): "
                 f"{total * 1e3:,.2f} ms of layers", fontsize=11)
    notes = []
    if hidden:
        notes.append(f"{hidden} layers not shown (fused or no arithmetic)")
    if (~layers["supported"]).any():
        notes.append(f"x = unsupported on this device ({int((~layers['supported']).sum())})")
    if (layers["weights"] == "link").any():
        notes.append("hollow = weights streamed over the link")
    if roof.placement_problem:
        notes.insert(0, f"INFEASIBLE: {roof.placement_problem}")
    if notes:
        # Above the memory roof nothing can sit, so the upper left is free for text.
        ax.text(0.01, 0.99, "\n".join(notes), transform=ax.transAxes, fontsize=8, va="top",
                color="firebrick" if roof.placement_problem else "dimgrey", wrap=True)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, stem, formats)
