"""x * sigmoid(x) as one Swish layer (runtimes with the ``swish`` kernel, such as ncnn)."""

from __future__ import annotations

import dse
from dse.cost.memory import no_pass
from dse.devices import default_catalog
from dse.workloads.graph import swish_pairs


def test_efficientnet_b0_has_the_swish_layers_of_ncnns_benchmark_model():
    # Tencent/ncnn benchmark/efficientnet_b0.param: 49 Swish layers
    w = dse.workload("efficientnet_b0")
    assert len(swish_pairs(w.graph, w.order)) == 49


def test_a_swish_runtime_runs_each_pair_as_one_pass_over_x():
    w = dse.workload("efficientnet_b0")
    ops = default_catalog().runtimes["ncnn_cpu"].fuses
    plain, swish = w.counts_fusing(ops), w.counts_fusing(ops, swish=True)
    pairs = swish_pairs(w.graph, w.order)
    assert (~no_pass(plain)).sum() - (~no_pass(swish)).sum() == len(pairs)
    for gate, mul in pairs:
        assert swish.loc[gate, "fused"]
        assert swish.loc[mul, "in_elems"] == plain.loc[mul, "in_elems"] / 2
    assert swish["ops"].sum() == plain["ops"].sum()  # the arithmetic stays
    assert not w.counts.loc[[g for g, _ in pairs], "fused"].any()  # the cached table is untouched


def test_ncnn_efficientnet_b0_launches_as_many_kernels_as_its_param_file():
    # benchmark/efficientnet_b0.param: 200 layers, less 25 Split (no pass) and the Input, and the
    # zoo graph has no Softmax: 173
    catalog = default_catalog()
    cost = dse.cost.model_cost(dse.workload("efficientnet_b0"), catalog.device("rpi5_cpu"),
                               "fp32", runtime=catalog.runtimes["ncnn_cpu"])
    assert int(cost.layers["launches"].sum()) == 173
