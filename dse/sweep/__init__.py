"""Sweeps: a model family evaluated over targets, chunked into resumable Parquet partitions,
locally or on Ray, and the analysis of the results.

- :mod:`dse.sweep.evaluate`: a chunk of members priced on every target (the adapter to the
  families and the cost model), and the target syntax ``DEVICE[@RUNTIME][+HOST]``;
- :mod:`dse.sweep.engine`: member selection, chunks, manifest, resume, the ``local`` engine;
- :mod:`dse.sweep.ray_engine`: the ``ray`` engine;
- :mod:`dse.sweep.analysis`: distributions, latency against MACs, which features explain
  latency per target, rank agreement between targets, and ``summary.md``;
- :mod:`dse.sweep.zoo_family`: the built-in ``zoo`` family.
"""

from dse.sweep.analysis import SweepReport, analyse, write_report
from dse.sweep.engine import SweepResult, load_results, run_sweep
from dse.sweep.evaluate import evaluate_chunk, family_names

__all__ = ["SweepReport", "SweepResult", "analyse", "evaluate_chunk", "family_names",
           "load_results", "run_sweep", "write_report"]
