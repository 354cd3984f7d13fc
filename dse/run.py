"""``dse.simulate``: one configuration, planned, simulated, summarized and bounded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dse.devices import Catalog
from dse.metrics import Metrics, summarize
from dse.sim.bound import Bound, bound
from dse.sim.build import build_plan
from dse.sim.engine import SimResult, Simulation
from dse.sim.plan import Plan
from dse.sim.resolve import load_experiment, resolve_experiment
from dse.spec.experiment import Experiment, ExperimentConfig, parse_override

__all__ = ["Report", "simulate"]


@dataclass(frozen=True)
class Report:
    """The outcome of one simulated configuration.

    Attributes:
        infeasible: Why it cannot run (then ``metrics`` and ``result`` are ``None``).
        bound: The closed-form throughput bound (:mod:`dse.sim.bound`).
    """

    config: ExperimentConfig
    plan: Plan
    bound: Bound
    metrics: Metrics | None
    result: SimResult | None

    @property
    def infeasible(self) -> str:
        return self.plan.infeasible

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.config.name, "policy": self.config.execution.policy,
                               "platform": self.plan.platform.name}
        if self.infeasible:
            out["infeasible"] = self.infeasible
        if self.metrics is not None:
            out.update(self.metrics.to_dict())
        out["bound"] = {"throughput_fps": self.bound.throughput_fps,
                        "bottlenecks": list(self.bound.bottlenecks)}
        return out


def simulate(experiment: Experiment | ExperimentConfig | str | Path | Mapping[str, Any], *,
             choices: Mapping[str, Any] | None = None,
             overrides: Mapping[str, Any] | Sequence[str] | None = None,
             catalog: Catalog | None = None, trace: bool = False, **more: Any) -> Report:
    """Simulate one configuration of an experiment.

    ``dse.simulate("experiments/multi_ncs.yaml", **{"platform.accelerators.ncs2.count": 2})``
    overrides YAML paths given as keywords, like ``--set``.

    Args:
        experiment: A loaded experiment, a fixed configuration, a YAML path or a mapping.
        choices: Value per search dimension (default: the first of each).
        overrides: YAML-path overrides applied before validation (``--set``).
        catalog: Device catalog (default: the built-in one).
        trace: Keep the timeline (``report.result.events``) for Chrome trace export.

    Raises:
        SpecError: The experiment is invalid (every problem, with file and YAML path).
    """
    if more:
        merged = dict(overrides) if isinstance(overrides, Mapping) else dict(
            parse_override(o) for o in overrides or [])
        overrides = {**merged, **more}
    base_dir, file = Path("."), "experiment"
    if isinstance(experiment, ExperimentConfig):
        config = experiment
    else:
        if not isinstance(experiment, Experiment):
            experiment = load_experiment(experiment, overrides=overrides, catalog=catalog)
        elif overrides:
            experiment = load_experiment(experiment.yaml_data(), file=experiment.file,
                                         overrides=overrides, catalog=catalog)
        else:
            experiment = resolve_experiment(experiment, catalog=catalog)
        file, base_dir = experiment.file, experiment.base_dir
        config = experiment.fixed(choices)
    plan = build_plan(config, catalog=catalog, base_dir=base_dir, file=file)
    limit = bound(plan)
    if plan.infeasible:
        return Report(config, plan, limit, None, None)
    result = Simulation(plan, trace=trace).run()
    return Report(config, plan, limit, summarize(result), result)
