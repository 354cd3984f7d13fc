"""One fuzz case of each input class: build a hostile input in a folder, run the CLI on it, and
say what an error may name. Shared by the fuzz tests and the long fuzz benchmark."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
from hypothesis import strategies as st

from dse.catalog import catalog_dir
from dse.spec.loading import load_yaml
from dse.spec.sweep import is_sweep_file
from tests.fuzz import strategies as fz
from tests.fuzz.harness import Outcome, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").glob("*.yaml") if not is_sweep_file(p))
#: Frames of a fuzzed simulation: enough to run every policy, few enough to be quick.
FRAMES = 20

#: Error lines of known misattributions (``re.search`` patterns), tolerated by the naming check
#: only: exit code, traceback and time limit stay strict. Each names the bug and where the fix
#: belongs (files this change does not own).
TOLERATED: tuple[str, ...] = ()
#: ``dse predict`` checks a CSV's devices, runtimes and hosts against the catalog at their row.
TOLERATED_CSV: tuple[str, ...] = ()

Case = Callable[[fz.Draw, Path], tuple[Outcome, tuple[str, ...]]]


@functools.cache
def _experiment(path: Path) -> dict[str, Any]:
    data, problems = load_yaml(path)
    assert not problems, problems
    if isinstance(data.get("stream"), dict):
        data["stream"]["frames"] = FRAMES
    return data


def experiment_case(draw: fz.Draw, work: Path) -> tuple[Outcome, tuple[str, ...]]:
    """A mutated experiment YAML through ``dse simulate``."""
    source = draw(st.sampled_from(EXPERIMENTS))
    path = work / source.name
    path.write_text(fz.hostile_yaml(draw, _experiment(source)), encoding="utf-8")
    return run_cli(["simulate", str(path), "--json"]), (str(path),)


@functools.cache
def _onnx_model() -> onnx.ModelProto:
    from dse.workloads import zoo

    return zoo.build("resnet8", weights=True, seed=0)


def onnx_case(draw: fz.Draw, work: Path) -> tuple[Outcome, tuple[str, ...]]:
    """A mutated ONNX model (the zoo's ResNet-8, exported) through ``dse workloads show``."""
    path = work / "model.onnx"
    path.write_bytes(fz.mutate_onnx(draw, _onnx_model()))
    (work / "w.bin").write_bytes(b"\0" * 64)
    return run_cli(["workloads", "show", str(path), "--json"]), (str(path),)


#: Six published Coral USB rows (../shared/data, via the coral loader) of two small models.
CSV = """\
device,host,link,runtime,workload,options,precision,policy,threads,streams,count,metric,value,unit,source,dataset
coral_usb,raspberry_pi3bplus,usb2,edgetpu,mobilenet_v1,,int8,single,1,1,1,latency,9.0,ms,coral,coral
coral_usb,raspberry_pi3bplus,usb2,edgetpu,mobilenet_v2,,int8,single,1,1,1,latency,10.61,ms,coral,coral
coral_usb,raspberry_pi4,usb3,edgetpu,mobilenet_v1,,int8,single,1,1,1,latency,4.20,ms,coral,coral
coral_usb,raspberry_pi4,usb3,edgetpu,mobilenet_v2,,int8,single,1,1,1,latency,4.55,ms,coral,coral
coral_usb,x86_desktop,usb3,edgetpu,mobilenet_v1,,int8,single,1,1,1,latency,2.17,ms,coral,coral
coral_usb,x86_desktop,usb3,edgetpu,mobilenet_v2,,int8,single,1,1,1,latency,2.29,ms,coral,coral
"""


def csv_case(draw: fz.Draw, work: Path) -> tuple[Outcome, tuple[str, ...]]:
    """A mutated measurement CSV through ``dse predict``."""
    path = work / "measurements.csv"
    path.write_text(fz.mutate_csv(draw, CSV), encoding="utf-8", errors="surrogateescape")
    return run_cli(["predict", str(path), "--device", "coral_usb", "--json"]), (str(path),)


def set_case(draw: fz.Draw, work: Path, *, known_bugs: bool = True
             ) -> tuple[Outcome, tuple[str, ...]]:
    """A hostile ``--set PATH=VALUE`` on a shipped experiment through ``dse simulate``: paths
    below a scalar or past a list's end, values nested past Python's recursion limit among
    them (``known_bugs=False`` leaves those out)."""
    source = draw(st.sampled_from(EXPERIMENTS))
    path = fz.set_path(draw, _experiment(source), into_scalars=known_bugs)
    text = f"{path}={fz.set_value(draw, deep=known_bugs)}"
    argv = ["simulate", str(source), "--set", f"stream.frames={FRAMES}", "--set", text, "--json"]
    return run_cli(argv), ("--set", str(source))


_CATALOG_FILES = sorted(p for sub in ("", "links", "platforms", "runtimes")
                        for p in (catalog_dir("devices") / sub).glob("*.yaml"))


def catalog_case(draw: fz.Draw, work: Path) -> tuple[Outcome, tuple[str, ...]]:
    """A catalog folder with one mutated device, link, platform or runtime file through
    ``dse devices --catalog``."""
    source = draw(st.sampled_from(_CATALOG_FILES))
    data, _ = load_yaml(source)
    data["name"] = "fuzz_entry"
    sub = source.parent.name if source.parent != catalog_dir("devices") else ""
    (work / sub).mkdir(exist_ok=True)
    path = work / sub / "fuzz_entry.yaml"
    path.write_text(fz.hostile_yaml(draw, data), encoding="utf-8")
    return run_cli(["devices", "--catalog", str(work), "--json"]), (str(work),)


#: Input class -> (case, tolerated error lines).
CASES: dict[str, tuple[Case, tuple[str, ...]]] = {
    "experiment": (experiment_case, TOLERATED),
    "onnx": (onnx_case, ()),
    "csv": (csv_case, TOLERATED_CSV),
    "set": (set_case, TOLERATED),
    "catalog": (catalog_case, ()),
}

#: Known bugs, by a pattern of the traceback's innermost dse frame: the long benchmark counts
#: them apart (and fails on any other traceback). Empty: every bug the fuzzing found is fixed,
#: each with a regression test.
KNOWN_BUGS: dict[str, str] = {}


def known_bug(outcome: Outcome) -> str | None:
    """The :data:`KNOWN_BUGS` entry a failed case hit, if any."""
    for name, pattern in KNOWN_BUGS.items():
        if re.search(pattern, outcome.err):
            return name
    return None
