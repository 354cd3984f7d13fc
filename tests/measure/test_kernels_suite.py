"""The kernel suite (dse.workloads.kernel_suite): specs, graphs, and the three ways of sampling them.

No timing here: specs are checked, graphs built and validated by ONNX's checker, zoo shapes
compared with the zoo's own dse graphs, random and adaptive draws checked for determinism,
distinctness, caps and where they land.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import pandas as pd
import pytest

import dse
from dse.measure.kernels import kernel_features
from dse.workloads.kernel_suite import (
    FAMILIES,
    MAX_ELEMS,
    MAX_MACS,
    KernelSpec,
    SuiteError,
    adaptive_specs,
    build,
    check_spec,
    perturb,
    random_specs,
    spec_macs,
    within_caps,
    zoo_specs,
)

CONV = {"cin": 32, "cout": 64, "h": 28, "w": 28, "kh": 3, "kw": 3, "sh": 1, "sw": 1,
        "pads": [1, 1, 1, 1], "groups": 1, "dilation": 1, "bn": True, "act": "relu"}


@pytest.fixture(scope="module")
def randoms() -> list[KernelSpec]:
    return random_specs(300, seed=0)


@pytest.fixture(scope="module")
def zoo_small() -> list[tuple[KernelSpec, str]]:
    return zoo_specs(["resnet8", "ds_cnn", "bert_encoder", "efficientnet_b0", "googlenet"])


def test_every_family_is_drawn_and_builds_a_valid_graph(randoms):
    assert {s.family for s in randoms} == set(FAMILIES)
    for spec in randoms:
        onnx.checker.check_model(build(spec), full_check=True)


def test_random_draws_are_seeded_distinct_and_capped(randoms):
    assert random_specs(300, seed=0) == randoms
    assert random_specs(300, seed=1) != randoms
    assert len(set(randoms)) == len(randoms) == 300
    assert all(within_caps(s) and not check_spec(s) for s in randoms)
    assert max(spec_macs(s) for s in randoms) <= MAX_MACS
    convs = [s for s in randoms if s.family == "conv"]
    kernels = Counter(s.params["kh"] for s in convs)
    assert set(kernels) == {1, 3, 5, 7} and kernels[1] + kernels[3] > kernels[5] + kernels[7]
    channels = [s.params["cin"] for s in convs]
    assert min(channels) < 32 and max(channels) > 512  # log-uniform over 8-2048


def test_a_spec_rebuilds_the_same_graph_from_its_csv_cells():
    spec = KernelSpec("conv", CONV)
    again = KernelSpec.from_json(spec.family, spec.params_json)
    assert again == spec and hash(again) == hash(spec) and again.digest == spec.digest
    assert build(again).SerializeToString() == build(spec).SerializeToString()
    assert json.loads(spec.params_json) == CONV


def test_conv_epilogues_and_features_come_from_dse_graph():
    f = kernel_features(KernelSpec("conv", CONV))
    assert (f["op"], f["op_class"], f["kernel"]) == ("Conv", "conv", "conv3x3s1")
    assert f["dse_ops"] == "Conv+BatchNormalization+Relu" and f["layers"] == 3
    assert f["macs"] == 28 * 28 * 64 * 32 * 9 == spec_macs(KernelSpec("conv", CONV))
    folded = kernel_features(KernelSpec("conv", {**CONV, "bn": False, "act": "silu"}))
    assert folded["dse_ops"] == "Conv+Sigmoid+Mul" and folded["weight_elems"] == 64 * 32 * 9 + 64
    dw = kernel_features(KernelSpec("dwconv", {"c": 96, "h": 56, "w": 56, "k": 5, "stride": 2,
                                               "pads": [2, 2, 2, 2], "bn": False,
                                               "act": "none"}))
    assert (dw["op_class"], dw["kernel"], dw["macs"]) == ("dwconv", "dwconv5x5", 28 * 28 * 96 * 25)


def test_context_kernel_classes_see_a_producer_but_not_in_the_features():
    silu = kernel_features(KernelSpec("silu", {"shape": [1, 32, 14, 14]}))
    assert silu["dse_kernels"] == "gating+gating" and silu["dse_ops"] == "Sigmoid+Mul"
    se = kernel_features(KernelSpec("se", {"c": 64, "h": 14, "w": 14, "r": 16, "act": "relu",
                                           "gate": "hardsigmoid"}))
    assert set(se["dse_kernels"].split("+")) == {"se"}
    assert se["dse_ops"] == "GlobalAveragePool+Conv+Relu+Conv+HardSigmoid+Mul"


def test_attention_parts():
    qk = KernelSpec("attention", {"heads": 4, "seq": 32, "kv_seq": 32, "dim": 16, "part": "qk"})
    full = KernelSpec("attention", {**qk.params, "part": "full"})
    f = kernel_features(qk)
    assert (f["op"], f["kernel"], f["macs"]) == ("MatMul", "attention", 4 * 32 * 32 * 16)
    g = kernel_features(full)
    assert g["dse_ops"] == "MatMul+Div+Softmax+MatMul" and g["macs"] == 2 * f["macs"]


@pytest.mark.parametrize(("spec", "match"), [
    (KernelSpec("nope", {}), r"family: unknown family name 'nope'; \d+ known family names, such as .*conv, dwconv"),
    (KernelSpec("conv", {**CONV, "act": "gelu"}), r"params.act: expected one of none, relu"),
    (KernelSpec("conv", {k: v for k, v in CONV.items() if k != "cin"}), r"params.cin: missing"),
    (KernelSpec("conv", {**CONV, "extra": 1}), r"params.extra: unknown parameter of conv"),
    (KernelSpec("conv", {**CONV, "cin": 0}), r"params.cin: expected a whole number >= 1, got 0"),
    (KernelSpec("conv", {**CONV, "bn": 1}), r"params.bn: expected true or false, got 1"),
    (KernelSpec("conv", {**CONV, "groups": 3}), r"groups 3 must divide cin 32 and cout 64"),
    (KernelSpec("conv", {**CONV, "h": 1, "pads": [0, 0, 0, 0]}),
     r"the window does not fit the input"),
    (KernelSpec("transpose", {"shape": [1, 2, 3], "perm": [0, 2, 2]}), r"not a permutation"),
    (KernelSpec("eltwise", {"op": "Add", "shape": [1, 8, 4, 4], "shape_b": [1, 3, 1, 1],
                            "const_b": False}), r"does not broadcast"),
])
def test_bad_specs_are_rejected_with_every_problem(spec, match):
    with pytest.raises(SuiteError, match=match):
        build(spec)


def test_every_problem_at_once_and_csv_cells_checked():
    problems = check_spec(KernelSpec("conv", {**CONV, "cin": -1, "act": 3, "bogus": 0}))
    assert len(problems) == 3
    with pytest.raises(SuiteError, match=r"k.csv: line 7: params: expected a JSON object"):
        KernelSpec.from_json("conv", "{not json", file="k.csv", where="line 7")
    with pytest.raises(SuiteError, match=r"k.csv: line 3: params.cin: missing"):
        KernelSpec.from_json("conv", json.dumps({k: v for k, v in CONV.items() if k != "cin"}),
                             file="k.csv", where="line 3")


def test_zoo_shapes_cover_the_models_layers(zoo_small):
    specs = [s for s, _ in zoo_small]
    assert len(set(specs)) == len(specs)
    sources = Counter(src for _, src in zoo_small)
    assert set(sources) == {"zoo:resnet8", "zoo:ds_cnn", "zoo:bert_encoder",
                            "zoo:efficientnet_b0", "zoo:googlenet"}
    # round robin: the first five come from five different models
    assert len({src for _, src in zoo_small[:5]}) == 5
    families = {s.family for s in specs}
    assert {"conv", "dwconv", "se", "silu", "attention", "gelu", "skip_layernorm", "softmax",
            "matmul", "lrn", "concat", "pool", "gemm", "eltwise", "transpose"} <= families
    parts = {s.params["part"] for s in specs if s.family == "attention"}
    assert parts == {"qk", "av"}
    assert {s.params["k"] for s in specs if s.family == "dwconv"} >= {3, 5}
    # every convolution of ResNet-8 is in the suite with its MACs
    w = dse.workload("resnet8")
    conv_macs = {d["macs"] for _, d in w.graph.nodes(data=True) if d["op"] == "Conv"}
    ours = {spec_macs(s) for s, src in zoo_small if src == "zoo:resnet8" and s.family == "conv"}
    assert conv_macs == ours


def test_zoo_shapes_build_and_their_features_match_the_models_layers(zoo_small):
    for spec, _ in zoo_small:
        onnx.checker.check_model(build(spec), full_check=True)
    # the conv's MACs in the kernel graph equal those dse counts in the model
    for spec, _ in zoo_small:
        if spec.family in ("conv", "dwconv"):
            assert kernel_features(spec)["macs"] == spec_macs(spec)


def test_caps_hold():
    big = KernelSpec("conv", {**CONV, "cin": 2048, "cout": 2048, "h": 224, "w": 224})
    assert not within_caps(big)
    wide = KernelSpec("activation", {"op": "Relu", "shape": [1, 1024, 224, 224]})
    assert spec_macs(wide) == 0 and not within_caps(wide)
    assert within_caps(KernelSpec("activation", {"op": "Relu", "shape": [1, MAX_ELEMS]}))


def test_perturb_keeps_the_kind_and_the_invariants():
    rng = np.random.default_rng(0)
    base = KernelSpec("conv", {**CONV, "groups": 32, "cin": 32, "cout": 32})
    for _ in range(50):
        p = perturb(base, rng)
        assert p.family == "conv" and not check_spec(p)
        assert (p.params["kh"], p.params["act"], p.params["bn"]) == (3, "relu", True)
        assert p.params["h"] == p.params["w"]
        assert p.params["groups"] == p.params["cin"] == p.params["cout"]  # depthwise stays so


def test_adaptive_draws_around_the_worst_errors():
    specs = random_specs(40, seed=3)
    frame = pd.DataFrame({"family": [s.family for s in specs],
                          "params": [s.params_json for s in specs]})
    errors = np.full(len(specs), 0.01)
    worst = 7
    errors[worst] = 2.0
    errors[0] = np.nan  # skipped
    out = adaptive_specs(frame, errors, 10, seed=0, worst=0.01, exclude=specs)
    assert len(out) == 10 and len(set(out)) == 10 and not set(out) & set(specs)
    assert {s.family for s in out} == {specs[worst].family}
    assert all(within_caps(s) and not check_spec(s) for s in out)
    assert adaptive_specs(frame, errors, 10, seed=0, worst=0.01, exclude=specs) == out
    assert adaptive_specs(frame, errors, 0) == []
    with pytest.raises(ValueError, match="3 errors for 40 candidates"):
        adaptive_specs(frame, errors[:3], 5)
