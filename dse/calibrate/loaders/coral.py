"""``coral_edgetpu_reference_benchmarks.csv``: Coral's reference benchmarks (google-coral/edgetpu).

Mapping (also in calibration/mappings/coral.md): the table's device text -> catalog device, host
platform and link by :data:`DEVICES`; models through :func:`dse.workloads.zoo.aliases.match`
(table ``coral``). Every row is an int8 (uint8-quantized) TFLite model, batch 1, one inference at
a time: ``*_edgetpu`` models on the Edge TPU (runtime ``edgetpu``: TFLite with the Edge TPU
runtime), the others on the host CPU with TFLite's built-in kernels (``tflite_cpu``).

Only ``inference_latency`` (``basic_engine_benchmarks.py``: random input, the mean over 200 Edge TPU
or 20 CPU iterations of ``run_inference``) is loaded. The classification/detection engine rows
include the host's image decode and resize, and the two-model alternation rows are kept for a
later step; both are returned in ``unmapped`` with the reason.
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

#: Device text of the table -> (catalog device, host platform, link, CPU threads).
#: Threads: the CPU rows' thread count is not stated; BasicEngine does not set one, so TFLite's
#: quantized CPU backend runs its default of one thread (cpu_backend_context.cc
#: kDefaultNumThreadpoolThreads = 1); recorded as 1 (see the mapping file).
DEVICES: dict[str, tuple[str, str, str, int]] = {
    "Coral Dev Board (NXP i.MX8M, 4x Cortex-A53 @1.5GHz) + Edge TPU":
        ("coral_devboard_tpu", "coral_devboard", "", 1),
    "Coral Dev Board (NXP i.MX8M, 4x Cortex-A53 @1.5GHz) CPU only (TFLite, quantized model)":
        ("imx8m_cpu", "coral_devboard", "", 1),
    "Raspberry Pi 3B+ v1.3 + Coral USB Accelerator (USB2.0)":
        ("coral_usb", "raspberry_pi3bplus", "usb2", 1),
    "Raspberry Pi 3B+ v1.3 CPU only (TFLite, quantized model)":
        ("rpi3bplus_cpu", "raspberry_pi3bplus", "", 1),
    # Link not stated in the row; usb3 follows from the data (see the mapping file): Inception v4
    # (~40 MB of parameters streamed per inference) takes 141 ms here against 1055 ms on USB 2.
    "Raspberry Pi 4B + Coral USB Accelerator (host not described in script docstring)":
        ("coral_usb", "raspberry_pi4", "usb3", 1),
    "Raspberry Pi 4B CPU only (TFLite, quantized model)":
        ("rpi4_cpu", "raspberry_pi4", "", 1),
    # The host CPU is a Xeon, not the catalog desktop's i7-8700; the accelerator and its USB 3
    # link are the same, so the Edge TPU rows are kept on platform x86_desktop.
    "Intel Xeon E5-1650 v3 @3.5GHz + Coral USB Accelerator (USB3.0)":
        ("coral_usb", "x86_desktop", "usb3", 1),
}
EDGE_TPUS = ("coral_usb", "coral_devboard_tpu")
#: Runtime of the Edge TPU rows and of the CPU-only rows.
TPU_RUNTIME, CPU_RUNTIME = "edgetpu", "tflite_cpu"
#: Device text with no catalog device, and why.
NO_DEVICE: dict[str, str] = {
    "Raspberry Pi 3B v1.2 + Coral USB Accelerator (USB2.0)":
        "host Raspberry Pi 3B v1.2 (BCM2837, 4x A53 @1.2 GHz) is not a catalog platform "
        "(raspberry_pi3bplus is the 3B+ at 1.4 GHz)",
    "Raspberry Pi 3B v1.2 CPU only (TFLite, quantized model)":
        "Raspberry Pi 3B v1.2 CPU (BCM2837, 4x A53 @1.2 GHz) is not rpi3bplus_cpu (1.4 GHz)",
    "Intel Xeon E5-1650 v3 @3.5GHz CPU only (TFLite, quantized model)":
        "Xeon E5-1650 v3 CPU is not the catalog x86_avx2 (Core i7-8700)",
    "Intel Xeon W-2135 @4.5GHz + Coral USB Accelerator (USB3.0)":
        "host Xeon W-2135 is not the catalog desktop (Core i7-8700)",
}
#: Metrics left out, and why.
OTHER_METRICS: dict[str, str] = {
    "inference_latency_incl_preprocessing":
        "latency includes the host's image decode/resize (classification/detection engine "
        "benchmarks), not model execution only",
    "sum_latency_alternating_2_models_one_tpu": "two-model co-compilation rows: not yet loaded",
}
METRIC = "inference_latency"
#: The 285cacf rows re-list two models under new names (``ssd_mobilenet_v1_coco_...``) with the
#: values of the 75e6756 rows; the first (75e6756) row of a configuration is kept.
DUPLICATE = ("duplicate of an earlier row (same device, host, link, model and configuration): "
             "model re-listed under a new name at commit 285cacf, the 75e6756 row is kept")


class CoralLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "coral"
    filename = "coral_edgetpu_reference_benchmarks.csv"

    def load(self, file: Path) -> LoadResult:
        rows: list[dict[str, object]] = []
        unmapped: list[dict[str, object]] = []
        seen: dict[tuple[object, ...], int] = {}
        for i, r in table_rows(file):
            device_text, model, metric = text(r.device), text(r.model), text(r.metric)

            leave = leaver(unmapped, i, device_text, model)

            if metric != METRIC:
                leave(OTHER_METRICS.get(metric, f"metric {metric!r} not loaded"))
                continue
            if device_text in NO_DEVICE:
                leave(NO_DEVICE[device_text])
                continue
            if device_text not in DEVICES:
                leave("no catalog device")
                continue
            device, host, link, threads = DEVICES[device_text]
            on_tpu = text(r.target) == "edgetpu"
            if not on_tpu == model.endswith("_edgetpu") == (device in EDGE_TPUS):
                leave("target, device and model compilation disagree")
                continue
            if not text(r.precision).startswith("int8") or int(r.batch) != 1:
                leave(f"precision {r.precision!r} / batch {r.batch!r} not int8 at batch 1")
                continue
            found = match(model, table="coral")
            if found is None:
                leave("no zoo model")
                continue
            options = options_json(found.options)
            runtime = TPU_RUNTIME if on_tpu else CPU_RUNTIME
            key = (device, host, link, runtime, found.zoo, options, "int8", "single", threads,
                   "latency")
            if key in seen:
                leave(DUPLICATE)
                continue
            seen[key] = i
            rows.append({"row": i, "device": device, "host": host, "link": link, "runtime": runtime,
                         "workload": found.zoo, "options": options, "precision": "int8",
                         "policy": "single",
                         "threads": threads, "streams": 1, "count": 1, "metric": "latency",
                         "value": float(r.value), "unit": text(r.unit), "source": text(r.source)})
        return finish("coral", rows, unmapped, file)


register_loader(CoralLoader)
