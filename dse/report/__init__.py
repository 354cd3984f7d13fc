"""Reports: tables, plots and files written atomically."""

from dse.report.files import atomic_path
from dse.report.roofline_plot import plot_roofline

__all__ = ["atomic_path", "plot_roofline"]
