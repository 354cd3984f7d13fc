"""Design-space exploration with Optuna: space, objective, study, results."""

from dse.search.study import (
    SAMPLER_FACTORIES,
    SAMPLERS,
    ExploreResult,
    evaluate,
    explore,
    planned_trials,
)

__all__ = ["SAMPLERS", "SAMPLER_FACTORIES", "ExploreResult", "evaluate", "explore",
           "planned_trials"]
