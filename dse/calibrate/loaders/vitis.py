"""``vitis_ai_model_zoo_dpu_perf.csv``: Xilinx DPU (DPUCZDX8G) end-to-end numbers, Vitis AI 1.3-3.5.

Mapping (also in calibration/mappings/vitis.md):

- Boards: the Zynq UltraScale+ boards whose DPU is a catalog device, by :data:`BOARDS` (catalog
  platform, DPU device, number of cores, DPU size and clock as the catalog has them). A row whose
  ``dpu_config`` names another core count or size, or a clock more than 5% from the catalog
  device's, is left out. ZCU102 rev 04 (:data:`LEFT_OUT_BOARDS`) and Versal/Alveo cards (no
  catalog device) are left out.
- Models: :func:`dse.workloads.zoo.aliases.match` (table ``vitis``) after :func:`source_name`
  (drops a trailing Vitis AI release tag, and :data:`RENAMES`: one PyTorch model listed once in
  MACs and once in ops).
- Metrics (:data:`CONFIGS`): 1-thread e2e latency -> ``latency`` (ms), policy ``single``;
  1-thread e2e throughput -> ``throughput`` (fps), ``single``; multi-thread e2e throughput ->
  ``throughput`` with :data:`MULTI_THREADS` threads on all the board's cores (``threads`` on
  one core, ``data_parallel`` on several).
- Runtime: ``vitis_ai`` (VART and the Vitis AI Library's performance tests) on every row.
- One row per (board, zoo workload and options, configuration, metric): the exact zoo
  architecture before a close relative, then the newest Vitis AI version, then the framework the
  zoo builder follows (:data:`ZOO_FRAMEWORK`); the rest are left out with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dse.calibrate.loaders import (
    BaseLoader,
    LoadResult,
    finish,
    leaver,
    options_json,
    register_loader,
)
from dse.workloads.zoo.aliases import ZooMatch, match

NAME = "vitis"
FILENAME = "vitis_ai_model_zoo_dpu_perf.csv"
RUNTIME = "vitis_ai"


@dataclass(frozen=True)
class Board:
    """A source board as the catalog has it."""

    host: str          # catalog platform
    device: str        # catalog DPU device
    cores: int         # DPU cores on the board (the platform's accelerator count)
    arch: str          # DPU size
    clock_mhz: float   # the catalog device's clock_hz


BOARDS: dict[str, Board] = {
    "ZCU102": Board("zcu102", "dpu_b4096_zcu102", 3, "B4096", 281.0),   # 0432055-05
    "ZCU104": Board("zcu104", "dpu_b4096", 2, "B4096", 300.0),
    "KV260": Board("kv260", "dpu_b4096", 1, "B4096", 300.0),           # B4096F (URAM)
    "Ultra96": Board("ultra96", "dpu_b1600_ultra96", 1, "B1600", 287.0),
}
LEFT_OUT_BOARDS: dict[str, str] = {
    "ZCU102_rev04": "ZCU102 rev 04 (0432055-04): discontinued board, 287 MHz and other DDR "
                    "timing, numbers from AI SDK v2.0.4; the catalog zcu102 is the 0432055-05",
}
CLOCK_TOLERANCE = 0.05

#: Threads of the Vitis AI Library multi-thread performance test. The model zoo README does not
#: state it; UG1354 (Vitis AI Library User Guide, "Performance" chapter, 1.3 and 2.0) gives the
#: command that measured its "Multiple thread" column: ``test_performance_classification resnet50
#: test_performance_classification.list -t 8 -s 60``.
MULTI_THREADS = 8

#: (metric, threads_or_streams) -> (metric, unit, multi-thread?)
CONFIGS: dict[tuple[str, str], tuple[str, str, bool]] = {
    ("e2e_latency", "1"): ("latency", "ms", False),
    ("e2e_throughput", "1"): ("throughput", "fps", False),
    ("e2e_throughput", "multi"): ("throughput", "fps", True),
}

#: One PyTorch model named by its MACs in Vitis AI 2.x and by its ops in 3.0 (same fps on the
#: same board across the rename). ``pt_squeezenet_..._703.5M`` is torchvision SqueezeNet 1.1
#: (0.35 GMACs = 351.7M of 2.x), not 1.0 (0.82 GMACs) as ``aliases`` would have it.
RENAMES: dict[str, str] = {
    "pt_resnet50_imagenet_224_224_8.2G": "pt_resnet50_imagenet_224_224_4.1G",
    "pt_inceptionv3_imagenet_299_299_5.7G": "pt_inceptionv3_imagenet_299_299_11.4G",
    "pt_squeezenet_imagenet_224_224_703.5M": "pt_squeezenet_imagenet_224_224_351.7M",
}

#: The framework prefix of the implementation each zoo builder follows (tie-break only).
ZOO_FRAMEWORK: dict[str, str] = {
    "resnet50": "pt", "resnet18": "pt", "inception_v3": "pt", "mobilenet_v2": "pt",
    "efficientnet_b0": "pt", "squeezenet1_0": "pt", "squeezenet1_1": "pt", "vgg16": "pt",
    "googlenet": "cf", "mobilenet_v1": "tf2", "inception_v4": "tf",
    "ssd_mobilenet_v1": "tf", "ssd_mobilenet_v2": "tf",
}
FRAMEWORK_ORDER = ("pt", "tf2", "tf", "cf")

NO_DEVICE = "no catalog device (Versal/Alveo DPU)"
CLOCK_DIFFERS = "DPU clock differs from the catalog device"
CONFIG_DIFFERS = "DPU cores or size differ from the catalog platform"
NO_CONFIG = "configuration not modelled"
NO_MODEL = "no zoo model"
SUPERSEDED = "superseded by a newer Vitis AI version"
OTHER_SOURCE = "another source model kept for this zoo workload"

_DPU = re.compile(r"^\s*(?P<n>\d+)\s*\*\s*(?:DPUCZDX8G\s+)?(?P<arch>B\d+)F?\s*@\s*"
                  r"(?P<mhz>[\d.]+)\s*MHz", re.IGNORECASE)


def source_name(model: str) -> str:
    """The model name with a trailing release tag (``..._4.1G_2.0``) and :data:`RENAMES` undone."""
    name = re.sub(r"(_[\d.]+[GM])_\d\.\d$", r"\1", model.strip())
    return RENAMES.get(name, name)


def framework(model: str) -> str:
    """Framework prefix of a Vitis AI model name (``torchvision_*`` counts as ``pt``)."""
    prefix = model.split("_", 1)[0].lower()
    return "pt" if prefix == "torchvision" else prefix


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


def _options(found: ZooMatch) -> str:
    """Options as JSON, without those equal to the zoo model's defaults."""
    from dse.workloads.zoo import registry

    defaults = registry.get(found.zoo).options
    options = {k: v for k, v in found.options.items() if defaults.get(k) != v}
    return options_json(options)


def _board_problem(board: Board, dpu_config: str) -> str | None:
    m = _DPU.match(dpu_config)
    if m is None or int(m["n"]) != board.cores or m["arch"].upper() != board.arch:
        return CONFIG_DIFFERS
    if abs(float(m["mhz"]) - board.clock_mhz) > CLOCK_TOLERANCE * board.clock_mhz:
        return CLOCK_DIFFERS
    return None


class VitisLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = NAME
    filename = FILENAME

    def load(self, file: Path) -> LoadResult:
        table = pd.read_csv(file, comment="#", keep_default_na=False, dtype=str)
        unmapped: list[dict[str, object]] = []
        candidates: list[_Candidate] = []
        for i, r in enumerate(table.itertuples(index=False), start=2):
            leave = leaver(unmapped, i, r.device, r.model)

            board = BOARDS.get(r.device)
            if board is None:
                leave(LEFT_OUT_BOARDS.get(r.device, NO_DEVICE))
                continue
            if problem := _board_problem(board, r.dpu_config):
                leave(problem)
                continue
            config = CONFIGS.get((r.metric, r.threads_or_streams))
            if config is None:
                leave(NO_CONFIG)
                continue
            found = match(source_name(r.model), table=NAME)
            if found is None:
                leave(NO_MODEL)
                continue
            metric, unit, multi = config
            if unit != r.unit:
                leave(f"unit {r.unit!r}, expected {unit!r}")
                continue
            count = board.cores if multi else 1
            policy = ("data_parallel" if count > 1 else "threads") if multi else "single"
            note = "" if found.exact else f"; close relative: {found.note}"
            candidates.append(_Candidate(
                row=i, board=r.device, model=r.model, exact=found.exact,
                version=_version(r.vitis_ai_version), framework=framework(r.model), values={
                    "device": board.device, "host": board.host, "link": "", "runtime": RUNTIME,
                    "workload": found.zoo, "options": _options(found), "precision": "int8",
                    "policy": policy, "threads": MULTI_THREADS if multi else 1, "streams": 1,
                    "count": count, "metric": metric, "value": float(r.value), "unit": unit,
                    "source": f"{r.source} ({r.device_label_raw.strip()}, "
                              f"{r.dpu_config.strip()}; Vitis AI {r.vitis_ai_version}; "
                              f"model {r.model}{note})"}))
        kept = sorted(_keep_one(candidates, unmapped), key=lambda c: c.row)
        return finish(NAME, [{"row": c.row, **c.values} for c in kept],
                      sorted(unmapped, key=lambda u: int(str(u["row"]))), file)


@dataclass(frozen=True)
class _Candidate:
    """A mapped source row before the choice of one row per measurement key."""

    row: int
    board: str
    model: str
    exact: bool
    version: tuple[int, ...]
    framework: str
    values: dict[str, object]

    def key(self) -> tuple[object, ...]:
        return tuple(self.values[k] for k in ("device", "host", "link", "runtime", "workload",
                                              "options",
                                              "precision", "policy", "threads", "streams",
                                              "count", "metric"))

    def rank(self) -> tuple[bool, tuple[int, ...], bool, int, int]:
        """Lower is better: exact, newest release, the zoo's framework, then a fixed order."""
        preferred = ZOO_FRAMEWORK.get(str(self.values["workload"]))
        order = (FRAMEWORK_ORDER.index(self.framework) if self.framework in FRAMEWORK_ORDER
                 else len(FRAMEWORK_ORDER))
        return (not self.exact, tuple(-x for x in self.version), self.framework != preferred,
                order, self.row)


def _keep_one(candidates: list[_Candidate],
              unmapped: list[dict[str, object]]) -> list[_Candidate]:
    """One row per measurement key; the others go to ``unmapped`` with the reason."""
    groups: dict[tuple[object, ...], list[_Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.key(), []).append(c)
    kept = []
    for group in groups.values():
        group.sort(key=_Candidate.rank)
        best = group[0]
        kept.append(best)
        for c in group[1:]:
            # Same framework = the same model, renamed across releases at times
            # (``cf_squeeze`` -> ``cf_squeezenet``, ``..._27.15M`` -> ``..._27M``).
            same = c.framework == best.framework
            reason = SUPERSEDED if same and c.version < best.version else OTHER_SOURCE
            unmapped.append({"row": c.row, "device": c.board, "model": c.model,
                             "reason": reason})
    return kept


register_loader(VitisLoader)
