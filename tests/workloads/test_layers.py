"""LayerBatch: many models' layers as flat arrays, equal to their workloads' counts."""

import numpy as np
import pytest

import dse
from dse.workloads.layers import LAYER_ARRAYS, LayerBatch, fold_shape


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
