"""Transformer fusions of runtimes such as ONNX Runtime's CPU provider, as its profile of the BERT
encoder shows them: an exported exact GELU (Div, Erf, Add, Mul, Mul) as one Gelu kernel (the
``gelu`` kernel), and a residual Add with the LayerNormalization after it as one
SkipLayerNormalization kernel (``skip_layernorm``)."""

from __future__ import annotations

import networkx as nx

import dse
from dse.cost.memory import no_pass
from dse.cost.model import runtime_counts
from dse.devices import default_catalog
from dse.workloads.graph import gelu_groups, skip_norm_pairs
from dse.workloads.kernels import kernel_classes


def test_every_bert_gelu_runs_as_its_erf_and_nothing_else_of_it_launches():
    w = dse.workload("bert_encoder")
    groups = gelu_groups(w.graph, w.order)
    assert len(groups) == 12  # one per encoder layer, as the profile shows
    assert all([w.graph.nodes[n]["op"] for n in g] == ["Div", "Erf", "Add", "Mul", "Mul"]
               for g in groups)
    ort = default_catalog().runtimes["onnxruntime_cpu"]
    counts = runtime_counts(w, ort)
    plain = w.counts_fusing(ort.fuses, swish=True, residual=True, skip_norm=True)  # no GELU
    around = [n for g in groups for n in g if w.graph.nodes[n]["op"] != "Erf"]
    erfs = [g[1] for g in groups]
    classes = dict(zip(w.order, kernel_classes(w.graph, w.order), strict=True))
    assert {classes[e] for e in erfs} == {"gelu"}  # its own kernel class
    assert counts.loc[around, "fused"].all() and not counts.loc[erfs, "fused"].any()
    assert (~no_pass(plain)).sum() - (~no_pass(counts)).sum() == 4 * 12
    assert counts["ops"].sum() == plain["ops"].sum()  # the arithmetic stays


def test_a_gelu_whose_parts_are_read_elsewhere_is_not_fused():
    w = dse.workload("bert_encoder")
    div, _, add, mul, _ = gelu_groups(w.graph, w.order)[0]
    g = nx.DiGraph(w.graph)
    g.add_node("spy", **dict(w.graph.nodes[add]))
    g.add_edge(add, "spy")  # the 1 + erf(...) is read by another layer too
    order = [n for n in nx.topological_sort(g)]
    assert all(group[2] != add for group in gelu_groups(g, order))
    # a runtime without the kernel keeps the five layers
    ncnn = default_catalog().runtimes["ncnn_cpu"]
    assert "gelu" not in (ncnn.kernels or ())
    assert not runtime_counts(w, ncnn).loc[[div, add, mul], "fused"].any()


def test_every_residual_add_before_a_bert_layer_norm_runs_inside_it():
    w = dse.workload("bert_encoder")
    pairs = skip_norm_pairs(w.graph, w.order)
    assert len(pairs) == 25  # the embeddings' and two per encoder layer, as profiled
    classes = dict(zip(w.order, kernel_classes(w.graph, w.order), strict=True))
    assert {classes[norm] for _, norm in pairs} == {"skip_layernorm"}
    ort = default_catalog().runtimes["onnxruntime_cpu"]
    counts = runtime_counts(w, ort)
    adds, norms = [a for a, _ in pairs], [n for _, n in pairs]
    assert counts.loc[adds, "fused"].all() and not counts.loc[norms, "fused"].any()
    # the fused kernel reads both of the Add's inputs
    assert (counts.loc[norms, "in_elems"].to_numpy()
            == w.counts.loc[adds, "in_elems"].to_numpy()).all()
    assert (w.counts.loc[norms, "in_elems"].to_numpy() * 2
            == counts.loc[norms, "in_elems"].to_numpy()).all()
    # a runtime without the kernel runs the Adds
    assert not runtime_counts(w, default_catalog().runtimes["ncnn_cpu"]).loc[adds, "fused"].any()
