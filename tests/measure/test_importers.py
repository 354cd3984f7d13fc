"""Importers of benchmark tool outputs (OpenVINO benchmark_app, TFLite benchmark_model) on real
-format fixtures (tests/data/importers/README.md says where each comes from)."""

from __future__ import annotations

import pytest

from dse.calibrate import read_measurements
from dse.cli import main
from dse.measure.importers import OP_COLUMNS, ImportError_, import_file


@pytest.fixture(scope="module")
def data(root):
    return root / "tests" / "data" / "importers"


def _imp(path, **kw):
    kw.setdefault("device", "host")
    kw.setdefault("workload", "mobilenet_v1")
    return import_file(path, **kw)


def _by_metric(frame):
    return {r.metric: r for r in frame.itertuples(index=False)}


def test_benchmark_app_report_with_streams_and_requests(data):
    got = _imp(data / "benchmark_app_report_streams2_nireq4.csv", format="benchmark_app",
               threads=1, options={"width": 0.5, "resolution": 160})
    rows = _by_metric(got.measurements)
    assert set(rows) == {"latency", "throughput"}
    assert (rows["latency"].value, rows["latency"].unit) == (5.15, "ms")  # the median
    assert (rows["throughput"].value, rows["throughput"].unit) == (690.71, "fps")
    for r in rows.values():
        assert (r.runtime, r.policy, r.threads, r.streams, r.count) == ("openvino_cpu",
                                                                       "threads", 1, 4, 1)
        assert r.precision == "fp32" and "assumed" in r.source  # the report does not say
        assert "NUM_STREAMS 2" in r.source and "min_ms 1.65 ms" in r.source
        assert r.options == '{"resolution": 160, "width": 0.5}'
    assert got.ops is None


def test_benchmark_app_report_without_threads_asks_for_them(data):
    with pytest.raises(ImportError_, match=r"report_sync_p90\.csv: configuration: .*pass "
                                           r"--threads"):
        _imp(data / "benchmark_app_report_sync_p90.csv", format="benchmark_app")


def test_benchmark_app_log_gives_the_configuration_itself(data):
    got = _imp(data / "benchmark_app_log_streams2_nireq4.txt", format="benchmark_app")
    rows = _by_metric(got.measurements)
    assert rows["latency"].value == 5.15 and rows["throughput"].value == 690.71
    # INFERENCE_NUM_THREADS 2 over NUM_STREAMS 2; 4 requests from step 10; f32 from step 8
    assert (rows["latency"].threads, rows["latency"].streams) == (1, 4)
    assert rows["latency"].precision == "fp32" and "assumed" not in rows["latency"].source


def test_benchmark_app_log_in_microseconds_with_a_percentile(data):
    got = _imp(data / "benchmark_app_log_sync_p90.txt", format="benchmark_app")
    rows = _by_metric(got.measurements)
    # -latency_percentile 90: dse's latency is a median or mean, so the mean is taken
    assert rows["latency"].value == pytest.approx(0.22472)  # "Average: 224.72 us"
    assert "90 percentile is 0.1343 ms" in rows["latency"].source
    assert rows["throughput"].value == pytest.approx(4247.10)
    assert (rows["latency"].threads, rows["latency"].streams) == (2, 1)  # sync: one request
    assert rows["latency"].policy == "single"
    assert rows["latency"].precision == "bf16"  # the plugin's default on this AMX CPU


def test_benchmark_app_2020_one_line_summary(data):
    path = data / "benchmark_app_log_2020.txt"
    with pytest.raises(ImportError_, match=r"cannot tell the runtime \(no target device in "
                                           r"the file\); pass --runtime"):
        _imp(path, format="benchmark_app", threads=4)
    got = _imp(path, format="benchmark_app", threads=4, runtime="openvino_myriad",
               device="ncs2", precision="fp16")
    rows = _by_metric(got.measurements)
    assert rows["latency"].value == 35.56 and rows["throughput"].value == 102.29
    assert (rows["latency"].runtime, rows["latency"].precision) == ("openvino_myriad", "fp16")


def test_tflite_op_profiling(data):
    path = data / "tflite_benchmark_op_profiling.txt"
    with pytest.raises(ImportError_, match="pass --threads"):
        _imp(path, format="tflite_benchmark")
    got = _imp(path, format="tflite_benchmark", threads=4, device="rpi4_cpu", precision="int8")
    (row,) = got.measurements.itertuples(index=False)
    # the older summary line: "Average inference timings in us: ... Inference: 79760.9"
    assert (row.metric, row.value, row.unit) == ("latency", 79760.9, "us")
    assert (row.runtime, row.threads, row.streams, row.policy) == ("tflite_cpu", 4, 1,
                                                                   "single")
    assert "mean of 50 timed runs" in row.source and "std 1929 us" in row.source
    ops = got.ops
    assert ops is not None and tuple(ops.columns) == OP_COLUMNS and len(ops) == 7
    first = ops.iloc[0]
    assert (first["op_type"], first["node"]) == ("CONV_2D",
                                                 "MobilenetV1/MobilenetV1/Conv2d_0/Relu6")
    assert first["avg_ms"] == pytest.approx(4.269) and first["share"] == pytest.approx(0.00107)
    assert list(ops["op_type"])[-1] == "SOFTMAX"


def test_tflite_percentiles_take_the_median_and_the_threads_echo(data):
    got = _imp(data / "tflite_benchmark_percentiles.txt", format="tflite_benchmark",
               workload="mobilenet_v2", device="sd855_prime")
    (row,) = got.measurements.itertuples(index=False)
    assert (row.value, row.unit, row.threads) == (51891, "us", 4)  # median of the 1000 runs
    assert "median of 1000 timed runs" in row.source
    assert got.ops is None


@pytest.mark.parametrize(("name", "fmt", "expected"), [
    ("tflite_benchmark_op_profiling.txt", "benchmark_app", "benchmark_app's summary"),
    ("benchmark_app_log_streams2_nireq4.txt", "tflite_benchmark", "benchmark_model's"),
])
def test_a_file_of_the_other_format_names_file_line_and_expectation(data, name, fmt, expected):
    with pytest.raises(ImportError_, match=rf"{name}: line 1: expected {expected}.* found none "
                                           rf"in its \d+ lines; line 1 is "):
        _imp(data / name, format=fmt, threads=1)


def test_measurement_csv_is_not_a_report(root):
    path = root / "calibration" / "host_example.csv"
    with pytest.raises(ImportError_, match=r"host_example\.csv: line 1: .* line 1 is "
                                           r"'device,host,link"):
        _imp(path, format="benchmark_app", threads=1)


def test_malformed_report_lines_are_each_named(tmp_path, data):
    text = (data / "benchmark_app_report_streams2_nireq4.csv").read_text().splitlines()
    text[3] = "this is not a key value line"
    text = [("throughput;fast" if line.startswith("throughput;") else line) for line in text]
    bad = tmp_path / "report.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(ImportError_) as info:
        _imp(bad, format="benchmark_app", threads=1)
    message = str(info.value)
    assert "report.csv: line 4: expected a section title" in message
    assert "expected a number for throughput_fps, found 'fast'" in message


def test_bad_arguments_and_missing_file(tmp_path):
    with pytest.raises(ImportError_) as info:
        import_file(tmp_path / "x.txt", format="nvprof", device="", workload="m",
                    precision="fp33", threads=0)
    message = str(info.value)
    for part in ("--format: unknown format 'nvprof'", "--precision: fp33", "--threads: 0", "--device"):
        assert part in message
    with pytest.raises(ImportError_, match=r"x\.txt: file not found"):
        import_file(tmp_path / "x.txt", format="tflite_benchmark", device="d", workload="m")


def test_cli_imports_appends_and_reports_bad_files(tmp_path, data, capsys):
    out = tmp_path / "imported.csv"
    assert main(["measure-import", str(data / "tflite_benchmark_op_profiling.txt"), "--format",
                 "tflite_benchmark", "--device", "rpi4_cpu", "--workload", "mobilenet_v1",
                 "--threads", "4", "--precision", "int8", "--out", str(out)]) == 0
    assert main(["measure-import", str(data / "benchmark_app_log_streams2_nireq4.txt"),
                 "--format", "benchmark_app", "--device", "host", "--workload", "mobilenet_v1",
                 "-o", "width=0.5", "-o", "resolution=160", "--out", str(out),
                 "--append"]) == 0
    frame = read_measurements(out)
    assert list(frame["runtime"]) == ["tflite_cpu", "openvino_cpu", "openvino_cpu"]
    assert out.with_name("imported.ops.csv").is_file()
    capsys.readouterr()
    assert main(["measure-import", str(data / "benchmark_app_log_2020.txt"), "--format",
                 "tflite_benchmark", "--device", "host", "--workload", "m", "--out",
                 str(tmp_path / "y.csv")]) == 2
    assert "benchmark_app_log_2020.txt: line 1: expected" in capsys.readouterr().err
    assert not (tmp_path / "y.csv").exists()
