"""Workload frontends: where a workload graph can come from.

A frontend is a small object with ``name``, ``can_load(source)`` and ``load(source, **options)``
that returns ``(name, graph)``. :func:`load_workload` asks the registered frontends in order; the
engine never imports a concrete one. Register another with :func:`register_frontend`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import networkx as nx

from dse.errors import Problem, WorkloadError
from dse.plugins import Registry
from dse.workloads import onnx_frontend, zoo
from dse.workloads.graph import Workload

__all__ = ["FRONTENDS", "WorkloadFrontend", "frontends", "register_frontend", "workload"]


@runtime_checkable
class WorkloadFrontend(Protocol):
    """Turns a source (a name, a path) into a workload graph."""

    name: str

    def can_load(self, source: str) -> bool:
        """Whether this frontend understands ``source``; called before :meth:`load`."""

    def load(self, source: str, **options: Any) -> tuple[str, nx.DiGraph]:
        """The workload's name and graph."""


class OnnxFrontend:
    """An ``.onnx`` file on disk."""

    name = "onnx"

    def can_load(self, source: str) -> bool:
        if source.lower().endswith(".onnx"):
            return True
        try:
            return Path(source).is_file()
        except (OSError, ValueError):  # a name too long for a path, a NUL byte
            return False

    def load(
        self,
        source: str,
        *,
        unknown_ops: onnx_frontend.UnknownOps = "error",
        input_shapes: Mapping[str, Sequence[int]] | None = None,
        **options: Any,
    ) -> tuple[str, nx.DiGraph]:
        if options:
            raise WorkloadError([Problem(source, key, "zoo options do not apply to an ONNX file")
                                 for key in options])
        graph = onnx_frontend.load_onnx(source, unknown_ops=unknown_ops, input_shapes=input_shapes)
        return Path(source).stem, graph


class ZooFrontend:
    """A model of the built-in zoo, by (possibly parametric) name."""

    name = "zoo"

    def can_load(self, source: str) -> bool:
        return zoo.resolve(source) is not None

    def load(self, source: str, **options: Any) -> tuple[str, nx.DiGraph]:
        model, parsed = zoo.resolve(source) or (zoo.get(source), {})
        merged = model.validate({**parsed, **options})
        return model.name, _zoo_graph(model.name, tuple(sorted(merged.items())))


@functools.lru_cache(maxsize=64)
def _zoo_graph(name: str, options: tuple[tuple[str, Any], ...]) -> nx.DiGraph:
    # Zoo graphs are deterministic, so one build per (name, options) serves every caller.
    # Workload treats its graph as read-only.
    proto = zoo.get(name).build(weights=False, **dict(options))
    label = name + "".join(f",{k}={v}" for k, v in options)
    return onnx_frontend.graph_from_model(proto, source=f"zoo:{label}")


#: The frontends, in the order :func:`workload` asks them: the built-ins, with others put ahead
#: by :func:`register_frontend` or added through the ``dse.frontends`` entry-point group.
FRONTENDS: Registry[WorkloadFrontend] = Registry("dse.frontends", what="frontend")
FRONTENDS.register(ZooFrontend())
FRONTENDS.register(OnnxFrontend())


def register_frontend(frontend: WorkloadFrontend, *, first: bool = True,
                      replace: bool = False) -> WorkloadFrontend:
    """Add a frontend; ``first`` puts it ahead of the others (``replace=True`` to redefine a
    name)."""
    return FRONTENDS.register(frontend, replace=replace, first=first)


def frontends() -> list[WorkloadFrontend]:
    """The registered frontends, in the order they are asked."""
    return FRONTENDS.values()


def workload(source: str | Path, *, precision: str = "fp32", **options: Any) -> Workload:
    """Load a workload graph from the zoo or an ONNX file.

    Args:
        source: A zoo name (``"resnet50"``, ``"mobilenet_v1_0.5_160"``) or a path to an
            ``.onnx`` file.
        precision: ``fp32``, ``fp16``, ``bf16``, ``int8`` or ``int4``: the bytes per element.
        **options: Zoo model options (``width=0.5``, ``layers=4``), or for ONNX files
            ``unknown_ops="other"`` and ``input_shapes={"input": [1, 3, 224, 224]}``.

    Raises:
        WorkloadError: Unknown zoo name (listing the known ones), bad options, bad precision.
        OnnxError: A malformed or hostile ONNX file, with every problem found.

    Example:
        >>> import dse
        >>> w = dse.workload("resnet18")
        >>> w.params
        11689512
    """
    text = str(source)
    for frontend in FRONTENDS.values():
        if frontend.can_load(text):
            name, graph = frontend.load(text, **options)
            return Workload(name, graph, precision, graph.graph.get("source", text))
    raise WorkloadError([Problem(text[:80], "", "expected a zoo model name or an .onnx file: "
                                 + zoo.unknown_name(text))])
