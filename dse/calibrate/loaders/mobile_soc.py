"""``mobile_soc_throughput.csv``: one component of Exynos 5422 or Kirin 970 at a time.

Mapping (also in calibration/mappings/mobile_soc.md): component -> catalog device; networks
through :func:`dse.workloads.zoo.aliases.match` (table ``mobile_soc``). CPUs and GPUs ran ARM
Compute Library in fp32, the NPU HiAI in fp16 (the table's header says so).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dse.calibrate.loaders import LoadResult, finish, options_json, register_loader
from dse.workloads.zoo.aliases import match

DEVICES = {
    ("exynos5422", "A7"): "exynos5422_a7", ("exynos5422", "A15"): "exynos5422_a15",
    ("exynos5422", "T628"): "mali_t628", ("kirin970", "A53"): "kirin970_a53",
    ("kirin970", "A73"): "kirin970_a73", ("kirin970", "G72"): "mali_g72",
    ("kirin970", "NPU"): "kirin970_npu",
}
HOSTS = {"exynos5422": "odroid_xu4", "kirin970": "hikey970"}
SOURCE = "Wang, Pathania, Mitra, Neural Network Inference on Mobile SoCs (Table I)"


def load(file: Path) -> LoadResult:
    table = pd.read_csv(file, comment="#")
    rows, unmapped = [], []
    for i, r in enumerate(table.itertuples(index=False), start=2):
        device = DEVICES.get((r.soc, r.component))
        found = match(r.network, table="mobile_soc")
        if device is None or found is None:
            unmapped.append({"row": i, "device": f"{r.soc} {r.component}", "model": r.network,
                             "reason": "no catalog device" if device is None else
                             "no zoo model"})
            continue
        rows.append({"device": device, "host": HOSTS[r.soc], "link": "",
                     "workload": found.zoo,
                     "options": options_json(found.options),
                     "precision": "fp16" if r.component == "NPU" else "fp32",
                     "policy": "single", "threads": 1, "streams": 1, "count": 1,
                     "metric": "throughput", "value": r.throughput_img_s, "unit": "img/s",
                     "source": SOURCE})
    return finish("mobile_soc", rows, unmapped, file)



register_loader("mobile_soc", "mobile_soc_throughput.csv", load)
