"""EfficientNet-B0 (Tan and Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019, table 1), as in torchvision's ``efficientnet.py``.

MBConv blocks: 1x1 expansion (skipped when the ratio is 1), depthwise kxk, squeeze-and-excitation
(global average pooling, 1x1 reduce conv with bias to ``max(1, block_input_channels // 4)``
channels, SiLU, 1x1 expand conv with bias, Sigmoid, channel-wise scaling), 1x1 projection
without activation; every other convolution has no bias and is followed by BatchNorm; SiLU
(swish) activations; symmetric ``(k - 1) // 2`` padding; channels rounded to multiples of 8 and
depths rounded up under the width/depth multipliers. Inference graph: stochastic depth and
Dropout are identities and are left out; the model ends at the logits.
"""

from __future__ import annotations

import math

import onnx

from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.models.mobilenet import make_divisible
from dse.workloads.zoo.registry import register

_REFERENCE = ("Tan and Le ICML 2019; torchvision.models.efficientnet "
              "(MBConv + squeeze-excitation, SiLU)")

#: EfficientNet-B0 stages: (expand ratio, kernel, stride, in channels, out channels, layers).
B0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


def _conv_bn(net: Net, x: str, cout: int, k: int, stride: int = 1, *, groups: int = 1,
             act: bool = True) -> str:
    y = net.bn(net.conv(x, cout, k, stride, pad=(k - 1) // 2, groups=groups, bias=False))
    return net.swish(y) if act else y


def _squeeze_excitation(net: Net, x: str, squeeze: int) -> str:
    c = net.shape(x)[1]
    s = net.swish(net.conv(net.gap(x), squeeze, 1, pad=0, bias=True))
    s = net.act("Sigmoid", net.conv(s, c, 1, pad=0, bias=True))
    return net.mul(x, s)


def _mbconv(net: Net, x: str, cout: int, k: int, stride: int, expand: int) -> str:
    cin = net.shape(x)[1]
    hidden = make_divisible(cin * expand)
    y = x
    if hidden != cin:
        y = _conv_bn(net, y, hidden, 1)
    y = _conv_bn(net, y, hidden, k, stride, groups=hidden)
    y = _squeeze_excitation(net, y, max(1, cin // 4))
    y = _conv_bn(net, y, cout, 1, act=False)
    if stride == 1 and cin == cout:
        y = net.add(y, x)
    return y


def _efficientnet(name: str, width_mult: float, depth_mult: float, *, weights: bool, seed: int,
                  resolution: int, classes: int) -> onnx.ModelProto:
    net = Net(name, (1, 3, resolution, resolution), seed=seed, weights=weights)
    stages = [(t, k, s, make_divisible(cin * width_mult), make_divisible(cout * width_mult),
               math.ceil(n * depth_mult)) for t, k, s, cin, cout, n in B0_STAGES]
    x = _conv_bn(net, net.input, stages[0][3], 3, 2)
    for t, k, s, _, cout, n in stages:
        for i in range(n):
            x = _mbconv(net, x, cout, k, s if i == 0 else 1, t)
    x = _conv_bn(net, x, 4 * stages[-1][4], 1)
    return net.model(net.fc(net.flatten(net.gap(x)), classes))


@register("efficientnet_b0", summary="EfficientNet-B0 (torchvision)", task="classification",
          reference=_REFERENCE, resolution=224, classes=1000)
def efficientnet_b0(*, weights: bool, seed: int, resolution: int,
                    classes: int) -> onnx.ModelProto:
    return _efficientnet("efficientnet_b0", 1.0, 1.0, weights=weights, seed=seed,
                         resolution=resolution, classes=classes)
