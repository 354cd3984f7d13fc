"""Sweeps: a model family evaluated over targets, chunked into resumable Parquet partitions,
locally or on Ray (the analysis of the results, ``summary.md``, is
:mod:`dse.report.sweep_report`'s).

- :mod:`dse.sweep.evaluate`: a chunk of members priced on every target (the adapter to the
  families and the cost model), and the target syntax ``DEVICE[@RUNTIME][+HOST]``;
- :mod:`dse.sweep.engine`: member selection, chunks, manifest, resume, the ``local`` engine;
- :mod:`dse.sweep.ray_engine`: the ``ray`` engine;
- :mod:`dse.sweep.chunks`: a chunk's Parquet partition, written by the worker that evaluated it;
- :mod:`dse.sweep.zoo_family`: the built-in ``zoo`` family.
"""

from dse.sweep.engine import SweepResult, load_results, run_sweep
from dse.sweep.evaluate import evaluate_chunk, family_names

__all__ = ["SweepResult", "evaluate_chunk", "family_names", "load_results", "run_sweep"]
