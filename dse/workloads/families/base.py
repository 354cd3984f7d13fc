"""The model-family protocol: many generated networks behind one small interface.

A :class:`Family` is a numbered set of networks (its *members*, ``0 .. size - 1``; member ``i``
is always the same network for the same options). It hands out any subset of members as a
:class:`~dse.workloads.layers.LayerBatch` (arrays, no ONNX, no graph), per-member architecture
features for analysis, and any single member as a real ONNX model that the ONNX frontend reads
back to the same layers.

Options are declared per family (:class:`Option`: a default, a type and bounds) and validated
once when the family is made; every problem is reported in one
:class:`~dse.errors.WorkloadError`.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import onnx

from dse.errors import Problem, WorkloadError, did_you_mean
from dse.workloads.graph import Workload
from dse.workloads.layers import LayerBatch
from dse.workloads.onnx_frontend import graph_from_model
from dse.workloads.ops import OP_CLASSES
from dse.workloads.zoo import MAX_MODEL_BYTES
from dse.workloads.zoo.builder import Net

__all__ = ["MAX_LIST", "Family", "Indices", "Option", "ProductFamily"]

#: Most entries of a list option (widths, resolutions, depths).
MAX_LIST = 64

Indices = int | Sequence[int] | np.ndarray | range


@dataclass(frozen=True)
class Option:
    """One option of a family.

    Attributes:
        default: The value when the option is not given; its type (int, float, or a tuple of
            them) is the option's type.
        low, high: Inclusive bounds of the value (of every entry, for a tuple).
        choices: For a tuple option, the only values its entries may take (``None``: any in
            bounds).
        doc: One line: what the option sets.
    """

    default: Any
    low: float
    high: float
    choices: tuple[Any, ...] | None = None
    doc: str = ""

    def check(self, value: Any) -> tuple[Any, str]:
        """The value in canonical form, and "" or what was expected instead."""
        if isinstance(self.default, tuple):
            kind = type(self.default[0])
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = (value,)
            if not isinstance(value, Sequence) or isinstance(value, str) or not value or \
                    len(value) > MAX_LIST:
                return value, f"a list of 1 to {MAX_LIST} {self._expected(kind, plural=True)}"
            out = []
            for v in value:
                v, ok = self._scalar(v, kind)
                if not ok:
                    return value, f"a list of {self._expected(kind, plural=True)}"
                out.append(v)
            if len(set(out)) != len(out):
                return value, "a list without repeated values"
            return tuple(out), ""
        value, ok = self._scalar(value, type(self.default))
        return value, "" if ok else self._expected(type(self.default), plural=False)

    def _scalar(self, value: Any, kind: type) -> tuple[Any, bool]:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or \
            (kind is float and isinstance(value, float))
        if ok and math.isfinite(value) and self.low <= value <= self.high:
            value = kind(value)
            return value, self.choices is None or value in self.choices
        return value, False

    def _expected(self, kind: type, *, plural: bool) -> str:
        if self.choices is not None:
            return ("values among " if plural else "one of ") + \
                ", ".join(f"{c:g}" for c in self.choices)
        name = ("ints" if plural else "an int") if kind is int else \
            ("numbers" if plural else "a number")
        return f"{name} from {self.low:g} to {self.high:g}"


class Family(ABC):
    """A numbered set of generated networks (see the module docstring).

    Subclasses set :attr:`name`, :attr:`summary`, :attr:`reference` and :attr:`OPTIONS`, and
    implement :attr:`size`, :meth:`member_name`, :meth:`input_shape`, :meth:`batch`,
    :meth:`features` and :meth:`build` (the member's network described on a
    :class:`~dse.workloads.zoo.builder.Net`, from which :meth:`to_onnx` builds the ONNX model
    and the reference recorder its rows). Options are validated when the family is made.

    Args:
        **options: Values for :attr:`OPTIONS` (the defaults for the rest).

    Raises:
        WorkloadError: Unknown options (with the closest known names) and values of the wrong
            type or out of range, every one at once.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    reference: ClassVar[str]
    OPTIONS: ClassVar[Mapping[str, Option]]

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = self._validate(options)

    @classmethod
    def _validate(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        source = f"family:{cls.name}"
        problems = []
        merged = {k: o.default for k, o in cls.OPTIONS.items()}
        for key, value in options.items():
            if key not in cls.OPTIONS:
                problems.append(Problem(source, str(key)[:80], did_you_mean(
                    key, cls.OPTIONS, what="option")))
                continue
            value, expected = cls.OPTIONS[key].check(value)
            if expected:
                text = repr(value)
                problems.append(Problem(source, key, f"expected {expected}, got "
                                        f"{text if len(text) <= 60 else text[:60] + '...'}"))
                continue
            merged[key] = value
        if problems:
            raise WorkloadError(problems)
        return merged

    def __repr__(self) -> str:
        changed = ", ".join(f"{k}={v!r}" for k, v in self.options.items()
                            if v != self.OPTIONS[k].default)
        return f"{type(self).__name__}({changed})"

    @property
    @abstractmethod
    def size(self) -> int:
        """The number of members."""

    @abstractmethod
    def member_name(self, i: int) -> str:
        """A short, unique name of member ``i``."""

    def member_names(self, indices: Indices) -> list[str]:
        """:meth:`member_name` of each of ``indices`` (a family may name many at once
        faster)."""
        return [self.member_name(int(i)) for i in self.indices(indices)]

    @abstractmethod
    def batch(self, indices: Indices, *, edges: bool = True) -> LayerBatch:
        """The layers of the members ``indices`` (in that order) as flat arrays, equal to
        :meth:`LayerBatch.from_workloads` of their :meth:`workload` (default fusing).
        ``edges=False`` may leave the graph's edges out (a family that builds them apart
        saves that time; a batch without edges prices fallbacks per model)."""

    @abstractmethod
    def features(self, indices: Indices, *, batch: LayerBatch | None = None
                 ) -> dict[str, np.ndarray]:
        """Per-member architecture features (one array per feature, in the order of
        ``indices``) for analysis: sizes, counts of layer kinds, params, MACs. ``batch``: the
        members' :meth:`batch` when the caller has it already (not built again)."""

    @abstractmethod
    def build(self, net: Net, i: int) -> str:
        """Describe member ``i``'s network on ``net`` (its input is ``net.input``); returns
        the output tensor."""

    @abstractmethod
    def input_shape(self, i: int) -> tuple[int, ...]:
        """Member ``i``'s input shape."""

    def to_onnx(self, i: int, *, weights: bool = False, seed: int = 0) -> onnx.ModelProto:
        """Member ``i`` as an ONNX model (weights zero-filled unless ``weights``; random values,
        seeded, otherwise), readable by :func:`dse.workload` and the ONNX frontend."""
        from dse.workloads.families.recorder import OnnxNet

        (i,) = self.indices(i).tolist()
        nbytes = 4 * float(self.batch([i]).totals("weight_elems")[0])
        if nbytes > MAX_MODEL_BYTES:
            raise WorkloadError([Problem(f"family:{self.name}", f"member {i}", f"the model's "
                                         f"weights would take {nbytes / 2**30:,.1f} GiB; the "
                                         f"limit is {MAX_MODEL_BYTES / 2**30:g} GiB "
                                         "(dse.workloads.zoo.MAX_MODEL_BYTES)")])
        net = OnnxNet(self.member_name(i), self.input_shape(i), seed=seed, weights=weights)
        return net.model(self.build(net, i))

    def workload(self, i: int, *, precision: str = "fp32") -> Workload:
        """Member ``i`` as a :class:`Workload`, read from :meth:`to_onnx` by the ONNX frontend."""
        name = self.member_name(int(i))
        graph = graph_from_model(self.to_onnx(i), source=f"family:{self.name}[{int(i)}]")
        return Workload(name, graph, precision, f"family:{self.name}[{int(i)}]")

    def indices(self, indices: Indices) -> np.ndarray:
        """``indices`` as an ``int64`` array, checked against :attr:`size`.

        Raises:
            WorkloadError: An index that is not an integer or not a member.
        """
        try:
            idx = np.asarray(indices if not isinstance(indices, range) else
                             np.arange(indices.start, indices.stop, indices.step))
        except (TypeError, ValueError):
            idx = np.asarray([], dtype=object)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise WorkloadError([Problem(f"family:{self.name}", "indices", "expected member "
                                         f"numbers (integers), got {str(indices)[:60]}")])
        idx = idx.astype(np.int64)
        bad = idx[(idx < 0) | (idx >= self.size)]
        if bad.size:
            raise WorkloadError([Problem(f"family:{self.name}", "indices", f"member "
                                         f"{int(bad[0])} does not exist; expected 0 to "
                                         f"{self.size - 1:,} ({self.size:,} members)")])
        return idx


class ProductFamily(Family):
    """A family whose members are every combination of some list options
    (:attr:`AXES`, the last varying fastest), each member's layers recorded once and cached."""

    AXES: ClassVar[tuple[str, ...]]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._grid = list(itertools.product(*(self.options[a] for a in self.AXES)))
        self._cache: dict[int, LayerBatch] = {}

    @property
    def size(self) -> int:
        return len(self._grid)

    def member(self, i: int) -> dict[str, Any]:
        """Member ``i``'s values of the :attr:`AXES`."""
        return dict(zip(self.AXES, self._grid[int(i)], strict=True))

    def batch(self, indices: Indices, *, edges: bool = True) -> LayerBatch:
        from dse.workloads.families.recorder import LayerRecorder

        idx = self.indices(indices)
        for i in {int(v) for v in idx} - set(self._cache):
            rec = LayerRecorder(self.member_name(i), self.input_shape(i))
            self._cache[i] = rec.batch(self.build(rec, i))
        return LayerBatch.concat([self._cache[int(i)] for i in idx])

    def features(self, indices: Indices, *, batch: LayerBatch | None = None
                 ) -> dict[str, np.ndarray]:
        idx = self.indices(indices)
        b = self.batch(idx) if batch is None else batch
        out: dict[str, np.ndarray] = {a: np.array([self._grid[i][k] for i in idx])
                                      for k, a in enumerate(self.AXES)}
        out["layers"] = np.diff(b.offsets)
        for column in ("params", "macs", "weight_elems"):
            out[column] = b.totals(column)
        per = b.model_of_layer
        for label, cls in (("conv", "conv"), ("dwconv", "dwconv"), ("eltwise", "eltwise")):
            out[label] = np.bincount(per[b.op_class == OP_CLASSES.index(cls)],
                                     minlength=len(idx))
        return out
