"""The analysis of a small sweep: tables of the right shape, figures and summary.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dse.report.sweep_report import analyse, write_report
from dse.sweep import load_results, run_sweep
from tests.sweep.common import EDGETPUS, OPTIONS, TARGETS


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "zoo"
    run_sweep("zoo", [*TARGETS, *EDGETPUS], options=OPTIONS, chunk=3, out=out,
              calibration="datasheet")
    return out


def test_rank_agreement_is_symmetric_with_ones_on_the_diagonal(swept):
    frame, manifest = load_results(swept)
    report = analyse(frame, manifest["targets"])
    for m in (report.spearman, report.kendall, report.topk):
        assert list(m.index) == list(m.columns) == manifest["targets"]
        values = m.to_numpy(dtype=float)
        assert np.allclose(np.diag(values), 1.0)
        assert np.allclose(values, values.T, equal_nan=True)
        assert np.nanmin(values) >= -1 and np.nanmax(values) <= 1
    # the three Edge TPU classes differ by PE count and clock only: they rank members alike
    assert report.spearman.loc["edgetpu_v1", "edgetpu_v2"] > 0.9


def test_feature_importance_has_each_target(swept):
    frame, manifest = load_results(swept)
    report = analyse(frame, manifest["targets"])
    assert list(report.importance.columns) == manifest["targets"]
    assert {"macs", "params", "layers"} <= set(report.importance.index)
    assert "R^2" in report.regression.index
    assert report.importance.loc["macs", "coral_usb"] > 0  # more MACs, more latency
    assert set(report.stats.index) == set(manifest["targets"])
    assert (report.stats["feasible"] <= len(frame)).all()


def test_the_report_is_written_from_the_parquet_files(swept):
    path = write_report(swept)
    text = path.read_text()
    assert "## Answers" in text and "Rank agreement" in text and "edgetpu_v3" in text
    for name in ("latency_hist", "latency_vs_macs", "importance", "rank_agreement"):
        assert (swept / f"{name}.png").stat().st_size > 0
    table = pd.read_csv(swept / "rank_spearman.csv", index_col=0)
    assert table.shape == (6, 6)


def test_one_target_has_no_agreement_section(tmp_path):
    out = tmp_path / "one"
    run_sweep("zoo", ["coral_usb"], options=OPTIONS, out=out)
    text = write_report(out).read_text()
    assert "coral_usb" in text and "## Rank agreement" not in text
