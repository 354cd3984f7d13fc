"""Inception v3 and Inception v4, as inference graphs.

* ``inception_v3``: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision"
  (CVPR 2016), as in torchvision's ``inception.py`` (``Inception3``): BasicConv2d is a
  convolution without bias, BatchNorm (eps 0.001) and ReLU; the 3x3 average pools of the
  A/C/E blocks count the padding (``F.avg_pool2d`` default). The AuxLogits branch only runs in
  training and is left out (torchvision's published 27,161,264 parameters include it).
* ``inception_v4``: Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
  Connections on Learning" (AAAI 2017), as in timm's ``inception_v4.py`` (port of the TF-slim
  model with 1000 classes): convolution without bias, BatchNorm (eps 0.001), ReLU; unpadded
  ("VALID") convolutions and pools where TF-slim has them; the 3x3 average pools exclude the
  padding.

Both end with a global average pool and a fully connected classifier; Dropout is left out.
"""

from __future__ import annotations

import onnx

from dse.errors import Problem, WorkloadError
from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.registry import register

_V3_REF = ("Szegedy et al. CVPR 2016; torchvision.models.inception (Inception3, "
           "without AuxLogits)")
_V4_REF = "Szegedy et al. AAAI 2017 (arXiv:1602.07261); timm inception_v4 (1000 classes)"

K = int | tuple[int, int]
P = int | tuple[int, int]


def _conv_bn(net: Net, x: str, cout: int, k: K, s: int = 1, *, pad: P = 0, name: str) -> str:
    """Convolution without bias, BatchNorm (eps 0.001), ReLU."""
    y = net.conv(x, cout, k, s, pad=pad, bias=False, name=f"{name}.conv")
    return net.relu(net.bn(y, eps=1e-3, name=f"{name}.bn"))


def _check_spatial(net: Net, name: str, resolution: int) -> None:
    """Refuse a resolution so small that some feature map shrinks to nothing."""
    if any(d < 1 for shape in net.shapes.values() for d in shape):
        raise WorkloadError([Problem(f"zoo:{name}", "resolution",
                                     f"{resolution} is too small for {name}: the feature maps "
                                     f"shrink to nothing")])


# -- Inception v3 (torchvision) --------------------------------------------------------------


def _avgpool3(net: Net, x: str, *, count_include_pad: bool) -> str:
    return net.avgpool(x, 3, 1, pad=1, count_include_pad=count_include_pad)


def _v3_a(net: Net, x: str, pool_features: int, p: str) -> str:
    b1 = _conv_bn(net, x, 64, 1, name=f"{p}.branch1x1")
    b5 = _conv_bn(net, x, 48, 1, name=f"{p}.branch5x5_1")
    b5 = _conv_bn(net, b5, 64, 5, pad=2, name=f"{p}.branch5x5_2")
    bd = _conv_bn(net, x, 64, 1, name=f"{p}.branch3x3dbl_1")
    bd = _conv_bn(net, bd, 96, 3, pad=1, name=f"{p}.branch3x3dbl_2")
    bd = _conv_bn(net, bd, 96, 3, pad=1, name=f"{p}.branch3x3dbl_3")
    bp = _avgpool3(net, x, count_include_pad=True)
    bp = _conv_bn(net, bp, pool_features, 1, name=f"{p}.branch_pool")
    return net.concat([b1, b5, bd, bp])


def _v3_b(net: Net, x: str, p: str) -> str:
    b3 = _conv_bn(net, x, 384, 3, 2, name=f"{p}.branch3x3")
    bd = _conv_bn(net, x, 64, 1, name=f"{p}.branch3x3dbl_1")
    bd = _conv_bn(net, bd, 96, 3, pad=1, name=f"{p}.branch3x3dbl_2")
    bd = _conv_bn(net, bd, 96, 3, 2, name=f"{p}.branch3x3dbl_3")
    bp = net.maxpool(x, 3, 2)
    return net.concat([b3, bd, bp])


def _v3_c(net: Net, x: str, c7: int, p: str) -> str:
    b1 = _conv_bn(net, x, 192, 1, name=f"{p}.branch1x1")
    b7 = _conv_bn(net, x, c7, 1, name=f"{p}.branch7x7_1")
    b7 = _conv_bn(net, b7, c7, (1, 7), pad=(0, 3), name=f"{p}.branch7x7_2")
    b7 = _conv_bn(net, b7, 192, (7, 1), pad=(3, 0), name=f"{p}.branch7x7_3")
    bd = _conv_bn(net, x, c7, 1, name=f"{p}.branch7x7dbl_1")
    bd = _conv_bn(net, bd, c7, (7, 1), pad=(3, 0), name=f"{p}.branch7x7dbl_2")
    bd = _conv_bn(net, bd, c7, (1, 7), pad=(0, 3), name=f"{p}.branch7x7dbl_3")
    bd = _conv_bn(net, bd, c7, (7, 1), pad=(3, 0), name=f"{p}.branch7x7dbl_4")
    bd = _conv_bn(net, bd, 192, (1, 7), pad=(0, 3), name=f"{p}.branch7x7dbl_5")
    bp = _avgpool3(net, x, count_include_pad=True)
    bp = _conv_bn(net, bp, 192, 1, name=f"{p}.branch_pool")
    return net.concat([b1, b7, bd, bp])


def _v3_d(net: Net, x: str, p: str) -> str:
    b3 = _conv_bn(net, x, 192, 1, name=f"{p}.branch3x3_1")
    b3 = _conv_bn(net, b3, 320, 3, 2, name=f"{p}.branch3x3_2")
    b7 = _conv_bn(net, x, 192, 1, name=f"{p}.branch7x7x3_1")
    b7 = _conv_bn(net, b7, 192, (1, 7), pad=(0, 3), name=f"{p}.branch7x7x3_2")
    b7 = _conv_bn(net, b7, 192, (7, 1), pad=(3, 0), name=f"{p}.branch7x7x3_3")
    b7 = _conv_bn(net, b7, 192, 3, 2, name=f"{p}.branch7x7x3_4")
    bp = net.maxpool(x, 3, 2)
    return net.concat([b3, b7, bp])


def _v3_e(net: Net, x: str, p: str) -> str:
    b1 = _conv_bn(net, x, 320, 1, name=f"{p}.branch1x1")
    b3 = _conv_bn(net, x, 384, 1, name=f"{p}.branch3x3_1")
    b3 = net.concat([_conv_bn(net, b3, 384, (1, 3), pad=(0, 1), name=f"{p}.branch3x3_2a"),
                     _conv_bn(net, b3, 384, (3, 1), pad=(1, 0), name=f"{p}.branch3x3_2b")])
    bd = _conv_bn(net, x, 448, 1, name=f"{p}.branch3x3dbl_1")
    bd = _conv_bn(net, bd, 384, 3, pad=1, name=f"{p}.branch3x3dbl_2")
    bd = net.concat([_conv_bn(net, bd, 384, (1, 3), pad=(0, 1), name=f"{p}.branch3x3dbl_3a"),
                     _conv_bn(net, bd, 384, (3, 1), pad=(1, 0), name=f"{p}.branch3x3dbl_3b")])
    bp = _avgpool3(net, x, count_include_pad=True)
    bp = _conv_bn(net, bp, 192, 1, name=f"{p}.branch_pool")
    return net.concat([b1, b3, bd, bp])


@register("inception_v3", summary="Inception v3 (torchvision, inference graph without AuxLogits)",
          task="classification", reference=_V3_REF, resolution=299, classes=1000)
def inception_v3(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    net = Net("inception_v3", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = _conv_bn(net, net.input, 32, 3, 2, name="Conv2d_1a_3x3")
    x = _conv_bn(net, x, 32, 3, name="Conv2d_2a_3x3")
    x = _conv_bn(net, x, 64, 3, pad=1, name="Conv2d_2b_3x3")
    x = net.maxpool(x, 3, 2)
    x = _conv_bn(net, x, 80, 1, name="Conv2d_3b_1x1")
    x = _conv_bn(net, x, 192, 3, name="Conv2d_4a_3x3")
    x = net.maxpool(x, 3, 2)
    x = _v3_a(net, x, 32, "Mixed_5b")
    x = _v3_a(net, x, 64, "Mixed_5c")
    x = _v3_a(net, x, 64, "Mixed_5d")
    x = _v3_b(net, x, "Mixed_6a")
    for c7, p in ((128, "Mixed_6b"), (160, "Mixed_6c"), (160, "Mixed_6d"), (192, "Mixed_6e")):
        x = _v3_c(net, x, c7, p)
    x = _v3_d(net, x, "Mixed_7a")
    x = _v3_e(net, x, "Mixed_7b")
    x = _v3_e(net, x, "Mixed_7c")
    _check_spatial(net, "inception_v3", resolution)
    x = net.flatten(net.gap(x))
    return net.model(net.fc(x, classes, name="fc"))


# -- Inception v4 (timm) ---------------------------------------------------------------------


def _seq(net: Net, x: str, layers: list[tuple[int, K, int, P]], p: str) -> str:
    """A branch of conv-BN-ReLU layers (cout, kernel, stride, pad), named ``{p}.{i}``."""
    for i, (cout, k, s, pad) in enumerate(layers):
        x = _conv_bn(net, x, cout, k, s, pad=pad, name=f"{p}.{i}")
    return x


def _v4_stem(net: Net, x: str) -> str:
    x = _conv_bn(net, x, 32, 3, 2, name="features.0")
    x = _conv_bn(net, x, 32, 3, name="features.1")
    x = _conv_bn(net, x, 64, 3, pad=1, name="features.2")
    # Mixed3a
    x = net.concat([net.maxpool(x, 3, 2), _conv_bn(net, x, 96, 3, 2, name="features.3.conv")])
    # Mixed4a
    b0 = _seq(net, x, [(64, 1, 1, 0), (96, 3, 1, 0)], "features.4.branch0")
    b1 = _seq(net, x, [(64, 1, 1, 0), (64, (1, 7), 1, (0, 3)), (64, (7, 1), 1, (3, 0)),
                       (96, 3, 1, 0)], "features.4.branch1")
    x = net.concat([b0, b1])
    # Mixed5a
    return net.concat([_conv_bn(net, x, 192, 3, 2, name="features.5.conv"),
                       net.maxpool(x, 3, 2)])


def _v4_a(net: Net, x: str, p: str) -> str:
    b0 = _conv_bn(net, x, 96, 1, name=f"{p}.branch0")
    b1 = _seq(net, x, [(64, 1, 1, 0), (96, 3, 1, 1)], f"{p}.branch1")
    b2 = _seq(net, x, [(64, 1, 1, 0), (96, 3, 1, 1), (96, 3, 1, 1)], f"{p}.branch2")
    b3 = _conv_bn(net, _avgpool3(net, x, count_include_pad=False), 96, 1, name=f"{p}.branch3.1")
    return net.concat([b0, b1, b2, b3])


def _v4_reduction_a(net: Net, x: str, p: str) -> str:
    b0 = _conv_bn(net, x, 384, 3, 2, name=f"{p}.branch0")
    b1 = _seq(net, x, [(192, 1, 1, 0), (224, 3, 1, 1), (256, 3, 2, 0)], f"{p}.branch1")
    return net.concat([b0, b1, net.maxpool(x, 3, 2)])


def _v4_b(net: Net, x: str, p: str) -> str:
    b0 = _conv_bn(net, x, 384, 1, name=f"{p}.branch0")
    b1 = _seq(net, x, [(192, 1, 1, 0), (224, (1, 7), 1, (0, 3)), (256, (7, 1), 1, (3, 0))],
              f"{p}.branch1")
    b2 = _seq(net, x, [(192, 1, 1, 0), (192, (7, 1), 1, (3, 0)), (224, (1, 7), 1, (0, 3)),
                       (224, (7, 1), 1, (3, 0)), (256, (1, 7), 1, (0, 3))], f"{p}.branch2")
    b3 = _conv_bn(net, _avgpool3(net, x, count_include_pad=False), 128, 1, name=f"{p}.branch3.1")
    return net.concat([b0, b1, b2, b3])


def _v4_reduction_b(net: Net, x: str, p: str) -> str:
    b0 = _seq(net, x, [(192, 1, 1, 0), (192, 3, 2, 0)], f"{p}.branch0")
    b1 = _seq(net, x, [(256, 1, 1, 0), (256, (1, 7), 1, (0, 3)), (320, (7, 1), 1, (3, 0)),
                       (320, 3, 2, 0)], f"{p}.branch1")
    return net.concat([b0, b1, net.maxpool(x, 3, 2)])


def _v4_c(net: Net, x: str, p: str) -> str:
    b0 = _conv_bn(net, x, 256, 1, name=f"{p}.branch0")
    b1 = _conv_bn(net, x, 384, 1, name=f"{p}.branch1_0")
    b1 = net.concat([_conv_bn(net, b1, 256, (1, 3), pad=(0, 1), name=f"{p}.branch1_1a"),
                     _conv_bn(net, b1, 256, (3, 1), pad=(1, 0), name=f"{p}.branch1_1b")])
    b2 = _conv_bn(net, x, 384, 1, name=f"{p}.branch2_0")
    b2 = _conv_bn(net, b2, 448, (3, 1), pad=(1, 0), name=f"{p}.branch2_1")
    b2 = _conv_bn(net, b2, 512, (1, 3), pad=(0, 1), name=f"{p}.branch2_2")
    b2 = net.concat([_conv_bn(net, b2, 256, (1, 3), pad=(0, 1), name=f"{p}.branch2_3a"),
                     _conv_bn(net, b2, 256, (3, 1), pad=(1, 0), name=f"{p}.branch2_3b")])
    b3 = _conv_bn(net, _avgpool3(net, x, count_include_pad=False), 256, 1, name=f"{p}.branch3.1")
    return net.concat([b0, b1, b2, b3])


@register("inception_v4", summary="Inception v4 (timm, 1000 classes)", task="classification",
          reference=_V4_REF, resolution=299, classes=1000)
def inception_v4(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    net = Net("inception_v4", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = _v4_stem(net, net.input)
    i = 6
    for _ in range(4):
        x, i = _v4_a(net, x, f"features.{i}"), i + 1
    x, i = _v4_reduction_a(net, x, f"features.{i}"), i + 1
    for _ in range(7):
        x, i = _v4_b(net, x, f"features.{i}"), i + 1
    x, i = _v4_reduction_b(net, x, f"features.{i}"), i + 1
    for _ in range(3):
        x, i = _v4_c(net, x, f"features.{i}"), i + 1
    _check_spatial(net, "inception_v4", resolution)
    x = net.flatten(net.gap(x))
    return net.model(net.fc(x, classes, name="last_linear"))
