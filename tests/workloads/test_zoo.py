"""The zoo against published figures, graph invariants, ONNX round trip and ONNX Runtime.

Published figures live in one file, tests/data/published_figures.yaml, each with its source.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml

import dse
from dse.workloads import OP_CLASSES, zoo


def _figures() -> dict[str, dict]:
    """Entries with a `zoo:` name are built and checked; the others only document variants."""
    data = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "data" / "published_figures.yaml").read_text()
    )
    figures = {}
    for key, entry in data.items():
        if not isinstance(entry, dict) or "zoo" not in entry:
            continue
        figures[key] = entry
        for variant, fig in entry.get("width_resolution_variants", {}).items():
            name = f"{entry['zoo']}_{variant}"
            figures[name] = {"zoo": name, "params_source": entry["params_source"], **fig}
    return figures


FIGURES = _figures()


def _workload(key: str) -> dse.Workload:
    entry = FIGURES[key]
    return dse.workload(entry["zoo"], **entry.get("options", {}))


@pytest.mark.parametrize("key", [k for k, v in FIGURES.items() if v.get("params_exact", True)])
def test_params_equal_published(key):
    assert _workload(key).params == FIGURES[key]["params"], FIGURES[key]["params_source"]


@pytest.mark.parametrize("key", [k for k, v in FIGURES.items() if not v.get(
    "params_exact", True) and "params_bn_folded" not in v])
def test_params_equal_reference_implementation(key):
    # No source prints these integers (MLPerf Tiny VWW and autoencoder): the figure is the count
    # of the reference Keras model, rebuilt from mlcommons/tiny's code (see params_source).
    assert _workload(key).params == FIGURES[key]["params_derived"], FIGURES[key]["params_source"]


@pytest.mark.parametrize("key", [k for k, v in FIGURES.items() if "params_bn_folded" in v])
def test_bn_folded_params_equal_published_rounded(key):
    # Detection models have no exact published count; deployment tools publish the count of the
    # frozen graph, where BatchNorm is folded into conv biases (one scale per channel fewer).
    w = _workload(key)
    bn_scales = int(w.layers.query("op == 'BatchNormalization'")["params"].sum()) // 2
    assert w.params - bn_scales == pytest.approx(
        FIGURES[key]["params_bn_folded"], rel=FIGURES[key]["params_bn_folded_rel"]
    ), FIGURES[key]["params_bn_folded_source"]


@pytest.mark.parametrize(
    "key", [k for k, v in FIGURES.items() if "macs" in v and v.get("macs_checked", True)]
)
def test_macs_within_two_percent_of_published(key):
    published = float(FIGURES[key]["macs"])
    tolerance = float(FIGURES[key].get("macs_tolerance", 0.02))
    assert _workload(key).macs == pytest.approx(published, rel=tolerance), FIGURES[key]["macs_source"]


def test_every_zoo_model_has_a_published_figure():
    covered = {v["zoo"] for v in FIGURES.values()}
    assert set(zoo.names()) <= covered


@pytest.mark.parametrize("name", zoo.names())
def test_graph_invariants(name):
    proto = zoo.build(name, weights=False)
    produced = [o for n in proto.graph.node for o in n.output if o]
    produced += [t.name for t in proto.graph.initializer] + [i.name for i in proto.graph.input]
    assert len(produced) == len(set(produced)), "every tensor is produced once"
    onnx.checker.check_model(proto)
    w = dse.workload(name)
    g = w.graph
    assert nx.is_directed_acyclic_graph(g)
    assert nx.is_weakly_connected(g)
    for node, d in g.nodes(data=True):
        assert d["op_class"] in OP_CLASSES
        assert d["op_class"] != "other", f"{node}: the zoo has no op of unknown cost"
        if d["op_class"] in ("conv", "dwconv", "matmul", "attention"):
            assert d["macs"] > 0 and d["ops"] >= 2 * d["macs"], node
        elif d["op_class"] != "data-movement":
            assert d["ops"] > 0, f"{node}: {d['op']} counted as zero work"
        assert d["out_elems"] == sum(math.prod(s) for s in d["out_shapes"])
    assert w.params == sum(d["params"] for _, d in g.nodes(data=True))
    assert w.weight_elems >= w.params
    for u, v, d in g.edges(data=True):
        assert set(d["tensors"]) <= set(g.nodes[u]["outputs"]) & set(g.nodes[v]["inputs"])


@pytest.mark.parametrize("name", zoo.names())
def test_round_trip_through_a_file_and_onnxruntime(name, tmp_path):
    proto = zoo.build(name, seed=1)
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, str(path))
    from_file, from_zoo = dse.workload(path), dse.workload(name)
    for attr in ("params", "macs", "ops", "weight_elems", "nodes"):
        assert getattr(from_file, attr) == getattr(from_zoo, attr), attr

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for inp in sess.get_inputs():
        shape = from_zoo.graph.graph["inputs"][inp.name]
        if "int64" in inp.type:
            feeds[inp.name] = np.ones(shape, dtype=np.int64)
        else:
            feeds[inp.name] = np.random.default_rng(0).random(shape, dtype=np.float32)
    outputs = sess.run(None, feeds)
    for meta, value in zip(sess.get_outputs(), outputs, strict=True):
        assert list(value.shape) == list(from_zoo.graph.graph["outputs"][meta.name])
        assert np.isfinite(value).all()


def test_parametric_names_and_options():
    a = dse.workload("mobilenet_v1_0.5_160")
    b = dse.workload("mobilenet_v1", width=0.5, resolution=160)
    assert (a.params, a.macs) == (b.params, b.macs)
    assert a.macs < dse.workload("mobilenet_v1").macs
    with pytest.raises(dse.WorkloadError, match=r"zoo:resnet50: bogus: unknown option; known "
                       r"options: resolution, classes"):
        dse.workload("resnet50", bogus=1)
    with pytest.raises(dse.WorkloadError, match=r"resolution: expected an int, got 'x'"):
        dse.workload("resnet50", resolution="x")
    with pytest.raises(dse.WorkloadError, match=r"known zoo models: alexnet, "):
        zoo.get("nosuch")


def test_precision_changes_bytes_not_counts():
    fp32, int8 = dse.workload("resnet18"), dse.workload("resnet18", precision="int8")
    assert fp32.macs == int8.macs
    assert fp32.weight_bytes == 4 * int8.weight_bytes
    layers = int8.layers
    assert (layers["weight_bytes"] == layers["weight_elems"]).all()


@pytest.mark.parametrize("name", ["ssd_mobilenet_v1", "ssd_mobilenet_v2"])
def test_ssd_postprocess_adds_no_macs_and_runs_on_the_host(name):
    """``postprocess=True`` appends TFLite_Detection_PostProcess: no MACs, and on an Edge TPU
    everything from its dequantization on falls back to the host CPU."""
    from dse.cost import model_cost
    from dse.devices import default_catalog
    from dse.workloads.ops import IOU_OPS
    from dse.workloads.zoo.models.ssd import MAX_DETECTIONS

    plain = dse.workload(name, precision="int8")
    post = dse.workload(name, precision="int8", postprocess=True)
    assert post.macs == plain.macs
    counts = post.counts
    nms = counts[counts["op"] == "NonMaxSuppression"].iloc[0]
    anchors = 1917
    assert nms["ops"] == anchors * math.ceil(math.log2(anchors)) + \
        MAX_DETECTIONS * anchors * IOU_OPS
    cat = default_catalog()
    cost = model_cost(post, cat.device("coral_usb"), "int8",
                      fallback=cat.device("rpi4_cpu"), link=cat.link("usb3"))
    layers = cost.layers
    host = layers[layers["runs_on"] == "rpi4_cpu"]
    assert host["op"].iloc[0] == "Cast"  # the dequantization of the raw outputs
    assert not (layers.loc[layers["runs_on"] == "coral_usb", "op_class"] == "conv").empty
    assert {"Conv", "Sigmoid"}.isdisjoint(host["op"])
    assert "NonMaxSuppression" in set(host["op"])
