"""The memory footprint table and lifetime plot, and `dse workloads show --memory`."""

from __future__ import annotations

import json

import pytest

import dse
from dse.cli import main
from dse.cost.footprint import footprint
from dse.devices import default_catalog
from dse.report.memory_plot import footprint_record, memory_table, plot_lifetimes


def test_table_and_plot(tmp_path):
    catalog = default_catalog()
    w = dse.workloads.workload("ds_cnn", precision="int8")
    fp = footprint(w, catalog.device("stm32l4r5_m4"), "int8", runtime=catalog.runtimes["tflm"])
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(memory_table(fp))
    text = console.export_text()
    assert "flash" in text and "sram" in text and "640 KiB" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    paths = plot_lifetimes(fp, tmp_path / "ds_cnn")
    assert [p.name for p in paths] == ["ds_cnn.png", "ds_cnn.svg"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically
    record = footprint_record(fp)
    assert record["fits"] and record["capacity_bytes"]["sram"] == 640 * 1024


def test_cli_memory_breakdown_and_plot(tmp_path, capsys):
    assert main(["workloads", "show", "resnet50", "--precision", "int8", "--memory",
                 "--device", "stm32h743_m7", "--runtime", "tflm", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "does not fit" in captured.out and "22.3 MiB over" in captured.out
    assert (tmp_path / "memory_resnet50_stm32h743_m7_int8.png").exists()


def test_cli_memory_json_without_a_device(capsys):
    assert main(["workloads", "show", "fc_autoencoder", "--precision", "int8", "--memory",
                 "--json", "--no-plot"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["device"] == "" and record["fits"] and record["arena_bytes"] == 768


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--device", "stm32h743", "unknown device 'stm32h743'; did you mean 'stm32h743_m7'"),
    ("--runtime", "tflmm", "unknown runtime 'tflmm'; did you mean 'tflm'"),
])
def test_cli_memory_bad_names(capsys, option, value, message):
    assert main(["workloads", "show", "resnet8", "--memory", "--no-plot", option, value]) == 2
    assert message in capsys.readouterr().err
