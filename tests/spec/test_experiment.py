"""Experiment YAML: dimensions, fixing, overrides, and every validation message."""

from __future__ import annotations

import pytest

from dse.errors import SpecError
from dse.spec.experiment import Dimension, load_experiment, parse_override

BASE = {
    "name": "x",
    "workload": {"zoo": "googlenet", "precision": "fp16"},
    "platform": {"host": "raspberry_pi4", "accelerators": {"ncs2": {"count": {"min": 1,
                                                                              "max": 4}}},
                 "link": "usb3_hub"},
    "execution": {"policy": ["data_parallel", "threads"], "threads": [1, 2, 8],
                  "devices": ["ncs2"]},
    "stream": {"frames": 100},
    "objectives": [{"maximize": "throughput_fps"}],
}


def test_lists_become_dimensions_and_natural_lists_do_not():
    exp = load_experiment(BASE)
    dims = {d.path: d for d in exp.dimensions}
    assert dims == {
        "platform.accelerators.ncs2.count": Dimension("platform.accelerators.ncs2.count", "int",
                                                      1.0, 4.0),
        "execution.policy": Dimension("execution.policy", "choice",
                                      choices=("data_parallel", "threads")),
        "execution.threads": Dimension("execution.threads", "choice", choices=(1, 2, 8)),
    }
    config = exp.fixed()
    assert config.platform.accelerators["ncs2"]["count"] == 1
    assert config.execution.policy == "data_parallel"
    assert config.execution.devices == ("ncs2",)
    picked = exp.fixed({"execution.threads": 8, "execution.policy": "threads"})
    assert picked.execution.threads == 8 and picked.execution.policy == "threads"
    # Only checked values are substituted: a value outside the dimension is refused.
    with pytest.raises(SpecError, match=r"execution.threads: 4 is not one of the choices"):
        exp.fixed({"execution.threads": 4})
    with pytest.raises(SpecError, match=r"ncs2.count: 5 is outside 1 to 4"):
        exp.fixed({"platform.accelerators.ncs2.count": 5})


def test_explicit_dimensions():
    data = {**BASE, "stream": {"frames": 100, "fps": {"min": 10, "max": 60.0, "log": True}},
            "execution": {"policy": "single", "devices": {"choices": [["ncs2"], ["rpi4_cpu"]]}}}
    exp = load_experiment(data)
    dims = {d.path: d for d in exp.dimensions}
    assert dims["stream.fps"] == Dimension("stream.fps", "float", 10.0, 60.0, log=True)
    assert dims["execution.devices"].choices == (["ncs2"], ["rpi4_cpu"])
    assert exp.fixed().execution.devices == ("ncs2",)


def test_overrides_and_their_parsing():
    exp = load_experiment(BASE, overrides=["platform.accelerators.ncs2.count=3",
                                           "execution.policy=threads", "stream.fps=30"])
    config = exp.fixed()
    assert config.platform.accelerators["ncs2"]["count"] == 3
    assert config.execution.policy == "threads" and config.stream.fps == 30
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])
    with pytest.raises(ValueError, match="expected PATH=VALUE"):
        parse_override("novalue")


def test_every_problem_at_once_with_yaml_paths(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "workload: {zoo: googlenet, onnx: x.onnx}\n"
        "platform: {host: raspberry_pi4}\n"
        "execution: {policy: magic, threads: 0, dispatch: random}\n"
        "stream: {frames: 10, warmup: 10, jitter: 1.5, arival: poisson}\n")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    text = str(info.value)
    for line in (f"{path}: workloads.0: give exactly one of zoo: NAME or onnx: PATH",
                 f"{path}: execution.threads: must be >= 1, got 0",
                 f"{path}: execution.dispatch: expected 'work_stealing' or 'round_robin', got "
                 f"'random'",
                 f"{path}: stream.jitter: must be < 1, got 1.5",
                 f"{path}: stream.arival: unknown key 'arival'; did you mean 'arrival'? known keys: "
                 f"arrival, fps, frames, jitter, seed, warmup"):
        assert line in text, text


@pytest.mark.parametrize(("data", "message"), [
    ({**BASE, "stream": {"frames": []}}, r"stream.frames: an empty list is not a value"),
    ({**BASE, "stream": {"frames": {"min": 10, "max": 2}}},
     r"stream.frames: expected numbers min <= max, each of magnitude at most 1e\+15, got min 10, max 2"),
    ({**BASE, "stream": {"frames": {"min": 0, "max": 5, "log": True}}},
     r"stream.frames: a log range needs min > 0"),
    ({**BASE, "stream": {"frames": {"choices": 3}}}, r"stream.frames.choices: expected a "
                                                     r"non-empty list"),
    ({**BASE, "stream": {"frames": {"min": 1, "max": 9, "stride": 1}}},
     r"stream.frames: expected \{min, max, step, log\}, got unknown keys \['stride'\]"),
    ({**BASE, "stream": {"frames": {"min": 1, "max": 9, "step": 0}}},
     r"stream.frames.step: expected a number > 0, got 0"),
    ({**BASE, "stream": {"frames": 10, "warmup": 10}}, r"<experiment>: stream.warmup: must be < frames \(10\), got 10"),
    ({**BASE, "workloads": [{"zoo": "resnet18"}]}, r"give workload: or workloads:, not both"),
])
def test_messages(data, message):
    with pytest.raises(SpecError, match=message):
        load_experiment(data)


def test_unknown_dimension_choice_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match=r"stream.frames: not a search dimension of this "
                                        r"experiment; dimensions: platform"):
        load_experiment(BASE).fixed({"stream.frames": 3})
    with pytest.raises(SpecError, match=r"nope.yaml: file not found"):
        load_experiment(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match=r"list.yaml: expected a mapping of keys to values, "
                                        r"got list"):
        load_experiment(tmp_path / "list.yaml")
