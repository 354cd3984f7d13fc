"""``deepedgebench_latency_power.csv``: DeepEdgeBench (Baller et al. 2021) latency and board power.

Mapping (also in calibration/mappings/deepedgebench.md): (board, framework) -> catalog device by
:data:`DEVICES`; one runtime per device is kept (the Edge TPU delegate, TensorRT, TFLite on the
CPU), and each row's runtime follows its framework (``edgetpu``, ``tensorrt``, ``tflite_cpu``).
Models through :func:`dse.workloads.zoo.aliases.match`, except that the table's
"MobileNet v1 quantized" is given width 0.25 at 128x128 (:data:`MODEL_OPTIONS`; the table does not
state them, the repository's scripts and the model's accuracy do).

Latency: the median over 5000 inferences (``latency_median``); the mean rows are left out.
Power: ``board_power_mean_during_run`` is the whole board's supply power (HM310P lab supply)
averaged over the run, recorded as ``power`` of that run (it includes the board's idle power).
The idle rows (``board_power_idle_mean``) have no workload and are left out.
"""

from __future__ import annotations

from pathlib import Path

from dse.calibrate.loaders import (
    BaseLoader,
    LoadResult,
    finish,
    leaver,
    options_json,
    register_loader,
    table_rows,
    text,
)
from dse.workloads.zoo.aliases import match

#: board (start of the table's device text) -> framework -> (device, host, runtime, threads).
#: Threads: DeepEdgeBench's tflite_runtime Interpreter is built without num_threads, so TFLite's
#: CPU backend runs its default of one thread (cpu_backend_context.cc kDefaultNumThreadpoolThreads).
DEVICES: dict[str, dict[str, tuple[str, str, str, int]]] = {
    "Coral Dev Board": {
        "TFLite + Edge TPU delegate": ("coral_devboard_tpu", "coral_devboard", "edgetpu", 1),
        "TFLite (CPU)": ("imx8m_cpu", "coral_devboard", "tflite_cpu", 1),
    },
    "Jetson Nano (backend per framework": {
        "ONNX->TensorRT": ("jetson_nano_gpu", "jetson_nano", "tensorrt", 1),
        "TFLite (CPU)": ("jetson_nano_cpu", "jetson_nano", "tflite_cpu", 1),
    },
    "Jetson Nano (CPU only": {},
    "Raspberry Pi 4 Model B": {
        "TFLite (CPU)": ("rpi4_cpu", "raspberry_pi4", "tflite_cpu", 1),
    },
}
#: Boards with no catalog device.
NO_DEVICE = ("ASUS Tinker Edge R", "Arduino Nano 33")
#: Frameworks left out on a mapped board, with the reason.
OTHER_FRAMEWORKS = {
    "TensorFlow": "full TensorFlow runtime (thread use not stated; the TFLite/TensorRT run of "
                  "the device is kept)",
    "TensorFlow frozen graph": "full TensorFlow runtime (thread use not stated; the TFLite/"
                               "TensorRT run of the device is kept)",
    "TF-TRT": "TF-TRT: same GPU, model and precision as the ONNX->TensorRT run kept",
}
#: Zoo options where the table's model name leaves them open (see the mapping file).
MODEL_OPTIONS = {"mobilenet_v1": {"width": 0.25, "resolution": 128}}
METRICS = {"latency_median": ("latency", "ms"), "board_power_mean_during_run": ("power", "W")}
SOURCE = "DeepEdgeBench (Baller et al. 2021), {path}"


def _board(device: str) -> str | None:
    for board in (*DEVICES, *NO_DEVICE):
        if device.startswith(board):
            return board
    return None


class DeepEdgeBenchLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "deepedgebench"
    filename = "deepedgebench_latency_power.csv"

    def load(self, file: Path) -> LoadResult:
        rows: list[dict[str, object]] = []
        unmapped: list[dict[str, object]] = []
        for i, r in table_rows(file):
            device, model = text(r.device), text(r.model)
            framework, metric = text(r.framework), text(r.metric)

            leave = leaver(unmapped, i, device, model)

            board = _board(device)
            if board is None or board in NO_DEVICE:
                leave("no catalog device")
                continue
            if metric == "board_power_idle_mean":
                leave("idle board power (no inference running)")
                continue
            if metric == "latency_mean":
                leave("mean latency (the median is kept)")
                continue
            target = DEVICES[board].get(framework)
            if target is None:
                leave(OTHER_FRAMEWORKS.get(framework, f"framework {framework!r} not mapped"))
                continue
            if metric not in METRICS:
                leave(f"metric {metric!r} not used")
                continue
            found = match(model, table="deepedgebench")
            if found is None:
                leave("no zoo model")
                continue
            options = {**found.options, **MODEL_OPTIONS.get(found.zoo, {})}
            cat_device, host, runtime, threads = target
            name, unit = METRICS[metric]
            rows.append({"row": i, "device": cat_device, "host": host, "link": "",
                         "runtime": runtime,
                         "workload": found.zoo,
                         "options": options_json(options),
                         "precision": text(r.precision), "policy": "single", "threads": threads,
                         "streams": 1, "count": 1, "metric": name, "value": float(r.value),
                         "unit": unit, "source": SOURCE.format(path=text(r.source))})
        return finish("deepedgebench", rows, unmapped, file)


register_loader(DeepEdgeBenchLoader)
