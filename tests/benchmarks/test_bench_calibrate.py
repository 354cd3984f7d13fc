"""Benchmarks of calibration (deselected by default; run with ``-m benchmark -s``, smoke mode
with ``DSE_BENCH_SMOKE=1``, see tests/benchmarks/timing.py).

A fit evaluates its forward model hundreds of times, and leave-one-model-out cross-validation
repeats the fit once per model. Baseline, measured in the same run: :func:`dse.calibrate.predict`
on a spec with the trial values applied (an overlay validated, every row priced by
:func:`dse.cost.model_cost` or simulated), which is what each evaluation did before
:class:`dse.calibrate.forward.Forward`.
"""

from __future__ import annotations

import pytest

from dse.calibrate import predict
from dse.calibrate.forward import Forward, fitted_spec
from dse.calibrate.loaders import load
from dse.calibrate.params import default_free
from dse.devices import default_catalog
from tests.benchmarks.timing import best_of, finite

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize(("dataset", "device"), [("ncnn", "rpi5_cpu"), ("coral", "coral_usb"),
                                                 ("vitis", "dpu_b4096")])
def test_forward_model_against_predict(dataset, device):
    cat = default_catalog()
    spec = cat.device(device)
    rows = load(dataset).measurements
    rows = rows[(rows["device"] == device) & rows["metric"].isin(["latency", "throughput"])]
    rows = rows.reset_index(drop=True)
    free = default_free(spec, rows)
    values = {p: 0.5 if p.startswith(("efficiency", "parallel", "slot")) else 1e-3
              for p in free}
    forward = Forward(spec, rows, free, cat)
    fast = best_of(lambda: forward(values), repeat=5)
    slow = best_of(lambda: predict(fitted_spec(spec, values), rows, catalog=cat), repeat=2)
    print(f"\n{dataset}/{device}: {len(rows)} rows ({len(forward.replays)} simulated): "
          f"forward {fast * 1e3:.2f} ms, predict {slow * 1e3:.1f} ms, "
          f"speed-up {slow / fast:.0f}x")
    finite(forward_s=fast, predict_s=slow, speed_up=slow / fast)
