"""``mlperf_tiny_results.csv``: MLPerf Tiny v0.5-1.3 on microcontroller boards.

Mapping (also in calibration/mappings/mlperf_tiny.md): a submission's ``device`` (the board name
the submitter gave) -> catalog device by :data:`DEVICES`; the benchmark code (``ic``, ``kws``,
``vww``, ``ad``) -> zoo model through :func:`dse.workloads.zoo.aliases.match` (table
``mlperf_tiny``). Mapped boards: NUCLEO-L4R5ZI(-P), NUCLEO-H7A3ZI-Q, NUCLEO-U575ZI-Q and
DISCO-F746NG (their STM32 cores), the Syntiant NDP120 at 1.1 V / 98.7 MHz and 0.9 V / 30.7 MHz
and the GreenWaves GAP9 at 0.8 V / 370 MHz and 0.65 V / 240 MHz (one catalog device per
operating point), plus the MAX78000, NUCLEO-H743ZI2, FRDM-MCXN947 (Neutron) and Alif E7 AppKit
(Ethos-U55), which have no submission yet. Other boards are left out as "no catalog device".

Software stacks: every stack of a board (X-CUBE-AI versions, TFLM, microTVM, ONNC on mbed or
Zephyr, Plumerai, Bosch HALE builds) maps to the board's device; the stack is the row's
``runtime`` (:func:`runtime_of`: a board whose network always runs on one vendor stack names it,
else :data:`STACKS` on the framework column, the board name and the submitter) and is written
into its ``source`` too. One row per target (device x runtime) and (model, metric) is kept: the
latest MLPerf Tiny version, then the best value. A clock stated in the board name or
``proc_freq`` must match the device's (``_40MHz`` variants are left out); float runs are left
out (int8 only).

Metrics: performance mode gives ``median_throughput`` (inferences/s, one inference at a time);
it becomes ``latency`` in ms from the table's ``latency_ms`` column (= 1000 / median throughput;
checked). Energy mode gives ``median_energy_per_inference`` in uJ -> ``energy``. The energy-mode
throughput is left out (the performance-mode latency is kept); no power is published.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dse.calibrate.loaders import (
    BaseLoader,
    LoadResult,
    finish,
    leaver,
    options_json,
    register_loader,
    text,
)
from dse.workloads.zoo.aliases import match


@dataclass(frozen=True)
class Board:
    """A catalog device an MLPerf Tiny board name maps to."""

    pattern: str            # regex on the lower-cased board name
    device: str
    host: str
    clock: float = 0.0      # core clock in MHz the submission must run at, when it states one
    needs_accelerator: str = ""  # regex the accelerator/processor text must match ("" = none)
    refuse: str = ""        # regex on board + processor + accelerator text that rules it out
    note: str = ""
    runtime: str = ""       # the one stack the board's network runs on ("" = from the row)


#: board name -> catalog device; first match wins. Every software-stack variant of a board
#: (X-CUBE-AI, TFLM, microTVM, ONNC on mbed/Zephyr, Plumerai, Bosch HALE, ...) maps to the board's
#: device: the hardware is the same, the stack goes into the row's ``source``. Names in the table:
#: see the mapping file.
DEVICES: tuple[Board, ...] = (
    Board(r"max[-_ ]?78000(?!\d)", "max78000_cnn", "max78000_feather",
          note="MAX78000 submissions run the network on the CNN accelerator", runtime="ai8x"),
    Board(r"nucleo[-_ ]?h743zi2", "stm32h743_m7", "nucleo_h743zi2", clock=480.0,
          note="NUCLEO-H743ZI2 only; other STM32H7 parts (H7A3, ...) have their own entries"),
    Board(r"mcx[-_ ]?n94[57]", "mcxn947_neutron", "frdm_mcxn947",
          needs_accelerator=r"npu|neutron",
          note="only runs that name the Neutron NPU in the accelerator column",
          runtime="eiq_neutron"),
    Board(r"(alif|ensemble).*(app ?kit|ak[-_ ]?e7)|(app ?kit|ak[-_ ]?e7).*(alif|ensemble)",
          "ethos_u55_alif", "alif_e7_appkit", needs_accelerator=r"ethos|u55",
          refuse=r"\bhe\b|u55[-_ ]?128|128 ?mac",
          note="E7 AppKit, Ethos-U55-256 of the HP subsystem only", runtime="ethos_u_vela"),
    Board(r"nucleo[-_ ]?l4r5zi(?:[-_]p(?![a-z]))?", "stm32l4r5_m4", "nucleo_l4r5zi", clock=120.0,
          note="NUCLEO-L4R5ZI and NUCLEO-L4R5ZI-P (same MCU, external SMPS), every stack"),
    Board(r"nucleo[-_ ]?h7a3zi(?:[-_]q(?![a-z]))?", "stm32h7a3_m7", "nucleo_h7a3zi_q", clock=280.0,
          note="NUCLEO-H7A3ZI-Q, every stack"),
    Board(r"nucleo[-_ ]?u575zi(?:[-_]q(?![a-z]))?", "stm32u575_m33", "nucleo_u575zi_q", clock=160.0,
          note="NUCLEO-U575ZI-Q, every stack"),
    Board(r"disco[-_ ]?f746ng", "stm32f746_m7", "stm32f746g_disco", clock=216.0,
          note="32F746GDISCOVERY, every stack"),
    # The NDP120 and GAP9 names state the operating point (voltage and clock); each point is a
    # device of its own, pinned by the pattern (the name's "98mhz" is the 98.7 MHz of proc_freq,
    # so the clock check is left to the pattern).
    Board(r"syntiant[-_ ]?9120[-_ ]1v1[-_ ]98mhz", "ndp120_core2", "ndp120_evb",
          note="NDP120 at 1.1 V / 98.7 MHz", runtime="syntiant_tdk"),
    Board(r"syntiant[-_ ]?9120[-_ ]0v9[-_ ]30mhz", "ndp120_core2_30mhz", "ndp120_evb_30mhz",
          note="NDP120 at 0.9 V / 30.7 MHz", runtime="syntiant_tdk"),
    Board(r"gap9[-_ ]?800[-_ ]370", "gap9_cluster_ne16", "gap9_evk", clock=370.0,
          note="GAP9 at 0.8 V / 370 MHz", runtime="gapflow"),
    Board(r"gap9[-_ ]?650[-_ ]240", "gap9_cluster_ne16_240mhz", "gap9_evk_240mhz", clock=240.0,
          note="GAP9 at 0.65 V / 240 MHz", runtime="gapflow"),
)

#: Software stack (regex on the lower-cased framework column, board name and submitter) ->
#: catalog runtime; first match wins. The v0.7/v1.0 STMicroelectronics submissions leave the
#: framework empty: ST submits with its own X-CUBE-AI (named from v1.1 on). The v0.5
#: ``reference`` submission is the MLPerf Tiny reference code on TensorFlow Lite Micro.
STACKS: tuple[tuple[str, str], ...] = (
    (r"x-cube-ai|stm32cube\.?ai|\bstmicroelectronics\b", "x_cube_ai"),
    (r"plumerai", "plumerai"),
    (r"\bhale\b|\bbosch\b", "bosch_hale"),
    (r"microtvm.*cmsis", "microtvm_cmsisnn"),
    (r"microtvm", "microtvm"),
    (r"\bonnc\b", "onnc"),
    (r"tflite|tensorflow lite|tflm|\breference\b", "tflm"),
)
NO_RUNTIME = "software stack has no catalog runtime"

LATENCY_METRIC = "median_throughput"
ENERGY_METRIC = "median_energy_per_inference"
SOURCE = "MLCommons MLPerf Tiny results ({version}, {submitter}, {software}): {path}"


def _board(name: str) -> Board | None:
    low = name.lower()
    for board in DEVICES:
        if re.search(board.pattern, low):
            return board
    return None


def _software(r: Any, name: str, board: Board) -> str:
    """The software stack of a row: the framework column and what the board name adds."""
    found = re.search(board.pattern, name.lower())
    suffix = name[found.end():].strip(" _-") if found else ""
    parts = [p for p in (text(r.framework), suffix) if p]
    return f"software: {' / '.join(parts)}" if parts else "software not stated"


def runtime_of(r: Any, name: str, board: Board) -> str | None:
    """The catalog runtime a row ran on: the board's own, else by :data:`STACKS`."""
    if board.runtime:
        return board.runtime
    stack = " ".join((text(r.framework), name, text(r.submitter))).lower()
    return next((runtime for pattern, runtime in STACKS if re.search(pattern, stack)), None)


def _clocks_mhz(text: str) -> list[float]:
    """Every clock named in ``text`` ("480 MHz", "1.6GHz", "_400MHz"), in MHz."""
    out = []
    for num, unit in re.findall(r"(\d+(?:\.\d+)?) ?([mg])(?:hz)?\b", text.lower()):
        out.append(float(num) * (1000.0 if unit == "g" else 1.0))
    return out


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))


class MlperfTinyLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "mlperf_tiny"
    filename = "mlperf_tiny_results.csv"

    def load(self, file: Path) -> LoadResult:
        table = pd.read_csv(file, comment="#")
        candidates: list[tuple[int, dict[str, object], tuple[object, ...]]] = []
        unmapped: list[dict[str, object]] = []
        for i, r in enumerate(table.itertuples(index=False), start=2):
            name, bench = text(r.device), text(r.benchmark)

            leave = leaver(unmapped, i, name, bench)

            board = _board(name)
            if board is None:
                leave("no catalog device")
                continue
            detail = " ".join((name, text(r.processor), text(r.accelerator),
                               text(r.proc_freq))).lower()
            if board.refuse and re.search(board.refuse, detail):
                leave("other configuration of the chip than the catalog device")
                continue
            if board.needs_accelerator and not re.search(
                    board.needs_accelerator, f"{text(r.accelerator)} {text(r.framework)}".lower()):
                leave("accelerator not named: run may be on the host CPU")
                continue
            if board.clock and any(abs(f - board.clock) > 0.5
                                   for f in _clocks_mhz(f"{name} {text(r.proc_freq)}")):
                leave("core clock differs from the catalog device")
                continue
            if text(r.division).lower() != "closed":
                leave("open division (model may differ from the reference)")
                continue
            quant = f"{text(r.quantization)} {name}".lower()
            if re.search(r"fp16|fp32|float", quant):
                leave("not int8")
                continue
            found = match(bench, table="mlperf_tiny")
            if found is None:
                leave("no zoo model")
                continue
            metric, unit, value = _metric(r)
            if metric is None:
                leave("energy-mode throughput (performance-mode latency kept)")
                continue
            runtime = runtime_of(r, name, board)
            if runtime is None:
                leave(NO_RUNTIME)
                continue
            row = {"row": i, "device": board.device, "host": board.host, "link": "",
                   "runtime": runtime,
                   "workload": found.zoo,
                   "options": options_json(found.options),
                   "precision": "int8", "policy": "single", "threads": 1, "streams": 1, "count": 1,
                   "metric": metric, "value": value, "unit": unit,
                   "source": SOURCE.format(version=text(r.mlperf_tiny_version),
                                           submitter=text(r.submitter),
                                           software=_software(r, name, board), path=text(r.source))}
            # Order: latest MLPerf Tiny version first, then the best (lowest) value.
            rank = (tuple(-x for x in _version(text(r.mlperf_tiny_version))), value)
            candidates.append((i, row, rank))
        rows = _dedup(candidates, unmapped, table)
        return finish("mlperf_tiny", rows, unmapped, file)


def _metric(r: Any) -> tuple[str | None, str, float]:
    """``(metric, unit, value)`` of a row, or ``(None, ...)`` for rows not used."""
    metric = text(r.metric)
    value = float(r.value)
    if metric == LATENCY_METRIC and text(r.unit) == "inf/s":
        latency = r.latency_ms
        try:
            latency = float(latency)
        except (TypeError, ValueError):
            latency = float("nan")
        if not math.isfinite(latency) or latency <= 0:
            latency = 1000.0 / value
        return "latency", "ms", latency
    if metric == ENERGY_METRIC and text(r.unit) == "uJ":
        return "energy", "uJ", value
    return None, "", value


def _dedup(candidates: list[tuple[int, dict[str, object], tuple[object, ...]]],
           unmapped: list[dict[str, object]], table: pd.DataFrame) -> list[dict[str, object]]:
    """One row per (device, host, runtime, workload, options, precision, metric): the
    best-ranked."""
    best: dict[tuple[object, ...], tuple[int, dict[str, object], tuple[object, ...]]] = {}
    for cand in candidates:
        _, row, rank = cand
        key = tuple(row[c] for c in ("device", "host", "link", "runtime", "workload", "options",
                                     "precision", "metric"))
        if key not in best or rank < best[key][2]:
            best[key] = cand
    kept = {id(c[1]) for c in best.values()}
    rows = []
    for i, row, _ in candidates:
        if id(row) in kept:
            rows.append(row)
        else:
            src = table.iloc[i - 2]
            unmapped.append({"row": i, "device": text(src["device"]),
                             "model": text(src["benchmark"]),
                             "reason": "duplicate: another submission kept (latest version, "
                                       "then best value)"})
    return rows


register_loader(MlperfTinyLoader)
