"""What a command line is expected to have: --version, an example in every --help, "did you
mean" on unknown names, tables that read at 80 columns."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
import typer
from rich.console import Console

import dse
import dse.cli
from dse.cli import app, main
from dse.devices.calibrated import calibrated_catalog


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dse {dse.__version__}"


def test_the_walk_finds_every_command():
    # the walk below is only as good as this: groups and their sub-commands are all in it
    assert {("devices", "show"), ("host", "probe"), ("workloads", "export"), ("roofline",),
            ("schema",), ("simulate",), ("explore",)} <= set(COMMANDS)
    assert len(COMMANDS) >= 25


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "dse")
def test_every_help_has_an_example(path, capsys):
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Examples" in text
    examples = re.findall(r"\$ (dse [^\n]*)", text)
    assert examples, text
    # each example runs the command it documents
    assert all(e.split()[1:1 + len(path)] == list(path) or not path for e in examples), examples


@pytest.fixture
def narrow(monkeypatch) -> io.StringIO:
    """What the commands print, at 80 columns, without colour."""
    buffer = io.StringIO()
    monkeypatch.setattr(dse.cli, "out", Console(file=buffer, width=80, color_system=None,
                                                force_terminal=False))
    return buffer


def _readable(text: str, words: set[str]) -> None:
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # nothing cut off
    tokens = set(re.split(r"[\s,()]+", text))
    broken = sorted(w for w in words if w not in tokens)
    assert not broken, f"broken across lines or cut: {broken}"


def test_device_tables_read_at_80_columns(narrow):
    cat = calibrated_catalog()
    assert main(["devices"]) == 0
    _readable(narrow.getvalue(), {*cat.devices, *cat.links, *cat.platforms})


def test_zoo_table_reads_at_80_columns(narrow):
    from dse.workloads import zoo

    assert main(["workloads"]) == 0
    options = {f"{k}={v}" for n in zoo.names() for k, v in zoo.get(n).options.items()}
    _readable(narrow.getvalue(), {*zoo.names(), *options})


@pytest.mark.parametrize("device", ["coral_usb", "gap9_cluster_ne16_240mhz", "kirin970_a73"])
def test_device_show_reads_at_80_columns(device, narrow):
    from dse.spec.sources import numeric_paths

    assert main(["devices", "show", device]) == 0
    text = narrow.getvalue()
    table = text.split("\nkind: ")[0]  # the sources below are prose, wrapped at spaces
    spec = calibrated_catalog().device(device)
    _readable(table, {device, *numeric_paths(spec)})
    assert max(len(line) for line in text.splitlines()) <= 80


def test_predict_table_reads_at_80_columns(narrow):
    from dse.calibrate.loaders import load

    assert main(["predict", "mobile_soc", "--device", "kirin970_a73"]) == 0
    data = load("mobile_soc").measurements
    _readable(narrow.getvalue(), set(data.loc[data["device"] == "kirin970_a73", "workload"]))


@pytest.mark.parametrize(("argv", "expected"), [
    (["predict", "mobile_sco", "--device", "kirin970_npu"],
     "unknown dataset 'mobile_sco'; did you mean 'mobile_soc'?"),
    (["predict", "mobile_soc", "--device", "kirin970_np"], "unknown device 'kirin970_np'; did you mean 'kirin970_npu'"),
    (["devices", "show", "coral_usv"], "did you mean 'coral_usb'"),
    (["roofline", "coral_usb", "mobilenet_v2", "--no-plot", "--calibration", "shiped"],
     "unknown calibration 'shiped'; did you mean 'shipped'?"),
    (["measure", "mobilenet_v2", "--runtime", "onnxruntim"],
     "unknown runtime 'onnxruntim'; did you mean 'onnxruntime'?"),
    (["host", "corun", "mobilenet_v3", "resnet18"], "unknown zoo model 'mobilenet_v3'; did you mean"),
])
def test_unknown_names_suggest_the_closest(argv, expected, capsys):
    assert main(argv) == 2
    text = capsys.readouterr().err
    assert expected in text
    assert "resnet50, " not in text and "adreno640, " not in text  # not the whole list


def test_zoo_counts_show_progress(monkeypatch, capsys):
    # `dse workloads --counts` builds every model (half a minute): a bar says which and how far
    from contextlib import contextmanager

    from dse.workloads import zoo

    seen: list[tuple[str, int, int, str]] = []

    @contextmanager
    def bar(description: str, **_: object) -> Iterator[object]:
        yield lambda done, total, label: seen.append((description, done, total, label))

    monkeypatch.setattr(dse.cli, "_progress_bar", bar)
    monkeypatch.setattr(zoo, "names", lambda: ["resnet8", "ds_cnn"])
    assert main(["workloads", "--counts"]) == 0
    assert [s[1:] for s in seen] == [(0, 2, "building resnet8"), (1, 2, "building ds_cnn")]
    assert "ds_cnn" in capsys.readouterr().out


def test_roofline_table_reads_at_80_columns(narrow):
    from dse.workloads import workload

    assert main(["roofline", "coral_usb", "mobilenet_v2", "--no-plot"]) == 0
    names = set(workload("mobilenet_v2", precision="int8").layers["name"])
    assert max(map(len, names)) <= 20  # short enough to stay whole at 80 columns
    _readable(narrow.getvalue(), names | {"ceiling", "overhead"})
