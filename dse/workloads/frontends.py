"""Workload frontends: where a workload graph can come from.

A frontend is a :class:`BaseFrontend`: ``name``, ``can_load(source)`` and ``load(source,
**options)`` that returns ``(name, graph)``. :func:`workload` asks the registered frontends in
order; the engine never imports a concrete one. Register another with :func:`register_frontend`.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from dse.errors import Problem, WorkloadError
from dse.plugins import Registry
from dse.workloads import onnx_frontend, zoo
from dse.workloads.graph import Workload

__all__ = ["FRONTENDS", "BaseFrontend", "WorkloadFrontend", "frontends", "register_frontend", "workload"]


class BaseFrontend(abc.ABC):
    """Turns a source (a name, a path) into a workload graph: the extension point of
    :data:`FRONTENDS`.

    The call protocol: :func:`workload` asks the registered frontends in registry order
    (:func:`register_frontend` puts a new one first by default, so it takes precedence over the
    built-in zoo and ONNX frontends); the first whose :meth:`can_load` is true gets
    :meth:`load`, and no other frontend is asked. Both are called on every
    :func:`workload` call, possibly from several threads at once; an instance is registered
    once and shared, so neither may keep per-call state on it.

    Attributes:
        name: The registry key (``onnx``, ``zoo``).
    """

    name: str

    @classmethod
    def __subclasshook__(cls, other: type) -> bool:
        # A frontend written before this base class, with the same methods and no base,
        # still passes isinstance(x, WorkloadFrontend), as it did against the protocol.
        if cls is BaseFrontend and all(callable(getattr(other, m, None))
                                       for m in ("can_load", "load")):
            return True
        return NotImplemented

    @abc.abstractmethod
    def can_load(self, source: str) -> bool:
        """Whether this frontend understands ``source``.

        Cheap and side-effect free (a suffix, a name lookup, a file's existence): it is asked
        for every source, including those meant for other frontends. It never raises; a source
        it cannot even inspect is simply not its own.
        """

    @abc.abstractmethod
    def load(self, source: str, **options: Any) -> tuple[str, nx.DiGraph]:
        """The workload's name and layer graph; called only after :meth:`can_load` said yes.

        Args:
            source: What :meth:`can_load` accepted.
            **options: The keywords of :func:`workload` other than ``precision``; an option
                this frontend does not take is bad input.

        Returns:
            ``(name, graph)``: a networkx graph with the node, edge and graph attributes of
            :mod:`dse.workloads.graph`, which :class:`~dse.workloads.graph.Workload` then
            treats as read-only. A graph shared between calls (a cache) must never be mutated
            after it is returned, and the frontend must not mutate ``options`` or any other
            shared state.

        Raises:
            WorkloadError: Bad input (a malformed file, unknown options), with every problem
                found; never a bare exception for something the user can fix.
        """


#: The earlier name of :class:`BaseFrontend` (a protocol then); kept for third-party code.
WorkloadFrontend = BaseFrontend


class OnnxFrontend(BaseFrontend):
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


class ZooFrontend(BaseFrontend):
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
FRONTENDS: Registry[BaseFrontend] = Registry("dse.frontends", what="frontend")
FRONTENDS.register(ZooFrontend())
FRONTENDS.register(OnnxFrontend())


def register_frontend(frontend: WorkloadFrontend, *, first: bool = True,
                      replace: bool = False) -> WorkloadFrontend:
    """Add a frontend; ``first`` puts it ahead of the others (``replace=True`` to redefine a
    name)."""
    return FRONTENDS.register(frontend, replace=replace, first=first)


def frontends() -> list[BaseFrontend]:
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
