"""Live latency spread on this machine (deselected by default; run with ``-m benchmark -s``,
smoke mode with ``DSE_BENCH_SMOKE=1``, see tests/benchmarks/timing.py).

What ``dse host spread mobilenet_v2 resnet18 ... --streams 1,2 --repeats 300`` records, timed
live and checked against the simulator (each configuration with the spread fitted on the other
models' single-session runs). Prints the figures; never asserts on them (this machine's noise
is not a pass/fail), only that they came out finite.
"""

from __future__ import annotations

import pytest

from dse.calibrate.spread import check_runs
from dse.catalog import catalog_dir
from dse.devices import Catalog
from dse.devices.host import write_probe
from dse.measure import measure
from tests.benchmarks.timing import finite, pick

pytestmark = pytest.mark.benchmark


def test_live_tails_against_the_simulator(tmp_path):
    workloads = pick(["mobilenet_v2", "resnet18", "squeezenet1_1"],
                     [("mobilenet_v1", {"width": 0.25, "resolution": 64}), "ds_cnn"])
    result = measure(workloads, threads=(1,), streams=(1, 2), warmup=pick(20, 2),
                     repeats=pick(300, 20))
    # the simulator's host is this machine, probed now (as `dse host probe` writes it)
    write_probe(tmp_path / "host.yaml", quick=bool(pick(False, True)))
    table = check_runs(result.runs_table(), catalog=Catalog(catalog_dir("devices"), tmp_path))
    for r in table.itertuples():
        print(f"\n{r.workload} streams={r.streams}: measured p50/p99 {r.measured_p50_ms:.3f}/"
              f"{r.measured_p99_ms:.3f} ms, simulated {r.sim_p50_ms:.3f}/{r.sim_p99_ms:.3f} ms;"
              f" p99/p50 error {r.tail_error:+.1%} (no spread {r.naive_tail_error:+.1%})",
              end="")
    finite(tail_mape=table["tail_error"].abs().mean(),
           p99_mape=table["p99_error"].abs().mean())
