"""Workload parts: the layer ranges pipelines and layer mappings run."""

from __future__ import annotations

from dse.sim.partition import cut_index, part, split_index
from dse.workloads import workload
from tests.sim.scenarios import chain_onnx


def names(w):
    return [w.graph.nodes[n]["name"] for n in w.order]


def test_cuts_by_layer_and_by_weight_fraction(tmp_path):
    w = workload(chain_onnx(tmp_path), precision="fp32")  # fc1, act, fc2; fc1 and fc2 weigh alike
    assert names(w) == ["fc1", "act", "fc2"]
    assert split_index(w, "act") == 2 and split_index(w, "nope") == -1
    assert cut_index(w, "fc1") == 1
    assert [cut_index(w, f) for f in (0.0, 0.4, 0.5, 1.0)] == [0, 0, 2, 3]


def test_parts_are_workloads_with_their_boundary_tensors(tmp_path):
    w = workload(chain_onnx(tmp_path), precision="fp32")
    head, tail = part(w, 0, cut_index(w, "fc1")), part(w, cut_index(w, "fc1"), 3)
    assert (names(head), names(tail)) == (["fc1"], ["act", "fc2"])
    assert list(head.graph.graph["inputs"]) == ["x"] and list(head.graph.graph["outputs"]) == ["h"]
    assert list(tail.graph.graph["inputs"]) == ["h"] and list(tail.graph.graph["outputs"]) == ["y"]
    assert part(w, 0, 1) is part(w, 0, 1)  # one object per part: its costs are cached
