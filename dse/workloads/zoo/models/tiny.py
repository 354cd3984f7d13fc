"""The four MLPerf Tiny v0.5+ reference models (Banbury et al., "MLPerf Tiny Benchmark", NeurIPS
Datasets and Benchmarks 2021), layer for layer as in the Keras training code of MLCommons'
``mlcommons/tiny`` repository, ``benchmark/training/``:

* ``resnet8``: ``image_classification/keras_model.py``, ``resnet_v1_eembc()`` (CIFAR-10, 32x32);
* ``ds_cnn``: ``keyword_spotting/keras_model.py``, ``get_model()`` with ``ds_cnn`` (49x10 MFCC);
* ``mobilenet_v1_vww``: ``visual_wake_words/vww_model.py``, ``mobilenet_v1()`` (0.25x, 96x96);
* ``fc_autoencoder``: ``anomaly_detection/keras_model.py``, ``get_model(640)`` (DCASE 2020 task 2
  baseline).

Keras defaults are kept where the reference code relies on them: every ``Conv2D``,
``DepthwiseConv2D`` and ``Dense`` has a bias (``use_bias=True``), ``padding='same'`` is
TensorFlow's (asymmetric) SAME, and BatchNormalization has ``epsilon=1e-3`` with a scale
(``scale=True``). The final softmax of the classifiers is part of the Keras models and is kept.
Dropout is the identity at inference and is left out. Layout is NCHW: the input is
``(1, C, H, W)``.
"""

from __future__ import annotations

import onnx

from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.registry import register

_REPO = "MLCommons mlcommons/tiny, benchmark/training/"
_RESNET8_REF = (f"{_REPO}image_classification/keras_model.py (resnet_v1_eembc); "
                "Banbury et al. NeurIPS 2021 (MLPerf Tiny)")
_DS_CNN_REF = (f"{_REPO}keyword_spotting/keras_model.py (ds_cnn); Zhang et al. 'Hello Edge' "
               "2017; Banbury et al. NeurIPS 2021 (MLPerf Tiny)")
_VWW_REF = (f"{_REPO}visual_wake_words/vww_model.py (mobilenet_v1, alpha 0.25); "
            "Banbury et al. NeurIPS 2021 (MLPerf Tiny)")
_AE_REF = (f"{_REPO}anomaly_detection/keras_model.py (DCASE 2020 task 2 baseline); "
           "Banbury et al. NeurIPS 2021 (MLPerf Tiny)")

_KERAS_BN_EPS = 1e-3


def _conv_bn(net: Net, x: str, cout: int, kernel: int | tuple[int, int],
             stride: int | tuple[int, int] = 1, *, relu: bool = True) -> str:
    """Keras ``Conv2D(padding='same')`` (with bias), BatchNormalization, optional ReLU."""
    y = net.bn(net.conv(x, cout, kernel, stride, pad="same", bias=True), eps=_KERAS_BN_EPS)
    return net.relu(y) if relu else y


def _dw_bn(net: Net, x: str, stride: int = 1) -> str:
    """Keras ``DepthwiseConv2D(3, padding='same')`` (with bias), BatchNormalization, ReLU."""
    y = net.dwconv(x, 3, stride, pad="same", bias=True)
    return net.relu(net.bn(y, eps=_KERAS_BN_EPS))


def _classifier(net: Net, x: str, pool: tuple[int, int], classes: int) -> onnx.ModelProto:
    """``AveragePooling2D(pool)`` (valid, stride = pool), Flatten, Dense, softmax."""
    x = net.flatten(net.avgpool(x, pool, pool))
    return net.model(net.softmax(net.fc(x, classes)))


# -- ResNet-8 (image classification) -----------------------------------------------------------


@register("resnet8", summary="MLPerf Tiny ResNet-8 (CIFAR-10, Keras reference)",
          task="classification", reference=_RESNET8_REF, resolution=32, classes=10)
def resnet8(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    net = Net("resnet8", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = _conv_bn(net, net.input, 16, 3)
    # Three stacks of two 3x3 convolutions; stacks 2 and 3 halve the resolution and project the
    # identity path with a strided 1x1 convolution (no BatchNorm on the projection).
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = _conv_bn(net, x, filters, 3, stride)
        y = _conv_bn(net, y, filters, 3, relu=False)
        if stride != 1:
            x = net.conv(x, filters, 1, stride, pad="same", bias=True)
        x = net.relu(net.add(x, y))
    h, w = net.shape(x)[2:]
    side = min(h, w)
    return _classifier(net, x, (side, side), classes)


# -- DS-CNN (keyword spotting) -----------------------------------------------------------------


@register("ds_cnn", summary="MLPerf Tiny DS-CNN keyword spotter (49x10 MFCC, Keras reference)",
          task="keyword-spotting", reference=_DS_CNN_REF, classes=12)
def ds_cnn(*, weights: bool, seed: int, classes: int) -> onnx.ModelProto:
    frames, coefficients, filters = 49, 10, 64
    net = Net("ds_cnn", (1, 1, frames, coefficients), seed=seed, weights=weights)
    x = _conv_bn(net, net.input, filters, (10, 4), (2, 2))
    for _ in range(4):
        x = _dw_bn(net, x)
        x = _conv_bn(net, x, filters, 1)
    # The reference pools with (int(49/2), int(10/2)) = (24, 5) on the 25x5 map: one output,
    # from the first 24 rows.
    return _classifier(net, x, (frames // 2, coefficients // 2), classes)


# -- MobileNet v1 0.25 (visual wake words) -----------------------------------------------------

# (depthwise stride, pointwise filters at alpha 1.0) of the 13 separable blocks.
_VWW_BLOCKS = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
               (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024))


@register("mobilenet_v1_vww",
          summary="MLPerf Tiny visual wake words MobileNet v1 0.25 (96x96, Keras reference)",
          task="classification", reference=_VWW_REF, resolution=96, classes=2)
def mobilenet_v1_vww(*, weights: bool, seed: int, resolution: int,
                     classes: int) -> onnx.ModelProto:
    net = Net("mobilenet_v1_vww", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = _conv_bn(net, net.input, 8, 3, 2)
    for stride, filters in _VWW_BLOCKS:
        x = _dw_bn(net, x, stride)
        x = _conv_bn(net, x, filters // 4, 1)
    h, w = net.shape(x)[2:]
    return _classifier(net, x, (h, w), classes)  # pool over the whole map


# -- FC autoencoder (anomaly detection) --------------------------------------------------------


@register("fc_autoencoder",
          summary="MLPerf Tiny anomaly detection FC autoencoder (640 inputs, Keras reference)",
          task="anomaly-detection", reference=_AE_REF, inputs=640)
def fc_autoencoder(*, weights: bool, seed: int, inputs: int) -> onnx.ModelProto:
    net = Net("fc_autoencoder", (1, inputs), seed=seed, weights=weights)
    x = net.input
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = net.relu(net.bn(net.fc(x, units), eps=_KERAS_BN_EPS))
    return net.model(net.fc(x, inputs))
