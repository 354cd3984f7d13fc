"""``mlperf_mobile_results.csv``: MLPerf Mobile v2.1-5.0 on phone NPUs.

Mapping (also in calibration/mappings/mlperf_mobile.md): the SoC (``soc``, else ``system``) ->
catalog device by :data:`SOCS`, exact SoC matches only. The catalog's only phone NPU with a
Snapdragon is the Snapdragon 855's Hexagon 690 (``hexagon690`` on ``pixel4``); every submission
in v2.1-5.0 is on a newer SoC (Snapdragon 4/7/8 Gen x, 8 Elite, X Elite, Exynos 2300/2400), so
today no row maps. Models through :func:`dse.workloads.zoo.aliases.match`; only exact zoo
architectures are kept (MobileBERT is not the zoo's BERT-base encoder).

Metrics: SingleStream ``p50_latency`` (the median) -> ``latency`` in ms; the mean and p90 rows are
left out, and so are Offline throughputs (batching and concurrency are not stated). A mapped row's
runtime is :data:`RUNTIME` (Qualcomm's vendor backend).
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

#: SoC (regex on the lower-cased soc/system text) -> (device, host). "855" alone, not 855+/860.
SOCS: dict[str, tuple[str, str]] = {
    r"(snapdragon[ _]?|\bsd[ _]?)855(?![\d+]|[ _]?plus)": ("hexagon690", "pixel4"),
}
#: Accelerator text that says the run was not on the NPU/DSP.
NOT_NPU = r"gpu|adreno|\bcpu\b|kryo"
SOURCE = "MLCommons MLPerf Mobile {version} ({submitter}): {path}"
#: Runtime of a mapped row: the Qualcomm submissions run the vendor's backend (SNPE / QNN) on
#: the Hexagon, the only mapped SoC's NPU.
RUNTIME = "qualcomm_snpe"


def _soc(text: str) -> tuple[str, str] | None:
    low = text.lower()
    for pattern, target in SOCS.items():
        if re.search(pattern, low):
            return target
    return None


def _model(task: str) -> str:
    """The model name of a task column value (``image_classification-performance`` stays)."""
    return task.removesuffix("-performance")


class MlperfMobileLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "mlperf_mobile"
    filename = "mlperf_mobile_results.csv"

    def load(self, file: Path) -> LoadResult:
        rows: list[dict[str, object]] = []
        unmapped: list[dict[str, object]] = []
        for i, r in table_rows(file):
            soc = text(r.soc) or text(r.system)
            model = text(r.task_or_model)

            leave = leaver(unmapped, i, soc, model)

            target = _soc(f"{text(r.soc)} {text(r.system)}")
            if target is None:
                leave("no catalog device")
                continue
            if re.search(NOT_NPU, text(r.accelerator).lower()):
                leave("run not on the NPU/DSP")
                continue
            if text(r.result_validity).upper() not in ("", "VALID"):
                leave("result not valid")
                continue
            if text(r.scenario) != "SingleStream":
                leave("offline throughput (batching/concurrency not stated)")
                continue
            if text(r.metric) != "p50_latency":
                leave("mean/p90 latency (the median is kept)")
                continue
            found = match(_model(model), table="mlperf_mobile")
            if found is None or not found.exact:
                leave("no zoo model")
                continue
            device, host = target
            rows.append({"row": i, "device": device, "host": host, "link": "", "runtime": RUNTIME,
                         "workload": found.zoo,
                         "options": options_json(found.options),
                         "precision": "int8", "policy": "single", "threads": 1, "streams": 1,
                         "count": 1, "metric": "latency", "value": float(r.value), "unit": "ms",
                         "source": SOURCE.format(version=text(r.mlperf_mobile_version),
                                                 submitter=text(r.submitter),
                                                 path=text(r.source))})
        return finish("mlperf_mobile", rows, unmapped, file)


register_loader(MlperfMobileLoader)
