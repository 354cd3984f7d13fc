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
from tests.fuzz import strategies as fz
from tests.fuzz.harness import Outcome, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
#: Frames of a fuzzed simulation: enough to run every policy, few enough to be quick.
FRAMES = 20

#: Error lines of known misattributions (``re.search`` patterns), tolerated by the naming check
#: only: exit code, traceback and time limit stay strict. Each names the bug and where the fix
#: belongs (files this change does not own).
TOLERATED = (
    # A bad zoo name or option in an experiment is reported as ``zoo:NAME: option: ...`` or
    # ``NAME: expected a zoo model name or an .onnx file: ...``, without the experiment file
    # and its ``workload.zoo`` path: the workloads are built in dse/sim/plan.py
    # (Plan.workload), which would have to wrap the WorkloadError's problems.
    r"^zoo:",
    r": expected a zoo model name or an \.onnx file: ",
    # dse/spec/experiment.py _overrides puts a malformed ``--set`` item into the Problem's path
    # as it is: a line break in it splits the message (it should show repr(item)).
    r"expected PATH=VALUE such as ",
)
#: ``dse predict`` reads a CSV without the catalog's names (dse/cli.py predict_cmd calls
#: read_measurements without known_devices/known_runtimes/known_hosts), so an unknown link,
#: runtime or host of a row is found later and reported as ``catalog: link: unknown link``
#: without file, row and column.
TOLERATED_CSV = (*TOLERATED, r"^catalog: (link|runtime|host|device)")

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


def set_case(draw: fz.Draw, work: Path, *, known_bugs: bool = False
             ) -> tuple[Outcome, tuple[str, ...]]:
    """A hostile ``--set PATH=VALUE`` on a shipped experiment through ``dse simulate``;
    ``known_bugs`` adds the overrides of :data:`KNOWN_BUGS` (the long benchmark runs them)."""
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

#: Known bugs in files this change does not own, by the traceback's innermost dse frame. The
#: normal fuzz run leaves out the mutations that reach them; the long benchmark runs them and
#: counts them apart (it fails on any other traceback).
KNOWN_BUGS: dict[str, str] = {
    # ``--set stream.frames.0=1`` or ``--set workloads.7=x``: dse/spec/experiment.py _set_path
    # indexes into a scalar or past a list's end (TypeError / IndexError, exit 1).
    "experiment._set_path": r'dse/spec/experiment\.py", line \d+, in _set_path',
    # ``--set stream.frames=[[[...`` (1,000 levels): dse/spec/experiment.py parse_override
    # parses the value with yaml.safe_load, whose pure-Python parser recurses without bound
    # (RecursionError, exit 1); dse.spec.loading.load_yaml_text(value, label="--set") bounds it.
    "experiment.parse_override": r'dse/spec/experiment\.py", line \d+, in parse_override',
    # ``platform.accelerators.coral_usb: 1000000000`` (or ``{count: ...}``): the count of an
    # accelerator group is not bounded (dse/spec/platform.py, dse/spec/experiment.py), so
    # dse/sim/plan.py all_units builds a billion units: a hang, then memory exhaustion.
    "plan.all_units (unbounded accelerator count)":
        r'dse/sim/plan\.py", line \d+, in all_units',
    # ``stream.frames: 9223372036854775807``: frames are not bounded (dse/spec/experiment.py),
    # so the simulation (dse/sim/engine.py) runs for ever: a hang.
    "engine.run (unbounded stream.frames)": r'ran longer than(.|\n)*dse/sim/engine\.py", ',
    # ``execution.preprocess_s: 1e308`` (or postprocess_s): the closed-form bound's linear
    # program fails (HiGHS "Model error") and dse/sim/bound.py raises RuntimeError (exit 1);
    # the spec should bound such times, or bound() report an infeasible point.
    "bound (linear program fails on huge times)": r'dse/sim/bound\.py", line \d+, in bound',
    # A mutated ncs_vs_mobile.yaml: a policy's workers() indexes the first unit of an empty
    # list (dse/sim/policies/builtin.py, IndexError, exit 1).
    "policies.workers (no units)": r'dse/sim/policies/builtin\.py", line \d+, in workers',
    # A mutated mobile_soc_coexec.yaml whose run releases no frame: dse/metrics/summary.py
    # summarize indexes an empty array (IndexError, exit 1).
    "summary.summarize (no frame released)": r'dse/metrics/summary\.py", line \d+, in '
                                             r'summarize',
}


def known_bug(outcome: Outcome) -> str | None:
    """The :data:`KNOWN_BUGS` entry a failed case hit, if any."""
    for name, pattern in KNOWN_BUGS.items():
        if re.search(pattern, outcome.err):
            return name
    return None
