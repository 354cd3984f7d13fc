"""Kernel classes of the zoo's layers (dse.workloads.kernels)."""

from __future__ import annotations

from collections import Counter

import dse
from dse.workloads.kernels import KERNEL_CLASSES, kernel_classes, workload_kernels


def _classes(name, **options):
    w = dse.workload(name, **options)
    return w, Counter(kernel_classes(w.graph, w.order))


def test_vgg16_is_3x3_stride_1_convolutions():
    _, c = _classes("vgg16")
    assert c["conv3x3s1"] == 12 and c["conv_first"] == 1 and c["fc"] == 3


def test_mobilenet_v2_has_pointwise_and_depthwise_3x3():
    _, c = _classes("mobilenet_v2")
    assert c["conv1x1"] == 34 and c["dwconv3x3"] == 17 and c["conv_first"] == 1


def test_efficientnet_has_squeeze_excite_and_silu_gates():
    _, c = _classes("efficientnet_b0")
    # 16 squeeze-excite blocks of 7 layers (pool, reduce conv, its SiLU, expand conv, gate);
    # the other 33 SiLU (sigmoid + multiply) are gating; depthwise 3x3 and 5x5
    assert c["se"] == 16 * 7 and c["gating"] == 2 * 33
    assert c["dwconv3x3"] == 7 and c["dwconv5x5"] == 9


def test_costly_ops_get_their_own_class():
    _, c = _classes("googlenet")
    assert c["lrn"] == 2
    _, c = _classes("bert_encoder")
    assert c["skip_layernorm"] == 25 and c["softmax"] > 0 and c["attention"] > 0


def test_parent_classes_are_op_classes_and_indices_are_cached():
    from dse.workloads.ops import OP_CLASSES

    assert all(p is None or p in OP_CLASSES for p in KERNEL_CLASSES.values())
    w = dse.workload("resnet18")
    first = workload_kernels(w)
    assert workload_kernels(w) is first and not first.flags.writeable
    assert len(first) == len(w.counts)
