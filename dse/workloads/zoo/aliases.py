"""Join the model names of measurement tables to the zoo.

The tables in ``../shared/data/`` name their models in their own ways
(``inception_v1_224_quant_edgetpu``, ``cf_resnet50_imagenet_224_224_7.7G``,
``Mobilenet_V1_0.25_128_quant``, ``mobilenet``). :func:`match` maps such a name to a zoo model and
options, and says whether the zoo model is the *same* architecture (``exact``) or a close relative
(a Caffe ResNet-50 v1 against the zoo's v1.5, TF-slim's Inception v1 against Caffe's GoogLeNet),
with a note. Pruned variants, and models the zoo does not have, give ``None``.

The full mapping is documented in ``workloads/README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ZooMatch", "match"]


@dataclass(frozen=True)
class ZooMatch:
    """A measured model name resolved to the zoo."""

    zoo: str
    options: dict[str, Any] = field(default_factory=dict)
    exact: bool = True
    note: str = ""


Options = Callable[[re.Match[str]], dict[str, Any]]


def _wr(m: re.Match[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.groupdict().get("w"):
        out["width"] = float(m["w"])
    if m.groupdict().get("r"):
        out["resolution"] = int(m["r"])
    return out


def _none(m: re.Match[str]) -> dict[str, Any]:
    return {}


_V15 = "zoo ResNet-50 is v1.5 (stride on the 3x3 conv); this is v1 (stride on the 1x1): ~6% fewer MACs"
_SLIM_V1 = ("TF-slim Inception v1 (BN, 3x3 in the '5x5' branch) vs the zoo's Caffe GoogLeNet "
            "without LRN (lrn=False)")
_SSD_V2_QUANT = ("quantized SSD MobileNet v2: ssd_mobilenet_v2_quantized_300x300_coco.config "
                 "(1x1 box predictor, plain 3x3 extra layers)")
_POSTPROCESS = ("with TFLite_Detection_PostProcess (the '_postprocess' files: decode and NMS on "
                "the CPU)")
_PRUNED = r"_0\.\d+_[\d.]+[gm]$"

# (pattern on the normalized name, zoo model, options, exact, note); first match wins.
_RULES: list[tuple[str, str, Options, bool, str]] = [
    # MLPerf Tiny benchmark codes and descriptions
    (r"^(ic|image_classification_\(resnet_8.*)$", "resnet8", _none, True, ""),
    (r"^(kws|keyword_spotting_\(ds_cnn.*)$", "ds_cnn", _none, True, ""),
    (r"^(vww|visual_wake_words.*)$", "mobilenet_v1_vww", _none, True, ""),
    (r"^(ad|anomaly_detection.*)$", "fc_autoencoder", _none, True, ""),
    # MobileNet v1 at a width and resolution (TFLite, Coral, Vitis AI)
    (r"^(tf2?_)?mobilenet_?v1_(?P<w>[\d.]+)_(imagenet_)?(?P<r>\d+)(_\d+)?(_[\d.]+[gm])?$",
     "mobilenet_v1", _wr, True, ""),
    (r"^mobilenet_(?P<w>[\d.]+)_(?P<r>\d+)$", "mobilenet_v1", _wr, True, ""),
    (r"^(tf2?_)?mobilenetv1_imagenet_(?P<r>224)_224_[\d.]+g$", "mobilenet_v1", _wr, True, ""),
    (r"^(mobilenet|mobilenet_v1|mobilenet_v1_quantized.*|mobilenet_v1_\(.*)$", "mobilenet_v1",
     _none, True, "width and resolution not stated: 1.0 at 224 assumed"),
    # MobileNet v2
    (r"^(tf_|cf_)?mobilenet_?v2_(?P<w>[\d.]+)_(imagenet_)?(?P<r>\d+)(_\d+)?(_[\d.]+[gm])?$",
     "mobilenet_v2", _wr, True, ""),
    (r"^cf_mobilenetv2_imagenet_224_224_0\.59g$", "mobilenet_v2", _none, True, ""),
    (r"^mobilenet_v2(_float.*|_quantized.*|_\(224x224\))?$", "mobilenet_v2", _none, True, ""),
    # SSD-MobileNet (300x300 COCO unless stated)
    (r"^(mobilenet_ssd_v1_coco|ssd_mobilenet_v1_coco|tf_ssdmobilenetv1_coco_300_300_2\.47g"
     r"|ssd_mobilenet_v1_\(coco,_300x300\))$", "ssd_mobilenet_v1", _none, True, ""),
    (r"^(mobilenet_ssd_v2_coco|ssd_mobilenet_v2_coco|tf_ssdmobilenetv2_coco_300_300_3\.75g"
     r"|ssd_mobilenet_v2_\(coco,_300x300\))$", "ssd_mobilenet_v2", _none, True, ""),
    (r"^mobilenet_ssd$", "ssd_mobilenet_v1", lambda m: {"classes": 21}, False,
     "ncnn's Caffe MobileNet-SSD (VOC, 21 classes); heads differ slightly from TF's"),
    # Inception family
    (r"^(inception_v1(_224)?|inception_v1_\(224x224\)|tf_inceptionv1_imagenet_224_224_3g)$",
     "googlenet", lambda m: {"lrn": False}, False, _SLIM_V1),
    (r"^(googlenet|cf_inceptionv1_imagenet_224_224_3\.16g)$", "googlenet", _none, True, ""),
    (r"^(inception_v3(_299)?|(cf|tf|tf2|pt)_inceptionv3_imagenet_299_299_1[\d.]+g"
     r"|torchvision_inception_v3)$", "inception_v3", _none, True, ""),
    (r"^(inception_v4(_299)?|inception_v4_\(299x299\)|(cf|tf)_inceptionv4_imagenet_299_299_24\.5"
     r"5?g)$", "inception_v4", _none, True, ""),
    # ResNets
    (r"^(resnet18|cf_resnet18_imagenet_224_224_3\.65g)$", "resnet18", _none, True, ""),
    (r"^(resnet50|pt_resnet50_imagenet_224_224_4\.1g|torchvision_resnet50)$", "resnet50", _none,
     True, ""),
    (r"^(cf_resnet50_imagenet_224_224_7\.7g|tf2?_resnet(v1_)?50_imagenet_224_224_[\d.]+g)$",
     "resnet50", _none, False, _V15),
    (r"^resnet_50_v1_\((?P<r>299)x299\)$", "resnet50", _wr, False, _V15),
    # SqueezeNet: which version depends on the table (see `table`)
    (r"^(squeezenet1_1|pt_squeezenet_imagenet_224_224_351\.7m)$", "squeezenet1_1", _none, True, ""),
    (r"^(squeezenet1_0|pt_squeezenet_imagenet_224_224_703\.5m)$", "squeezenet1_0", _none, True, ""),
    (r"^cf_squeeze(net)?_imagenet_(?P<r>227)_227_0\.76g$", "squeezenet1_0", _wr, True, ""),
    # The rest
    (r"^(alexnet)$", "alexnet", _none, True, ""),
    (r"^(vgg16|vgg16_\(224x224\)|tf_vgg16_imagenet_224_224_30\.96g)$", "vgg16", _none, True, ""),
    (r"^(efficientnet_b0|tf2_efficientnet_b0_imagenet_224_224_0\.36g)$", "efficientnet_b0", _none,
     True, ""),
    (r"^(mobilebert|bert.*)$", "bert_encoder", _none, False,
     "BERT-base encoder; MobileBERT is narrower and deeper"),
]

# Tables whose plain "squeezenet" is v1.1 (ncnn's benchmark models) rather than v1.0.
_SQUEEZENET_1_1_TABLES = frozenset({"ncnn"})
# Tables whose plain "resnet50" is Kaiming He's Caffe ResNet-50 v1 (ncnn's benchmark
# resnet50.param: res3a_branch2a is the 1x1 with stride 2) rather than torchvision's v1.5.
_RESNET50_V1_TABLES = frozenset({"ncnn"})


def _normalize(name: str) -> str:
    n = name.strip().lower()
    n = n.replace("(float)", "").replace("(quant)", "")
    n = re.sub(r"[\s\-]+", "_", n).strip("_")
    for suffix in ("_edgetpu", "_postprocess", "_quant", "_int8"):
        n = n.removesuffix(suffix)
    return n


def match(name: str, *, table: str | None = None) -> ZooMatch | None:
    """The zoo model a measured model name stands for.

    Args:
        name: The model name as the table writes it.
        table: The table it comes from (``ncnn``, ``coral``, ``tflite``, ``vitis``,
            ``mobile_soc``, ``mlperf_tiny``, ...), where it changes the meaning of a name.

    Returns:
        The match, or ``None`` for a model the zoo does not have (or a pruned variant).
    """
    n = _normalize(name)
    if re.search(_PRUNED, n):
        return None
    if n in ("squeezenet", "squeezenet_(224x224)"):
        if table in _SQUEEZENET_1_1_TABLES:
            return ZooMatch("squeezenet1_1", note="ncnn's benchmark squeezenet is v1.1")
        return ZooMatch("squeezenet1_0", note="'SqueezeNet' taken as v1.0 (the paper's model)")
    if n == "resnet50" and table in _RESNET50_V1_TABLES:
        return ZooMatch("resnet50", {"stride_1x1": True},
                        note="ncnn's benchmark resnet50 is the Caffe ResNet-50 v1")
    for pattern, zoo, options, exact, note in _RULES:
        if m := re.match(pattern, n):
            found = options(m)
            if zoo == "ssd_mobilenet_v2" and "quant" in name.lower():
                found, note = {"box_kernel": 1, "depthwise_extras": False}, _SSD_V2_QUANT
            if zoo.startswith("ssd_") and "postprocess" in name.lower():
                found = {**found, "postprocess": True}
                note = f"{note}; {_POSTPROCESS}" if note else _POSTPROCESS
            return ZooMatch(zoo, found, exact, note)
    return None
