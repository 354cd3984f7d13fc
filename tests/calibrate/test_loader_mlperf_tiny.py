"""The mlperf_tiny loader: MLPerf Tiny results as measurements (calibration/mappings)."""

from __future__ import annotations

import csv
import io

import pytest

import dse
from dse.calibrate.loaders import data_dir, load
from dse.calibrate.loaders.mlperf_tiny import DEVICES
from dse.devices import default_catalog

FILE = data_dir() / "mlperf_tiny_results.csv"
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason="../shared/data is not present")


def _raw() -> list[dict[str, str]]:
    with FILE.open() as f:
        return list(csv.DictReader(f))


def test_no_board_of_the_real_table_is_a_catalog_device():
    # v0.5-v1.3 have no MAX78000, NUCLEO-H743ZI2, FRDM-MCXN947 or Alif E7 AppKit submission.
    result = load("mlperf_tiny")
    assert len(result.measurements) == 0
    assert len(result.unmapped) == 589
    assert set(result.unmapped["reason"]) == {"no catalog device"}
    assert sorted(result.unmapped["row"]) == list(range(2, 591))
    # other STM32 parts are not the catalog's STM32H743
    left = set(result.unmapped["device"])
    assert {"NUCLEO-H7A3ZI-Q", "NUCLEO_H7A3ZI", "NUCLEO_L4R5ZI", "DISCO_F746NG"} <= left


def _relabelled(rows: list[dict[str, str]], board: str, **extra: str) -> list[dict[str, str]]:
    return [{**r, "device": board, **extra} for r in rows]


def _write(tmp_path, rows: list[dict[str, str]]):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "tiny.csv"
    path.write_text(out.getvalue())
    return path


def test_mapping_logic_on_relabelled_real_rows(tmp_path):
    """Real rows with the board renamed: values, units and the one-row-per-metric rule."""
    raw = _raw()
    # one closed, int8 submission with all three metrics of kws (STM32 L4R5, v0.5 reference)
    sub = [r for r in raw if r["source"].startswith(
        "github:mlcommons/tiny_results_v0.5:closed/reference/results/Nucleo-L4R5ZI/kws/")]
    assert {r["metric"] for r in sub} == {"median_throughput", "median_energy_per_inference",
                                          "median_throughput_in_energy_mode"}
    rows = (_relabelled(sub, "NUCLEO-H743ZI2", proc_freq="480 MHz")
            + _relabelled(sub, "NUCLEO-H743ZI2_400MHz")          # other clock: left out
            + _relabelled(sub, "MAX78000FTHR")
            + _relabelled(sub, "FRDM-MCXN947")                   # no NPU named: left out
            + _relabelled(sub, "FRDM-MCXN947", accelerator="eIQ Neutron NPU"))
    result = load("mlperf_tiny", _write(tmp_path, rows))
    m = result.measurements
    assert sorted(set(m["device"])) == ["max78000_cnn", "mcxn947_neutron", "stm32h743_m7"]
    assert len(m) == 6                                           # latency + energy per device
    thr = next(r for r in sub if r["metric"] == "median_throughput")
    energy = next(r for r in sub if r["metric"] == "median_energy_per_inference")
    for device in ("stm32h743_m7", "max78000_cnn", "mcxn947_neutron"):
        lat = m[(m.device == device) & (m.metric == "latency")].iloc[0]
        assert lat.unit == "ms"
        assert lat.value == pytest.approx(float(thr["latency_ms"]))
        assert lat.value_si == pytest.approx(1.0 / float(thr["value"]), rel=1e-3)
        en = m[(m.device == device) & (m.metric == "energy")].iloc[0]
        assert (en.unit, en.value) == ("uJ", pytest.approx(float(energy["value"])))
        assert en.value_si == pytest.approx(float(energy["value"]) * 1e-6)
        assert (lat.workload, lat.precision, lat.policy, lat.threads) == ("ds_cnn", "int8",
                                                                          "single", 1)
    hosts = dict(zip(m["device"], m["host"], strict=False))
    assert hosts == {"stm32h743_m7": "nucleo_h743zi2", "max78000_cnn": "max78000_feather",
                     "mcxn947_neutron": "frdm_mcxn947"}
    reasons = result.unmapped["reason"].value_counts().to_dict()
    assert reasons == {"core clock differs from the catalog device": 3,
                       "accelerator not named: run may be on the host CPU": 3,
                       "energy-mode throughput (performance-mode latency kept)": 3}


def test_one_row_per_metric_keeps_the_latest_version(tmp_path):
    raw = _raw()
    old = [r for r in raw if r["mlperf_tiny_version"] == "v0.5" and r["benchmark"] == "ic"
           and r["metric"] == "median_throughput"][:1]
    new = [r for r in raw if r["mlperf_tiny_version"] == "v1.3" and r["benchmark"] == "ic"
           and r["metric"] == "median_throughput" and r["division"] == "closed"
           and "float" not in r["device"].lower() and not r["quantization"].startswith("FP")][:1]
    assert old and new
    rows = _relabelled(old + new, "NUCLEO-H743ZI2", proc_freq="")
    result = load("mlperf_tiny", _write(tmp_path, rows))
    assert len(result.measurements) == 1
    assert result.measurements.iloc[0].value == pytest.approx(float(new[0]["latency_ms"]))
    assert list(result.unmapped["reason"]) == [
        "duplicate: another submission kept (latest version, then best value)"]


def test_mapped_devices_and_workloads_exist():
    catalog = default_catalog()
    for board in DEVICES:
        assert board.device in catalog.devices
        assert board.host in catalog.platforms
    for model in ("resnet8", "ds_cnn", "mobilenet_v1_vww", "fc_autoencoder"):
        assert dse.workload(model) is not None
