"""``tflite_official_mobile_latency.csv``: TensorFlow Lite's published phone latencies.

Mapping (also in calibration/mappings/tflite.md): only the Pixel 4's Adreno 640 GPU is a catalog
device measured on its own (:data:`GPU_DEVICES`). Pixel 3 (Snapdragon 845) and iPhone XS (A12)
have no catalog device; the Pixel 4's CPU rows ran 4 threads pinned to the big cores, i.e. the
prime core and the three gold cores, two catalog clusters (``sd855_prime`` + ``sd855_gold``);
NNAPI rows are left out because NNAPI picks the accelerator at run time. Models through
:func:`dse.workloads.zoo.aliases.match` (table ``tflite``).

The GPU delegate ran with TFLite's ``benchmark_model`` defaults, where on Android
``gpu_precision_loss_allowed`` is true: the fp32 model runs in fp16 on the GPU, so GPU rows are
recorded as fp16. Values are ``benchmark_model``'s average latency (ms). Runtime by backend
(:data:`RUNTIMES`): ``tflite_gpu`` (GPU delegate), ``tflite_cpu``, ``tflite_nnapi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dse.calibrate.loaders import BaseLoader, LoadResult, finish, options_json, register_loader
from dse.workloads.zoo.aliases import match

FILENAME = "tflite_official_mobile_latency.csv"

#: (source device, backend) -> (catalog device, host platform)
GPU_DEVICES: dict[tuple[str, str], tuple[str, str]] = {
    ("Google Pixel 4 (Snapdragon 855), Android 10", "GPU"): ("adreno640", "pixel4"),
}
#: The table's backend (its start) -> catalog runtime.
RUNTIMES = {"GPU": "tflite_gpu", "CPU": "tflite_cpu", "NNAPI": "tflite_nnapi"}
#: Precision the GPU delegate computes in (benchmark_model default on Android: fp16 allowed).
GPU_PRECISION = "fp16"

PIXEL4 = "Google Pixel 4 (Snapdragon 855), Android 10"
#: Devices with no catalog device at all.
NO_DEVICE = {
    "Google Pixel 3 (Snapdragon 845), Android 10": "Pixel 3 (Snapdragon 845): no catalog device",
    "Apple iPhone XS (A12)": "iPhone XS (Apple A12): no catalog device",
}
PIXEL4_CPU = ("Pixel 4 CPU, 4 threads with big-core affinity: prime + 3 gold cores span two "
              "catalog clusters (sd855_prime, sd855_gold), no single device")
NNAPI = "NNAPI picks the accelerator at run time"


class TfliteLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "tflite"
    filename = FILENAME

    def load(self, file: Path) -> LoadResult:
        table = pd.read_csv(file)
        rows: list[dict[str, object]] = []
        unmapped: list[dict[str, object]] = []
        seen: set[tuple[object, ...]] = set()
        for i, r in enumerate(table.itertuples(index=False), start=2):
            row, reason = _map(r)
            if row is not None:
                key = tuple(row[c] for c in ("device", "host", "link", "runtime", "workload",
                                             "options",
                                             "precision", "policy", "threads", "streams", "count",
                                             "metric"))
                if key in seen:
                    row, reason = None, "duplicate of an earlier row with the same configuration"
                seen.add(key)
            if row is None:
                unmapped.append({"row": i, "device": str(r.device), "model": str(r.model),
                                 "reason": reason})
            else:
                rows.append({"row": i, **row})
        return finish("tflite", rows, unmapped, file)


def _map(r: Any) -> tuple[dict[str, object] | None, str]:
    device_name, backend = str(r.device), str(r.backend)
    if device_name in NO_DEVICE:
        return None, NO_DEVICE[device_name]
    if device_name == PIXEL4:
        if backend.startswith("CPU"):
            return None, PIXEL4_CPU
        if backend.startswith("NNAPI"):
            return None, NNAPI
    target = GPU_DEVICES.get((device_name, backend))
    if target is None:
        return None, f"no catalog device for {backend}"
    found = match(str(r.model), table="tflite")
    if found is None:
        return None, "no zoo model"
    device, host = target
    runtime = next(r for b, r in RUNTIMES.items() if backend.startswith(b))
    return {"device": device, "host": host, "link": "", "runtime": runtime,
            "workload": found.zoo,
            "options": options_json(found.options),
            "precision": GPU_PRECISION, "policy": "single", "threads": 1, "streams": 1,
            "count": 1, "metric": "latency", "value": float(r.value), "unit": str(r.unit),
            "source": f"{r.source}, {device_name}"}, ""


register_loader(TfliteLoader)
