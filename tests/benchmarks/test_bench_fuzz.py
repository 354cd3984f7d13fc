"""The long fuzz run (deselected by default; run with ``-m benchmark -s``; smoke mode with
``DSE_BENCH_SMOKE=1``: a few cases per input class, see tests/benchmarks/timing.py).

The cases of ``tests/fuzz`` by the ten thousand (:data:`TOTAL` over the input classes), without
shrinking, so that every failure is counted rather than the first one minimised. Prints the
cases run and their outcome classes per input class (``ok``, ``bad-input``, a known bug of
:data:`tests.fuzz.cases.KNOWN_BUGS`, or a failure with its reproducer) and fails on any failure
that is not a known bug. Unlike the normal run, the mutations that reach the known bugs are
included here, so their counts say how often fuzzing finds them.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.benchmarks.timing import finite, pick
from tests.fuzz import harness
from tests.fuzz.cases import CASES, Case, known_bug, set_case

pytestmark = pytest.mark.benchmark

#: Cases over all input classes (at least 10,000), split by :data:`SHARE`.
TOTAL = pick(10_500, 25)
SHARE = {"experiment": 0.25, "set": 0.2, "onnx": 0.25, "csv": 0.15, "catalog": 0.15}
#: The input classes to run (``DSE_FUZZ_KINDS=onnx,csv``; default all).
KINDS = [k for k in os.environ.get("DSE_FUZZ_KINDS", ",".join(CASES)).split(",") if k in CASES]
#: Seconds a case may run in the long run before it counts as a hang.
CASE_TIMEOUT_S = 10.0


def _fuzz(kind: str, case: Case, tolerated: tuple[str, ...], counts: Counter[str],
          failures: dict[str, list[str]]) -> None:
    """Run one input class's share of the cases, counting outcome classes."""

    @settings(max_examples=max(1, round(TOTAL * SHARE[kind])), derandomize=True,
              database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            outcome, names = case(data.draw, Path(tmp))
        verdict = outcome.verdict(names, tolerate=tolerated)
        if not verdict:
            counts[outcome.kind] += 1
            return
        bug = known_bug(outcome)
        if bug is not None:
            counts[f"known bug {bug} ({outcome.kind})"] += 1
            return
        counts[f"FAILED ({outcome.kind})"] += 1
        failures.setdefault(kind, []).append(
            f"dse {' '.join(outcome.argv)[:300]}\n{verdict[-1500:]}")

    run()


def test_fuzz_ten_thousand_cases(monkeypatch):
    monkeypatch.setattr(harness, "CASE_TIMEOUT_S", CASE_TIMEOUT_S)
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    failures: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for kind, (case, tolerated) in CASES.items():
        if kind not in KINDS:
            continue
        if kind == "set":  # with the mutations that reach the known bugs
            case = functools.partial(set_case, known_bugs=True)
        start = time.perf_counter()
        _fuzz(kind, case, tolerated, counts[kind], failures)
        seconds[kind] = time.perf_counter() - start
        # as it goes, so that a run cut short still says how far it got
        print(f"\n  {kind}: {sum(counts[kind].values()):,} cases in {seconds[kind]:,.0f} s: "
              f"{dict(counts[kind])}", flush=True)
    total = sum(sum(c.values()) for c in counts.values())
    print(f"\nfuzz: {total:,} cases in {sum(seconds.values()):,.0f} s")
    for kind, counter in counts.items():
        classes = ", ".join(f"{name} {n:,}" for name, n in sorted(counter.items()))
        print(f"  {kind}: {sum(counter.values()):,} cases in {seconds[kind]:,.0f} s: {classes}")
    for kind, found in failures.items():
        first: dict[str, str] = {}
        for text in found:
            frames = re.findall(r'dse/[\w/]+\.py", line \d+, in \w+', text)
            first.setdefault(frames[-1] if frames else text.splitlines()[-1][:100], text)
        print(f"\n{kind}: {len(found)} failures, {len(first)} kinds; one of each:")
        for text in first.values():
            print(f"{text}\n")
    finite(cases=total, seconds=sum(seconds.values()))
    if len(KINDS) == len(CASES):
        assert total >= (10_000 if TOTAL >= 10_000 else TOTAL * 0.9)
    assert not failures, f"{sum(len(f) for f in failures.values())} failing cases (above)"
