"""Measured model names join the zoo (dse.workloads.zoo.aliases)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dse.workloads import zoo
from dse.workloads.zoo.aliases import match

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

CASES = [
    # (table, measured name, zoo model, options, exact)
    ("coral", "inception_v1_224_quant_edgetpu", "googlenet", {"lrn": False}, False),
    ("coral", "inception_v4_299_quant", "inception_v4", {}, True),
    ("coral", "mobilenet_v1_1.0_224_quant_edgetpu", "mobilenet_v1", {"width": 1.0, "resolution": 224}, True),
    ("coral", "mobilenet_v2_1.0_224_quant", "mobilenet_v2", {"width": 1.0, "resolution": 224}, True),
    ("coral", "mobilenet_ssd_v2_coco_quant_postprocess_edgetpu", "ssd_mobilenet_v2",
     {"box_kernel": 1, "depthwise_extras": False, "postprocess": True}, True),
    ("coral", "mobilenet_ssd_v1_coco_quant_postprocess", "ssd_mobilenet_v1",
     {"postprocess": True}, True),
    ("tflite", "Mobilenet_V1_0.25_128_quant", "mobilenet_v1", {"width": 0.25, "resolution": 128}, True),
    ("tflite", "Mobilenet_1.0_224(float)", "mobilenet_v1", {"width": 1.0, "resolution": 224}, True),
    ("tflite", "Inception_V3", "inception_v3", {}, True),
    ("tflite", "SqueezeNet", "squeezenet1_0", {}, True),
    ("ncnn", "squeezenet", "squeezenet1_1", {}, True),
    ("ncnn", "mobilenet", "mobilenet_v1", {}, True),
    ("ncnn", "resnet50_int8", "resnet50", {"stride_1x1": True}, True),
    ("ncnn", "efficientnet_b0", "efficientnet_b0", {}, True),
    ("mobile_soc", "alexnet", "alexnet", {}, True),
    ("mobile_soc", "googlenet", "googlenet", {}, True),
    ("vitis", "cf_resnet50_imagenet_224_224_7.7G", "resnet50", {}, False),
    ("vitis", "cf_inceptionv1_imagenet_224_224_3.16G", "googlenet", {}, True),
    ("vitis", "tf_mobilenetv1_0.25_imagenet_128_128_27.15M", "mobilenet_v1",
     {"width": 0.25, "resolution": 128}, True),
    ("vitis", "tf_ssdmobilenetv1_coco_300_300_2.47G", "ssd_mobilenet_v1", {}, True),
    ("vitis", "cf_squeeze_imagenet_227_227_0.76G", "squeezenet1_0", {"resolution": 227}, True),
    ("mlperf_tiny", "kws", "ds_cnn", {}, True),
    ("mlperf_tiny", "visual wake words (MobileNetV1 0.25x, 96x96)", "mobilenet_v1_vww", {}, True),
    ("edge", "SSD MobileNet v2 (COCO, 300x300)", "ssd_mobilenet_v2", {}, True),
    ("edge", "VGG16 (224x224)", "vgg16", {}, True),
]


@pytest.mark.parametrize(("table", "name", "model", "options", "exact"), CASES)
def test_match(table, name, model, options, exact):
    found = match(name, table=table)
    assert found is not None, name
    assert (found.zoo, found.options, found.exact) == (model, options, exact)


@pytest.mark.parametrize("name", ["tf_mobilenetv1_1.0_imagenet_224_224_0.11_1.02G",
                                  "tf_vgg16_imagenet_224_224_0.43_17.67G", "yolov4-tiny",
                                  "SSD MobileNet v1 0.75-depth (COCO, 300x300)"])
def test_pruned_and_unknown_models_do_not_match(name):
    assert match(name) is None


def test_every_match_target_is_a_zoo_model():
    names = set(zoo.names())
    for table, name, *_ in CASES:
        found = match(name, table=table)
        assert found is not None and found.zoo in names
        zoo.get(found.zoo).validate(found.options)


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")
def test_the_mobile_soc_study_is_fully_covered():
    rows = [r for r in csv.DictReader(
        line for line in (DATA / "mobile_soc_throughput.csv").open() if not line.startswith("#"))]
    assert rows
    for r in rows:
        found = match(r["network"], table="mobile_soc")
        assert found is not None and found.exact, r["network"]
