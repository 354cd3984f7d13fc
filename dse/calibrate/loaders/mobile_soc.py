"""``mobile_soc_throughput.csv``: one component of Exynos 5422 or Kirin 970 at a time.

Mapping (also in calibration/mappings/mobile_soc.md): component -> catalog device; networks
through :func:`dse.workloads.zoo.aliases.match` (table ``mobile_soc``). CPUs and GPUs ran ARM
Compute Library 18.05 in fp32 (runtime ``acl``), the NPU the HiAI DDK in fp16 (``hiai``); the
table's header says so. A CPU component is a whole cluster: ARM-CL ran the inference on all its
cores (:data:`CPU_THREADS`), not on one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dse.calibrate.loaders import BaseLoader, LoadResult, finish, options_json, register_loader
from dse.workloads.zoo.aliases import match

DEVICES = {
    ("exynos5422", "A7"): "exynos5422_a7", ("exynos5422", "A15"): "exynos5422_a15",
    ("exynos5422", "T628"): "mali_t628", ("kirin970", "A53"): "kirin970_a53",
    ("kirin970", "A73"): "kirin970_a73", ("kirin970", "G72"): "mali_g72",
    ("kirin970", "NPU"): "kirin970_npu",
}
HOSTS = {"exynos5422": "odroid_xu4", "kirin970": "hikey970"}
#: Component -> catalog runtime (the table's header: ARM-CL 18.05 on CPUs and GPUs, HiAI DDK on
#: the NPU).
RUNTIMES = {"A7": "acl", "A15": "acl", "A53": "acl", "A73": "acl", "T628": "acl", "G72": "acl",
            "NPU": "hiai"}
#: Threads of a CPU component: every core of its cluster (4 on each: the table's header gives
#: Cortex-A7 x4, A15 x4, A53 x4, A73 x4). The study treats a cluster as one component, and one
#: core could not reach its figures: Kirin 970 A73 ResNet-50 at 2.8 img/s is 357 ms, below the
#: 434 ms of 8.2 GFLOP on one 2.36 GHz core at its full 8 FP32 flop/cycle (18.9 GFLOP/s).
CPU_THREADS = {"A7": 4, "A15": 4, "A53": 4, "A73": 4}
SOURCE = "Wang, Pathania, Mitra, Neural Network Inference on Mobile SoCs (Table I)"


class MobileSocLoader(BaseLoader):
    """The table as measurements, by this module's mapping (protocol: :class:`BaseLoader`)."""

    name = "mobile_soc"
    filename = "mobile_soc_throughput.csv"

    def load(self, file: Path) -> LoadResult:
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
            rows.append({"row": i, "device": device, "host": HOSTS[r.soc], "link": "",
                         "workload": found.zoo,
                         "options": options_json(found.options),
                         "runtime": RUNTIMES[r.component],
                         "precision": "fp16" if r.component == "NPU" else "fp32",
                         "policy": "single", "threads": CPU_THREADS.get(r.component, 1),
                         "streams": 1, "count": 1,
                         "metric": "throughput", "value": r.throughput_img_s, "unit": "img/s",
                         "source": SOURCE})
        return finish("mobile_soc", rows, unmapped, file)


register_loader(MobileSocLoader)
