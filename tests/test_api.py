"""dse.api: every table the dse command prints, as a DataFrame the command only renders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from dse import api
from dse.calibrate.validation import error_summary
from dse.devices import default_catalog
from dse.errors import DseError


def test_zoo_table_lists_every_zoo_model_with_its_options():
    from dse.workloads import zoo

    table = api.zoo_table()
    assert list(table.columns) == ["name", "task", "summary", "options"]
    assert list(table["name"]) == zoo.names()
    assert all(isinstance(o, dict) for o in table["options"])


def test_catalog_tables_hold_si_numbers():
    cat = default_catalog()
    devices = api.device_table(cat)
    assert list(devices.columns) == ["name", "kind", "peak_ops_s", "mem_bw_bytes_s",
                                     "onchip_mem_bytes", "price_usd"]
    assert sorted(cat.devices) == list(devices["name"])
    ncs2 = devices.set_index("name").loc["ncs2"]
    assert ncs2["mem_bw_bytes_s"] == cat.devices["ncs2"].mem_bw_bytes_s
    assert list(api.link_table(cat).columns) == ["name", "bandwidth_bytes_s", "latency_s",
                                                 "shared", "description"]
    platforms = api.platform_table(cat)
    assert all(isinstance(a, dict) for a in platforms["accelerators"])


def test_spec_fields_give_each_number_its_source_and_the_fitted_value():
    cat = default_catalog()
    spec = cat.devices["ncs2"]
    fields = api.spec_fields(spec)
    assert list(fields.columns) == ["path", "value", "source"]
    row = fields.set_index("path").loc["mem_bw_bytes_s"]
    assert row["value"] == spec.mem_bw_bytes_s and row["source"] != "-"
    fitted = api.spec_fields(spec, spec.model_copy(update={"mem_bw_bytes_s": 1e9}))
    assert fitted.set_index("path").loc["mem_bw_bytes_s", "fitted"] == 1e9


def test_predict_measurements_and_their_errors_per_kind():
    pred = api.predict_measurements("mobile_soc", "kirin970_npu")
    assert {"workload", "metric", "kind", "measured", "predicted", "rel_error"} <= set(
        pred.table.columns)
    assert pred.device == "kirin970_npu" and pred.calibrated
    by_kind, by_threads = api.prediction_errors(pred.table)
    assert list(by_kind.columns) == ["kind", "points", "mape", "within_10", "worst"]
    assert by_kind["points"].sum() == len(pred.table)
    assert isinstance(by_threads, pd.DataFrame)
    with pytest.raises(DseError, match="no rows of 'ncs2'"):
        api.predict_measurements("mobile_soc", "ncs2")


def test_error_summary_is_mape_within_10_and_worst_with_the_baseline():
    table = pd.DataFrame({"kind": ["a", "a", "b"], "rel_error": [0.05, -0.2, 0.5],
                          "baseline_error": [0.3, 0.3, -0.1]})
    summary = error_summary(table, "kind").set_index("kind")
    assert summary.loc["a", "points"] == 2
    assert summary.loc["a", "mape"] == pytest.approx(0.125)
    assert summary.loc["a", "within_10"] == 0.5 and summary.loc["a", "worst"] == 0.2
    assert summary.loc["b", "baseline_mape"] == pytest.approx(0.1)


def test_kernel_summary_is_the_median_time_per_family_and_thread_count():
    table = pd.DataFrame({"family": ["conv", "conv", "conv", "gemm"], "params": ["x", "x", "y", "z"],
                          "threads": [1, 2, 1, 1], "kernel_median_s": [1.0, 0.5, 3.0, 2.0]})
    summary = api.kernel_summary(table, [2, 1]).set_index("family")
    assert list(summary.columns) == ["kernels", 1, 2]
    assert summary.loc["conv", 1] == 2.0 and summary.loc["conv", "kernels"] == 2
    assert np.isnan(summary.loc["gemm", 2])


def test_metrics_table_holds_the_headline_numbers_in_si_units():
    from dse.run import simulate

    report = simulate("experiments/multi_ncs.yaml")
    table = api.metrics_table(report)
    assert list(table.columns) == ["metric", "value", "unit"]
    v = table.set_index("metric")
    assert v.loc["throughput", "value"] == report.metrics.throughput_fps
    assert v.loc["latency_p99", "unit"] == "s"
    assert v.loc["latency_p99", "value"] == pytest.approx(report.metrics.latency_ms["p99"] / 1e3)
    assert v.loc["bottlenecks", "value"] == list(report.bound.bottlenecks)
    assert "sustained" not in v.index  # no stream rate: nothing to sustain
    assert api.metrics_table(dataclasses.replace(report, metrics=None)).empty


def test_front_table_is_the_trial_its_parameters_and_objectives():
    from types import SimpleNamespace

    front = pd.DataFrame({"trial": [3, 1], "param:execution.threads": [2, 1],
                          "value:throughput_fps": [10.0, 5.0], "bottlenecks": ["a", "b"]})
    result = SimpleNamespace(pareto=front,
                             objectives=[SimpleNamespace(metric="throughput_fps")])
    table = api.front_table(result)
    assert list(table.columns) == ["trial", "param:execution.threads", "value:throughput_fps"]
    assert table["trial"].tolist() == [3, 1]
    empty = api.front_table(SimpleNamespace(pareto=pd.DataFrame(), objectives=result.objectives))
    assert empty.empty and list(empty.columns) == ["trial", "value:throughput_fps"]


def _recorded_host():
    from dse.catalog import catalog_dir
    from dse.devices import Catalog

    return Catalog(catalog_dir("devices"), catalog_dir("calibration") / "host")


def test_host_summary_gives_the_probed_numbers_with_their_quantities():
    spec = _recorded_host().device("host")
    table = api.host_summary(spec)
    assert list(table.columns) == ["field", "value", "quantity", "note"]
    rows = table.set_index("field")
    assert rows.loc["clock (loaded)", "value"] == spec.clock_hz
    assert rows.loc["clock (loaded)", "quantity"] == "frequency"
    assert rows.loc["cores", "value"] == spec.cores and rows.loc["cores", "quantity"] == ""
    assert rows.loc["l3 cache", "note"].startswith("shared by ")


def test_host_contention_fits_the_recorded_table_and_reads_as_json():
    from dse.catalog import catalog_dir

    data = catalog_dir("calibration") / "host" / "corun.csv"
    contention = api.host_contention(data, catalog=_recorded_host())
    assert contention.device == "host" and contention.basis == "wall" and contention.cpu
    record = contention.record()
    assert {"law", "mem_bw_bytes_s", "fit_mape", "pair_mape", "naive_mape", "pairs"} <= set(
        record)
    assert len(record["pairs"]) == len(contention.fit.pairs)
    with pytest.raises(DseError, match="unknown device 'host'"):
        api.host_contention(data, catalog=default_catalog())


def test_memory_footprint_on_a_device_and_its_runtime():
    from dse.workloads import workload

    w = workload("ds_cnn", precision="int8")
    fp = api.memory_footprint(w, "int8", device="stm32h743_m7")
    assert fp.device == "stm32h743_m7" and fp.runtime == default_catalog().devices[
        "stm32h743_m7"].default_runtime
    assert api.memory_footprint(w, "int8").device == ""
    with pytest.raises(DseError, match="--runtime"):
        api.memory_footprint(w, "int8", runtime="no_such_runtime")


def test_spread_check_of_the_recorded_runs():
    from dse.catalog import catalog_dir

    check = api.spread_check(catalog_dir("calibration") / "host" / "spread.csv",
                             catalog=_recorded_host())
    assert {"workload", "threads", "streams", "p99_error", "tail_error",
            "naive_tail_error"} <= set(check.table.columns)
    assert check.tail_mape == pytest.approx(check.table["tail_error"].abs().mean())
    assert "cores)" in check.machines


def test_kernel_predictor_reads_the_overlay_first(tmp_path):
    from dse.catalog import catalog_dir

    with pytest.raises(DseError, match="file not found"):
        api.kernel_predictor(tmp_path / "nosuch.yaml")
    overlay = catalog_dir("calibration") / "host" / "overlays" / "host@onnxruntime.yaml"
    assert callable(api.kernel_predictor(overlay, _recorded_host()))


def test_device_roofline_prices_every_layer_at_the_devices_first_precision():
    cat = default_catalog()
    roof = api.device_roofline(cat, "coral_usb", "mobilenet_v2")
    assert roof.precision == cat.devices["coral_usb"].precisions[0]
    assert roof.workload == "mobilenet_v2" and len(roof.layers) > 50
    bounds = api.roofline_bounds(roof)
    assert list(bounds.columns) == ["bound", "time_s", "share"]
    assert bounds["share"].sum() == pytest.approx(1.0)
    with pytest.raises(DseError, match="--precision: ncs2 does not run int4"):
        api.device_roofline(cat, "ncs2", "resnet50", precision="int4")
    with pytest.raises(DseError, match="DEVICE"):
        api.device_roofline(cat, "nosuch", "resnet50")


def test_device_view_puts_the_targets_fitted_values_beside_the_datasheet():
    view = api.device_view("coral_usb")
    assert view.section == "devices" and view.calibration == "shipped"
    assert view.fitted is not None and view.target_fitted and view.overlay is None
    assert view.runtime is None and str(view.file).endswith("coral_usb.yaml")
    datasheet = api.device_view("coral_usb", calibration="datasheet")
    assert datasheet.fitted is None
    target = api.device_view("coral_usb", runtime="edgetpu")
    assert target.runtime.name == "edgetpu"
    link = api.device_view("usb3_hub")
    assert link.section == "links" and link.fitted is None and link.calibrated is None
    with pytest.raises(DseError, match="is not a device"):
        api.device_view("usb3_hub", runtime="edgetpu")
