"""The device model: one processing element (a CPU cluster, a GPU, an NPU, a DPU core, ...).

A :class:`DeviceSpec` is frozen and validated once, when it is loaded; after that no code sees a
raw dict. Every number a spec states must be covered by one of its :class:`Source` entries
(datasheet, paper, measured table, derivation or stated estimate), so the catalog can always say
where a figure came from. Fitted values from calibration never replace these numbers: they live
in an :class:`~dse.devices.overlay.Overlay` applied on top.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    StrictBool,
    field_validator,
    model_validator,
)

from dse.errors import did_you_mean
from dse.spec.kinds import kind_names, spec_kind
from dse.spec.sources import Frozen, Source, coverage_problems, source_for
from dse.spec.spread import DEFAULT_SPREAD, LatencySpread
from dse.spec.units import Bandwidth, Bytes, Frequency, OpsPerSecond, Power, Seconds
from dse.spec.vocabulary import KERNEL_CLASSES, OP_CLASSES, PRECISION_BYTES

#: The datasheet default of the contention law, ``(knee, saturation, slope)``: proportional
#: sharing of the memory system's sustained bandwidth (see :func:`dse.cost.concurrency.contention_slowdown`).
DEFAULT_CONTENTION = (1.0, float("inf"), 1.0)

__all__ = ["DEFAULT_CONTENTION", "CacheLevel", "ContentionSpec", "DeviceSpec", "DvfsLevel", "KernelModel",
           "PowerSpec", "lookup_efficiency", "max_efficiency", "max_kernel_efficiency"]


def lookup_efficiency(efficiency: Mapping[str, float], op_class: str) -> float:
    """The efficiency of a kernel class or op class in an ``efficiency`` mapping: the class's
    own entry, else (for a kernel class) its op class's, else ``default``, else 1.0."""
    if op_class in efficiency:
        return efficiency[op_class]
    parent = KERNEL_CLASSES.get(op_class)
    if parent is not None and parent in efficiency:
        return efficiency[parent]
    return efficiency.get("default", 1.0)


def max_efficiency(op_class: str) -> float:
    """The largest efficiency a class may have: 5.0625 for ``conv3x3s1`` (Winograd F(6x6, 3x3),
    the largest tile in use (ncnn's winograd63), does 64 multiplies for 36 outputs where the
    direct convolution does 324: 36 x 9 / 64), 1 for every other class."""
    return 5.0625 if op_class == "conv3x3s1" else 1.0

class KernelModel(Frozen):
    """A kernel class's cost on one target, as a function of the layer's work.

    Measured single-kernel times (``dse host kernels``) show that a runtime's kernels reach a
    share of the peak that grows with the layer's size (a 1x1 convolution of 10 kOPs runs at a
    few percent of what one of 1 GOPs does) and that a second thread helps large kernels and not
    small ones. So the efficiency and the Amdahl parallel fraction are piecewise-linear tables
    over ``log10(ops)`` (the efficiency linear in its logarithm), flat beyond the first and last
    knot, plus a fixed cost per launch. A layer of this class with ``ops`` operations on ``t``
    threads of a CPU cluster of ``cores`` cores then takes
    ``max(ops / (peak / cores x e(ops) x s_t(ops) x utilisation), traffic / bw) + launch_s``,
    ``s_t = 1 / ((1 - p(ops)) + p(ops) / t)`` (:func:`dse.cost.compute.kernel_model_terms`).

    Attributes:
        log10_ops: Knots, strictly increasing.
        efficiency: Achieved/peak compute at each knot, at most
            :func:`max_kernel_efficiency`.
        parallel_fraction: Amdahl fraction at each knot, in [0, 1].
        launch_s: Fixed cost of every kernel of this class launched.
        launch_per_thread_s: Added to ``launch_s`` for every intra-op thread beyond the first
            (handing a kernel's work to the thread pool and joining it).
        mem_bw_bytes_s: The bandwidth this class's memory traffic reaches on one thread;
            ``None``: the device's ``mem_bw_bytes_s``.
        mem_parallel_fraction: Amdahl fraction of that bandwidth over threads: on ``t``
            threads the class reaches ``mem_bw_bytes_s / ((1 - q) + q / t)`` (0: one thread
            already reaches it).
        cold_bw_bytes_s: The rate at which a layer's bytes (weights and activations) come
            into the core's private caches when they are not there: a layer of a model whose
            weights do not fit in them pays ``bytes / cold_bw_bytes_s`` beyond its warm time
            (:func:`dse.cost.compute.cache_resident`); ``None``: no such cost.
        cold_launch_s: What such a layer pays per launch beyond that (the runtime's own code
            and state of the kernel, swept out with its data).
        channel_block: The channel multiple the runtime's blocked kernels need (ONNX
            Runtime's NCHWc layout: the vector's float lanes, 16 with AVX-512); 1: none.
        unaligned_efficiency: Efficiency factor of a layer whose channel counts are not
            multiples of ``channel_block`` (padded blocks, or an unblocked kernel).
    """

    log10_ops: tuple[float, ...] = Field(min_length=1)
    efficiency: tuple[PositiveFloat, ...] = Field(min_length=1)
    parallel_fraction: tuple[Annotated[float, Field(ge=0, le=1)], ...] = Field(min_length=1)
    launch_s: Seconds = Field(default=0.0, ge=0)
    launch_per_thread_s: Seconds = Field(default=0.0, ge=0)
    mem_bw_bytes_s: Bandwidth | None = Field(default=None, gt=0)
    mem_parallel_fraction: float = Field(default=0.0, ge=0, le=1)
    cold_bw_bytes_s: Bandwidth | None = Field(default=None, gt=0)
    cold_launch_s: Seconds = Field(default=0.0, ge=0)
    channel_block: int = Field(default=1, ge=1, le=64)
    unaligned_efficiency: PositiveFloat = 1.0

    @model_validator(mode="after")
    def _knots(self) -> KernelModel:
        problems = []
        n = len(self.log10_ops)
        if any(b <= a for a, b in itertools.pairwise(self.log10_ops)):
            problems.append(f"log10_ops: must increase strictly, got {list(self.log10_ops)}")
        for name in ("efficiency", "parallel_fraction"):
            if len(getattr(self, name)) != n:
                problems.append(f"{name}: must have one entry per knot ({n}), got "
                                f"{len(getattr(self, name))}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: Kernel classes whose ops are multiply-accumulates on the compute units (the rest count one
#: or a few ops per element by convention, not FMA-unit work).
_MAC_CLASSES = frozenset({"conv_first", "conv3x3s1", "conv1x1", "conv", "dwconv3x3",
                          "dwconv5x5", "dwconv", "fc", "attention"})


def max_kernel_efficiency(kernel_class: str) -> float:
    """The largest efficiency a :class:`KernelModel` may state: twice
    :func:`max_efficiency` for classes of multiply-accumulates (a CPU's detected peak may be
    its base clock while it runs at turbo; the host probe measures the clock under load), and
    8 for element-wise classes, whose ops are a counting convention (one op per element for a
    sigmoid) that a vectorised kernel beats."""
    return 2 * max_efficiency(kernel_class) if kernel_class in _MAC_CLASSES else 8.0


OnUnsupported = Literal["infeasible", "fallback_layer", "fallback_tail"]


class DvfsLevel(Frozen):
    """One operating point of a device with frequency scaling."""

    name: str = Field(min_length=1)
    clock_hz: Frequency = Field(gt=0)
    active_w: Power = Field(gt=0)


class PowerSpec(Frozen):
    """Power draw of one device: idle (powered, nothing running) and active (running).

    ``active_w`` is the draw at the nominal clock; ``dvfs`` optionally lists other operating
    points, whose compute peak scales with ``clock_hz`` relative to the device's clock.
    """

    idle_w: Power = Field(ge=0)
    active_w: Power = Field(gt=0)
    dvfs: tuple[DvfsLevel, ...] = ()

    @model_validator(mode="after")
    def _active_not_below_idle(self) -> PowerSpec:
        if self.active_w < self.idle_w:
            raise ValueError(f"active_w ({self.active_w:g} W) must be >= idle_w "
                             f"({self.idle_w:g} W)")
        names = [level.name for level in self.dvfs]
        if len(set(names)) != len(names):
            raise ValueError(f"dvfs level names must be unique, got {names}")
        return self


class CacheLevel(Frozen):
    """One level of a CPU's caches (``dse host probe`` reads them from sysfs).

    Attributes:
        size_bytes: Size of one instance.
        shared_by_cpus: Logical CPUs sharing one instance (1: private to a core without SMT).
    """

    size_bytes: Bytes = Field(gt=0)
    shared_by_cpus: PositiveInt = 1


class ContentionSpec(Frozen):
    """How the device slows down beside co-runners on the memory it shares with them: the law
    :func:`dse.cost.concurrency.contention_slowdown`, piecewise linear in the aggregate DRAM
    demand (PCCS's three regions). Demands are fractions of the shared memory's sustained
    bandwidth (the platform's ``dram_bw_bytes_s``, else the device's ``mem_bw_bytes_s``), so
    the law carries over to a faster or slower memory. A device without it takes the datasheet
    default (:data:`DEFAULT_CONTENTION`: proportional sharing).

    Attributes:
        knee: Aggregate demand (fraction of the bandwidth) where the slowdown starts.
        saturation: Aggregate demand where it stops growing (``None``: it never does).
        slope: Slowdown per unit of own demand times aggregate demand beyond the knee.
    """

    knee: float = Field(ge=0)
    saturation: float | None = Field(default=None, gt=0)
    slope: float = Field(gt=0)

    @model_validator(mode="after")
    def _saturation_after_knee(self) -> ContentionSpec:
        if self.saturation is not None and self.saturation <= self.knee:
            raise ValueError(f"saturation ({self.saturation:g}) must be above knee "
                             f"({self.knee:g})")
        return self

    def law(self) -> dict[str, float]:
        """The keyword arguments of :func:`~dse.cost.concurrency.contention_slowdown`."""
        return {"knee": self.knee, "slope": self.slope,
                "saturation": float("inf") if self.saturation is None else self.saturation}


class DeviceSpec(Frozen):
    """One processing element, as a datasheet (or paper) describes it.

    Units are in the field names; YAML may give strings with units (``"25.6 GB/s"``), parsed
    strictly. The ``kind`` names an entry of the device-kind registry
    (:mod:`dse.devices.kinds`), which checks kind-specific fields and may derive some values
    (a CPU cluster's peak from cores x clock x ops per cycle; a DPU core's from its size and
    clock); derived paths are listed in ``derived``.

    Attributes:
        peak_ops_s: Peak throughput per precision in ops/s (1 MAC = 2 ops). A precision absent
            here is one the device cannot run.
        mem_bw_bytes_s: Sustained bandwidth to the memory holding activations and (non-resident)
            weights.
        onchip_mem_bytes: On-chip memory for weights. Weights that fit stay resident across
            inferences; the rest are read again every inference.
        onchip_holds_activations: The on-chip memory also holds the activations of the layer
            running (the Edge TPU's SRAM): the weights may use only what the largest layer's
            input and output leave free (:func:`dse.cost.memory.place_weights`).
        dram_bytes: Memory of the device's own; ``None`` means it has none, so weights that do
            not fit on chip are streamed over its link every inference (the Edge TPU case).
        sram_bytes: Data RAM that holds the activation arena, the runtime's scratch buffers and
            its state (a microcontroller's SRAM; a micro-NPU's data memory). With
            ``flash_bytes`` and ``weight_mem_bytes`` these are the memories of the fit check
            (:mod:`dse.cost.footprint`); a device declaring none of them is not checked.
        flash_bytes: Non-volatile memory holding the weights and the runtime's code (flash,
            MRAM), read in place.
        weight_mem_bytes: A dedicated weight memory the accelerator computes from, which every
            weight must fit (the MAX78000 CNN's 442,368 bytes): it cannot stream the rest.
        efficiency: Achieved/peak compute per kernel class or op class (``default`` for
            classes not listed; see :mod:`dse.workloads.kernels`). At most 1, except
            ``conv3x3s1``, which a Winograd kernel runs with fewer multiplies than the direct
            MAC count (F(m x m, 3 x 3) does (m + 2)^2 multiplies for m^2 outputs: 5.06x fewer
            for m = 6; Lavin & Gray, Fast Algorithms for Convolutional Neural Networks, CVPR
            2016, section 4).
        kernel_models: Per kernel class, a size-dependent efficiency, thread scaling, launch
            cost and bandwidth (:class:`KernelModel`, fitted from single-kernel timings by
            :mod:`dse.calibrate.kernel_fit`); a class listed here replaces ``efficiency``,
            ``parallel_fraction`` and ``overhead_per_layer_s`` for its layers.
        overhead_per_inference_s: Fixed cost of one inference (driver, launch, sync).
        overhead_per_layer_s: Fixed cost of each layer (kernel launch, descriptor setup).
        host_overhead_per_inference_s: Host CPU time per inference outside the device: the
            runtime's input and output conversion and dispatch (a Vitis AI runner's
            quantisation of the input, a delegate's copies). It adds to one inference's latency
            but does not hold the device, so with several host threads it overlaps the device's
            work on other inferences.
        slots: Inferences the device runs concurrently (OpenVINO streams, DPU runner threads).
        slot_speedup: Throughput with k slots busy, relative to one (k = 1..slots); the default
            is linear (independent slots).
        parallel_fraction: For a CPU cluster, the share of an inference's compute that
            parallelises over its cores (Amdahl): ``t`` threads run compute
            ``1 / ((1 - p) + p / t)`` times faster than one core. ``None`` means linear; the
            datasheet peak is the all-cores figure either way.
        supported_ops: Op classes or ONNX op types the device runs; ``None`` means all.
        on_unsupported: What happens to other layers: ``infeasible``; ``fallback_layer`` (each
            runs on the fallback device, with transfers at every crossing); ``fallback_tail``
            (the first unsupported layer and everything after it run on the fallback device,
            as the Edge TPU compiler does).
        fallback_device: Which device runs the rest: ``host``, the platform's host CPU (the
            only value modelled; a named fallback device is refused when the spec is
            validated).
        needs_host_core: A host CPU thread is busy while the device works (it feeds a USB stick,
            drives a GPU/NPU).
        caches: A CPU's caches by level (``l1d``, ``l1i``, ``l2``, ``l3``), as probed; a
            record for kernel-level models, not read by the cost model (which uses
            ``onchip_mem_bytes``).
        mem_bw_one_thread_bytes_s: A CPU's sustained bandwidth from one thread (one core's
            outstanding misses cap it below ``mem_bw_bytes_s``), as probed; a record, not read
            by the cost model.
        link: The interconnect type the device sits on (``usb3``, ``pcie_gen2_x1``, ``soc_bus``),
            or ``None`` for the host itself.
        contention: Its slowdown beside co-runners on shared memory (:class:`ContentionSpec`);
            ``None``: the datasheet default, proportional sharing of the bandwidth.
        default_runtime: The runtime (``devices/runtimes/``) its catalog figures and shared
            measurements assume, or else the vendor's stock stack; the catalog checks that it
            runs on the device's kind. ``None``: none named (a user's what-if device).
        latency_spread: How one inference's service time spreads around the cost model's
            (median) time on this target: quantiles as ratios to the median
            (:class:`~dse.spec.spread.LatencySpread`); usually fitted into the target's overlay
            (:mod:`dse.calibrate.spread`). ``None``: :data:`~dse.spec.spread.DEFAULT_SPREAD`.
    """

    NOT_NUMBERS: ClassVar[frozenset[str]] = frozenset({
        "name", "kind", "description", "vendor", "dpu_arch", "supported_ops", "on_unsupported",
        "fallback_device", "needs_host_core", "link", "sources", "derived", "notes",
        "default_runtime", "onchip_holds_activations"})

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    kind: str
    description: str = ""
    vendor: str = ""
    peak_ops_s: dict[str, Annotated[OpsPerSecond, Field(gt=0)]] = Field(default_factory=dict)
    cores: PositiveInt | None = None
    clock_hz: Frequency | None = Field(default=None, gt=0)
    ops_per_cycle_per_core: dict[str, PositiveFloat] | None = None
    dpu_arch: str | None = None
    mem_bw_bytes_s: Bandwidth = Field(gt=0)
    onchip_mem_bytes: Bytes = Field(ge=0)
    dram_bytes: Bytes | None = Field(default=None, gt=0)
    sram_bytes: Bytes | None = Field(default=None, gt=0)
    flash_bytes: Bytes | None = Field(default=None, gt=0)
    weight_mem_bytes: Bytes | None = Field(default=None, gt=0)
    onchip_holds_activations: StrictBool = False
    caches: dict[str, CacheLevel] | None = None
    mem_bw_one_thread_bytes_s: Bandwidth | None = Field(default=None, gt=0)
    efficiency: dict[str, float] = Field(default_factory=dict)
    kernel_models: dict[str, KernelModel] = Field(default_factory=dict)
    overhead_per_inference_s: Seconds = Field(default=0.0, ge=0)
    overhead_per_layer_s: Seconds = Field(default=0.0, ge=0)
    host_overhead_per_inference_s: Seconds = Field(default=0.0, ge=0)
    slots: PositiveInt = 1
    slot_speedup: tuple[PositiveFloat, ...] | None = None
    parallel_fraction: float | None = Field(default=None, gt=0, le=1)
    supported_ops: tuple[str, ...] | None = None
    on_unsupported: OnUnsupported = "infeasible"
    fallback_device: str = "host"
    needs_host_core: StrictBool = False
    link: str | None = None
    default_runtime: str | None = None
    contention: ContentionSpec | None = None
    latency_spread: LatencySpread | None = None
    power: PowerSpec
    price_usd: NonNegativeFloat | None = None
    sources: tuple[Source, ...] = Field(min_length=1)
    derived: tuple[str, ...] = ()
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _derive_from_kind(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        # Re-derive on every validation, so a copy with a new clock gets a consistent peak.
        for path in data.pop("derived", None) or ():
            top, _, key = str(path).partition(".")
            if isinstance(data.get(top), Mapping) and key:
                data[top] = {k: v for k, v in data[top].items() if k != key}
        kind = data.get("kind")
        try:
            rules = spec_kind(kind) if isinstance(kind, str) else None
        except KeyError:
            return data  # reported by the field validator below
        if rules is None:
            return data
        values, derived = rules.derive(data)
        values["derived"] = tuple(derived)
        return values

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in kind_names():
            raise ValueError(did_you_mean(value, kind_names(), what="device kind"))
        return value

    @field_validator("fallback_device")
    @classmethod
    def _host_fallback(cls, value: str) -> str:
        # The simulator sends unsupported layers to the platform's host cluster; a device
        # named here would be silently ignored, so it is refused.
        if value != "host":
            raise ValueError(f"only 'host' (the platform's host CPU) can take the layers a "
                             f"device does not support; a named fallback device is not "
                             f"modelled, got {value!r}")
        return value

    @field_validator("peak_ops_s", "ops_per_cycle_per_core")
    @classmethod
    def _known_precisions(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        problems = [f"{precision}: " + did_you_mean(precision, PRECISION_BYTES,
                                                     what="precision")
                    for precision in value or {} if precision not in PRECISION_BYTES]
        if problems:
            raise ValueError("\n".join(problems))
        return value

    @field_validator("caches")
    @classmethod
    def _cache_keys(cls, value: dict[str, CacheLevel] | None) -> dict[str, CacheLevel] | None:
        bad = [k for k in value or {} if re.fullmatch(r"l[1-4][di]?", k) is None]
        if bad:
            raise ValueError(f"unknown cache level {', '.join(map(repr, bad))}; expected "
                             f"l1d, l1i, l2, l3 (l<level> with d or i for a split level)")
        return value

    @field_validator("efficiency")
    @classmethod
    def _efficiency_range(cls, value: dict[str, float]) -> dict[str, float]:
        problems = []
        for op_class, number in value.items():
            if op_class != "default" and op_class not in OP_CLASSES and \
                    op_class not in KERNEL_CLASSES:
                problems.append(f"{op_class}: " + did_you_mean(
                    op_class, ["default", *OP_CLASSES, *KERNEL_CLASSES],
                    what="efficiency key"))
            elif not 0 < number <= max_efficiency(op_class):
                problems.append(f"{op_class}: must be in (0, {max_efficiency(op_class):g}], "
                                f"got {number:g}")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("kernel_models")
    @classmethod
    def _kernel_models(cls, value: dict[str, KernelModel]) -> dict[str, KernelModel]:
        problems = []
        for name, model in value.items():
            if name not in KERNEL_CLASSES:
                problems.append(f"{name}: " + did_you_mean(name, KERNEL_CLASSES,
                                                           what="kernel class"))
            elif max(model.efficiency) > max_kernel_efficiency(name):
                problems.append(f"{name}.efficiency: must be at most "
                                f"{max_kernel_efficiency(name):g}, got "
                                f"{max(model.efficiency):g}")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeviceSpec:
        problems: list[str] = []
        if not self.peak_ops_s:
            problems.append("peak_ops_s: must give at least one precision (or the fields its "
                            "kind derives it from)")
        if self.slot_speedup is not None:
            s = self.slot_speedup
            if len(s) != self.slots:
                problems.append(f"slot_speedup: must have one entry per slot ({self.slots}), "
                                f"got {len(s)}")
            elif s[0] != 1.0:
                problems.append(f"slot_speedup: first entry (one slot busy) must be 1, "
                                f"got {s[0]:g}")
            elif any(b < a for a, b in itertools.pairwise(s)):
                problems.append(f"slot_speedup: must not decrease, got {list(s)}")
            elif any(x > k + 1 for k, x in enumerate(s)):
                problems.append(f"slot_speedup: k busy slots cannot be more than k times "
                                f"faster than one, got {list(s)}")
        if self.supported_ops is None and self.on_unsupported != "infeasible":
            problems.append("on_unsupported: only meaningful with a supported_ops list")
        problems += coverage_problems(self, self.sources, derived=self.derived)
        problems += spec_kind(self.kind).check(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ----- derived views -------------------------------------------------------------------

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions the device runs, in the order of its ``peak_ops_s``."""
        return tuple(self.peak_ops_s)

    @property
    def declares_memories(self) -> bool:
        """Whether the device states the memories of the fit check (``sram_bytes``,
        ``flash_bytes`` or ``weight_mem_bytes``)."""
        return any(v is not None for v in (self.sram_bytes, self.flash_bytes,
                                             self.weight_mem_bytes))

    def efficiency_for(self, op_class: str) -> float:
        """Achieved/peak compute for one kernel class or op class: the class's own value, else
        (for a kernel class) its op class's, else ``default``, else 1.0."""
        return lookup_efficiency(self.efficiency, op_class)

    def supports(self, op: str, op_class: str) -> bool:
        """Whether the device runs a layer of this ONNX op type and class."""
        return self.supported_ops is None or op in self.supported_ops or \
            op_class in self.supported_ops

    @property
    def spread(self) -> LatencySpread:
        """The target's service-time spread: its own, else the default."""
        return self.latency_spread if self.latency_spread is not None else DEFAULT_SPREAD

    def speedup(self, busy_slots: int) -> float:
        """Throughput with ``busy_slots`` inferences in flight, relative to one."""
        k = max(1, min(busy_slots, self.slots))
        return self.slot_speedup[k - 1] if self.slot_speedup is not None else float(k)

    def contention_law(self) -> dict[str, float]:
        """The keyword arguments of :func:`~dse.cost.concurrency.contention_slowdown` for this
        device: its ``contention``, else the datasheet default (proportional sharing)."""
        if self.contention is not None:
            return self.contention.law()
        knee, saturation, slope = DEFAULT_CONTENTION
        return {"knee": knee, "saturation": saturation, "slope": slope}

    def with_changes(self, reason: str, **changes: Any) -> DeviceSpec:
        """A what-if copy: this device with some fields changed, validated again.

        Derived values follow (a new ``clock_hz`` gives a new derived peak). The changed fields
        are sourced to an ``assumption`` citing ``reason``; ``self`` is unchanged.

        Example:
            ``tpu.with_changes("twice the parameter memory", onchip_mem_bytes="16 MiB")``

        Raises:
            SpecError: A changed value is invalid (the message names the field).
        """
        from dse.errors import SpecError
        from dse.spec.loading import validate

        data = self.model_dump(exclude_unset=True)
        data.update(changes)
        fields = [name for name, value in changes.items() if value is not None]
        if fields:
            data["sources"] = [{"id": f"what-if-{len(self.sources)}", "kind": "assumption",
                                "cite": reason, "fields": fields}, *data["sources"]]
        spec, problems = validate(DeviceSpec, data, file=f"{self.name} (what-if)")
        if spec is None:
            raise SpecError(problems)
        return spec

    def source_of(self, path: str) -> Source | None:
        """The source covering one spec path, if any (the most specific one)."""
        return source_for(self.sources, path)
