"""Experiments resolved once: typed, bounded, every name checked, whoever loads them."""

from __future__ import annotations

import pickle

import pytest

import dse
from dse.errors import SpecError
from dse.spec.experiment import Experiment, load_experiment

BASE = {
    "name": "x",
    "workload": {"zoo": "googlenet", "precision": "fp16"},
    "platform": {"host": "raspberry_pi4", "accelerators": {"ncs2": {"count": {"min": 1,
                                                                              "max": 4}}},
                 "link": "usb3_hub"},
    "execution": {"policy": ["data_parallel", "threads"], "threads": [1, 2]},
    "stream": {"frames": 40},
    "objectives": [{"maximize": "throughput_fps"}, {"minimize": "price"}],
    "constraints": {"latency_p99_ms": {"max": 100}},
    "search": {"trials": 10, "sampler": "nsga2", "seed": 0},
}


def test_objectives_constraints_and_search_are_typed():
    exp = load_experiment(BASE)
    assert [(o.metric, o.direction) for o in exp.objectives] == [
        ("throughput_fps", "maximize"), ("price_usd", "minimize")]  # an alias resolved
    assert [(c.metric, c.kind, c.bound) for c in exp.constraints] == [
        ("latency_p99_ms", "max", 100.0)]
    assert (exp.search.trials, exp.search.sampler, exp.search.seed) == (10, "nsga2", 0)
    assert not hasattr(exp, "data")
    with pytest.raises(AttributeError):
        exp.file = "y"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(exp)) == exp  # our own object, sent to worker processes


def test_fingerprint_covers_what_trials_depend_on():
    base = load_experiment(BASE).fingerprint
    assert load_experiment(BASE).fingerprint == base
    assert load_experiment(BASE, overrides=["search.trials=99"]).fingerprint == base
    assert load_experiment(BASE, overrides=["constraints.latency_p99_ms.max=200"]
                           ).fingerprint != base
    assert load_experiment(BASE, overrides=["platform.accelerators.ncs2.count.max=8"]
                           ).fingerprint != base


@pytest.mark.parametrize(("override", "message"), [
    ("stream.frames=1000000000", r"stream.frames: must be <= 100000, got 1000000000"),
    ("execution.threads=1000000000", r"execution.threads: must be <= 256"),
    ("platform.accelerators.ncs2.count=1000000", r"platform.accelerators.ncs2.count: must be "
                                                 r"<= 64"),
    ("stream.seed=-1", r"stream.seed: must be >= 0, got -1"),
    ("stream.fps={min: 1, max: .inf}", r"stream.fps: expected numbers min <= max"),
    ("execution.threads={min: 1, max: 300}", r"execution.threads: must be <= 256, got 300"),
    ("name=../../x", r"name: expected"),
    ("name=/tmp/x", r"name: expected"),
    ("objectives.9.maximize=x", r"--set: objectives.9: expected an index below 2"),
    ("search.seed=[[1]]", r"search.seed: expected an? int"),
    ("execution.policy=[single, 3]", r"execution.policy: expected a string, got 3"),
    ("execution.preprocess_s=[0, 2 ms, 5000 s]", r"execution.preprocess_s: must be <= 3600"),
])
def test_bounds_and_hostile_values_are_clear_errors(override, message):
    with pytest.raises(SpecError, match=message):
        load_experiment(BASE, overrides=[override])


def test_a_what_if_devices_lists_are_values_not_dimensions():
    data = {**BASE, "platform": {**BASE["platform"], "devices": {"big_ncs2": {
        "base": "ncs2", "onchip_mem_bytes": "16 MiB",
        "sources": [{"kind": "assumption", "cite": "what if", "fields": ["onchip_mem_bytes"]}]}}}}
    exp = load_experiment(data)
    assert not any(d.path.startswith("platform.devices") for d in exp.dimensions)


def test_names_are_resolved_once_for_every_caller(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("workload: {zoo: googlenet, precision: fp16}\n"
                    "platform: {host: raspberry_pi4, accelerators: {ncs2: 1}, link: usb3_hub}\n"
                    "execution: {policy: data_paralel, devices: [ncs2]}\n")
    for load in (dse.load_experiment, lambda p: dse.simulate(p),
                 lambda p: dse.explore(p, out=tmp_path / "out", trials=1)):
        with pytest.raises(SpecError, match=rf"{path}: execution.policy: unknown policy "
                                            r"'data_paralel'; did you mean 'data_parallel'"):
            load(path)


def test_a_value_no_combination_cures_is_an_error_a_cured_one_is_not():
    bad = {**BASE, "execution": {"policy": "single", "devices": {"choices": [["ncs2"],
                                                                            ["gpu"]]}}}
    with pytest.raises(SpecError, match=r"execution.devices.0: 'gpu' is not on the platform.*"
                                        r"\(when execution.devices is \['gpu'\]\)"):
        dse.load_experiment(bad)
    # ['coral_usb'] is only on the platform when the other dimension adds it: not an error.
    cured = {**BASE, "platform": {**BASE["platform"], "accelerators": [{"ncs2": 1},
                                                                       {"coral_usb": 1}]},
             "execution": {"policy": "single", "devices": {"choices": [["ncs2"],
                                                                      ["coral_usb"]]}}}
    assert dse.load_experiment(cured).resolved


def test_simulate_rejects_what_explore_rejects():
    for change in ({"objectives": [{"maximize": "fps"}]},
                   {"constraints": {"latency_p99_ms": {"max": [50, 100]}}}):
        with pytest.raises(SpecError):
            dse.simulate({**BASE, **change})


def test_every_shipped_experiment_resolves():
    from pathlib import Path

    from dse.spec.sweep import is_sweep_file

    for path in sorted(Path(__file__).parents[2].joinpath("experiments").glob("*.yaml")):
        if is_sweep_file(path):
            continue
        exp = dse.load_experiment(path)
        assert isinstance(exp, Experiment) and exp.resolved, path


def test_spec_never_imports_the_simulator():
    import ast
    from pathlib import Path

    spec = Path(dse.__file__).parent / "spec"
    for path in spec.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad = [n for n in names if n.startswith(("dse.sim", "dse.search", "dse.cli"))]
            assert not bad, f"{path.name} imports {bad}"


def test_outputs_never_replace_a_special_file_and_are_readable(tmp_path):
    import os
    import stat

    from dse.errors import DseError
    from dse.files import atomic_path

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(DseError, match="expected a regular file"), atomic_path(target) as tmp:
            tmp.write_text("x")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    with atomic_path(tmp_path / "ok.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "ok.txt").stat().st_mode & 0o044 == 0o044  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(("override", "message"), [
    ("stream.frames.x=2", r"stream.frames: expected an int, got \{'x': 2\}"),
    ("execution.threads.0.x=2", r"--set: execution.threads.0.x: cannot set a key inside "
                                r"execution.threads.0: it is a value \(1\)"),
    ("execution.threads.x=2", r"--set: execution.threads.x: expected an index below 2 into the "
                              r"list at execution.threads"),
    ("objectives.7=x", r"--set: objectives.7: expected an index below 2"),
    ("stream.frames=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", r"--set: .*nesting deeper than 64"),
    ("stream.frames=1:30", r"stream.frames: expected an int, got '1:30'"),
    ("execution.cocompiled=yes", r"execution.cocompiled: expected a bool, got 'yes'"),
    ("platform.accelerators={ncs2: 1000000000}", r"ncs2.count: must be <= 64"),
])
def test_set_paths_and_values_that_cannot_be(override, message):
    with pytest.raises(SpecError, match=message):
        load_experiment(BASE, overrides=[override])


ISSUE_13_CASES = [  # the fuzzing classes of issue 13, each once, through the CLI
    ["--set", "execution.policy=coexec", "--set", "execution.devices=[]"],
    ["--set", "platform.devices.x={base: {a: 1}}"],
    ["--set", "stream.seed=-1"],
    ["--set", "objectives.9.maximize=x"],
    ["--set", "search.seed=[[1]]"],
    ["--set", "stream.fps={min: 1, max: .inf}"],
    ["--set", "stream.frames=1000000000"],
    ["--set", "execution.threads=1000000000"],
    ["--set", "platform.accelerators.ncs2.count=1000000"],
    ["--set", "workload.options={layers: 1000}", "--set", "workload.zoo=bert_encoder"],
    ["--set", "workload.zoo=" + "a" * 300],
    ["--set", "workload.zoo=googlenett"],
    ["--set", "name=../../x"],
    ["--set", "name=/tmp/x"],
    ["--set", "stream.frames=" + "9" * 5000],
    ["--set", "execution.dvfs={ncs2: turbo}"],
    ["--set", "constraints.latency_p99_ms.max=[50, 100]"],
    ["--set", "objectives=[{maximize: fps}]"],
]


@pytest.mark.parametrize("args", ISSUE_13_CASES, ids=lambda a: a[-1][:40])
def test_issue_13_inputs_are_one_clear_error(args, capsys):
    from pathlib import Path

    from dse.cli import main

    experiment = Path(__file__).parents[2] / "experiments" / "multi_ncs.yaml"
    assert main(["simulate", str(experiment), *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith("error: ") and ("multi_ncs.yaml" in err or "--set" in err), err
