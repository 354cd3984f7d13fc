"""Design-space exploration with Optuna: space, objective, study, results."""

from dse.search.study import SAMPLERS, ExploreResult, evaluate, explore

__all__ = ["SAMPLERS", "ExploreResult", "evaluate", "explore"]
