"""The ``vitis`` loader: Vitis AI model zoo DPU numbers as dse measurements."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dse
from dse.calibrate.loaders import data_dir, load, vitis
from dse.devices import default_catalog
from dse.workloads.zoo.aliases import match

FILE = data_dir() / vitis.FILENAME
pytestmark = pytest.mark.skipif(not FILE.is_file(), reason=f"{FILE} not present")


@pytest.fixture(scope="module")
def result():
    return load("vitis")


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(FILE, comment="#", keep_default_na=False, dtype=str)


def test_counts_of_mapped_and_left_out_rows(result, raw):
    assert len(raw) == 8465
    assert len(result.measurements) == 176
    reasons = result.unmapped["reason"].value_counts().to_dict()
    assert reasons == {
        vitis.NO_DEVICE: 3632,
        vitis.NO_MODEL: 3460,
        vitis.LEFT_OUT_BOARDS["ZCU102_rev04"]: 444,
        vitis.SUPERSEDED: 465,
        vitis.OTHER_SOURCE: 288,
    }
    # every source row is either used or left out with a reason, once
    assert len(result.measurements) + len(result.unmapped) == len(raw)
    assert result.unmapped["row"].is_unique


def test_configurations_per_board(result):
    m = result.measurements
    counts = m.groupby(["host", "device", "metric", "policy", "threads", "count"]).size()
    assert counts.to_dict() == {
        ("kv260", "dpu_b4096", "latency", "single", 1, 1): 16,
        ("kv260", "dpu_b4096", "throughput", "single", 1, 1): 17,
        ("kv260", "dpu_b4096", "throughput", "threads", 8, 1): 17,
        ("ultra96", "dpu_b1600_ultra96", "latency", "single", 1, 1): 9,
        ("ultra96", "dpu_b1600_ultra96", "throughput", "single", 1, 1): 9,
        ("ultra96", "dpu_b1600_ultra96", "throughput", "threads", 8, 1): 8,
        ("zcu102", "dpu_b4096_zcu102", "latency", "single", 1, 1): 16,
        ("zcu102", "dpu_b4096_zcu102", "throughput", "data_parallel", 8, 3): 17,
        ("zcu102", "dpu_b4096_zcu102", "throughput", "single", 1, 1): 17,
        ("zcu104", "dpu_b4096", "latency", "single", 1, 1): 16,
        ("zcu104", "dpu_b4096", "throughput", "data_parallel", 8, 2): 17,
        ("zcu104", "dpu_b4096", "throughput", "single", 1, 1): 17,
    }
    assert (m["precision"] == "int8").all() and (m["streams"] == 1).all()
    assert (m["link"] == "").all()
    key = ["device", "host", "link", "workload", "options", "precision", "policy", "threads",
           "streams", "count", "metric"]
    assert not m.duplicated(key).any()


def _one(m: pd.DataFrame, **where) -> pd.Series:
    sel = m
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, where
    return sel.iloc[0]


def _raw(raw: pd.DataFrame, **where) -> pd.Series:
    sel = raw
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, where
    return sel.iloc[0]


def test_spot_check_against_the_raw_table(result, raw):
    m = result.measurements
    # ZCU102 multi-thread throughput, newest (3.0) PyTorch ResNet-50 (renamed from 4.1G)
    src = _raw(raw, device="ZCU102", vitis_ai_version="v3.0", metric="e2e_throughput",
               threads_or_streams="multi", model="pt_resnet50_imagenet_224_224_8.2G")
    row = _one(m, host="zcu102", workload="resnet50", options="", metric="throughput",
               policy="data_parallel")
    assert row["device"] == "dpu_b4096_zcu102" and row["count"] == 3 and row["threads"] == 8
    assert row["unit"] == "fps" and src["unit"] == "fps"
    assert row["value"] == pytest.approx(float(src["value"]))
    assert row["value_si"] == pytest.approx(189.671)
    assert "v3.0" in row["source"] and "pt_resnet50_imagenet_224_224_8.2G" in row["source"]

    # KV260 1-thread latency in ms -> seconds; the Caffe GoogLeNet (exact) over TF-slim's
    src = _raw(raw, device="KV260", vitis_ai_version="v2.0", metric="e2e_latency",
               model="cf_inceptionv1_imagenet_224_224_3.16G")
    row = _one(m, host="kv260", workload="googlenet", options="", metric="latency")
    assert row["device"] == "dpu_b4096" and row["policy"] == "single" and row["count"] == 1
    assert row["unit"] == "ms" and src["unit"] == "ms"
    assert row["value"] == pytest.approx(float(src["value"]))
    assert row["value_si"] == pytest.approx(float(src["value"]) * 1e-3)
    assert row["value_si"] == pytest.approx(5.32e-3)

    # Ultra96 (one core) multi-thread: pure threading, policy "threads"
    src = _raw(raw, device="Ultra96", vitis_ai_version="v2.5", metric="e2e_throughput",
               threads_or_streams="multi", model="cf_resnet18_imagenet_224_224_3.65G")
    row = _one(m, host="ultra96", workload="resnet18", metric="throughput", policy="threads")
    assert row["device"] == "dpu_b1600_ultra96" and row["count"] == 1 and row["threads"] == 8
    assert row["value_si"] == pytest.approx(float(src["value"]))

    # MobileNet v1 0.25 at 128 keeps its options; the 1.0/224 default drops them
    row = _one(m, host="zcu104", workload="mobilenet_v1", metric="throughput", policy="single",
               options=json.dumps({"resolution": 128, "width": 0.25}, sort_keys=True))
    src = _raw(raw, device="ZCU104", vitis_ai_version="v3.0", metric="e2e_throughput",
               threads_or_streams="1", model="tf_mobilenetv1_0.25_imagenet_128_128_27M")
    assert row["value_si"] == pytest.approx(float(src["value"]))


def test_left_out_rows_are_the_right_ones(result, raw):
    u = result.unmapped
    dev = dict(zip(u["row"], u["device"], strict=True))
    reason = dict(zip(u["row"], u["reason"], strict=True))
    for i, r in enumerate(raw.itertuples(index=False), start=2):
        if r.device not in vitis.BOARDS:
            assert reason[i] in (vitis.NO_DEVICE, vitis.LEFT_OUT_BOARDS.get(r.device))
            assert dev[i] == r.device
    # pruned variants are not the zoo model
    pruned = raw.index[(raw["model"] == "pt_resnet50_imagenet_224_224_0.3_5.8G")
                       & raw["device"].isin(list(vitis.BOARDS))] + 2
    assert len(pruned) > 0
    assert {reason[i] for i in pruned} == {vitis.NO_MODEL}
    # an older release of a kept model is superseded, not silently dropped
    old = raw.index[(raw["model"] == "pt_resnet50_imagenet_224_224_4.1G")
                    & (raw["device"] == "ZCU102") & (raw["metric"] == "e2e_throughput")] + 2
    assert len(old) == 2
    assert {reason[i] for i in old} == {vitis.SUPERSEDED}


def test_boards_agree_with_the_catalog():
    cat = default_catalog()
    for name, board in vitis.BOARDS.items():
        platform = cat.platforms[board.host]
        assert board.device in platform.accelerators, name
        assert platform.accelerators[board.device].count == board.cores, name
        spec = cat.device(board.device)
        assert spec.dpu_arch == board.arch, name
        assert spec.clock_hz == pytest.approx(board.clock_mhz * 1e6), name


def test_every_device_is_in_the_catalog_and_every_workload_builds(result):
    m = result.measurements
    cat = default_catalog()
    assert set(m["device"]) <= set(cat.devices)
    assert set(m["host"]) <= set(cat.platforms)
    for (zoo, options), _ in m.groupby(["workload", "options"]):
        opts = json.loads(options) if options else {}
        w = dse.workload(zoo, precision="int8", **opts)
        assert w.params > 0


@pytest.mark.parametrize("name, zoo, options, exact", [
    # release tag after the ops count
    ("pt_resnet50_imagenet_224_224_4.1G_2.0", "resnet50", {}, True),
    # one PyTorch model named by MACs (2.x) and by ops (3.0)
    ("pt_resnet50_imagenet_224_224_8.2G", "resnet50", {}, True),
    ("pt_inceptionv3_imagenet_299_299_5.7G", "inception_v3", {}, True),
    ("pt_squeezenet_imagenet_224_224_703.5M", "squeezenet1_1", {}, True),   # not 1.0
    ("pt_squeezenet_imagenet_224_224_351.7M", "squeezenet1_1", {}, True),
    ("tf2_mobilenetv1_imagenet_224_224_1.15G", "mobilenet_v1", {"resolution": 224}, True),
    ("tf_resnetv1_50_imagenet_224_224_6.97G", "resnet50", {}, False),
])
def test_source_names_join_the_zoo(name, zoo, options, exact):
    found = match(vitis.source_name(name), table="vitis")
    assert found is not None
    assert (found.zoo, found.options, found.exact) == (zoo, options, exact)


@pytest.mark.parametrize("name", [
    "pt_resnet50_imagenet_224_224_0.3_5.8G",      # pruned
    "tf_mobilenetEdge1.0_imagenet_224_224_990M_1.3",
    "torchvision_squeezenet",                      # 1.0 or 1.1 not stated
    "tf_mobilenetv2_imagenet_224_224_1.17G",       # width not stated (1.17 G ops = 1.4)
])
def test_names_that_do_not_join(name):
    assert match(vitis.source_name(name), table="vitis") is None


def test_clock_and_configuration_checks():
    zcu102 = vitis.BOARDS["ZCU102"]
    assert vitis._board_problem(zcu102, "3 * B4096 @ 281MHz  V1.4.1") is None
    assert vitis._board_problem(zcu102, "3* DPUCZDX8G B4096 @ 281MHz ") is None
    assert vitis._board_problem(zcu102, " 3 * B4096 @ 287MHz  V1.4.0") is None   # 2.1% off
    assert vitis._board_problem(zcu102, "3 * B4096 @ 300MHz") == vitis.CLOCK_DIFFERS  # 6.8%
    assert vitis._board_problem(zcu102, "2 * B4096 @ 281MHz") == vitis.CONFIG_DIFFERS
    assert vitis._board_problem(vitis.BOARDS["KV260"], "1* DPUCZDX8G B4096F @ 300MHz") is None
