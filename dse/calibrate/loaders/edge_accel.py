"""``edge_accel_small_tables.csv``: the Coral benchmark page's table and A. Allan's edge benchmarks.

Mapping (also in calibration/mappings/edge_accel.md): (device text, framework) -> catalog device,
host platform, link, precision and CPU threads by :data:`CORAL_PAGE` and :data:`ALLAN`; models
through :func:`dse.workloads.zoo.aliases.match` (table ``edge``). All rows are batch-1 latencies of
one inference at a time, averaged over the runs (Coral: C++ benchmark, model execution only;
Allan: mean over ``--runs`` after a discarded first run).

The framework of Allan's rows is in the ``note`` column (``framework=...``); it decides precision
(Edge TPU int8, OpenVINO on the sticks fp16, TensorFlow fp32, TF-TRT fp16, TFLite the quantized
model, int8) and the runtime (``edgetpu``, ``openvino_myriad``, ``tensorflow_cpu``/``_gpu``,
``tf_trt``, ``tflite_cpu``).
"""

from __future__ import annotations

import re
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

#: (device, host, link, runtime, precision, threads)
Target = tuple[str, str, str, str, str, int]

#: coral.ai/docs/edgetpu/benchmarks Table 1. All int8 TFLite; CPU thread count not stated (the
#: footnotes were not captured): recorded as 1, TFLite's quantized default.
CORAL_PAGE: dict[str, Target | str] = {
    "Desktop CPU (footnote 1; TFLite CPU)":
        "desktop CPU not identified in the row (the page's footnote was not captured); the "
        "catalog x86_avx2 is one part, a Core i7-8700",
    "Desktop CPU + Coral USB Accelerator (USB 3.0) Edge TPU":
        ("coral_usb", "x86_desktop", "usb3", "edgetpu", "int8", 1),
    "Embedded CPU (footnote 2; TFLite CPU)":
        ("imx8m_cpu", "coral_devboard", "", "tflite_cpu", "int8", 1),
    "Coral Dev Board Edge TPU": ("coral_devboard_tpu", "coral_devboard", "", "edgetpu", "int8", 1),
}
#: aallan/benchmarking-ml-on-the-edge README table: (device text, framework) -> target.
#: Hosts of the USB sticks: Allan's roundup ran every accelerator on a Raspberry Pi 3 B+ (USB 2
#: only) or a Raspberry Pi 4 (USB 3), so USB3 rows are the Pi 4 and USB2 rows the Pi 3 B+.
#: Threads: TensorFlow's default intra-op pool is one thread per core (4); benchmark_tf_lite.py
#: calls set_num_threads(4). Runtimes: the Jetson's "TensorRT" column is TF-TRT
#: (benchmark_tf_trt.py, see the mapping file), "TensorFlow" a CUDA build of TensorFlow.
ALLAN: dict[tuple[str, str], Target] = {
    ("Jetson Nano", "TensorFlow"):
        ("jetson_nano_gpu", "jetson_nano", "", "tensorflow_gpu", "fp32", 1),
    ("Jetson Nano", "TensorRT"): ("jetson_nano_gpu", "jetson_nano", "", "tf_trt", "fp16", 1),
    ("Coral Dev Board", "Edge TPU"):
        ("coral_devboard_tpu", "coral_devboard", "", "edgetpu", "int8", 1),
    ("Coral USB Accelerator (USB2)", "Edge TPU"):
        ("coral_usb", "raspberry_pi3bplus", "usb2", "edgetpu", "int8", 1),
    ("Coral USB Accelerator (USB3)", "Edge TPU"):
        ("coral_usb", "raspberry_pi4", "usb3", "edgetpu", "int8", 1),
    ("Movidius NCS (Myriad 2) (USB2)", "OpenVINO"):
        ("ncs", "raspberry_pi3bplus", "usb2", "openvino_myriad", "fp16", 1),
    ("Movidius NCS (Myriad 2) (USB3)", "OpenVINO"):
        ("ncs", "raspberry_pi4", "usb3", "openvino_myriad", "fp16", 1),
    ("Intel NCS2 (Myriad X) (USB2)", "OpenVINO"):
        ("ncs2", "raspberry_pi3bplus", "usb2", "openvino_myriad", "fp16", 1),
    ("Intel NCS2 (Myriad X) (USB3)", "OpenVINO"):
        ("ncs2", "raspberry_pi4", "usb3", "openvino_myriad", "fp16", 1),
    ("Raspberry Pi 3 Model B+", "TensorFlow"):
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "", "tensorflow_cpu", "fp32", 4),
    ("Raspberry Pi 3 Model B+", "TensorFlow Lite"):
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "", "tflite_cpu", "int8", 4),
    ("Raspberry Pi 4", "TensorFlow"):
        ("rpi4_cpu", "raspberry_pi4", "", "tensorflow_cpu", "fp32", 4),
    ("Raspberry Pi 4", "TensorFlow Lite"):
        ("rpi4_cpu", "raspberry_pi4", "", "tflite_cpu", "int8", 4),
    ("Raspberry Pi 5", "TensorFlow"):
        ("rpi5_cpu", "raspberry_pi5", "", "tensorflow_cpu", "fp32", 4),
    ("Raspberry Pi 5", "TensorFlow Lite"):
        ("rpi5_cpu", "raspberry_pi5", "", "tflite_cpu", "int8", 4),
}
#: Model names left out with a reason of their own (the rest: no zoo model).
MODEL_REASONS = {
    "MobileNet v1 SSD (224x224)":
        "SSD input size doubtful: the page says 224x224, Coral's SSD models are 300x300 and the "
        "embedded-CPU time matches the 300x300 reference run",
    "MobileNet v2 SSD (224x224)":
        "SSD input size doubtful: the page says 224x224, Coral's SSD models are 300x300 and the "
        "embedded-CPU time matches the 300x300 reference run",
    "SSD MobileNet v1 0.75-depth (COCO, 300x300)":
        "SSD MobileNet v1 at depth multiplier 0.75: the zoo's ssd_mobilenet_v1 has no width option",
}
#: Runtimes whose SSD MobileNet v2 rows ran the quantized TFLite detection file, and its options.
#: The Edge TPU runs only fully int8-quantized models, and Allan's ``benchmark_edgetpu.py`` drives
#: it with the edgetpu API's ``DetectionEngine``, which needs the ``TFLite_Detection_PostProcess``
#: output; the one quantized SSD MobileNet v2 COCO release is the quantized config
#: (``ssd_mobilenet_v2_quantized_300x300_coco``: 1x1 box predictor, plain extra layers; Coral's
#: ``mobilenet_ssd_v2_coco_quant_postprocess(_edgetpu).tflite``). ``benchmark_tf_lite.py``'s models
#: "must be quantized" (``Running-the-benchmarks.md``): the same file without Edge TPU compilation.
QUANT_FILE_RUNTIMES = ("edgetpu", "tflite_cpu")
QUANT_POSTPROCESS = {"box_kernel": 1, "depthwise_extras": False, "postprocess": True}
DUPLICATE = "duplicate of an earlier row (same device, host, link, model and configuration)"
CORAL_SOURCE = "page:https://coral.ai/docs/edgetpu/benchmarks"


def _target(source: str, device: str, note: str) -> Target | str:
    """The row's target, or the reason it has none."""
    if source.startswith(CORAL_SOURCE):
        return CORAL_PAGE.get(device, "no catalog device")
    found = re.search(r"framework=([^;]+)", note)
    framework = found.group(1).strip() if found else ""
    return ALLAN.get((device, framework), f"no catalog device for {device} with {framework!r}")


class EdgeAccelLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "edge_accel"
    filename = "edge_accel_small_tables.csv"

    def load(self, file: Path) -> LoadResult:
        rows: list[dict[str, object]] = []
        unmapped: list[dict[str, object]] = []
        seen: dict[tuple[object, ...], int] = {}
        for i, r in table_rows(file):
            device_text, model, source = text(r.device), text(r.model), text(r.source)

            leave = leaver(unmapped, i, device_text, model)

            if text(r.metric) != "latency" or int(r.batch) != 1:
                leave(f"metric {r.metric!r} at batch {r.batch!r} not loaded")
                continue
            target = _target(source, device_text, text(r.note))
            if isinstance(target, str):
                leave(target)
                continue
            device, host, link, runtime, precision, threads = target
            if model in MODEL_REASONS:
                leave(MODEL_REASONS[model])
                continue
            found = match(model, table="edge")
            if found is None:
                leave("no zoo model")
                continue
            opts = found.options
            if found.zoo == "ssd_mobilenet_v2" and runtime in QUANT_FILE_RUNTIMES:
                opts = {**opts, **QUANT_POSTPROCESS}
            options = options_json(opts)
            key = (device, host, link, runtime, found.zoo, options, precision, "single", threads,
                   "latency")
            if key in seen:
                leave(DUPLICATE)
                continue
            seen[key] = i
            rows.append({"row": i, "device": device, "host": host, "link": link,
                         "runtime": runtime,
                         "workload": found.zoo,
                         "options": options, "precision": precision, "policy": "single",
                         "threads": threads, "streams": 1, "count": 1, "metric": "latency",
                         "value": float(r.value), "unit": text(r.unit), "source": source})
        return finish("edge_accel", rows, unmapped, file)


register_loader(EdgeAccelLoader)
