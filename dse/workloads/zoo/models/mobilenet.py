"""MobileNet v1 and v2, each as its reference implementation defines it.

* ``mobilenet_v1``: Keras ``keras/applications/mobilenet.py`` (Howard et al., "MobileNets:
  Efficient Convolutional Neural Networks for Mobile Vision Applications", arXiv:1704.04861,
  table 1). Convolutions without bias, each followed by BatchNorm and ReLU6; channels are
  ``int(c * width)``; TensorFlow padding: the stem is ``same`` and every stride-2 depthwise
  convolution pads one row/column at the bottom/right only (Keras' ``ZeroPadding2D(((0, 1),
  (0, 1)))`` then ``valid``). The classifier is global average pooling and a 1x1 convolution with
  bias. Parametric names ``mobilenet_v1_<width>_<resolution>`` (``mobilenet_v1_0.25_128``) name
  the sixteen models of the paper (and any other combination).
* ``mobilenet_v2``: torchvision ``mobilenetv2.py`` (Sandler et al., "MobileNetV2: Inverted
  Residuals and Linear Bottlenecks", CVPR 2018, table 2): channels rounded to multiples of 8
  (``_make_divisible``), the last 1x1 convolution keeps 1280 channels for widths below 1,
  symmetric ``k // 2`` padding, a linear classifier. ``mobilenet_v2_<width>_<resolution>``
  names work too.

Inference graphs: Dropout is an identity and is left out; the models end at the logits (no
Softmax).
"""

from __future__ import annotations

import onnx

from dse.errors import Problem, WorkloadError
from dse.workloads.zoo.builder import Net, Pad
from dse.workloads.zoo.registry import register

_V1_REFERENCE = ("Howard et al. arXiv:1704.04861; Keras keras/applications/mobilenet.py "
                 "(TF padding, conv + BN + ReLU6, 1x1-conv classifier)")
_V2_REFERENCE = ("Sandler et al. CVPR 2018; torchvision.models.mobilenetv2 "
                 "(channels rounded to multiples of 8)")

#: Keras MobileNet v1 body: (pointwise filters, depthwise stride) of the 13 separable blocks.
V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)

#: MobileNet v2 inverted residual settings (expansion t, channels c, repeats n, stride s).
V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


def _check(net: Net, x: str, name: str, resolution: int) -> None:
    _, _, h, w = net.shape(x)
    if h < 1 or w < 1:
        raise WorkloadError([Problem(f"zoo:{name}", "resolution",
                                     f"{resolution} is too small for {name}: the feature maps "
                                     f"shrink to nothing")])


# -- MobileNet v1 (Keras) --------------------------------------------------------------------


def v1_conv_bn(net: Net, x: str, cout: int, k: int, stride: int = 1, *,
               eps: float = 1e-3) -> str:
    """Keras ``_conv_block``: conv (``same``, no bias) + BN + ReLU6."""
    return net.relu6(net.bn(net.conv(x, cout, k, stride, pad="same", bias=False), eps=eps))


def v1_separable(net: Net, x: str, cout: int, stride: int, *, eps: float = 1e-3,
                 keras_pad: bool = True) -> str:
    """Keras ``_depthwise_conv_block``: 3x3 depthwise + BN + ReLU6, 1x1 conv + BN + ReLU6.

    With ``keras_pad`` a stride-2 depthwise convolution pads only the bottom and right by one, as
    Keras does with ``ZeroPadding2D(((0, 1), (0, 1)))`` followed by a ``valid`` convolution
    (the same as ``same`` on even sizes); without it, it pads ``same`` as TF-slim does.
    """
    pad: Pad = "same" if stride == 1 or not keras_pad else (0, 0, 1, 1)
    y = net.relu6(net.bn(net.dwconv(x, 3, stride, pad=pad), eps=eps))
    return net.relu6(net.bn(net.conv(y, cout, 1, bias=False), eps=eps))


def mobilenet_v1_features(net: Net, x: str, width: float) -> str:
    """The Keras MobileNet v1 body (stem and 13 separable blocks), without the classifier."""
    x = v1_conv_bn(net, x, int(32 * width), 3, 2)
    for filters, stride in V1_BLOCKS:
        x = v1_separable(net, x, int(filters * width), stride)
    return x


@register("mobilenet_v1", summary="MobileNet v1 (Keras applications)", task="classification",
          reference=_V1_REFERENCE,
          pattern=r"mobilenet_v1_(?P<width>\d+\.\d+)_(?P<resolution>\d+)",
          width=1.0, resolution=224, classes=1000)
def mobilenet_v1(*, weights: bool, seed: int, width: float, resolution: int,
                 classes: int) -> onnx.ModelProto:
    net = Net(f"mobilenet_v1_{width:g}_{resolution}", (1, 3, resolution, resolution), seed=seed,
              weights=weights)
    x = mobilenet_v1_features(net, net.input, width)
    _check(net, x, "mobilenet_v1", resolution)
    x = net.conv(net.gap(x), classes, 1, bias=True)  # Keras "conv_preds"
    return net.model(net.flatten(x))


# -- MobileNet v2 (torchvision) --------------------------------------------------------------


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision / TF-slim ``_make_divisible``: round to a multiple of ``divisor``, never
    more than 10% down."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def v2_conv_bn(net: Net, x: str, cout: int, k: int, stride: int = 1, *, groups: int = 1,
               relu6: bool = True, pad: Pad | None = None, eps: float = 1e-5) -> str:
    """Conv (no bias) + BN (+ ReLU6); torchvision pads ``k // 2`` on every side (``pad=None``),
    TF-slim ``"same"``."""
    y = net.conv(x, cout, k, stride, pad=k // 2 if pad is None else pad, groups=groups,
                 bias=False)
    y = net.bn(y, eps=eps)
    return net.relu6(y) if relu6 else y


def inverted_residual(net: Net, x: str, cout: int, stride: int, expand: int, *,
                      pad: Pad | None = None, eps: float = 1e-5) -> tuple[str, str | None]:
    """MobileNet v2 block; returns its output and its expansion output (``None`` if t=1)."""
    cin = net.shape(x)[1]
    hidden = round(cin * expand)
    y, expansion = x, None
    if expand != 1:
        y = expansion = v2_conv_bn(net, x, hidden, 1, pad=pad, eps=eps)
    y = v2_conv_bn(net, y, hidden, 3, stride, groups=hidden, pad=pad, eps=eps)
    y = v2_conv_bn(net, y, cout, 1, relu6=False, pad=pad, eps=eps)
    if stride == 1 and cin == cout:
        y = net.add(x, y)
    return y, expansion


@register("mobilenet_v2", summary="MobileNet v2 (torchvision)", task="classification",
          reference=_V2_REFERENCE,
          pattern=r"mobilenet_v2_(?P<width>\d+\.\d+)_(?P<resolution>\d+)",
          width=1.0, resolution=224, classes=1000)
def mobilenet_v2(*, weights: bool, seed: int, width: float, resolution: int,
                 classes: int) -> onnx.ModelProto:
    net = Net(f"mobilenet_v2_{width:g}_{resolution}", (1, 3, resolution, resolution), seed=seed,
              weights=weights)
    x = mobilenet_v2_features(net, net.input, width)
    return net.model(net.fc(net.flatten(net.gap(x)), classes))


def mobilenet_v2_features(net: Net, x: str, width: float) -> str:
    """MobileNet v2's layers up to the last 1x1 convolution (before the classifier)."""
    x = v2_conv_bn(net, x, make_divisible(32 * width), 3, 2)
    for t, c, n, s in V2_SETTINGS:
        cout = make_divisible(c * width)
        for i in range(n):
            x, _ = inverted_residual(net, x, cout, s if i == 0 else 1, t)
    return v2_conv_bn(net, x, make_divisible(1280 * max(1.0, width)), 1)
