"""ResNet-18 and ResNet-50 (He et al., "Deep Residual Learning for Image Recognition", CVPR
2016), as in torchvision's ``resnet.py``: convolutions without bias, each followed by
BatchNorm; the stride of a bottleneck block sits on its 3x3 convolution (ResNet v1.5).

ResNet-50 with ``stride_1x1=True`` is the original v1 of the paper and of Kaiming He's Caffe
release (``ResNet-50-deploy.prototxt``, as ncnn's benchmark ``resnet50.param`` and Vitis AI's
``cf_resnet50`` carry it): the stride of a stage's first block sits on its first 1x1
convolution, so every 3x3 convolution runs at stride 1 on the smaller map (about 6% fewer MACs,
and every 3x3 a Winograd candidate)."""

from __future__ import annotations

import onnx

from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.registry import register

_REFERENCE = "He et al. CVPR 2016; torchvision.models.resnet (v1.5, stride on the 3x3 conv)"


def _conv_bn(net: Net, x: str, cout: int, k: int, s: int = 1, *, relu: bool = True) -> str:
    y = net.bn(net.conv(x, cout, k, s, pad=k // 2, bias=False))
    return net.relu(y) if relu else y


def _basic(net: Net, x: str, cout: int, stride: int) -> str:
    y = _conv_bn(net, x, cout, 3, stride)
    y = _conv_bn(net, y, cout, 3, relu=False)
    short = x
    if stride != 1 or net.shape(x)[1] != cout:
        short = _conv_bn(net, x, cout, 1, stride, relu=False)
    return net.relu(net.add(y, short))


def _bottleneck(net: Net, x: str, width: int, stride: int, stride_1x1: bool = False) -> str:
    cout = width * 4
    y = _conv_bn(net, x, width, 1, stride if stride_1x1 else 1)
    y = _conv_bn(net, y, width, 3, 1 if stride_1x1 else stride)
    y = _conv_bn(net, y, cout, 1, relu=False)
    short = x
    if stride != 1 or net.shape(x)[1] != cout:
        short = _conv_bn(net, x, cout, 1, stride, relu=False)
    return net.relu(net.add(y, short))


def _resnet(name: str, blocks: tuple[int, ...], bottleneck: bool, *, weights: bool, seed: int,
            resolution: int, classes: int, stride_1x1: bool = False) -> onnx.ModelProto:
    net = Net(name, (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = _conv_bn(net, net.input, 64, 7, 2)
    x = net.maxpool(x, 3, 2, pad=1)
    for stage, count in enumerate(blocks):
        width = 64 * 2**stage
        for i in range(count):
            stride = 2 if (i == 0 and stage > 0) else 1
            x = _bottleneck(net, x, width, stride, stride_1x1) if bottleneck else \
                _basic(net, x, width, stride)
    x = net.flatten(net.gap(x))
    return net.model(net.fc(x, classes))


@register("resnet18", summary="ResNet-18 (torchvision)", task="classification",
          reference=_REFERENCE, resolution=224, classes=1000)
def resnet18(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    return _resnet("resnet18", (2, 2, 2, 2), False, weights=weights, seed=seed,
                   resolution=resolution, classes=classes)


@register("resnet50", summary="ResNet-50 v1.5 (torchvision); v1 with stride_1x1",
          task="classification", reference=_REFERENCE, resolution=224, classes=1000,
          stride_1x1=False)
def resnet50(*, weights: bool, seed: int, resolution: int, classes: int,
             stride_1x1: bool) -> onnx.ModelProto:
    return _resnet("resnet50", (3, 4, 6, 3), True, weights=weights, seed=seed,
                   resolution=resolution, classes=classes, stride_1x1=stride_1x1)
