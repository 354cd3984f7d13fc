"""The built-in ``zoo`` family: the zoo's models as the members of a model family.

It has the interface of the generated families (:mod:`dse.workloads.families`: ``name``,
``size``, ``batch``, ``member_name``, ``features``), so that a sweep over the zoo runs through
the same engine and analysis as one over NAS-Bench-101, and it is what tests a sweep end to end
on real models. Member ``i`` is the ``i``-th zoo name in sorted order (of all, or of those the ``models``
option names), built at the sweep's precision.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from dse.errors import WorkloadError
from dse.workloads.graph import Workload
from dse.workloads.layers import LayerBatch
from dse.workloads.ops import OP_CLASSES

__all__ = ["ZooFamily", "batch_features"]


def batch_features(batch: LayerBatch) -> dict[str, np.ndarray]:
    """Per model of ``batch``, architecture features read from its layers: ``macs``,
    ``params``, ``layers`` (depth in layers), ``n_<op class>`` (layers of each op class),
    ``input_elems``, ``activation_elems`` (sum of the layers' outputs) and
    ``peak_layer_elems`` (the largest input plus output of one layer)."""
    m = batch.models
    owner = batch.model_of_layer
    out: dict[str, np.ndarray] = {
        "macs": batch.totals("macs"), "params": batch.totals("params"),
        "layers": np.diff(batch.offsets).astype(np.float64)}
    for i, cls in enumerate(OP_CLASSES):
        counts = np.zeros(m)
        np.add.at(counts, owner, (batch.op_class == i).astype(np.float64))
        out[f"n_{cls.replace('-', '_')}"] = counts
    out["input_elems"] = np.asarray(batch.input_elems, dtype=np.float64)
    out["activation_elems"] = batch.totals("out_elems")
    peak = np.zeros(m)
    if batch.layers:
        np.maximum.at(peak, owner, batch.in_elems + batch.out_elems)
    out["peak_layer_elems"] = peak
    return out


@functools.lru_cache(maxsize=64)
def _build(name: str, precision: str) -> Workload:
    from dse.workloads import workload

    return workload(name, precision=precision)


class ZooFamily:
    """The zoo models as a family (see the module docstring).

    Args:
        precision: The precision the members are built at.
        models: Only these zoo models (a comma-separated string or a sequence), in sorted
            order; default: every zoo model.

    Raises:
        WorkloadError: An unknown option or zoo model (naming the close ones).
    """

    name = "zoo"

    def __init__(self, *, precision: str = "int8", models: str | Sequence[str] | None = None,
                 **options: Any) -> None:
        from dse.errors import Problem, did_you_mean
        from dse.workloads import zoo

        problems = [Problem("family zoo", f"option {key}",
                            did_you_mean(key, ["models"], what="option")) for key in options]
        known = sorted(zoo.names())
        if models is None:
            chosen = known
        else:
            chosen = [m.strip() for m in (models.split(",") if isinstance(models, str)
                                          else models) if str(m).strip()]
            problems += [Problem("family zoo", "option models",
                                 did_you_mean(m, known, what="zoo model"))
                         for m in chosen if m not in known]
            if not chosen:
                problems.append(Problem("family zoo", "option models",
                                        "expected zoo names separated by commas, got none"))
        if problems:
            raise WorkloadError(problems)
        self.precision = precision
        self._names = tuple(sorted(set(chosen)))

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self._names)

    def member_names(self, indices: Sequence[int] | np.ndarray) -> list[str]:
        """:meth:`member_name` of each of ``indices``."""
        return [self.member_name(int(i)) for i in indices]

    def member_name(self, i: int) -> str:
        """The zoo name of member ``i``."""
        return self._names[int(i)]

    def workload(self, i: int) -> Workload:
        """Member ``i`` as a workload graph (built once per process)."""
        return _build(self._names[int(i)], self.precision)

    def batch(self, indices: Sequence[int] | np.ndarray, *, edges: bool = True) -> LayerBatch:
        """The members' layers as one :class:`LayerBatch` (always with their edges)."""
        return LayerBatch.from_workloads(self.workload(int(i)) for i in indices)

    def features(self, indices: Sequence[int] | np.ndarray, *,
                 batch: LayerBatch | None = None) -> dict[str, np.ndarray]:
        """Per member, its architecture features (:func:`batch_features`)."""
        return batch_features(self.batch(indices) if batch is None else batch)
