"""Reports: tables, plots and files written atomically."""

from dse.files import atomic_path
from dse.report.roofline_plot import plot_roofline

__all__ = ["atomic_path", "chrome_trace", "plot_roofline", "write_chrome_trace"]


def __getattr__(name: str) -> object:  # the trace needs the simulator: import it on demand
    if name in ("chrome_trace", "write_chrome_trace"):
        from dse.report import trace

        return getattr(trace, name)
    raise AttributeError(name)
