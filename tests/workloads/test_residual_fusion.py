"""Residual Adds folded into the convolution before them (runtimes with the ``conv_sum`` kernel,
such as ONNX Runtime's CPU provider: its profiled ResNet and MobileNetV2 graphs keep no Add)."""

from __future__ import annotations

import dse
from dse.cost.memory import no_pass
from dse.cost.model import runtime_counts
from dse.devices import default_catalog


def _adds(w):
    return [n for n in w.order if w.graph.nodes[n]["op"] == "Add"]


def test_every_resnet18_residual_add_and_the_relu_after_it_fold_into_the_conv():
    w = dse.workload("resnet18")
    ops = default_catalog().runtimes["onnxruntime_cpu"].fuses
    plain, folded = w.counts_fusing(ops), w.counts_fusing(ops, residual=True)
    adds = _adds(w)
    assert len(adds) == 8  # two basic blocks in each of four stages
    assert not plain.loc[adds, "fused"].any() and folded.loc[adds, "fused"].all()
    after = [s for a in adds for s in w.graph.successors(a)
             if w.graph.nodes[s]["op"] == "Relu"]
    assert len(after) == 8 and folded.loc[after, "fused"].all()
    # one kernel fewer per Add and per Relu after it; the arithmetic stays
    assert (~no_pass(plain)).sum() - (~no_pass(folded)).sum() == 16
    assert folded["ops"].sum() == plain["ops"].sum()
    assert not w.counts.loc[adds, "fused"].any()  # the cached table is untouched


def test_an_add_of_two_activations_that_no_conv_produced_alone_stays():
    # BERT's residual Adds take a MatMul (+ bias Add) output: no convolution to fold into
    w = dse.workload("bert_encoder")
    ops = default_catalog().runtimes["onnxruntime_cpu"].fuses
    folded = w.counts_fusing(ops, residual=True)
    assert not folded.loc[_adds(w), "fused"].any()


def test_the_runtime_spec_decides():
    catalog = default_catalog()
    w = dse.workload("resnet18")
    ort = runtime_counts(w, catalog.runtimes["onnxruntime_cpu"])  # has conv_sum
    ncnn = runtime_counts(w, catalog.runtimes["ncnn_cpu"])  # does not
    assert ort.loc[_adds(w), "fused"].all() and not ncnn.loc[_adds(w), "fused"].any()
