"""Property-based fuzzing of every input dse reads, through the CLI: experiment YAMLs
(``dse simulate``), ONNX files (``dse workloads show``), measurement CSVs (``dse predict``),
``--set`` overrides and catalog folders (``dse devices --catalog``).

Each case must exit 0, or 2 with an error naming the input and no traceback, within
:data:`~tests.fuzz.harness.CASE_TIMEOUT_S`. Runs are derandomized (the same cases every time)
and small; ``tests/benchmarks/test_bench_fuzz.py`` runs the same cases by the ten thousand.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.cases import CASES

#: Examples per input class: together under a minute on a shared, loaded machine.
EXAMPLES = {"experiment": 70, "set": 50, "onnx": 80, "csv": 50, "catalog": 35}


@pytest.mark.parametrize("kind", list(CASES))
def test_hostile_input_exits_0_or_2_naming_the_input(kind):
    case, tolerated = CASES[kind]

    @settings(max_examples=EXAMPLES[kind], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        with tempfile.TemporaryDirectory() as tmp:
            outcome, names = case(data.draw, Path(tmp))
            verdict = outcome.verdict(names, tolerate=tolerated)
            assert not verdict, f"dse {' '.join(outcome.argv)[:300]}\n{verdict}"

    run()
