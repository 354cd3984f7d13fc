r"""The host's per-kernel predictor on the recorded timings of the machine that made them.

``calibration/host/kernels.csv`` (``dse host kernels``) and ``calibration/host/zoo.csv``
(``dse measure``) were recorded on a 2-vCPU KVM guest ("Intel(R) Xeon(R) Processor", the CPU
and date are in every row); ``calibration/host/overlays/host@onnxruntime.yaml`` was fitted on
the kernels only, with the recorded probe of that machine
(``calibration/host/host.yaml``), by::

    dse host calibrate --kernels calibration/host/kernels.csv --statistic min \
        --zoo calibration/host/zoo.csv --catalog calibration/host --unseen \
        --out calibration/host/overlays/host@onnxruntime.yaml

Nothing here times anything: the tests check that the shipped overlay reproduces the figures
it records, that its predictions obey the physics, and that the simulator runs what the cost
model prices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dse
from dse.calibrate import kernel_fit as kf
from dse.calibrate import read_measurements
from dse.calibrate.forward import _sim_config
from dse.catalog import catalog_dir
from dse.cost import model_cost
from dse.cost.compute import layer_table
from dse.devices import Catalog
from dse.devices.overlay import apply_overlay, load_overlay
from dse.run import simulate
from dse.workloads.kernels import KERNEL_CLASSES

HOST = catalog_dir("calibration") / "host"
OVERLAY = HOST / "overlays" / "host@onnxruntime.yaml"


@pytest.fixture(scope="module")
def cat():
    return Catalog(catalog_dir("devices"), catalog_dir("calibration") / "host")


@pytest.fixture(scope="module")
def overlay():
    return load_overlay(OVERLAY)


@pytest.fixture(scope="module")
def spec(cat, overlay):
    return apply_overlay(cat.device("host"), overlay, label=str(OVERLAY))


def test_the_recordings_state_their_machine():
    zoo = read_measurements(HOST / "zoo.csv")
    assert zoo["source"].str.contains("Intel\\(R\\) Xeon\\(R\\) Processor").all()
    assert sorted(set(zoo["workload"])) == sorted(dse.zoo.names())
    assert set(zoo["threads"]) == {1, 2}
    kernels = pd.read_csv(HOST / "kernels.csv")
    assert (kernels["cpu"] == "Intel(R) Xeon(R) Processor").all() and (kernels["cores"] == 2).all()


def test_the_shipped_overlay_reproduces_its_zoo_figures(cat, overlay, spec):
    proxy = {int(t): (v["s_per_mac"], v["fixed_s"])
             for t, v in overlay.provenance["macs_proxy"].items()}
    table = kf.zoo_table(spec, read_measurements(HOST / "zoo.csv"), catalog=cat, proxy=proxy)
    assert (table["predicted_s"] > 0).all() and len(table) == 38
    figures = kf.errors_by_threads(table).set_index("threads")
    for recorded in overlay.provenance["figures"]["zoo"]:
        now = figures.loc[str(recorded["threads"])]
        for key in ("mape", "within_10", "worst", "baseline_mape"):
            assert now[key] == pytest.approx(recorded[key], rel=1e-3, abs=1e-4), key


@pytest.mark.parametrize("threads", [1, 2])
def test_fitted_layers_take_positive_time_that_never_falls_with_more_work(spec, threads):
    ops = np.logspace(2, 11, 60)
    n = len(ops)
    for name in spec.kernel_models:
        counts = pd.DataFrame({"op": "Conv", "op_class": "conv", "ops": ops,
                               "weight_elems": 0, "in_elems": ops / 50, "out_elems": ops / 50,
                               "fused": False, "in_shapes": [[]] * n, "out_shapes": [[]] * n})
        kernels = np.full(n, list(KERNEL_CLASSES).index(name))
        t = layer_table(counts, spec, "fp32", np.array(["none"] * n, dtype=object),
                        threads=threads, kernels=kernels)["time_s"].to_numpy()
        assert (t > 0).all(), name
        assert (np.diff(t) >= -1e-15).all(), name


def test_two_threads_never_slower_than_one_in_the_fitted_model(cat, spec):
    runtime = cat.runtimes.get("onnxruntime_cpu")
    for w in ("mobilenet_v2", "resnet50", "bert_encoder"):
        one, two = (model_cost(dse.workload(w), spec, "fp32", threads=t, runtime=runtime).time_s
                    for t in (1, 2))
        assert two <= one


def test_the_simulator_and_model_cost_agree_with_the_fitted_overlay(cat, spec):
    runtime = cat.runtimes.get("onnxruntime_cpu")
    row = next(pd.DataFrame([{"workload": "mobilenet_v2", "options": "", "precision": "fp32",
                              "policy": "single", "threads": 2, "streams": 1, "count": 1,
                              "host": "host", "link": "", "runtime": "onnxruntime_cpu",
                              "metric": "latency"}]).itertuples(index=False))
    cost = model_cost(dse.workload("mobilenet_v2"), spec, "fp32", threads=2, runtime=runtime)
    report = simulate(_sim_config(spec, row, cat),
                      catalog=cat.with_devices({"host": spec}, replace=True))
    assert report.metrics.latency_ms["p50"] * 1e-3 == pytest.approx(cost.time_s, rel=1e-6)


@pytest.fixture
def recorded_host_catalog(monkeypatch):
    """``DSE_CATALOG`` names the recorded probe, so the CLI's ``host`` is that machine's."""
    from dse.devices.catalog import CATALOG_ENV, default_catalog

    monkeypatch.setenv(CATALOG_ENV, str(HOST))
    default_catalog.cache_clear()
    yield
    default_catalog.cache_clear()


@pytest.mark.usefixtures("recorded_host_catalog")
def test_predict_reports_each_thread_count_beside_the_macs_proxy(tmp_path, capsys):
    from dse.cli import main

    rows = read_measurements(HOST / "zoo.csv")
    small = rows[rows["workload"].isin(["resnet8", "ds_cnn"])]
    path = tmp_path / "zoo_small.csv"
    small.drop(columns=["value_si"]).to_csv(path, index=False)
    assert main(["predict", str(path), "--device", "host", "--overlay", str(OVERLAY)]) == 0
    text = " ".join(capsys.readouterr().out.split())  # rich wraps lines
    assert "single, 1 thread: 4 points, MAPE" in text and "MACs proxy MAPE" in text
    assert "single, 2 threads: 4 points" in text
    assert main(["predict", str(path), "--device", "host", "--overlay", str(OVERLAY),
                 "--json"]) == 0
    records = pd.read_json(__import__("io").StringIO(capsys.readouterr().out))
    assert {"predicted", "baseline", "baseline_error"} <= set(records.columns)
    assert (records["predicted"] > 0).all()


@pytest.mark.usefixtures("recorded_host_catalog")
def test_host_calibrate_rejects_a_bad_statistic_without_a_traceback(capsys):
    from dse.cli import main

    assert main(["host", "calibrate", "--kernels", str(HOST / "kernels.csv"),
                 "--statistic", "mean", "--no-cv"]) == 2
    assert "--statistic: mean: expected median or min" in capsys.readouterr().err
