"""ResNet over depth x width (He et al., "Deep Residual Learning for Image Recognition", CVPR
2016, table 1), as torchvision's ``resnet.py`` builds it: convolutions without bias, each
followed by BatchNorm; basic blocks for depths 18 and 34, bottleneck blocks (expansion 4, the
stride on the 3x3 convolution: v1.5) for 50, 101 and 152; a 1x1 projection shortcut where the
shape changes.

Width multiplies every channel count (the stem's 64 and each stage's 64, 128, 256, 512 before
the bottleneck expansion), rounded to a multiple of 8 as MobileNet does (``make_divisible``);
width 1 is torchvision's ResNet, and members ``(18, 1.0)`` and ``(50, 1.0)`` have the zoo's
``resnet18`` and ``resnet50`` layers. Default grid: depths 18/34/50/101/152 x widths
0.25/0.5/0.75/1.0/1.5/2.0 at 224x224, 1000 classes.
"""

from __future__ import annotations

from typing import ClassVar

from dse.workloads.families.base import Option, ProductFamily
from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.models.mobilenet import make_divisible

__all__ = ["BLOCKS", "ResNet"]

#: Depth -> (bottleneck blocks?, blocks per stage), He et al. table 1.
BLOCKS: dict[int, tuple[bool, tuple[int, ...]]] = {
    18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)), 50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)), 152: (True, (3, 8, 36, 3)),
}


def _conv_bn(net: Net, x: str, cout: int, k: int, stride: int = 1, *, relu: bool = True) -> str:
    y = net.bn(net.conv(x, cout, k, stride, pad=k // 2, bias=False))
    return net.relu(y) if relu else y


def _shortcut(net: Net, x: str, cout: int, stride: int) -> str:
    if stride != 1 or net.shape(x)[1] != cout:
        return _conv_bn(net, x, cout, 1, stride, relu=False)
    return x


def _basic(net: Net, x: str, width: int, stride: int) -> str:
    y = _conv_bn(net, x, width, 3, stride)
    y = _conv_bn(net, y, width, 3, relu=False)
    return net.relu(net.add(y, _shortcut(net, x, width, stride)))


def _bottleneck(net: Net, x: str, width: int, stride: int) -> str:
    y = _conv_bn(net, x, width, 1)
    y = _conv_bn(net, y, width, 3, stride)
    y = _conv_bn(net, y, 4 * width, 1, relu=False)
    return net.relu(net.add(y, _shortcut(net, x, 4 * width, stride)))


class ResNet(ProductFamily):
    """ResNet (torchvision, v1.5) over depth x width."""

    name = "resnet"
    summary = "ResNet 18/34/50/101/152 (torchvision v1.5), depth x width multiplier"
    reference = "He et al. CVPR 2016 table 1; torchvision.models.resnet"
    AXES = ("depth", "width")
    OPTIONS: ClassVar = {
        "depth": Option((18, 34, 50, 101, 152), 18, 152, choices=tuple(BLOCKS),
                        doc="depths (table 1 of the paper)"),
        "width": Option((0.25, 0.5, 0.75, 1.0, 1.5, 2.0), 0.125, 4.0,
                        doc="width multipliers"),
        "resolution": Option(224, 32, 1024, doc="input side in pixels"),
        "classes": Option(1000, 1, 100_000, doc="outputs of the classifier"),
    }

    def member_name(self, i: int) -> str:
        m = self.member(int(self.indices(i)[0]))
        return f"resnet{m['depth']}_w{m['width']:g}"

    def input_shape(self, i: int) -> tuple[int, ...]:
        r = self.options["resolution"]
        return (1, 3, r, r)

    def build(self, net: Net, i: int) -> str:
        m = self.member(i)
        bottleneck, blocks = BLOCKS[m["depth"]]
        x = _conv_bn(net, net.input, make_divisible(64 * m["width"]), 7, 2)
        x = net.maxpool(x, 3, 2, pad=1)
        for stage, count in enumerate(blocks):
            width = make_divisible(64 * 2**stage * m["width"])
            for k in range(count):
                stride = 2 if k == 0 and stage > 0 else 1
                x = (_bottleneck if bottleneck else _basic)(net, x, width, stride)
        return net.fc(net.flatten(net.gap(x)), self.options["classes"])
