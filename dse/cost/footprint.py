"""Memory footprint: what a model needs of each memory of a device, and whether it fits.

The first question on a microcontroller or micro-NPU is whether the model fits at all. For a
workload at a precision on a device (and the runtime it runs), :func:`footprint` adds up:

- **weights**, where they live. The bytes are :func:`~dse.cost.memory.place_weights`'
  (after the runtime's fusion, of the layers that run on the device). A device with a
  dedicated weight memory (``weight_mem_bytes``: the MAX78000 CNN) must hold them all there;
  otherwise they live in its flash (``flash_bytes``: flash or MRAM, read in place, as TFLite
  Micro, Vela-compiled Ethos-U and eIQ Neutron models are), else in its RAM (``sram_bytes``).
  A copy the cost model keeps resident on chip for speed (a TCM, a cache, the NPU's own
  memory: ``onchip_mem_bytes``) is not counted again.
- **the activation arena**: every intermediate tensor placed at an offset of one buffer by the
  arena planner (:func:`dse.cost.arena.plan_arena`), with the runtime's fused epilogues
  (BatchNormalization, ReLU after a convolution) and shape-only ops written in place;
- **scratch buffers** of the runtime's kernels (:data:`SCRATCH_RULES`; CMSIS-NN's im2col buffer
  of a convolution), planned in the same arena and alive during their layer only, as TFLite
  Micro's ``RequestScratchBufferInArena`` does; reported as what they add to the arena;
- **the runtime's fixed footprint**: its code in flash, and its RAM (a fixed part, per operator
  and per tensor; :class:`~dse.spec.runtime.RuntimeSpec`).

Each total is checked against the device's memory of that name; a memory the device does not
declare is not checked (a device declaring none behaves as before the check existed). What is
not modelled: alignment padding (16 bytes per buffer in TFLite Micro), the application's own
RAM and code (stack, drivers, input buffers outside the arena), a runtime without stated
figures, and the MAX78000's split of its data and weight memories over 64 processors (the
check there is a necessary condition, not a sufficient one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dse.cost.arena import ArenaPlan, Buffer, buffers, plan_arena
from dse.cost.layers import runtime_counts
from dse.cost.memory import Placement, no_pass, place_weights, weight_footprint
from dse.spec.device import DeviceSpec
from dse.spec.runtime import RuntimeSpec
from dse.spec.units import format_quantity
from dse.workloads.graph import Workload

__all__ = ["MEMORIES", "SCRATCH_RULES", "Footprint", "arena_plan", "footprint", "scratch_bytes"]

#: The memories of the fit check, with the device field giving each one's capacity.
MEMORIES: dict[str, str] = {"flash": "flash_bytes", "sram": "sram_bytes",
                            "weight_mem": "weight_mem_bytes"}

_INT16 = 2


def _conv_dims(attrs: Mapping[str, Any]) -> tuple[int, int, int, int, int] | None:
    """(input channels, output channels, group, kernel height, kernel width) of a Conv."""
    if attrs.get("op") != "Conv" or not attrs.get("weight_shapes") or not attrs.get("in_shapes"):
        return None
    weight, shape = attrs["weight_shapes"][0], attrs["in_shapes"][0]
    if len(weight) != 4 or len(shape) != 4:
        return None  # 1-D convolutions: not modelled
    c_out, c_in_per_group, kh, kw = (int(x) for x in weight)
    c_in = int(shape[1])
    return c_in, c_out, max(1, c_in // max(1, c_in_per_group)), kh, kw


def _cmsis_nn(attrs: Mapping[str, Any], *, mve: bool) -> int:
    dims = _conv_dims(attrs)
    if dims is None:
        return 0  # fully connected, pooling, element-wise: no buffer
    c_in, c_out, group, kh, kw = dims
    if group == c_in and c_in == c_out and group > 1:  # depthwise, channel multiplier 1
        if mve:
            return 2 * c_in * kh * kw * _INT16 + 4
        return 0 if (kh, kw) == (3, 3) else c_in * kh * kw * _INT16
    if group > 1:
        return 0  # grouped convolution: TFLM's reference kernel, no buffer
    if (kh, kw) == (1, 1):
        return 0  # arm_convolve_1x1_s8(_fast): no im2col
    if mve:
        return math.ceil(c_in * kh * kw / 8) * 8 * 4
    return 2 * c_in * kh * kw * _INT16


#: Bytes of scratch one layer's kernel asks for, per scratch rule of a runtime
#: (:data:`dse.spec.runtime.SCRATCH`), from the layer's graph attributes. CMSIS-NN's
#: ``*_get_buffer_size`` functions (CMSIS-NN v4-v6: Source/ConvolutionFunctions/
#: arm_convolve_get_buffer_sizes_s8.c, arm_depthwise_conv_s8_opt.c,
#: arm_depthwise_conv_wrapper_s8.c; https://github.com/ARM-software/CMSIS-NN):
#: - s8 convolution through im2col (``arm_convolve_s8``): DSP build 2 x Cin x Kh x Kw int16
#:   (two im2col columns); MVE build Cin x Kh x Kw rounded up to 8, x 4 bytes;
#: - 1x1 convolution (``arm_convolve_1x1_s8_fast``): none;
#: - depthwise with channel multiplier 1: DSP build none for 3x3 kernels with padding <= 1
#:   (``arm_depthwise_conv_3x3_s8``; padding is not in the graph, assumed <= 1), else Cin x Kh x
#:   Kw int16 (``arm_depthwise_conv_s8_opt``); MVE build 2 x Cin x Kh x Kw int16 + 4;
#: - fully connected s8: none.
#: The rules hold for int8 kernels; other precisions get no scratch.
SCRATCH_RULES: dict[str, Callable[[Mapping[str, Any]], int]] = {
    "cmsis_nn": lambda attrs: _cmsis_nn(attrs, mve=False),
    "cmsis_nn_mve": lambda attrs: _cmsis_nn(attrs, mve=True),
    "none": lambda attrs: 0,
}


def scratch_bytes(workload: Workload, rule: str | None, precision: str) -> dict[str, int]:
    """Scratch bytes per layer under a runtime's scratch ``rule`` (layers needing none left
    out)."""
    if rule is None or precision != "int8":
        return {}
    size = SCRATCH_RULES[rule]
    out = {node: size(workload.graph.nodes[node]) for node in workload.order}
    return {node: n for node, n in out.items() if n > 0}


def _fusion_key(runtime: RuntimeSpec | None) -> tuple[Any, ...]:
    if runtime is None:
        return (None,)
    return (runtime.fuses, runtime.kernels, runtime.scratch)


def arena_plan(workload: Workload, precision: str, *, runtime: RuntimeSpec | None = None,
               counts: pd.DataFrame | None = None) -> tuple[ArenaPlan, int, list[Buffer]]:
    """The arena of ``workload`` as ``runtime`` runs it: the plan (activations and scratch
    buffers), the arena of the activations alone, and the buffers planned.

    Cached in the workload (model_cost calls this in hot loops): the plan depends on the
    precision and on what the runtime fuses and its scratch rule only.
    """
    key = f"footprint.arena|{precision}|{_fusion_key(runtime)!r}"
    cached: tuple[ArenaPlan, int, list[Buffer]] | None = workload._cache.get(key)
    if cached is not None:
        return cached
    if counts is None:
        counts = runtime_counts(workload, runtime)
    fused = counts.index[counts["fused"].to_numpy(dtype=bool)] if "fused" in counts else []
    bufs = buffers(workload, precision, in_place=frozenset(fused))
    activations = plan_arena(bufs).size
    step = {node: i for i, node in enumerate(workload.order)}
    scratch = scratch_bytes(workload, runtime.scratch if runtime else None, precision)
    planned = bufs + [Buffer(f"{node}:scratch", n, step[node], step[node])
                      for node, n in scratch.items()]
    plan = plan_arena(planned) if scratch else plan_arena(bufs)
    result = (plan, activations, planned)
    workload._cache[key] = result
    return result


@dataclass(frozen=True)
class Footprint:
    """What one model needs of each memory of one device, and what the device has.

    Attributes:
        weights: Weight bytes by memory (``flash``, ``sram``, ``weight_mem``; ``onchip`` and
            ``dram`` on a device that declares none of the checked memories).
        arena_bytes: The planned activation arena, without scratch buffers.
        scratch_bytes: What the runtime's scratch buffers add to the arena.
        runtime_ram_bytes: The runtime's RAM outside the arena's tensors (fixed, per operator
            and per tensor).
        runtime_code_bytes: The runtime's code in flash.
        used: Bytes needed per memory.
        capacity: Bytes per memory the device declares (``None``: not declared, not checked).
        notes: What was not counted, and why.
        plan: The arena plan (activations and scratch buffers), for the lifetime plot.
        buffers: The buffers of that plan.
    """

    workload: str
    device: str
    runtime: str | None
    precision: str
    weights: dict[str, float]
    arena_bytes: int
    scratch_bytes: int
    runtime_ram_bytes: float
    runtime_code_bytes: float
    used: dict[str, float]
    capacity: dict[str, float | None]
    notes: tuple[str, ...] = ()
    plan: ArenaPlan = field(default_factory=lambda: ArenaPlan({}, 0), repr=False)
    buffers: tuple[Buffer, ...] = field(default=(), repr=False)

    @property
    def weight_bytes(self) -> float:
        """All weight bytes, wherever they live."""
        return float(sum(self.weights.values()))

    @property
    def over(self) -> dict[str, float]:
        """Bytes over capacity, per memory that is over."""
        return {m: self.used[m] - cap for m, cap in self.capacity.items()
                if cap is not None and self.used.get(m, 0.0) > cap}

    @property
    def fits(self) -> bool:
        """Whether every checked memory holds what it must."""
        return not self.over

    @property
    def reason(self) -> str:
        """Why it does not fit (empty when it does): per memory over, what needs it, what the
        device has and by how much it is over."""
        parts = []
        for memory, excess in self.over.items():
            cap = self.capacity[memory]
            assert cap is not None  # over only lists declared memories
            parts.append(f"{self.workload} needs {_size(self.used[memory])} of {memory} "
                         f"({self._what(memory)}); {self.device} has {_size(cap)} "
                         f"({_size(excess)} over)")
        return "; ".join(parts)

    def _what(self, memory: str) -> str:
        what = []
        if self.weights.get(memory):
            what.append(f"weights {_size(self.weights[memory])}")
        if memory == "sram":
            what.append(f"arena {_size(self.arena_bytes + self.scratch_bytes)}")
            if self.runtime_ram_bytes:
                what.append(f"runtime {_size(self.runtime_ram_bytes)}")
        if memory == "flash" and self.runtime_code_bytes:
            what.append(f"runtime code {_size(self.runtime_code_bytes)}")
        return ", ".join(what)

    def table(self) -> pd.DataFrame:
        """One row per memory: what uses it, the total, the capacity and the headroom."""
        rows = []
        for memory in sorted(set(self.used) | {m for m, c in self.capacity.items() if c}):
            cap = self.capacity.get(memory)
            used = self.used.get(memory, 0.0)
            rows.append({
                "memory": memory,
                "weights_bytes": self.weights.get(memory, 0.0),
                "arena_bytes": float(self.arena_bytes) if memory == "sram" else 0.0,
                "scratch_bytes": float(self.scratch_bytes) if memory == "sram" else 0.0,
                "runtime_bytes": (self.runtime_ram_bytes if memory == "sram" else
                                  self.runtime_code_bytes if memory == "flash" else 0.0),
                "used_bytes": used,
                "capacity_bytes": cap,
                "over_bytes": max(0.0, used - cap) if cap is not None else None,
            })
        return pd.DataFrame(rows)


def footprint(workload: Workload, device: DeviceSpec | None, precision: str | None = None, *,
              runtime: RuntimeSpec | None = None, counts: pd.DataFrame | None = None,
              mask: np.ndarray | None = None,
              placement: Placement | None = None) -> Footprint:
    """The memory footprint of ``workload`` on ``device`` (see the module docstring).

    Args:
        workload: The workload.
        device: The device; ``None``: the model's needs alone, nothing checked.
        precision: Default: the workload's.
        runtime: The runtime: what it fuses (in-place epilogues), its scratch rule and fixed
            footprint. ``None``: nothing fused beyond the default, no scratch, no runtime
            figures.
        counts: The workload's counts as the runtime runs them
            (:func:`dse.cost.layers.runtime_counts`), if already at hand.
        mask: Layers that run on this device (default: all): only their weights count here.
        placement: :func:`~dse.cost.memory.place_weights`' result for these counts and mask,
            if already at hand.
    """
    precision = precision or workload.precision
    if counts is None:
        counts = runtime_counts(workload, runtime)
    notes: list[str] = []
    weights: dict[str, float]
    if device is None:
        weights = {"weights": float(weight_footprint(counts, precision).sum())}
    else:
        if placement is None:
            placement = place_weights(counts, device, precision, mask=mask)
        total = placement.onchip_bytes + placement.offchip_bytes
        if device.weight_mem_bytes is not None:
            weights = {"weight_mem": total}
        elif device.flash_bytes is not None:
            weights = {"flash": total}
        elif device.sram_bytes is not None:
            weights = {"sram": total}
        else:
            weights = {"onchip": placement.onchip_bytes, "dram": placement.offchip_bytes}
    if mask is not None and not mask.all():
        notes.append(f"{int((~mask).sum())} layers run on the fallback device; their weights "
                     f"are not counted here")
    plan, activations, planned = arena_plan(workload, precision, runtime=runtime,
                                            counts=counts)
    scratch = plan.size - activations
    ram = code = 0.0
    if runtime is None:
        notes.append("no runtime given: no scratch buffers or runtime footprint counted")
    else:
        layers = int((~no_pass(counts)).sum())
        tensors = len(buffers_of(planned))
        ram = (runtime.ram_bytes or 0.0) + (runtime.ram_per_op_bytes or 0.0) * layers + \
            (runtime.ram_per_tensor_bytes or 0.0) * tensors
        code = runtime.code_bytes or 0.0
        missing = [name for name in ("code_bytes", "ram_bytes", "scratch")
                   if getattr(runtime, name) is None]
        if missing:
            notes.append(f"runtime {runtime.name} states no {', '.join(missing)}: not counted")
    used: dict[str, float] = dict(weights)
    used["sram"] = used.get("sram", 0.0) + plan.size + ram
    if (device is not None and device.flash_bytes is not None) or code:
        used["flash"] = used.get("flash", 0.0) + code
    capacity = {memory: getattr(device, name) if device is not None else None
                for memory, name in MEMORIES.items()}
    return Footprint(workload.name, device.name if device is not None else "",
                     runtime.name if runtime else None, precision,
                     weights, activations, scratch, ram, code, used, capacity, tuple(notes),
                     plan, tuple(planned))


def buffers_of(planned: list[Buffer]) -> list[Buffer]:
    """The tensors among planned buffers (scratch buffers left out)."""
    return [b for b in planned if not b.name.endswith(":scratch")]


def _size(n: float) -> str:
    return format_quantity(float(n), "bytes", digits=3)
