"""LayerBatch: many models' layers as flat arrays, equal to their workloads' counts."""

import numpy as np
import pytest

import dse
from dse.workloads.layers import ITEM_ARRAYS, LAYER_ARRAYS, LayerBatch, fold_shape


@pytest.fixture(scope="module")
def zoo():
    return [dse.workload(n) for n in ("resnet50", "mobilenet_v2", "bert_encoder")]


def test_totals_equal_the_workloads(zoo):
    b = LayerBatch.from_workloads(zoo)
    assert b.models == 3 and b.layers == sum(len(w.counts) for w in zoo)
    for column in LAYER_ARRAYS:
        assert b.totals(column).tolist() == [float(w.counts[column].sum()) for w in zoo]


def test_select_and_concat_keep_each_model_intact(zoo):
    b = LayerBatch.from_workloads(zoo)
    picked = b.select([2, 0])
    assert picked.names == ("bert_encoder", "resnet50")
    again = LayerBatch.concat([picked, b])
    assert again.names == ("bert_encoder", "resnet50", *b.names)
    first = again.select([4])  # bert_encoder, from b
    want = b.select([2])
    for column in ("ops", "kernel", "fused", "in_shape", "out_rank"):
        assert np.array_equal(getattr(first, column), getattr(want, column))
    assert [first.op_names[i] for i in first.op] == [want.op_names[i] for i in want.op]


def test_shapes_fold_to_four_axes():
    assert fold_shape([1, 64, 56, 56]) == ((1, 64, 56, 56), 4)
    assert fold_shape([2, 3, 4, 5, 6]) == ((6, 4, 5, 6), 4)
    assert fold_shape([1, 128, 768]) == ((1, 128, 768, 0), 3)
    assert fold_shape(None) == ((0, 0, 0, 0), 0)


def test_inconsistent_arrays_are_refused(zoo):
    b = LayerBatch.from_workloads(zoo[:1])
    with pytest.raises(ValueError, match="offsets"):
        LayerBatch(**{**b.__dict__, "offsets": np.array([0, 3])})


def _graph_of(batch, i):
    """Model ``i``'s edges and graph-input reads / graph-output writes, rows within it."""
    one = batch.select([i])
    return {a: getattr(one, a).tolist() for names in ITEM_ARRAYS.values() for a in names}


def test_edges_are_the_graphs_and_follow_select_concat_and_window(zoo):
    b = LayerBatch.from_workloads(zoo)
    w = zoo[1]
    rows = {n: k for k, n in enumerate(w.counts.index)}
    mine = _graph_of(b, 1)
    assert sorted(zip(mine["edge_src"], mine["edge_dst"], mine["edge_elems"], strict=True)) == \
        sorted((rows[u], rows[v], float(d["elems"])) for u, v, d in w.graph.edges(data=True))
    assert mine["input_read_layer"] == [0] and mine["output_write_layer"] == [len(rows) - 1]
    again = LayerBatch.concat([b.select([2, 0]), b, LayerBatch.empty()])
    assert again.has_edges
    for k, i in enumerate([2, 0, 0, 1, 2]):
        assert _graph_of(again, k) == _graph_of(b, i)
        assert _graph_of(again.window(k, k + 1), 0) == _graph_of(b, i)
    part = again.window(1, 4, again.item_offsets())
    assert [_graph_of(part, k) for k in range(3)] == [_graph_of(b, i) for i in (0, 0, 1)]


def test_edges_are_optional_but_all_or_none(zoo):
    b = LayerBatch.from_workloads(zoo[:2])
    items = [a for names in ITEM_ARRAYS.values() for a in names]
    bare = LayerBatch(**{**b.__dict__, **dict.fromkeys(items)})
    assert not bare.has_edges and bare.item_offsets() == {}
    assert not bare.select([1, 0]).has_edges and not LayerBatch.concat([bare, b]).has_edges
    with pytest.raises(ValueError, match="all or none"):
        LayerBatch(**{**b.__dict__, "edge_src": None})
    with pytest.raises(ValueError, match="edge_elems has"):
        LayerBatch(**{**b.__dict__, "edge_elems": b.edge_elems[1:]})
    with pytest.raises(ValueError, match="later one of the same model"):
        LayerBatch(**{**b.__dict__, "edge_src": b.edge_dst, "edge_dst": b.edge_src})
    cross = b.edge_src.copy()
    cross[-1] = 0  # an edge from model 0 into model 1
    with pytest.raises(ValueError, match="later one of the same model"):
        LayerBatch(**{**b.__dict__, "edge_src": cross})
    with pytest.raises(ValueError, match="sorted by model"):
        LayerBatch(**{**b.__dict__, **{a: getattr(b, a)[::-1] for a in ITEM_ARRAYS["input"]}})
    with pytest.raises(ValueError, match="number tensors from 0"):
        LayerBatch(**{**b.__dict__, "input_read_tensor": b.input_read_tensor - 1})
    with pytest.raises(ValueError, match="layer rows from 0"):
        LayerBatch(**{**b.__dict__, "output_write_layer": b.output_write_layer + b.layers})
