"""Library code leaves global state alone: it never chooses matplotlib's backend (figures are
``matplotlib.figure.Figure`` objects, drawn without pyplot) nor sets optuna's verbosity (the
``dse`` command does, as the one place that configures logging)."""

from __future__ import annotations

import matplotlib
import optuna

from dse.api import explore
from dse.cost import roofline
from dse.devices import default_catalog
from dse.report import plot_roofline
from dse.workloads import workload

from ..search.test_explore import SMALL


def test_plots_and_studies_leave_backend_and_verbosity_alone(tmp_path):
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend the caller chose, and not the Agg dse used to force
    try:
        spec = default_catalog().device("coral_usb")
        roof = roofline(workload("mobilenet_v1", precision="int8", width=0.25, resolution=96),
                        spec, "int8")
        assert plot_roofline(roof, tmp_path / "roof")
        # a study writes its Pareto plot, its dimensions plot and its report
        explore({**SMALL, "search": {**SMALL["search"], "trials": 2}}, out=tmp_path / "study")
        assert (tmp_path / "study" / "pareto.png").is_file()
        assert matplotlib.get_backend() == "svg"
        assert optuna.logging.get_verbosity() == optuna.logging.ERROR
    finally:
        optuna.logging.set_verbosity(before)
        matplotlib.use(backend)
