"""The mlperf_mobile loader: MLPerf Mobile results as measurements (exact SoC matches only)."""

from __future__ import annotations

import csv
import io

import pytest

from dse.calibrate.loaders import data_dir, load
from dse.calibrate.loaders.mlperf_mobile import SOCS, _soc
from dse.devices import default_catalog

FILE = data_dir() / "mlperf_mobile_results.csv"
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason="../shared/data is not present")


def _raw() -> list[dict[str, str]]:
    with FILE.open() as f:
        return list(csv.DictReader(f))


def test_no_soc_of_the_real_table_is_in_the_catalog():
    # v2.1-5.0 run on Snapdragon 4/7/8 Gen x, 8 Elite, X Elite and Exynos 2300/2400 only.
    result = load("mlperf_mobile")
    assert len(result.measurements) == 0
    assert len(result.unmapped) == 240
    assert set(result.unmapped["reason"]) == {"no catalog device"}
    assert sorted(result.unmapped["row"]) == list(range(2, 242))
    # the unmapped rows name their SoC (the system column where soc is empty)
    assert {"exynos2300", "Exynos 2400", "Qualcomm Snapdragon 8 Gen 3 Mobile Platform"} <= set(
        result.unmapped["device"])


@pytest.mark.parametrize(("text", "mapped"), [
    ("Qualcomm Snapdragon 855 Mobile Platform", True), ("SD855", True),
    ("Snapdragon 855+", False), ("Snapdragon 855 Plus", False), ("Snapdragon 860", False),
    ("Qualcomm Snapdragon 8 Gen 3 Mobile Platform", False), ("SD8G3", False),
    ("Qualcomm Snapdragon 8+ Gen 1", False), ("exynos2400", False)])
def test_only_the_exact_soc_maps(text, mapped):
    assert (_soc(text) is not None) is mapped


def test_mapping_logic_on_relabelled_real_rows(tmp_path):
    """Real SingleStream/Offline rows relabelled as a Snapdragon 855 and a zoo model."""
    raw = _raw()
    sub = [r for r in raw if r["system"] == "SD8G3" and r["task_or_model"] == "mobilenetEdgeTPU"]
    assert {r["metric"] for r in sub} >= {"p50_latency", "mean_latency", "p90_latency"}
    rows = [{**r, "soc": "Qualcomm Snapdragon 855", "task_or_model": "mobilenet_v2"}
            for r in sub]
    bert = [{**r, "soc": "Qualcomm Snapdragon 855", "task_or_model": "mobileBERT"}
            for r in raw if r["system"] == "SD8G3" and r["task_or_model"] == "mobileBERT"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(raw[0]))
    writer.writeheader()
    writer.writerows(rows + bert)
    path = tmp_path / "mobile.csv"
    path.write_text(out.getvalue())
    result = load("mlperf_mobile", path)
    m = result.measurements
    p50 = [r for r in sub if r["metric"] == "p50_latency"]
    assert len(m) == len(p50) == 1
    row = m.iloc[0]
    assert (row.device, row.host, row.workload, row.precision, row.metric, row.unit) == (
        "hexagon690", "pixel4", "mobilenet_v2", "int8", "latency", "ms")
    assert row.value == pytest.approx(float(p50[0]["value"]))
    assert row.value_si == pytest.approx(float(p50[0]["value"]) * 1e-3)
    reasons = set(result.unmapped["reason"])
    assert "mean/p90 latency (the median is kept)" in reasons
    assert "no zoo model" in reasons                      # MobileBERT is not BERT-base


def test_mapped_devices_exist():
    catalog = default_catalog()
    for device, host in SOCS.values():
        assert device in catalog.devices
        assert host in catalog.platforms
