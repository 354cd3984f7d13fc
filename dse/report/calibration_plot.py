"""The predicted-versus-measured plot of one calibration (``dse calibrate --out``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dse.files import save_figure


def plot_calibration(cal: Any, stem: Path | str, *,
                     formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw a calibration's predictions against its measurements on log axes: the in-sample
    points with their 90% intervals, the leave-one-model-out predictions as crosses, and a
    ±10% band around the diagonal. Written as ``stem.png`` and ``stem.svg`` (atomically).

    Args:
        cal: A :class:`dse.calibrate.Calibration` (its ``table``, ``cv`` and ``device``).
        stem: The files' path without a suffix.
        formats: The formats to write.

    Returns:
        The files written.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    t = cal.table
    ax.errorbar(t["measured"], t["predicted"], yerr=[t["predicted"] - t["low_90"],
                t["high_90"] - t["predicted"]], fmt="o", label="in sample (90% interval)")
    if cal.cv is not None and not cal.cv.empty:
        ax.scatter(cal.cv["measured"], cal.cv["predicted"], marker="x", color="tab:red",
                   label="left out (LOO)")
    lo = float(min(t["measured"].min(), t["predicted"].min())) / 1.5
    hi = float(max(t["measured"].max(), t["predicted"].max())) * 1.5
    ax.plot([lo, hi], [lo, hi], color="black", lw=1)
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey",
                    alpha=0.2, label="±10%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (SI)")
    ax.set_ylabel("predicted (SI)")
    ax.set_title(f"{cal.device}: calibrated")
    ax.legend(fontsize=8)
    return save_figure(fig, stem, formats)
