"""The mlperf_tiny loader: MLPerf Tiny results as measurements (calibration/mappings)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import dse
from dse.calibrate.loaders import data_dir, load
from dse.calibrate.loaders.mlperf_tiny import DEVICES, _board
from dse.devices import default_catalog

FILE = data_dir() / "mlperf_tiny_results.csv"
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason="../shared/data is not present")


def _raw() -> list[dict[str, str]]:
    with FILE.open() as f:
        return list(csv.DictReader(f))


MAPPING_DOC = Path(__file__).parents[2] / "calibration" / "mappings" / "mlperf_tiny.md"

#: Rows kept per target (device, runtime) and metric in the real table
#: (calibration/mappings/mlperf_tiny.md).
EXPECTED = {
    ("stm32l4r5_m4", "x_cube_ai", "latency"): 4, ("stm32l4r5_m4", "x_cube_ai", "energy"): 4,
    ("stm32l4r5_m4", "tflm", "latency"): 4, ("stm32l4r5_m4", "tflm", "energy"): 4,
    ("stm32l4r5_m4", "onnc", "latency"): 4, ("stm32l4r5_m4", "onnc", "energy"): 4,
    ("stm32l4r5_m4", "plumerai", "latency"): 4, ("stm32l4r5_m4", "bosch_hale", "latency"): 4,
    ("stm32l4r5_m4", "microtvm", "latency"): 4, ("stm32l4r5_m4", "microtvm_cmsisnn", "latency"): 4,
    ("stm32h7a3_m7", "x_cube_ai", "latency"): 4, ("stm32h7a3_m7", "x_cube_ai", "energy"): 4,
    ("stm32h7a3_m7", "plumerai", "latency"): 4, ("stm32h7a3_m7", "bosch_hale", "latency"): 4,
    ("stm32u575_m33", "x_cube_ai", "latency"): 4, ("stm32u575_m33", "x_cube_ai", "energy"): 4,
    ("stm32u575_m33", "plumerai", "latency"): 4, ("stm32u575_m33", "bosch_hale", "latency"): 4,
    ("stm32f746_m7", "plumerai", "latency"): 4, ("stm32f746_m7", "bosch_hale", "latency"): 4,
    ("ndp120_core2", "syntiant_tdk", "latency"): 3, ("ndp120_core2", "syntiant_tdk", "energy"): 3,
    ("ndp120_core2_30mhz", "syntiant_tdk", "latency"): 3,
    ("ndp120_core2_30mhz", "syntiant_tdk", "energy"): 3,
    ("gap9_cluster_ne16", "gapflow", "latency"): 4, ("gap9_cluster_ne16", "gapflow", "energy"): 4,
    ("gap9_cluster_ne16_240mhz", "gapflow", "latency"): 4,
    ("gap9_cluster_ne16_240mhz", "gapflow", "energy"): 4,
}


@pytest.fixture(scope="module")
def real():
    return load("mlperf_tiny")


def _doc_table(header: str) -> dict[str, int]:
    """The ``| reason | rows |`` table under ``header`` in the mapping doc."""
    lines = MAPPING_DOC.read_text().splitlines()
    i = lines.index(header)
    out = {}
    for line in lines[i + 1:]:
        if out and not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 and cells[1].isdigit():
            out[cells[0]] = int(cells[1])
    return out


def test_real_table_counts_match_the_mapping_doc(real):
    m, u = real.measurements, real.unmapped
    assert len(m) + len(u) == 589
    assert len(m) == 108 and len(u) == 481
    doc = MAPPING_DOC.read_text()
    assert f"**{len(m)} rows mapped, {len(u)} left out** (589 in the table)" in doc
    assert u["reason"].value_counts().to_dict() == _doc_table("## Left out")
    assert m.groupby(["device", "runtime", "metric"]).size().to_dict() == EXPECTED


def test_every_left_out_row_has_a_reason(real):
    u = real.unmapped
    assert u["reason"].str.len().gt(0).all()
    assert u["row"].is_unique
    assert set(u["row"]) <= set(range(2, 591))


@pytest.mark.parametrize(("name", "device"), [
    ("NUCLEO_L4R5ZI", "stm32l4r5_m4"), ("Nucleo-L4R5ZI", "stm32l4r5_m4"),
    ("NUCLEO-L4R5ZI_X-CUBE-AI-8.0", "stm32l4r5_m4"), ("NUCLEO_L4R5ZI-mbed_os", "stm32l4r5_m4"),
    ("NUCLEO-L4R5ZI_MicroTVM_CMSIS_NN", "stm32l4r5_m4"), ("NUCLEO_L4R5ZI-P", "stm32l4r5_m4"),
    ("NUCLEO-H7A3ZI-Q", "stm32h7a3_m7"), ("NUCLEO_H7A3ZI_int8_min_ram", "stm32h7a3_m7"),
    ("NUCLEO-H7A3ZI-Q_X-CUBE-AI-7.3", "stm32h7a3_m7"), ("NUCLEO_U575ZI_Q", "stm32u575_m33"),
    ("NUCLEO-U575ZI-Q", "stm32u575_m33"), ("DISCO-F746NG", "stm32f746_m7"),
    ("DISCO_F746NG_int8_max_performance", "stm32f746_m7"),
    ("syntiant_9120_1v1_98mhz", "ndp120_core2"), ("syntiant_9120_0v9_30mhz", "ndp120_core2_30mhz"),
    ("gap9_800_370", "gap9_cluster_ne16"), ("gap9_650_240", "gap9_cluster_ne16_240mhz"),
    ("syntiant_9120_1v0_49mhz", None), ("B_U585I_IOT02A", None), ("NUCLEO_G0B1RE", None),
])
def test_board_spellings_map(name, device):
    board = _board(name)
    assert (board.device if board else None) == device


def test_new_boards_map_on_the_real_table(real):
    m, u = real.measurements, real.unmapped
    hosts = dict(zip(m["device"], m["host"], strict=False))
    assert hosts == {"stm32l4r5_m4": "nucleo_l4r5zi", "stm32h7a3_m7": "nucleo_h7a3zi_q",
                     "stm32u575_m33": "nucleo_u575zi_q", "stm32f746_m7": "stm32f746g_disco",
                     "ndp120_core2": "ndp120_evb", "ndp120_core2_30mhz": "ndp120_evb_30mhz",
                     "gap9_cluster_ne16": "gap9_evk", "gap9_cluster_ne16_240mhz": "gap9_evk_240mhz"}
    assert set(m["precision"]) == {"int8"}
    # a stated clock other than the catalog's is left out, with its reason
    clocked = u[u["device"].str.contains(r"_\d+MHz$")]
    assert sorted(clocked["device"]) == ["NUCLEO_H7A3ZI_Q_40MHz", "NUCLEO_L4R5ZI-P_70MHz",
                                         "NUCLEO_U575ZI_Q_60MHz"]
    assert set(clocked["reason"]) == {"core clock differs from the catalog device"}
    assert set(u[u["device"] == "NUCLEO_H7A3ZI_float"]["reason"]) == {"not int8"}
    # the software stack is in the source of every row
    assert m["source"].str.contains(r", (?:software: .+|software not stated)\): github:").all()
    # one target per stack: the H7A3 `ad` latency of HALE and of X-CUBE-AI are both kept, and
    # X-CUBE-AI's latency and energy come from the same submission
    ad = m[(m["device"] == "stm32h7a3_m7") & (m["workload"] == "fc_autoencoder")]
    hale = ad[ad["runtime"] == "bosch_hale"]
    assert list(hale["metric"]) == ["latency"] and "HALE" in hale["source"].iloc[0]
    cube = ad[ad["runtime"] == "x_cube_ai"]
    assert sorted(cube["metric"]) == ["energy", "latency"]
    assert cube["source"].str.contains("X-CUBE-AI v9.0.0").all()


@pytest.mark.parametrize("device", ["ndp120_core2", "ndp120_core2_30mhz", "gap9_cluster_ne16",
                                    "gap9_cluster_ne16_240mhz"])
def test_micro_npus_have_energy_rows(real, device):
    m = real.measurements
    rows = m[m["device"] == device]
    assert default_catalog().device(device).kind == "micro_npu"
    energy = rows[rows["metric"] == "energy"]
    assert set(energy["workload"]) == set(rows[rows["metric"] == "latency"]["workload"])
    assert (energy["unit"] == "uJ").all() and (energy["value"] > 0).all()
    assert energy["value_si"].to_numpy() == pytest.approx(energy["value"].to_numpy() * 1e-6)


def test_operating_points_keep_their_energy_order(real):
    # the low-voltage point of each micro-NPU is slower and spends less energy per inference
    m = real.measurements.set_index(["device", "workload", "metric"])["value"]
    for fast, slow in (("ndp120_core2", "ndp120_core2_30mhz"),
                       ("gap9_cluster_ne16", "gap9_cluster_ne16_240mhz")):
        for workload in m.loc[fast].index.get_level_values(0).unique():
            assert m[(slow, workload, "latency")] > m[(fast, workload, "latency")]
            assert m[(slow, workload, "energy")] < m[(fast, workload, "energy")]


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
    # the same stack on both rows: one target, so the older row is a duplicate
    rows = _relabelled(old + new, "NUCLEO-H743ZI2", proc_freq="", framework="X-CUBE-AI v9.0")
    result = load("mlperf_tiny", _write(tmp_path, rows))
    assert len(result.measurements) == 1
    assert result.measurements.iloc[0].runtime == "x_cube_ai"
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


def test_every_stack_is_a_target_of_its_own(tmp_path):
    """Two stacks on one board are two targets: neither row is a duplicate of the other."""
    raw = _raw()
    old = [r for r in raw if r["mlperf_tiny_version"] == "v0.5" and r["benchmark"] == "ic"
           and r["metric"] == "median_throughput"][:1]
    rows = (_relabelled(old, "NUCLEO-H743ZI2", proc_freq="", framework="X-CUBE-AI v9.0")
            + _relabelled(old, "NUCLEO-H743ZI2", proc_freq="", framework="Plumerai Inference "
                          "Engine", submitter="plumerai")
            + _relabelled(old, "NUCLEO-H743ZI2", proc_freq="", framework="Some New Engine",
                          submitter="someone"))
    result = load("mlperf_tiny", _write(tmp_path, rows))
    assert sorted(result.measurements["runtime"]) == ["plumerai", "x_cube_ai"]
    assert list(result.unmapped["reason"]) == ["software stack has no catalog runtime"]


def test_boards_with_one_vendor_stack_name_it():
    runtimes = {b.device: b.runtime for b in DEVICES if b.runtime}
    assert runtimes == {"max78000_cnn": "ai8x", "mcxn947_neutron": "eiq_neutron",
                        "ethos_u55_alif": "ethos_u_vela", "ndp120_core2": "syntiant_tdk",
                        "ndp120_core2_30mhz": "syntiant_tdk", "gap9_cluster_ne16": "gapflow",
                        "gap9_cluster_ne16_240mhz": "gapflow"}
