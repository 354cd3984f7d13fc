"""dse compare: configurations side by side, each cell the simulator's own number."""

from __future__ import annotations

import json

import pytest

import dse
from dse.catalog import catalog_dir
from dse.cli import main
from dse.report.compare import ROWS, compare


@pytest.fixture()
def pair(tmp_path):
    """Two experiments shortened to a few frames (copies: compare reads files)."""
    paths = []
    for name in ("multi_ncs", "dpu_multithread"):
        text = (catalog_dir("experiments") / f"{name}.yaml").read_text()
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace("stream: {frames: 500}", "stream: {frames: 40}")
                        .replace("stream: {frames: 300}", "stream: {frames: 40}"))
        paths.append(path)
    return paths


def test_columns_are_the_first_configurations_and_the_variants(pair):
    table = compare(pair, variants=["platform.accelerators.ncs2.count=2"])
    assert list(table.columns) == ["multi_ncs", "multi_ncs [platform.accelerators.ncs2.count=2]",
                                   "dpu_multithread",
                                   "dpu_multithread [platform.accelerators.ncs2.count=2]"]
    assert list(table.index)[:len(ROWS)] == list(ROWS)
    one = dse.simulate(pair[0])
    two = dse.simulate(pair[0], overrides=["platform.accelerators.ncs2.count=2"])
    assert table.loc["throughput (fps)", "multi_ncs"] == pytest.approx(one.metrics.throughput_fps)
    assert table.loc["throughput (fps)", table.columns[1]] == pytest.approx(
        two.metrics.throughput_fps)
    assert table.loc["latency p99 (ms)", "multi_ncs"] == pytest.approx(
        one.metrics.latency_ms["p99"])
    assert table.loc["energy per inference (mJ)", "multi_ncs"] == pytest.approx(
        one.metrics.energy_per_inference_j * 1e3)
    assert table.loc["price (USD)", table.columns[1]] > table.loc["price (USD)", "multi_ncs"]
    assert table.loc["bottleneck", "multi_ncs"] == ", ".join(one.bound.bottlenecks)
    assert table.loc["platform", "dpu_multithread"] == dse.simulate(pair[1]).plan.platform.name


def test_a_variant_that_cannot_apply_is_a_column_saying_why(pair):
    table = compare(pair[:1], variants=["execution.policy=warp_drive"])
    bad = table["multi_ncs [execution.policy=warp_drive]"]
    assert bad["infeasible"].startswith("invalid: ") and "warp_drive" in bad["infeasible"]
    assert bad["throughput (fps)"] is None
    assert table.loc["infeasible", "multi_ncs"] == ""


def test_cli_prints_a_table_and_json(pair, capsys):
    assert main(["compare", str(pair[0]), str(pair[1])]) == 0
    text = capsys.readouterr().out
    assert "multi_ncs" in text and "dpu_multithread" in text and "throughput (fps)" in text
    assert main(["compare", str(pair[0]), "--set", "execution.threads=2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"multi_ncs", "multi_ncs [execution.threads=2]"}
    assert data["multi_ncs"]["throughput (fps)"] == pytest.approx(
        dse.simulate(pair[0]).metrics.throughput_fps)
