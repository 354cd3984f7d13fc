"""SSD detectors on MobileNet v1 and v2 (Liu et al., "SSD: Single Shot MultiBox Detector", ECCV
2016), as the TensorFlow Object Detection API builds them from its sample configurations
``research/object_detection/samples/configs/ssd_mobilenet_v1_coco.config`` and
``ssd_mobilenet_v2_coco.config`` (tensorflow/models), 300x300 input, 90 COCO classes plus
background.

* Feature extractors (``ssd_mobilenet_v1_feature_extractor.py``,
  ``ssd_mobilenet_v2_feature_extractor.py``; depth multiplier 1.0, min depth 16): the TF-slim
  MobileNet (``same`` padding throughout, conv without bias + BatchNorm with scale and center +
  ReLU6) gives the first two feature maps: v1 ``Conv2d_11_pointwise`` (512 channels, 19x19) and
  ``Conv2d_13_pointwise`` (1024, 10x10); v2 ``layer_15/expansion_output`` (the 576-channel
  expansion of the first 160-channel block, 19x19) and ``layer_19`` (the 1280-channel 1x1
  convolution, 10x10). ``multi_resolution_feature_maps`` (``feature_map_generators.py``) adds four
  more, of depth 512, 256, 256, 128, each a 1x1 convolution to half the depth then a 3x3 stride-2
  convolution (5x5, 3x3, 2x2, 1x1); v1 uses plain 3x3 convolutions, v2 (``use_depthwise: true``)
  a 3x3 depthwise then a 1x1 convolution, all with BatchNorm and ReLU6.
* Box predictor (``ConvolutionalBoxPredictor``, no extra layers before the predictor): on each
  of the six maps one convolution with bias predicts ``anchors * 4`` box encodings and one
  predicts ``anchors * classes`` class scores; the kernel is 1x1 for v1 (``kernel_size: 1``) and
  3x3 for v2 (``kernel_size: 3``). The SSD anchor generator (6 layers, aspect ratios 1, 2, 1/2,
  3, 1/3, ``reduce_boxes_in_lowest_layer``) puts 3 anchors per location on the first map and 6 on
  the others: 1917 anchors at 300x300.

By default the graph ends at the raw predictions: ``box_encodings`` (batch, anchors, 4) and
``class_predictions`` (batch, anchors, classes), concatenated in TF's order (map by map, rows,
columns, anchors). Input preprocessing (scaling to [-1, 1]), anchor decoding, the score
converter and non-maximum suppression are not part of it.

``postprocess=True`` appends what the TFLite detection files (``*_quant_postprocess.tflite``,
written by the Object Detection API's ``export_tflite_ssd_graph.py`` with
``--add_postprocessing_op``) run after the predictors: the score converter (``Logistic``, the
configs' ``score_converter: SIGMOID``) in the graph, then the single custom operator
``TFLite_Detection_PostProcess`` (TFLite ``kernels/detection_postprocess.cc``), spelled here in
ONNX ops: the raw outputs are dequantized (``DequantizeBoxEncodings`` /
``DequantizeClassPredictions``: a cast, a zero-point subtraction and a scale per element), the box
encodings decoded against the anchors (``DecodeCenterSizeBoxes``: scale by 10, 10, 5, 5, ``exp``
of the height and width, times and plus the anchor), the best non-background class of every anchor
taken (the default ``max_classes_per_detection = 1`` fast path), and one class-agnostic greedy
non-maximum suppression (IoU 0.6 and score threshold 1e-8 from the sample configs, at most
:data:`MAX_DETECTIONS` boxes, the exporter's default). The custom operator is not an Edge TPU
operation: the compiler leaves it, and so everything from the dequantization on, to the host CPU.
"""

from __future__ import annotations

import numpy as np
import onnx

from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.models.mobilenet import (
    V1_BLOCKS,
    V2_SETTINGS,
    inverted_residual,
    v1_conv_bn,
    v1_separable,
    v2_conv_bn,
)
from dse.workloads.zoo.registry import register

_V1_REFERENCE = ("Liu et al. ECCV 2016; Howard et al. arXiv:1704.04861 table 13; TF Object "
                 "Detection API samples/configs/ssd_mobilenet_v1_coco.config")
_V2_REFERENCE = ("Liu et al. ECCV 2016; Sandler et al. CVPR 2018; TF Object Detection API "
                 "samples/configs/ssd_mobilenet_v2_coco.config")

#: Depths of the four extra feature maps (``layer_depth`` of the feature map layout).
EXTRA_DEPTHS = (512, 256, 256, 128)
#: Feature extractor ``min_depth`` and ``depth_multiplier`` of both configs.
MIN_DEPTH = 16
DEPTH_MULTIPLIER = 1.0
#: TF-slim / Object Detection API BatchNorm epsilon.
EPS = 1e-3
#: ``export_tflite_ssd_graph.py`` flag defaults: ``max_detections`` 10 (class-agnostic fast NMS,
#: ``max_classes_per_detection`` 1, ``use_regular_nms`` false).
MAX_DETECTIONS = 10
#: ``post_processing.batch_non_max_suppression`` of the sample configs.
IOU_THRESHOLD, SCORE_THRESHOLD = 0.6, 1e-8
#: ``box_coder.faster_rcnn_box_coder``: y, x, height and width scales.
BOX_CODER_SCALES = (10.0, 10.0, 5.0, 5.0)


def _depth(d: int) -> int:
    """``feature_map_generators.get_depth_fn``."""
    return max(int(d * DEPTH_MULTIPLIER), MIN_DEPTH)


def _conv_bn_relu6(net: Net, x: str, cout: int, k: int, stride: int = 1) -> str:
    y = net.conv(x, cout, k, stride, pad="same", bias=False)
    return net.relu6(net.bn(y, eps=EPS))


def _extra_maps(net: Net, x: str, depthwise: bool) -> list[str]:
    """``multi_resolution_feature_maps`` with ``insert_1x1_conv=True`` for the '' layers."""
    maps = []
    for depth in EXTRA_DEPTHS:
        x = _conv_bn_relu6(net, x, _depth(depth // 2), 1)
        if depthwise:
            x = net.relu6(net.bn(net.dwconv(x, 3, 2, pad="same"), eps=EPS))
            x = _conv_bn_relu6(net, x, _depth(depth), 1)
        else:
            x = _conv_bn_relu6(net, x, _depth(depth), 3, 2)
        maps.append(x)
    return maps


def _predict(net: Net, maps: list[str], kernel: int, classes: int,
             postprocess: bool = False) -> onnx.ModelProto:
    """``ConvolutionalBoxPredictor``: box and class convolutions on every map, flattened to
    (batch, anchors, 4) and (batch, anchors, classes) and concatenated (then, with
    ``postprocess``, the TFLite detection post-processing: :func:`_postprocess`)."""
    boxes: list[str] = []
    scores: list[str] = []
    for i, x in enumerate(maps):
        anchors = 3 if i == 0 else 6
        n = net.shape(x)[0]
        for outs, per_anchor in ((boxes, 4), (scores, classes)):
            y = net.conv(x, anchors * per_anchor, kernel, pad="same", bias=True)
            y = net.transpose(y, (0, 2, 3, 1))  # NHWC, as TF lays the anchors out
            outs.append(net.reshape(y, (n, -1, per_anchor)))
    b = net.node("Concat", boxes, _cat(net, boxes), name="box_encodings", axis=1)
    s = net.node("Concat", scores, _cat(net, scores), name="class_predictions", axis=1)
    if postprocess:
        model = net.model(_postprocess(net, b, s))
        model.graph.output[0].type.tensor_type.elem_type = onnx.TensorProto.INT64  # indices
        return model
    return net.model(b, s)


def _postprocess(net: Net, boxes: str, scores: str) -> str:
    """The score converter, then ``TFLite_Detection_PostProcess`` (see the module docstring).

    Both raw outputs enter the custom operator together; they are joined first (one tensor of
    4 + classes values per anchor) so that the dequantization, the first operation the Edge TPU
    does not run, comes after every predictor layer in any topological order."""
    n, anchors, _ = net.shape(boxes)
    classes = net.shape(scores)[2]
    scores = net.act("Sigmoid", scores)  # score_converter: SIGMOID, in the converted graph
    raw = net.node("Concat", [boxes, scores], (n, anchors, 4 + classes), name="raw_outputs",
                   axis=2)

    def part(x: str, start: int, end: int) -> str:
        return net.node("Slice", [x, net.const([start], name=f"{x}.start{start}"),
                                  net.const([end], name=f"{x}.end{end}"),
                                  net.const([2], name=f"{x}.axes{start}")],
                        (n, anchors, end - start))

    shape = (n, anchors, 4 + classes)
    q = net.node("Cast", [raw], shape, to=onnx.TensorProto.FLOAT)  # uint8 -> float
    q = net.node("Sub", [q, net.weight((1,), name="postprocess.zero_point", value=128.0)], shape)
    q = net.node("Mul", [q, net.weight((1,), name="postprocess.scale", value=0.1)], shape)
    box = net.mul(part(q, 0, 4), net.weight((4,), name="postprocess.box_coder_scales",
                                            value=1.0 / BOX_CODER_SCALES[0]))
    hw = net.act("Exp", part(box, 2, 4))
    box = net.node("Concat", [part(box, 0, 2), hw], (n, anchors, 4), axis=2)
    anchor = net.weight((anchors, 4), name="postprocess.anchors", value=0.5)  # yc, xc, h, w
    box = net.add(net.mul(box, anchor), anchor)  # center-size boxes in the image
    best = net.node("ReduceMax", [part(q, 5, 4 + classes)], (n, anchors, 1), axes=[2],
                    keepdims=1)  # best class of each anchor, background (class 0) skipped
    best = net.transpose(best, (0, 2, 1))
    return net.node(
        "NonMaxSuppression",
        [box, best, net.const([MAX_DETECTIONS], name="postprocess.max_detections"),
         net.const([IOU_THRESHOLD], name="postprocess.iou_threshold", dtype=np.float32),
         net.const([SCORE_THRESHOLD], name="postprocess.score_threshold", dtype=np.float32)],
        (MAX_DETECTIONS, 3), name="detections", center_point_box=1)


def _cat(net: Net, xs: list[str]) -> tuple[int, ...]:
    n, _, c = net.shape(xs[0])
    return (n, sum(net.shape(x)[1] for x in xs), c)


@register("ssd_mobilenet_v1", summary="SSD MobileNet v1 300x300 COCO (TF Object Detection API)",
          task="detection", reference=_V1_REFERENCE, resolution=300, classes=91,
          postprocess=False)
def ssd_mobilenet_v1(*, weights: bool, seed: int, resolution: int, classes: int,
                     postprocess: bool) -> onnx.ModelProto:
    """``postprocess=True``: with the TFLite detection post-processing (:func:`_postprocess`),
    as in ``mobilenet_ssd_v1_coco_quant_postprocess.tflite``."""
    net = Net("ssd_mobilenet_v1", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = v1_conv_bn(net, net.input, _depth(32), 3, 2, eps=EPS)  # Conv2d_0
    maps = []
    for i, (filters, stride) in enumerate(V1_BLOCKS, start=1):  # Conv2d_1 ... Conv2d_13
        x = v1_separable(net, x, _depth(filters), stride, eps=EPS, keras_pad=False)
        if i in (11, 13):
            maps.append(x)
    maps += _extra_maps(net, x, depthwise=False)
    return _predict(net, maps, 1, classes, postprocess)


@register("ssd_mobilenet_v2", summary="SSD MobileNet v2 300x300 COCO (TF Object Detection API)",
          task="detection", reference=_V2_REFERENCE, resolution=300, classes=91, box_kernel=3,
          depthwise_extras=True, postprocess=False)
def ssd_mobilenet_v2(*, weights: bool, seed: int, resolution: int, classes: int,
                     box_kernel: int, depthwise_extras: bool,
                     postprocess: bool) -> onnx.ModelProto:
    """The defaults follow ``ssd_mobilenet_v2_coco.config``. ``box_kernel=1,
    depthwise_extras=False`` is ``ssd_mobilenet_v2_quantized_300x300_coco.config`` (predictor
    ``kernel_size: 1``, no ``use_depthwise``), the model behind the quantized TFLite and Edge TPU
    files (``mobilenet_ssd_v2_coco_quant_postprocess``); ``postprocess=True`` adds their
    TFLite detection post-processing (:func:`_postprocess`)."""
    net = Net("ssd_mobilenet_v2", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = v2_conv_bn(net, net.input, 32, 3, 2, pad="same", eps=EPS)  # layer_1
    maps = []
    layer = 1
    for t, c, n, s in V2_SETTINGS:  # layer_2 ... layer_18
        for i in range(n):
            layer += 1
            x, expansion = inverted_residual(net, x, c, s if i == 0 else 1, t, pad="same",
                                             eps=EPS)
            if layer == 15:
                assert expansion is not None
                maps.append(expansion)  # layer_15/expansion_output
    x = v2_conv_bn(net, x, 1280, 1, pad="same", eps=EPS)  # layer_19
    maps.append(x)
    maps += _extra_maps(net, x, depthwise=depthwise_extras)
    return _predict(net, maps, box_kernel, classes, postprocess)
