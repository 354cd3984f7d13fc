"""The micro-NPU section of a study report (dse.report.unpu): unpu_compare.yaml answers its
question, which model fits which device at what latency and energy, and how far achieved
ops/s fall from the claimed peak."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import dse
from dse.report.unpu import fit_table, measured_table

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "unpu_compare.yaml"
MLPERF_TINY = ["resnet8", "ds_cnn", "mobilenet_v1_vww", "fc_autoencoder"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """unpu_compare.yaml with mobilenet_v2 (3.5 M params) beside the MLPerf Tiny models, which
    all fit, and 20 frames a trial instead of 100 (the report's figures do not depend on it)."""
    folder = tmp_path_factory.mktemp("unpu")
    data = yaml.safe_load(EXPERIMENT.read_text())
    data["workload"]["zoo"] = [*MLPERF_TINY, "mobilenet_v2"]
    data["stream"]["frames"] = 20
    data["search"]["trials"] = 20
    path = folder / "unpu_compare.yaml"
    path.write_text(yaml.safe_dump(data))
    result = dse.explore(dse.load_experiment(path), out=folder / "out")
    return result, (folder / "out" / "report.md").read_text()


def test_the_mlperf_tiny_models_fit_every_board(study):
    result, _ = study
    table = fit_table(result)
    tiny = table[table["model"].isin(MLPERF_TINY)]
    assert len(tiny) == 16
    assert tiny["fits"].all() and tiny["feasible"].all()
    assert set(tiny["device"]) == {"max78000_cnn", "ethos_u55_alif", "mcxn947_neutron",
                                   "stm32h743_m7"}
    on_max = tiny[tiny["device"] == "max78000_cnn"]
    assert set(on_max["weights_in"]) == {"weight_mem"}
    assert on_max["weights_bytes"].max() < 442_368
    # achieved ops/s never above the claimed peak; the naive latency never above the simulated
    assert (tiny["share_of_peak"] <= 1.0 + 1e-9).all()
    assert (tiny["latency_ms"] >= tiny["naive_ms"] * (1 - 1e-9)).all()


def test_a_model_that_does_not_fit_is_infeasible_with_the_amount_over(study):
    result, report = study
    table = fit_table(result).set_index(["model", "device"])
    for device, memory in (("max78000_cnn", "weight_mem"), ("mcxn947_neutron", "flash"),
                           ("stm32h743_m7", "flash")):
        row = table.loc[("mobilenet_v2", device)]
        assert not row["fits"] and not row["feasible"]
        assert f"of {memory}" in row["over"] and "over)" in row["over"]
        assert f"of {memory}" in row["reason"]  # the simulated trial says why too
    assert table.loc[("mobilenet_v2", "ethos_u55_alif"), "fits"]  # 5.5 MiB of MRAM
    assert "max78000_cnn has 432 KiB" in report


def test_the_report_has_the_fit_table_the_plot_and_the_measured_comparison(study):
    result, report = study
    assert "## Fit, latency and achieved against claimed peak" in report
    assert "| model | device | weights (where) | arena | fits |" in report
    assert report.count("| yes (") == 17  # 16 MLPerf Tiny pairs and mobilenet_v2 on the U55
    assert "| yes (sram 9%, weight_mem 18%) |" in report  # resnet8 on the MAX78000
    assert report.count("| **no**: mobilenet_v2 needs") == 3
    assert "![" in report and (result.out / "unpu_latency.png").is_file()
    assert "### Spec against measurement (MLPerf Tiny)" in report
    assert "No MLPerf Tiny row in the shared data for ethos_u55_alif, max78000_cnn, " \
           "mcxn947_neutron, stm32h743_m7" in report
    assert "`unpu_latency.png`" in report  # listed among the files


def test_measured_rows_are_compared_with_datasheet_predictions():
    table = measured_table(MLPERF_TINY)
    if table.empty:
        pytest.skip("mlperf_tiny_results.csv not in the shared data folder")
    assert {"stm32h7a3_m7", "stm32l4r5_m4", "gap9_cluster_ne16"} <= set(table["device"])
    row = table.set_index(["device", "model"]).loc[("stm32h7a3_m7", "resnet8")]
    assert row["runtime"] == "x_cube_ai" and row["measured_ms"] == pytest.approx(40.8447)
    # a measured part reaches less than its claimed peak
    assert (table["achieved_share"] < 1).all()
