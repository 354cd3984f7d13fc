"""Activation memory: tensor lifetimes and an arena planner.

A runtime for microcontrollers and NPUs (TensorFlow Lite Micro, for one) places every
intermediate tensor at an offset in one arena, reusing bytes whose tensor is dead. The arena's
size is what the device's SRAM must hold besides the runtime. Here:

- :func:`buffers` gives each tensor of a workload its size and lifetime (the steps of the
  topological order from the layer writing it to the last layer reading it). Ops that only
  relabel a shape (:data:`~dse.cost.memory.METADATA_OPS`) run in place: their output is their
  input's buffer, living on.
- :func:`plan_greedy` places them largest first, each at the lowest offset where it overlaps no
  placed tensor alive at the same time (the greedy-by-size planner of TensorFlow Lite Micro's
  ``GreedyMemoryPlanner``); :func:`plan_arena` keeps the smallest of a few such orders (by
  size, by lifetime, by size x lifetime, by first use, by last use), as an offline planner can
  afford to.
- :func:`live_peak` is the lower bound no planner can beat: the most bytes alive at one step.
- :func:`plan_optimal` is the best packing of a few buffers, for checking the greedy planner.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from dse.cost.memory import METADATA_OPS
from dse.workloads import Workload
from dse.workloads.graph import PRECISION_BYTES

__all__ = ["ArenaPlan", "Buffer", "buffers", "live_peak", "plan_arena", "plan_greedy",
           "plan_optimal"]

#: Most buffers :func:`plan_optimal` takes (it tries every order: n! first-fit packings).
MAX_OPTIMAL_BUFFERS = 8


@dataclass(frozen=True)
class Buffer:
    """One tensor in the arena, alive from step ``first`` to step ``last`` (inclusive)."""

    name: str
    size: int
    first: int
    last: int

    def overlaps(self, other: Buffer) -> bool:
        """Alive at a common step."""
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    """Where each buffer sits; ``size`` is the arena's bytes (the highest end)."""

    offsets: dict[str, int]
    size: int


def buffers(workload: Workload, precision: str | None = None, *,
            in_place: Collection[str] = ()) -> list[Buffer]:
    """The activation tensors of ``workload`` with their sizes and lifetimes.

    The model's inputs are alive from step 0 to their last reader; its outputs from their
    writer to the last step. Weights are not here: they live in flash or weight memory.

    Args:
        workload: The workload.
        precision: Default: the workload's.
        in_place: Further layers (by name) that write their output over their one input, as
            a runtime's fused epilogue does (a BatchNormalization or ReLU folded into the
            convolution before it never has a tensor of its own).
    """
    precision = precision or workload.precision
    width = PRECISION_BYTES[precision]
    graph, order = workload.graph, list(workload.order)
    step = {node: i for i, node in enumerate(order)}
    end = len(order) - 1
    size: dict[str, int] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    alias: dict[str, str] = {}  # an in-place op's output -> the buffer it reuses

    def root(tensor: str) -> str:
        while tensor in alias:
            tensor = alias[tensor]
        return tensor

    produced = {t for node in order for t in graph.nodes[node]["outputs"]}
    for node in order:
        attrs = graph.nodes[node]
        i = step[node]
        for tensor, shape in zip(attrs["inputs"], attrs["in_shapes"], strict=False):
            if tensor not in produced and tensor not in size and shape:
                size[tensor] = math.ceil(float(np.prod(shape)) * width)  # a model input
                first[tensor] = 0
            if root(tensor) in size:
                last[root(tensor)] = max(last.get(root(tensor), i), i)
        reads = [root(t) for t in attrs["inputs"] if root(t) in size]
        for tensor, shape in zip(attrs["outputs"], attrs["out_shapes"], strict=False):
            if (attrs["op"] in METADATA_OPS or node in in_place) and len(reads) == 1:
                alias[tensor] = reads[0]
                continue
            size[tensor] = math.ceil(float(np.prod(shape)) * width) if shape else 0
            first[tensor] = last[tensor] = i
    read_later = {root(t) for node in order for t in graph.nodes[node]["inputs"]}
    for tensor in size:
        if tensor in produced and tensor not in read_later:
            last[tensor] = end  # a model output: kept to the end
    return [Buffer(t, size[t], first[t], last.get(t, first[t])) for t in size if size[t] > 0]


def live_peak(bufs: Sequence[Buffer]) -> int:
    """The most bytes alive at one step: no arena is smaller."""
    if not bufs:
        return 0
    steps = max(b.last for b in bufs) + 1
    live = np.zeros(steps + 1, dtype=np.int64)
    for b in bufs:
        live[b.first] += b.size
        live[b.last + 1] -= b.size
    return int(np.cumsum(live).max())


def _first_fit(order: Sequence[Buffer]) -> ArenaPlan:
    placed: list[tuple[int, Buffer]] = []
    offsets: dict[str, int] = {}
    for b in order:
        offset = 0
        # the placed buffers alive with b, by offset: take the first gap b fits in
        for start, other in sorted(((o, p) for o, p in placed if p.overlaps(b)),
                                   key=lambda placed_at: placed_at[0]):
            if offset + b.size <= start:
                break
            offset = max(offset, start + other.size)
        placed.append((offset, b))
        offsets[b.name] = offset
    return ArenaPlan(offsets, max((o + b.size for o, b in placed), default=0))


def plan_greedy(bufs: Sequence[Buffer]) -> ArenaPlan:
    """Largest buffer first (ties: the longer-lived, then the earlier), each at the lowest
    offset where it overlaps no placed buffer alive at the same time."""
    order = sorted(bufs, key=lambda b: (-b.size, -(b.last - b.first), b.first, b.name))
    return _first_fit(order)


#: The orders :func:`plan_arena` tries (first is TensorFlow Lite Micro's).
ORDERS = (
    lambda b: (-b.size, -(b.last - b.first), b.first, b.name),
    lambda b: (-(b.last - b.first), -b.size, b.first, b.name),
    lambda b: (-b.size * (b.last - b.first + 1), b.first, b.name),
    lambda b: (b.first, -b.size, b.name),
    lambda b: (-b.last, -b.size, b.name),
    lambda b: (-b.size, b.first, b.name),
    lambda b: (-b.size, -b.last, b.name),
)


def plan_arena(bufs: Sequence[Buffer]) -> ArenaPlan:
    """The smallest first-fit packing over the orders of :data:`ORDERS` (never larger than
    :func:`plan_greedy`'s)."""
    plans = [_first_fit(sorted(bufs, key=key)) for key in ORDERS]
    return min(plans, key=lambda plan: plan.size)


def plan_optimal(bufs: Sequence[Buffer]) -> ArenaPlan:
    """The smallest arena for a few buffers: first fit in every order. Some order gives an
    optimal packing (placing an optimal packing's buffers by increasing offset puts each at
    or below its offset there).

    Raises:
        ValueError: More than :data:`MAX_OPTIMAL_BUFFERS` buffers.
    """
    if len(bufs) > MAX_OPTIMAL_BUFFERS:
        raise ValueError(f"at most {MAX_OPTIMAL_BUFFERS} buffers, got {len(bufs)}")
    best: ArenaPlan | None = None
    for order in itertools.permutations(bufs):
        plan = _first_fit(order)
        if best is None or plan.size < best.size:
            best = plan
    return best or ArenaPlan({}, 0)
