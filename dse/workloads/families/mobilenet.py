"""MobileNet v1 and v2 over width multiplier x input resolution.

The networks are the zoo's (:mod:`dse.workloads.zoo.models.mobilenet`, whose blocks this module
reuses): v1 as Keras applications builds it (Howard et al., arXiv:1704.04861), v2 as torchvision
builds it (Sandler et al., CVPR 2018; channels rounded to multiples of 8, the last 1x1
convolution keeping 1280 channels below width 1). Member ``(w, r)`` has the same layers as the
zoo's ``mobilenet_v1_<w>_<r>`` / ``mobilenet_v2_<w>_<r>``.

Default grids, the released checkpoints of TF-slim's ``mobilenet_v1.md`` and ``mobilenet_v2``
README: v1 widths 0.25/0.5/0.75/1.0 x resolutions 128/160/192/224 (the 16 models of the paper's
tables 6 and 7); v2 widths 0.35/0.5/0.75/1.0/1.3/1.4 x resolutions 96/128/160/192/224 (the 30
combinations; TF-slim released 1.3 and 1.4 at 224 only).
"""

from __future__ import annotations

from typing import ClassVar

from dse.workloads.families.base import Option, ProductFamily
from dse.workloads.zoo.builder import Net
from dse.workloads.zoo.models.mobilenet import mobilenet_v1_features, mobilenet_v2_features

__all__ = ["MobileNetV1", "MobileNetV2"]


class _MobileNet(ProductFamily):
    AXES = ("width", "resolution")

    def member_name(self, i: int) -> str:
        m = self.member(int(self.indices(i)[0]))
        return f"{self.name}_{m['width']:g}_{m['resolution']}"

    def input_shape(self, i: int) -> tuple[int, ...]:
        r = self.member(i)["resolution"]
        return (1, 3, r, r)


class MobileNetV1(_MobileNet):
    """MobileNet v1 (Keras applications) over width x resolution."""

    name = "mobilenet_v1"
    summary = "MobileNet v1 (Keras), width multiplier x resolution"
    reference = "Howard et al. arXiv:1704.04861; Keras keras/applications/mobilenet.py"
    OPTIONS: ClassVar = {
        "width": Option((0.25, 0.5, 0.75, 1.0), 0.1, 4.0, doc="width multipliers"),
        "resolution": Option((128, 160, 192, 224), 32, 1024, doc="input sides in pixels"),
        "classes": Option(1000, 1, 100_000, doc="outputs of the classifier"),
    }

    def build(self, net: Net, i: int) -> str:
        x = mobilenet_v1_features(net, net.input, self.member(i)["width"])
        x = net.conv(net.gap(x), self.options["classes"], 1, bias=True)
        return net.flatten(x)


class MobileNetV2(_MobileNet):
    """MobileNet v2 (torchvision) over width x resolution."""

    name = "mobilenet_v2"
    summary = "MobileNet v2 (torchvision), width multiplier x resolution"
    reference = "Sandler et al. CVPR 2018; torchvision.models.mobilenetv2"
    OPTIONS: ClassVar = {
        "width": Option((0.35, 0.5, 0.75, 1.0, 1.3, 1.4), 0.1, 4.0, doc="width multipliers"),
        "resolution": Option((96, 128, 160, 192, 224), 32, 1024, doc="input sides in pixels"),
        "classes": Option(1000, 1, 100_000, doc="outputs of the classifier"),
    }

    def build(self, net: Net, i: int) -> str:
        x = mobilenet_v2_features(net, net.input, self.member(i)["width"])
        return net.fc(net.flatten(net.gap(x)), self.options["classes"])
