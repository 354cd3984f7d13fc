"""Op counters are plug-ins of one registry (dse.workloads.ops.COUNTERS, group ``dse.ops``)."""

from __future__ import annotations

import importlib.metadata

import pytest
from onnx import helper

import dse
from dse.errors import OnnxError
from dse.plugins import ENTRY_POINT_GROUPS, PluginNotFoundError, Registry
from dse.workloads.ops import COUNTERS, Count, NodeView, count_node, register_counter
from tests.workloads.onnx_cases import model, vi

FANCY = "com.example::FancyOp"


def fancy(n: NodeView) -> Count:
    """Three ops per output element."""
    return Count("eltwise", 0, 3 * n.out_elems)


@pytest.fixture
def counters(monkeypatch):
    """The registry as it is, restored after the test."""
    monkeypatch.setattr(COUNTERS, "_items", dict(COUNTERS._items))
    return COUNTERS


def _custom_model(tmp_path):
    # Shape inference cannot see through a custom op, so give it value_info as exporters do.
    nodes = [helper.make_node("FancyOp", ["x"], ["a"], name="f1", domain="com.example"),
             helper.make_node("Relu", ["a"], ["y"], name="r")]
    m = model(nodes, [vi("x", [1, 4])], [vi("y", [1, 4])])
    m.graph.value_info.append(vi("a", [1, 4]))
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    path = tmp_path / "custom.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def test_the_counters_are_a_registry_with_an_entry_point_group():
    assert isinstance(COUNTERS, Registry) and COUNTERS.group == "dse.ops"
    assert "dse.ops" in ENTRY_POINT_GROUPS
    assert "Conv" in COUNTERS and "Conv" in set(COUNTERS)
    with pytest.raises(PluginNotFoundError, match=r"unknown op type 'Comv'; did you mean 'Conv'"):
        COUNTERS.get("Comv")
    assert count_node(NodeView("Mystery", (), (), ((1, 4),))) is None


def test_the_frontend_refuses_a_custom_op_without_a_counter(tmp_path):
    with pytest.raises(OnnxError, match=r"op type 'com.example::FancyOp' is not known to dse"):
        dse.workload(_custom_model(tmp_path))


def test_a_registered_counter_counts_a_custom_op(tmp_path, counters):
    assert register_counter(FANCY)(fancy) is fancy
    w = dse.workload(_custom_model(tmp_path))
    node = w.graph.nodes["f1"]
    assert (node["op"], node["op_class"], node["ops"]) == (FANCY, "eltwise", 12)
    assert w.other_ops == {}


def test_a_taken_op_type_is_refused_unless_replaced(counters):
    conv = counters.get("Conv")
    with pytest.raises(ValueError, match=r"op type 'Conv' is already registered in dse.ops"):
        register_counter("Relu6", "Conv")(fancy)
    register_counter("Conv", replace=True)(fancy)
    assert counters.get("Conv") is fancy is not conv


def test_an_op_counter_entry_point_is_found(tmp_path, monkeypatch, counters):
    ep = importlib.metadata.EntryPoint(FANCY, "tests.workloads.test_op_counters:fancy", "dse.ops")
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda *, group: [ep] if group == "dse.ops" else [])
    monkeypatch.setattr(COUNTERS, "_loaded", False)  # as if never looked up
    assert counters.get(FANCY) is fancy
    assert dse.workload(_custom_model(tmp_path)).graph.nodes["f1"]["ops"] == 12
