"""The runtime column of the measurement format, and checks of names against a catalog."""

from __future__ import annotations

import pandas as pd
import pytest

from dse.calibrate import MeasurementError, read_measurements, validate
from dse.calibrate.measurements import COLUMNS
from dse.devices import default_catalog


def _rows(**changes: object) -> pd.DataFrame:
    row = {"device": "ncs2", "host": "raspberry_pi4", "link": "usb3",
           "runtime": "openvino_myriad", "workload": "googlenet", "options": "",
           "precision": "fp16", "policy": "single", "threads": 1, "streams": 1, "count": 1,
           "metric": "latency", "value": 90.0, "unit": "ms", "source": "test", "dataset": "t"}
    frame = pd.DataFrame([row, row])
    for col, value in changes.items():
        frame.loc[1, col] = value
    return frame


def test_runtime_is_a_column_of_the_format():
    assert COLUMNS.index("runtime") == COLUMNS.index("link") + 1


def test_an_unknown_runtime_is_one_problem_naming_file_row_and_column(tmp_path):
    path = tmp_path / "m.csv"
    _rows(runtime="tensorflow_js").to_csv(path, index=False)
    cat = default_catalog()
    with pytest.raises(MeasurementError) as info:
        read_measurements(path, known_runtimes=set(cat.runtimes))
    problems = info.value.problems
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}: row 3, column runtime: unknown runtime "
                                       f"'tensorflow_js'; did you mean 'tensorflow_")


def test_an_unknown_host_is_one_problem_naming_row_and_column():
    cat = default_catalog()
    hosts = set(cat.platforms) | {n for n, d in cat.devices.items() if d.kind == "cpu"}
    with pytest.raises(MeasurementError, match=r"m.csv: row 3, column host: unknown host "
                                               r"'raspberry_pi9'; did you mean 'raspberry_pi5' or ") as info:
        validate(_rows(host="raspberry_pi9"), file="m.csv", known_hosts=hosts)
    assert len(info.value.problems) == 1


def test_names_are_not_checked_without_a_catalog_and_empty_means_default():
    frame = validate(_rows(runtime="anything"))
    assert list(frame["runtime"]) == ["openvino_myriad", "anything"]
    empty = validate(_rows(runtime=None, host=None), known_runtimes={"openvino_myriad"},
                     known_hosts={"raspberry_pi4"})
    assert list(empty["runtime"]) == ["openvino_myriad", ""]
    assert list(empty["host"]) == ["raspberry_pi4", ""]


def test_a_file_without_the_runtime_column_reads_as_default_runtimes(tmp_path):
    path = tmp_path / "old.csv"
    _rows().drop(columns="runtime").to_csv(path, index=False)
    frame = read_measurements(path)
    assert list(frame["runtime"]) == ["", ""]
    assert list(frame.columns[:4]) == ["device", "host", "link", "runtime"]


def test_the_host_example_names_onnxruntime(root):
    frame = read_measurements(root / "calibration" / "host_example.csv",
                              known_runtimes=set(default_catalog().runtimes))
    assert set(frame["runtime"]) == {"onnxruntime_cpu"}
