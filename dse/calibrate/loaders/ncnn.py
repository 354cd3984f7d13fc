"""``ncnn_benchncnn_results.csv``: benchncnn latencies from ncnn's benchmark/README.md.

Mapping (also in calibration/mappings/ncnn.md): only the boards whose CPU cluster or GPU is a
catalog device, at the stated clock, are used (:data:`BOARDS`); boards of the catalog's chips that
ran in another configuration are left out with their reason (:data:`LEFT_OUT`), every other board
is "no catalog device". Models through :func:`dse.workloads.zoo.aliases.match` (table ``ncnn``).

- CPU rows: the core set (``powersave_meaning``) picks the cluster; rows whose thread count is the
  cluster's core count or 1 are kept (``policy`` single, ``threads`` as run), others left out.
- Vulkan rows: the board's GPU; only the run with 1 CPU thread (the CPU threads only serve layers
  without a Vulkan kernel); ``*_int8`` models in a Vulkan run execute on the CPU (their latency
  equals the CPU run's), so they are left out.
- Precision: ``*_int8`` -> int8. Otherwise benchncnn enables ``use_fp16_arithmetic``; on an
  Armv8.2 core with FP16 arithmetic (Cortex-A76, Raspberry Pi 5) that runs fp16, on Armv8.0 cores
  fp32. On the GPUs the precision ncnn reports for the driver (``fp16a``) decides.
- Value: benchncnn's ``avg`` (mean latency over ``loop_count`` runs after warm-up), in ms.
- Runtime: ``ncnn_cpu`` for CPU rows, ``ncnn_vulkan`` for Vulkan rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dse.calibrate.loaders import BaseLoader, LoadResult, finish, options_json, register_loader
from dse.workloads.zoo.aliases import match

FILENAME = "ncnn_benchncnn_results.csv"


@dataclass(frozen=True)
class Board:
    """A source device string resolved to the catalog."""

    host: str
    #: core set (``powersave_meaning``) -> (catalog CPU cluster, its core count)
    clusters: dict[str, tuple[str, int]]
    cpu_precision: str = "fp32"
    gpu: str | None = None
    gpu_precision: str = "fp32"


BOARDS: dict[str, Board] = {
    "Raspberry Pi 3 Model B+ Broadcom BCM2837B0, Cortex-A53 (ARMv8) (1.4GHz x 4)": Board(
        "raspberry_pi3bplus", {"all cores": ("rpi3bplus_cpu", 4)}),
    "Raspberry Pi 5 Broadcom BCM2712, Cortex-A76 (ARMv8) (2.4GHz x 4)": Board(
        "raspberry_pi5", {"all cores": ("rpi5_cpu", 4)}, cpu_precision="fp16"),
    "NVIDIA Jetson Nano": Board(
        "jetson_nano", {"all cores": ("jetson_nano_cpu", 4)}, gpu="jetson_nano_gpu",
        # the run's log: [0 NVIDIA Tegra X1 (nvgpu)] fp16-p/s/a=1/1/1 -> fp16 arithmetic
        gpu_precision="fp16"),
    "Kirin 970 (Cortex-A73 2.4GHz x 4 + Cortex-A53 1.8GHz x 4)": Board(
        "hikey970", {"big cores only": ("kirin970_a73", 4),
                     "little cores only": ("kirin970_a53", 4)},
        # the run's log: [0 Mali-G72] fp16p=1 fp16s=0 fp16a=1 -> fp16 arithmetic
        gpu="mali_g72", gpu_precision="fp16"),
}

#: Boards of catalog chips measured in another configuration: reason for leaving them out.
LEFT_OUT: dict[str, str] = {
    "Raspberry Pi 4 Model B Broadcom BCM2711B0, Cortex-A72 (ARMv8) (1.8GHz x 4)":
        "Raspberry Pi 4 run at 1.8 GHz (stated); catalog rpi4_cpu is the 1.5 GHz BCM2711",
    "Raspberry Pi 5 Broadcom BCM2712 Overclock to 2.9Ghz, VideoCore VII Graphics Overclock to "
    "1.1Ghz (Vulkan 1.2)":
        "Raspberry Pi 5 overclocked to 2.9 GHz (catalog rpi5_cpu is 2.4 GHz); VideoCore VII "
        "has no catalog device",
    "Raspberry Pi 5 Broadcom BCM2712, VideoCore VII Graphics (Vulkan 1.2)":
        "VideoCore VII GPU: no catalog device",
}

#: Snapdragon 855+ (SM8150-AC): prime core 2.96 GHz (855: 2.84), Adreno 640 at 672 MHz (855: 585).
SD855_PLUS = ("Qualcomm SM8150-AC Snapdragon 855+ (Kyro485 2.96 GHz + 2.42 GHz x 3 + 1.80 GHz x 4 "
              "+ Adreno 640)")
SD855_PLUS_REASONS = {
    "big cores only": "Snapdragon 855+ 'big cores': ncnn's big mask (max clock >= midpoint) is "
                      "the 2.96 GHz prime core + 3 gold cores, no single catalog cluster (1 "
                      "thread may run on either; the 855+ prime is not sd855_prime's 2.84 GHz)",
    "Vulkan GPU": "Snapdragon 855+ Adreno 640 is clocked ~15% higher (672 MHz) than catalog "
                  "adreno640 (the 855's, 585 MHz)",
}

#: benchncnn input sizes that differ from the zoo model's default resolution.
INPUT_RESOLUTION = {"squeezenet": 227}

NO_DEVICE = "no catalog device"


class NcnnLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "ncnn"
    filename = FILENAME

    def load(self, file: Path) -> LoadResult:
        # no comment="#": device names contain '#' (AMD EPYC ... AOCC_4.2.0-Build#89)
        table = pd.read_csv(file)
        rows: list[dict[str, object]] = []
        unmapped: list[dict[str, object]] = []
        for i, r in enumerate(table.itertuples(index=False), start=2):
            device_name, model = str(r.device), str(r.model)
            row, reason = _map(r, device_name, model)
            if row is None:
                unmapped.append({"row": i, "device": device_name, "model": model, "reason": reason})
            else:
                rows.append({**row, "_row": i, "_device": device_name, "_model": model})
        rows, dropped = _drop_anomalies(rows)
        unmapped += dropped
        rows = [{**{k: v for k, v in row.items() if not k.startswith("_")}, "row": row["_row"]}
                for row in rows]
        unmapped.sort(key=lambda u: int(str(u["row"])))
        return finish("ncnn", rows, unmapped, file)


def _map(r: Any, device_name: str, model: str) -> tuple[dict[str, object] | None, str]:
    if device_name in LEFT_OUT:
        return None, LEFT_OUT[device_name]
    backend, core_set = str(r.backend), str(r.powersave_meaning)
    if device_name == SD855_PLUS:
        return None, SD855_PLUS_REASONS.get(backend, SD855_PLUS_REASONS["big cores only"])
    board = BOARDS.get(device_name)
    if board is None:
        return None, NO_DEVICE
    threads = int(r.threads_or_streams)
    int8 = model.endswith(("_int8", "-int8"))
    if backend == "CPU":
        if core_set not in board.clusters:
            return None, (f"core set '{core_set}' of a big.LITTLE SoC spans clusters: no single "
                          f"catalog device")
        device, cores = board.clusters[core_set]
        if threads not in (1, cores):
            return None, (f"{threads} threads on the {cores}-core cluster: only 1 thread or the "
                          f"whole cluster is kept")
        precision = "int8" if int8 else board.cpu_precision
        runtime = "ncnn_cpu"
    elif backend == "Vulkan GPU":
        if board.gpu is None:
            return None, "GPU: no catalog device"
        if int8:
            return None, ("int8 model in a Vulkan run: ncnn runs it on the CPU (latency equals "
                          "the CPU run's)")
        if threads != 1:
            return None, (f"Vulkan run with {threads} CPU threads: the run with 1 CPU thread of "
                          f"the same GPU is kept")
        device, precision = board.gpu, board.gpu_precision
        runtime = "ncnn_vulkan"
    else:
        return None, f"unknown backend {backend!r}"
    found = match(model, table="ncnn")
    if found is None:
        return None, "no zoo model"
    options = dict(found.options)
    base = model.removesuffix("_int8").removesuffix("-int8")
    if base in INPUT_RESOLUTION:
        options["resolution"] = INPUT_RESOLUTION[base]
    value = float(r.value)
    if not math.isfinite(value) or value <= 0:
        return None, "no latency value"
    run = r.run_id
    return {"device": device, "host": board.host, "link": "", "runtime": runtime,
            "workload": found.zoo,
            "options": options_json(options),
            "precision": precision, "policy": "single", "threads": threads, "streams": 1,
            "count": 1, "metric": "latency", "value": value, "unit": str(r.unit),
            "source": f"{r.source}, {device_name}, run {int(run)}"}, ""


def _drop_anomalies(rows: list[dict[str, object]]
                    ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Leave out multi-thread rows slower than the same model's 1-thread row, and duplicates."""
    def key(r: dict[str, object]) -> tuple[object, ...]:
        return (r["device"], r["host"], r["link"], r["runtime"], r["workload"], r["options"],
                r["precision"])

    single = {key(r): float(str(r["value"])) for r in rows if r["threads"] == 1}
    kept: list[dict[str, object]] = []
    dropped: list[dict[str, object]] = []
    seen: set[tuple[object, ...]] = set()
    for r in rows:
        full = (*key(r), r["policy"], r["threads"], r["streams"], r["count"], r["metric"])
        one = single.get(key(r))
        reason = ""
        if int(str(r["threads"])) > 1 and one is not None and float(str(r["value"])) > one:
            reason = ("anomalous: the whole-cluster latency is above the 1-thread latency of the "
                      "same model on the same device")
        elif full in seen:
            reason = "duplicate of an earlier row with the same configuration"
        if reason:
            dropped.append({"row": r["_row"], "device": r["_device"], "model": r["_model"],
                            "reason": reason})
        else:
            seen.add(full)
            kept.append(r)
    return kept, dropped


register_loader(NcnnLoader)
