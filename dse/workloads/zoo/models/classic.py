"""The classic ImageNet CNNs, each as its reference implementation defines it.

* ``alexnet``: Caffe's ``bvlc_alexnet`` (``models/bvlc_alexnet/deploy.prototxt`` in BVLC/caffe),
  the two-tower AlexNet of Krizhevsky et al. (NIPS 2012) with grouped conv2/conv4/conv5, LRN after
  conv1 and conv2, 227x227 input. (torchvision's ``alexnet`` is a different, single-tower
  variant with 61.1M parameters.)
* ``googlenet``: Caffe's ``bvlc_googlenet`` (``models/bvlc_googlenet/deploy.prototxt``), the
  GoogLeNet of Szegedy et al. (CVPR 2015, table 1) as deployed, without its two auxiliary
  classifiers: convolutions with bias and ReLU, no BatchNorm, LRN after pool1 and conv2/3x3, real
  5x5 convolutions, Caffe pooling (rounds up). (torchvision's ``googlenet`` differs: BatchNorm,
  3x3 instead of 5x5, 6.6M parameters.)
* ``squeezenet1_0``, ``squeezenet1_1``: torchvision ``squeezenet.py`` (Iandola et al. 2016; v1.1
  from the official SqueezeNet repository).
* ``vgg16``: torchvision ``vgg.py`` configuration "D" without BatchNorm (Simonyan and Zisserman,
  ICLR 2015).

Inference graphs: Dropout is an identity and is left out, and so is Caffe's final Softmax (every
zoo model ends at the logits).
"""

from __future__ import annotations

import onnx

from dse.errors import Problem, WorkloadError
from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.registry import register

_ALEXNET_REF = ("Krizhevsky et al. NIPS 2012; Caffe BVLC/caffe models/bvlc_alexnet/deploy.prototxt "
                "(grouped conv2/4/5, LRN, 227x227)")
_GOOGLENET_REF = ("Szegedy et al. CVPR 2015; Caffe BVLC/caffe models/bvlc_googlenet/deploy.prototxt "
                  "(no auxiliary classifiers)")
_SQUEEZENET_REF = "Iandola et al. arXiv:1602.07360; torchvision.models.squeezenet"
_VGG_REF = "Simonyan and Zisserman ICLR 2015; torchvision.models.vgg (configuration D, no BN)"


def _check_spatial(net: Net, name: str, resolution: int) -> None:
    """Refuse a resolution so small that some feature map shrinks to nothing."""
    if any(d < 1 for shape in net.shapes.values() for d in shape):
        raise WorkloadError([Problem(f"zoo:{name}", "resolution",
                                     f"{resolution} is too small for {name}: the feature maps "
                                     f"shrink to nothing")])


# -- AlexNet (Caffe bvlc_alexnet) ------------------------------------------------------------


@register("alexnet", summary="AlexNet (Caffe bvlc_alexnet, grouped convolutions, LRN)",
          task="classification", reference=_ALEXNET_REF, resolution=227, classes=1000)
def alexnet(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    """Caffe bvlc_alexnet. fc6 flattens conv5's pooled map, as Caffe does: its input is
    256x6x6 at 227x227 and grows with the resolution."""
    net = Net("alexnet", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = net.relu(net.conv(net.input, 96, 11, 4, pad=0, name="conv1"))
    x = net.maxpool(net.lrn(x, 5, alpha=1e-4, beta=0.75), 3, 2, ceil=True)
    x = net.relu(net.conv(x, 256, 5, pad=2, groups=2, name="conv2"))
    x = net.maxpool(net.lrn(x, 5, alpha=1e-4, beta=0.75), 3, 2, ceil=True)
    x = net.relu(net.conv(x, 384, 3, pad=1, name="conv3"))
    x = net.relu(net.conv(x, 384, 3, pad=1, groups=2, name="conv4"))
    x = net.relu(net.conv(x, 256, 3, pad=1, groups=2, name="conv5"))
    x = net.maxpool(x, 3, 2, ceil=True)
    _check_spatial(net, "alexnet", resolution)
    x = net.flatten(x)
    x = net.relu(net.fc(x, 4096, name="fc6"))
    x = net.relu(net.fc(x, 4096, name="fc7"))
    return net.model(net.fc(x, classes, name="fc8"))


# -- GoogLeNet (Caffe bvlc_googlenet) --------------------------------------------------------

# name: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), as in the prototxt (paper table 1).
_GOOGLENET_BLOCKS: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _conv_relu(net: Net, x: str, cout: int, k: int, s: int = 1, *, pad: int = 0,
               name: str) -> str:
    return net.relu(net.conv(x, cout, k, s, pad=pad, name=name))


def _inception_v1(net: Net, x: str, block: str) -> str:
    c1, c3r, c3, c5r, c5, cp = _GOOGLENET_BLOCKS[block]
    p = f"inception_{block}"
    b1 = _conv_relu(net, x, c1, 1, name=f"{p}.1x1")
    b2 = _conv_relu(net, x, c3r, 1, name=f"{p}.3x3_reduce")
    b2 = _conv_relu(net, b2, c3, 3, pad=1, name=f"{p}.3x3")
    b3 = _conv_relu(net, x, c5r, 1, name=f"{p}.5x5_reduce")
    b3 = _conv_relu(net, b3, c5, 5, pad=2, name=f"{p}.5x5")
    b4 = net.maxpool(x, 3, 1, pad=1, ceil=True)
    b4 = _conv_relu(net, b4, cp, 1, name=f"{p}.pool_proj")
    return net.concat([b1, b2, b3, b4])


@register("googlenet", summary="GoogLeNet / Inception v1 (Caffe bvlc_googlenet, no aux heads)",
          task="classification", reference=_GOOGLENET_REF, resolution=224, classes=1000, lrn=True)
def googlenet(*, weights: bool, seed: int, resolution: int, classes: int, lrn: bool
              ) -> onnx.ModelProto:
    """Caffe bvlc_googlenet without the loss1/loss2 auxiliary classifiers. The final average
    pool spans the whole last feature map (Caffe's 7x7 pool at 224x224), so the classifier stays
    1024 -> classes at any resolution. ``lrn=False`` drops the two LocalResponseNorm layers, as
    TF-slim's Inception v1 does (it normalises with BatchNorm, which folds into the convolutions
    at inference): the network Edge TPU, TFLite and Vitis AI tables call ``inception_v1``."""
    net = Net("googlenet", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = _conv_relu(net, net.input, 64, 7, 2, pad=3, name="conv1.7x7_s2")
    x = net.maxpool(x, 3, 2, ceil=True)
    x = net.lrn(x, 5, alpha=1e-4, beta=0.75) if lrn else x
    x = _conv_relu(net, x, 64, 1, name="conv2.3x3_reduce")
    x = _conv_relu(net, x, 192, 3, pad=1, name="conv2.3x3")
    x = net.lrn(x, 5, alpha=1e-4, beta=0.75) if lrn else x
    x = net.maxpool(x, 3, 2, ceil=True)
    for block in ("3a", "3b"):
        x = _inception_v1(net, x, block)
    x = net.maxpool(x, 3, 2, ceil=True)
    for block in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception_v1(net, x, block)
    x = net.maxpool(x, 3, 2, ceil=True)
    for block in ("5a", "5b"):
        x = _inception_v1(net, x, block)
    _check_spatial(net, "googlenet", resolution)
    _, _, h, w = net.shape(x)
    x = net.flatten(net.avgpool(x, (h, w), 1))
    return net.model(net.fc(x, classes, name="loss3.classifier"))


# -- SqueezeNet (torchvision) ----------------------------------------------------------------


def _fire(net: Net, x: str, squeeze: int, expand1x1: int, expand3x3: int, name: str) -> str:
    s = net.relu(net.conv(x, squeeze, 1, pad=0, name=f"{name}.squeeze"))
    e1 = net.relu(net.conv(s, expand1x1, 1, pad=0, name=f"{name}.expand1x1"))
    e3 = net.relu(net.conv(s, expand3x3, 3, pad=1, name=f"{name}.expand3x3"))
    return net.concat([e1, e3])


# Per version: stem (channels, kernel), then the features after the stem's ReLU and max pool:
# "M" is a 3x3/2 max pool (ceil_mode), a tuple is a Fire(squeeze, expand1x1, expand3x3). The
# index is the module's index in torchvision's ``features`` Sequential.
_SQUEEZENET: dict[str, tuple[tuple[int, int], list[str | tuple[int, int, int]]]] = {
    "1_0": ((96, 7), [(16, 64, 64), (16, 64, 64), (32, 128, 128), "M",
                      (32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256), "M",
                      (64, 256, 256)]),
    "1_1": ((64, 3), [(16, 64, 64), (16, 64, 64), "M",
                      (32, 128, 128), (32, 128, 128), "M",
                      (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)]),
}


def _squeezenet(version: str, *, weights: bool, seed: int, resolution: int,
                classes: int) -> onnx.ModelProto:
    name = f"squeezenet{version}"
    (stem, k), layers = _SQUEEZENET[version]
    net = Net(name, (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = net.relu(net.conv(net.input, stem, k, 2, pad=0, name="features.0"))
    x = net.maxpool(x, 3, 2, ceil=True)
    for i, layer in enumerate(layers, start=3):
        if isinstance(layer, str):
            x = net.maxpool(x, 3, 2, ceil=True)
        else:
            squeeze, expand1x1, expand3x3 = layer
            x = _fire(net, x, squeeze, expand1x1, expand3x3, name=f"features.{i}")
    _check_spatial(net, name, resolution)
    x = net.relu(net.conv(x, classes, 1, pad=0, name="classifier.1"))
    return net.model(net.flatten(net.gap(x)))


@register("squeezenet1_0", summary="SqueezeNet 1.0 (torchvision)", task="classification",
          reference=_SQUEEZENET_REF, resolution=224, classes=1000)
def squeezenet1_0(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    return _squeezenet("1_0", weights=weights, seed=seed, resolution=resolution, classes=classes)


@register("squeezenet1_1", summary="SqueezeNet 1.1 (torchvision)", task="classification",
          reference=_SQUEEZENET_REF, resolution=224, classes=1000)
def squeezenet1_1(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    return _squeezenet("1_1", weights=weights, seed=seed, resolution=resolution, classes=classes)


# -- VGG-16 (torchvision) --------------------------------------------------------------------

_VGG16: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                           512, 512, 512, "M"]


@register("vgg16", summary="VGG-16 (torchvision, no BatchNorm)", task="classification",
          reference=_VGG_REF, resolution=224, classes=1000)
def vgg16(*, weights: bool, seed: int, resolution: int, classes: int) -> onnx.ModelProto:
    """torchvision vgg16. Its ``AdaptiveAvgPool2d((7, 7))`` is an identity at 224x224 and is left
    out; when the last feature map is a multiple of 7 it is the equivalent fixed AveragePool;
    other resolutions have no fixed-pool equivalent and are refused."""
    net = Net("vgg16", (1, 3, resolution, resolution), seed=seed, weights=weights)
    x = net.input
    for i, v in enumerate(_VGG16):
        if isinstance(v, str):
            x = net.maxpool(x, 2, 2)
        else:
            x = net.relu(net.conv(x, v, 3, pad=1, name=f"features.{2 * i - _pools(i)}"))
    _check_spatial(net, "vgg16", resolution)
    _, _, h, w = net.shape(x)
    if (h, w) != (7, 7):
        if h % 7 or w % 7:
            raise WorkloadError([Problem(
                "zoo:vgg16", "resolution",
                f"{resolution} gives a {h}x{w} last feature map; torchvision's "
                "AdaptiveAvgPool2d((7, 7)) is a fixed pooling only for multiples of 7 "
                "(resolutions 224-255, 448-479, ...)")])
        x = net.avgpool(x, (h // 7, w // 7), (h // 7, w // 7))
    x = net.flatten(x)
    x = net.relu(net.fc(x, 4096, name="classifier.0"))
    x = net.relu(net.fc(x, 4096, name="classifier.3"))
    return net.model(net.fc(x, classes, name="classifier.6"))


def _pools(i: int) -> int:
    """Max pools before position ``i`` of the VGG configuration (each is one module, not two)."""
    return sum(1 for v in _VGG16[:i] if isinstance(v, str))
