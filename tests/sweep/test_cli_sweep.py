"""dse sweep through the command line: a sweep, its report, and one clear error per bad input."""

from __future__ import annotations

import pytest

from dse.cli import main
from tests.sweep.common import SMALL


def test_sweep_then_report(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", "zoo", "-o", f"models={SMALL}", "--targets",
            "edgetpu_v1,edgetpu_v2,edgetpu_v3", "--calibration", "datasheet", "--chunk", "4",
            "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "6 members in 2 chunks; 2 evaluated" in text
    assert (out / "summary.md").is_file() and len(list(out.glob("part-*.parquet"))) == 2
    assert main(argv) == 0
    assert "all were done already" in capsys.readouterr().out
    (out / "summary.md").unlink()
    assert main(["sweep", "report", str(out)]) == 0
    assert (out / "summary.md").is_file()


@pytest.mark.parametrize(("argv", "message"), [
    (["sweep", "nasbench", "--targets", "coral_usb"], "unknown family 'nasbench'"),
    (["sweep", "zoo", "--targets", "coral_usbb"], "did you mean 'coral_usb'"),
    (["sweep", "zoo", "--targets", "coral_usb", "-o", "models=resnet9"],
     "unknown zoo model 'resnet9'"),
    (["sweep", "zoo", "--targets", "coral_usb", "-o", "depth=3"], "unknown option 'depth'"),
    (["sweep", "zoo", "--targets", "coral_usb", "--limit", "0"], "--limit: must be >= 1"),
    (["sweep", "zoo", "--targets", "coral_usb", "--workers", "0"], "--workers: must be >= 1"),
    (["sweep", "zoo", "--targets", "coral_usb", "--engine", "ray", "--address",
      "127.0.0.1:1"], "no Ray cluster reachable there"),
    (["sweep", "zoo"], "give the targets"),
    (["sweep", "report"], "give the sweep folder"),
])
def test_bad_input_is_one_clear_error(tmp_path, capsys, argv, message):
    assert main([*argv, *([] if argv[1] == "report" else ["--out", str(tmp_path / "s")])]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "s").exists()


def test_report_of_a_folder_without_a_sweep(tmp_path, capsys):
    assert main(["sweep", "report", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_a_sweep_file_states_what_is_swept_and_flags_override_it(tmp_path, capsys):
    sweep = tmp_path / "small.yaml"
    sweep.write_text("# Question: a test sweep\nname: small\nfamily: nasbench101\n"
                     "targets: [edgetpu_v1, edgetpu_v3]\ncalibration: datasheet\n"
                     "limit: 40\nchunk: 16\n")
    out = tmp_path / "s"
    assert main(["sweep", str(sweep), "--out", str(out), "--no-report"]) == 0
    assert "40 members in 3 chunks" in capsys.readouterr().out
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"] == "nasbench101" and manifest["members"] == 40
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "t"), "--limit", "10",
                 "--targets", "edgetpu_v2", "--no-report"]) == 0
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["members"] == 10 and "edgetpu_v2" in json.dumps(manifest["targets"])


def test_a_bad_sweep_file_is_one_error_naming_every_problem(tmp_path, capsys):
    sweep = tmp_path / "bad.yaml"
    sweep.write_text("name: ../escape\nfamily: nasbench101\ntargets: []\nchunk: 0\n"
                     "calibration: fitted\nextra: 1\n")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    for path in ("name", "targets", "chunk", "calibration", "extra"):
        assert f"bad.yaml: {path}" in err, (path, err)
    assert "Traceback" not in err


def test_simulating_a_sweep_file_says_to_sweep_it(capsys):
    from dse.catalog import catalog_dir

    path = catalog_dir("experiments") / "edgetpu_nasbench.yaml"
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "this is a sweep file" in err and f"dse sweep {path}" in err.replace("\n", "")
