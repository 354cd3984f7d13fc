"""Measurement CSVs and benchmark tool outputs that are hostile: special files, files over the
limit, malformed rows (issue 13). Each is one MeasurementError naming file, row and column."""

from __future__ import annotations

import os

import pytest

from dse.calibrate.loaders import load
from dse.calibrate.measurements import COLUMNS, MeasurementError, read_measurements
from dse.cli import main
from dse.errors import DseError
from dse.measure.importers import ImportError_, import_file
from dse.spec import loading

HEADER = ",".join(COLUMNS)
ROW = "coral_usb,raspberry_pi4,usb3,edgetpu,mobilenet_v1,,int8,single,1,1,1,latency,4.2,ms,s,d"


def _csv(tmp_path, *rows, header=HEADER):
    path = tmp_path / "m.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _problems(path):
    with pytest.raises(MeasurementError) as info:
        read_measurements(path)
    return [str(p) for p in info.value.problems]


def test_a_directory_given_as_a_csv_is_a_problem(tmp_path):
    (tmp_path / "d.csv").mkdir()
    assert _problems(tmp_path / "d.csv") == [
        f"{tmp_path / 'd.csv'}: expected a regular file, found a directory"]


def test_a_fifo_and_a_device_are_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "p.csv")
    assert _problems(tmp_path / "p.csv") == [
        f"{tmp_path / 'p.csv'}: expected a regular file, found a FIFO (named pipe)"]
    assert _problems("/dev/zero") == ["/dev/zero: expected a regular file, found a character "
                                      "device"]


def test_a_csv_over_the_limit_is_refused(tmp_path, monkeypatch):
    path = _csv(tmp_path, ROW)
    monkeypatch.setattr(loading, "MAX_CSV_BYTES", 100)
    assert _problems(path) == [f"{path}: the file is {path.stat().st_size:,} bytes; the limit "
                               "is 100 (dse.spec.loading.MAX_CSV_BYTES)"]


def test_malformed_rows_name_file_row_and_column(tmp_path):
    bad = ROW.replace(",mobilenet_v1,,", ",mobilenet_v1,\"[[[[[[\",").replace(",1,1,1,", ",1,1e300,1,")
    path = _csv(tmp_path, ROW, bad, ROW.replace("mobilenet_v1", "mobilenet_v9"),
                ROW.replace(",mobilenet_v1,,", ',mobilenet_v1,"{""resolution"": -3}",'))
    assert _problems(path) == [
        f"{path}: row 3, column streams: expected a whole number <= 1,000,000, got 1e+300",
        f"{path}: row 3, column options: expected a JSON object such as {{\"width\": 0.5}}, got "
        "'[[[[[['",
        f"{path}: row 4, column workload: expected a zoo model or an .onnx file: unknown zoo "
        "model 'mobilenet_v9'; did you mean 'mobilenet_v2' or 'mobilenet_v1' or 'ssd_mobilenet_v2'? known zoo "
        "models: alexnet, bert_encoder, ds_cnn, efficientnet_b0, fc_autoencoder, googlenet, "
        "inception_v3, inception_v4, mobilenet_v1, mobilenet_v1_vww, mobilenet_v2, resnet18, "
        "resnet50, resnet8, squeezenet1_0, squeezenet1_1, ssd_mobilenet_v1, ssd_mobilenet_v2, "
        "vgg16",
        f"{path}: row 5, column options: resolution: expected an int from 1 to 4,096, got -3",
    ]


def test_options_nested_past_the_recursion_limit_are_a_problem_not_a_crash(tmp_path):
    path = _csv(tmp_path, ROW.replace(",mobilenet_v1,,", ",mobilenet_v1," + "[" * 3000 + ","))
    assert _problems(path)[0].startswith(f"{path}: row 2, column options: expected a JSON "
                                         "object")


def test_a_duplicated_column_is_a_problem(tmp_path):
    path = _csv(tmp_path, ROW + ",x", header=HEADER + ",value")
    assert _problems(path) == [f"{path}: header: column 'value' appears more than once"]


def test_ragged_rows_and_binary_junk_are_one_problem(tmp_path):
    path = _csv(tmp_path, ROW + ",1,2,3", ROW, ROW[:40])
    assert _problems(path) == [f"{path}: row 2: expected 16 cells as in the header, found 19",
                               f"{path}: row 4: expected 16 cells as in the header, found 5"]
    path.write_bytes(b"\xff\xfe\x00junk")
    assert _problems(path) == [f"{path}: expected UTF-8 text, found byte 0xff at offset 0"]


def test_the_cli_exits_2_on_a_directory_given_as_data(capsys, tmp_path):
    (tmp_path / "d.csv").mkdir()
    assert main(["predict", str(tmp_path / "d.csv"), "--device", "coral_usb"]) == 2
    err = capsys.readouterr().err
    assert "d.csv: expected a regular file, found a directory" in err and "Traceback" not in err


def test_a_shipped_dataset_path_that_is_not_a_file_is_a_problem(tmp_path):
    with pytest.raises(DseError, match=r"expected a regular file, found a directory"):
        load("coral", tmp_path)
    with pytest.raises(DseError, match=r"unknown dataset 'coarl'; did you mean 'coral'\?"):
        load("coarl")


def test_benchmark_tool_output_is_read_bounded_and_regular_only(tmp_path, monkeypatch):
    kwargs = {"format": "benchmark_app", "device": "host", "workload": "resnet18"}
    os.mkfifo(tmp_path / "log.txt")
    with pytest.raises(ImportError_, match=r"log.txt: expected a regular file, found a FIFO"):
        import_file(tmp_path / "log.txt", **kwargs)
    big = tmp_path / "big.txt"
    big.write_text("x" * 200)
    monkeypatch.setattr(loading, "MAX_CSV_BYTES", 100)
    with pytest.raises(ImportError_, match=r"big.txt: the file is 200 bytes; the limit is 100"):
        import_file(big, **kwargs)
