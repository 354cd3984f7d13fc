"""The dse command: exit codes, JSON output, and no traceback on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dse.cli import main
from tests.workloads.onnx_cases import small_mlp


def test_help_everywhere(capsys):
    for argv in (["--help"], ["workloads", "--help"], ["workloads", "show", "--help"],
                 ["workloads", "export", "--help"], ["devices", "--help"],
                 ["devices", "show", "--help"], ["roofline", "--help"]):
        assert main(argv) == 0
    assert "Usage" in capsys.readouterr().out


def test_workloads_lists_the_zoo(capsys):
    assert main(["workloads"]) == 0
    text = capsys.readouterr().out
    assert "resnet50" in text


def test_show_json(capsys):
    assert main(["workloads", "show", "resnet18", "--json", "--precision", "int8"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"] == 11689512
    assert data["macs"] > 1.8e9
    assert data["nodes"] == 69
    assert data["precision"] == "int8"
    # int8: one byte per weight element; BatchNorm running mean and variance are read too.
    bn_params = data["op_classes"]["norm"]["params"]
    assert data["weight_bytes"] == data["params"] + bn_params


def test_show_text_and_layers(capsys):
    assert main(["workloads", "show", "resnet18", "--layers"]) == 0
    text = capsys.readouterr().out
    assert "per op class" in text and "conv" in text and "layers" in text


def test_bad_input_exits_2(capsys, tmp_path):
    assert main(["workloads", "show", "nosuch"]) == 2
    assert "known zoo models" in capsys.readouterr().err
    assert main(["workloads", "show", "resnet18", "--precision", "fp8"]) == 2
    assert main(["workloads", "show", "resnet18", "-o", "bogus=1"]) == 2
    assert main(["workloads", "show", "resnet18", "-o", "resolution=-3"]) == 2
    assert main(["workloads", "show", str(tmp_path / "x.onnx")]) == 2
    assert main(["workloads", "show", "--bogus-flag", "resnet18"]) == 2


def test_export_then_show_round_trip(tmp_path, capsys):
    out = tmp_path / "m" / "r18.onnx"
    assert main(["workloads", "export", "resnet18", str(out)]) == 0
    assert out.is_file()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()
    assert main(["workloads", "show", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 11689512


def test_console_script_shows_no_traceback_for_hostile_onnx(tmp_path):
    data = small_mlp().SerializeToString()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[:40])
    exe = shutil.which("dse", path=str(Path(sys.executable).parent)) or shutil.which("dse")
    if exe is None:
        pytest.skip("dse console script is not installed")
    proc = subprocess.run([exe, "workloads", "show", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "truncated.onnx" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def _hostile(tmp_path, kind):
    import onnx
    from onnx import TensorProto, helper

    from tests.workloads.onnx_cases import conv_model, model, vi

    path = tmp_path / f"{kind}.onnx"
    if kind == "truncated":
        path.write_bytes(conv_model().SerializeToString()[:100])
        return path
    if kind == "cyclic":
        m = model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                   helper.make_node("Relu", ["a"], ["b"], name="second")],
                  [vi("x", [1, 4])], [vi("b", [1, 4])])
    elif kind == "unknown_op":
        m = model([helper.make_node("Mystery", ["x"], ["y"], name="m1", domain="x.y")],
                  [vi("x", [1, 4])], [vi("y", [1, 4])])
    else:  # external data pointing outside the model's folder
        m = conv_model(bias=False)
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        entry = t.external_data.add()
        entry.key, entry.value = "location", "../../etc/passwd"
    onnx.save(m, str(path))
    return path


@pytest.mark.parametrize(("kind", "says"), [
    ("truncated", "could not be parsed"),
    ("cyclic", "expected an acyclic graph"),
    ("unknown_op", "op type 'x.y::Mystery' is not known to dse"),
    ("external", "expected external data at a relative path inside the model's folder"),
])
def test_hostile_onnx_gets_one_clear_error(tmp_path, capsys, kind, says):
    path = _hostile(tmp_path, kind)
    assert main(["workloads", "show", str(path)]) == 2
    captured = capsys.readouterr()
    assert str(path) in captured.err.replace("\n", "")
    assert says in captured.err.replace("\n", "")
    assert "Traceback" not in captured.err + captured.out


def test_devices_list_and_json(capsys):
    assert main(["devices"]) == 0
    text = capsys.readouterr().out
    for name in ("ncs2", "coral_usb", "usb3_hub", "zcu102"):
        assert name in text
    assert main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["devices"]["coral_usb"]["onchip_mem_bytes"] == 8 * 2**20
    assert set(data) == {"devices", "links", "platforms"}


def test_devices_show_prints_every_number_with_its_source(capsys):
    assert main(["devices", "show", "ncs2"]) == 0
    text = capsys.readouterr().out
    assert "peak_ops_s.fp16" in text and "1 TOPS" in text
    assert "sources" in text and "(datasheet)" in text
    assert main(["devices", "show", "usb3_hub"]) == 0
    assert "shared: True" in capsys.readouterr().out
    assert main(["devices", "show", "rpi4_cpu"]) == 0
    assert "derived by the kind" in capsys.readouterr().out


def test_devices_show_with_an_overlay(tmp_path, capsys):
    overlay = tmp_path / "ncs2.overlay.yaml"
    overlay.write_text("device: ncs2\nvalues: {efficiency.conv: 0.4, overhead_per_inference_s: "
                       "2 ms}\nprovenance: {method: test}\n")
    assert main(["devices", "show", "ncs2", "--overlay", str(overlay)]) == 0
    text = capsys.readouterr().out
    assert "fitted" in text and "2 ms" in text and "0.4" in text
    overlay.write_text("device: ncs2\nvalues: {efficiency.conv: 4, clock: 1}\n")
    assert main(["devices", "show", "ncs2", "--overlay", str(overlay)]) == 2
    err = capsys.readouterr().err
    assert "values.clock: not a fittable path" in err


def test_devices_unknown_name_suggests_the_closest(capsys):
    assert main(["devices", "show", "ncs3"]) == 2
    err = capsys.readouterr().err
    assert "unknown catalog name 'ncs3'; did you mean" in err and "'ncs2'" in err
    assert "coral_usb" not in err  # the closest names, not the whole catalog
    assert "Traceback" not in err


def test_bad_user_catalog_is_one_error(tmp_path, capsys):
    (tmp_path / "mine.yaml").write_text("base: ncs2\npeak_ops_s: {fp16: -1}\nslots: 0\n")
    assert main(["devices", "--catalog", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "mine.yaml: peak_ops_s.fp16: must be > 0, got -1" in err
    assert "mine.yaml: slots: must be > 0, got 0" in err
    assert "Traceback" not in err


def test_roofline_writes_png_and_svg(tmp_path, capsys):
    assert main(["roofline", "ncs2", "mobilenet_v2", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "ridge at" in captured.out
    png = tmp_path / "roofline_mobilenet_v2_ncs2_fp16.png"
    svg = tmp_path / "roofline_mobilenet_v2_ncs2_fp16.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()[:500]
    assert main(["roofline", "ncs2", "resnet18", "--precision", "int8", "--no-plot"]) == 2
    assert "ncs2 does not run int8; it runs fp16" in capsys.readouterr().err


def test_simulate_json_trace_and_overrides(tmp_path, capsys):
    exp = tmp_path / "x.yaml"
    exp.write_text("workload: {zoo: mobilenet_v1, precision: fp16}\n"
                   "platform: {host: raspberry_pi4, accelerators: {ncs2: [1, 4]}, link: usb3_hub}\n"
                   "execution: {policy: data_parallel, preprocess_s: 2 ms}\n"
                   "stream: {frames: 40}\n")
    trace = tmp_path / "trace.json"
    assert main(["simulate", str(exp), "--json", "--trace", str(trace),
                 "--set", "platform.accelerators.ncs2=2"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("throughput_fps", "latency_ms", "energy_per_inference_j", "utilization",
                "frames_per_device", "bound"):
        assert key in data
    assert set(data["latency_ms"]) >= {"p50", "p95", "p99"}
    assert set(data["frames_per_device"]) == {"ncs2:0", "ncs2:1"}
    assert data["throughput_fps"] <= data["bound"]["throughput_fps"] * 1.2
    events = json.loads(trace.read_text())["traceEvents"]
    assert {e["args"]["name"] for e in events if e["ph"] == "M" and e["tid"]} >= {
        "ncs2:0", "ncs2:1", "usb3_hub", "rpi4_cpu"}
    assert main(["simulate", str(exp)]) == 0
    assert "throughput" in capsys.readouterr().out


def test_simulate_bad_experiment_is_one_error(tmp_path, capsys):
    exp = tmp_path / "bad.yaml"
    exp.write_text("workload: {zoo: googlenet}\nplatform: {host: raspberry_pi9}\n"
                   "execution: {policy: magic}\n")
    assert main(["simulate", str(exp)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: execution.policy: unknown policy 'magic'" in err
    assert "Traceback" not in err
    assert main(["simulate", str(exp), "--set", "execution.policy=single"]) == 2
    assert "bad.yaml: platform.host: unknown host 'raspberry_pi9'; did you mean " \
        "'raspberry_pi5'" in capsys.readouterr().err
