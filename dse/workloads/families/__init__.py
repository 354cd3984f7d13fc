"""Generated model families: NAS-Bench-101's cells, MobileNet and ResNet grids.

A family is a numbered set of networks (:class:`Family`); its members come straight into a
:class:`~dse.workloads.layers.LayerBatch` without building ONNX, and any member exports to an
ONNX model that the frontend reads back to the same layers::

    fam = family("nasbench101")          # 423,624 members
    batch = fam.batch(range(1000))       # their layers as arrays
    model = fam.to_onnx(0)               # member 0 as ONNX

:func:`families` lists the registered families; :func:`register_family` adds one.
"""

from __future__ import annotations

from typing import Any

from dse.errors import Problem, WorkloadError, did_you_mean
from dse.workloads.families.base import Family, Option, ProductFamily
from dse.workloads.families.mobilenet import MobileNetV1, MobileNetV2
from dse.workloads.families.nasbench101 import NasBench101
from dse.workloads.families.resnet import ResNet

__all__ = ["Family", "MobileNetV1", "MobileNetV2", "NasBench101", "Option", "ProductFamily",
           "ResNet", "families", "family", "register_family"]

_FAMILIES: dict[str, type[Family]] = {
    cls.name: cls for cls in (NasBench101, MobileNetV1, MobileNetV2, ResNet)}


def register_family(cls: type[Family]) -> type[Family]:
    """Register a family class under its :attr:`~Family.name` (usable as a decorator)."""
    _FAMILIES[cls.name] = cls
    return cls


def families() -> list[str]:
    """The names of the registered families, sorted."""
    return sorted(_FAMILIES)


def family(name: str | Family, **options: Any) -> Family:
    """The family ``name`` with ``options`` (validated; see each family's ``OPTIONS``), or the
    family instance given.

    Raises:
        WorkloadError: An unknown family (naming the closest known ones), or options that are
            unknown, of the wrong type or out of range (every problem at once).
    """
    if isinstance(name, Family):
        if options:
            raise WorkloadError([Problem(f"family:{name.name}", "", "options apply to a family "
                                         "name, not to a family already made")])
        return name
    cls = _FAMILIES.get(str(name).strip().lower()) if isinstance(name, str) else None
    if cls is None:
        raise WorkloadError([Problem(f"family:{str(name)[:80]}", "", did_you_mean(
            name, _FAMILIES, what="model family name"))])
    return cls(**options)
