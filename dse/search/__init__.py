"""Design-space exploration with Optuna: space, objective, study, results."""

from dse.search.study import SAMPLER_FACTORIES, SAMPLERS, ExploreResult, evaluate, explore

__all__ = ["SAMPLERS", "SAMPLER_FACTORIES", "ExploreResult", "evaluate", "explore"]
