"""The runtime model: the software stack a device runs a network with.

The same silicon runs 2-6x apart under different stacks (ARM Compute Library, ncnn and TFLite on
one Mali GPU), so a *target* is device x runtime (x precision). A :class:`RuntimeSpec` states
what a stack does to a network before any arithmetic: which ops it folds into the epilogue of
the preceding Conv/Gemm/MatMul, which specialised kernel classes it has (:data:`KERNELS`), how
many threads its stock benchmark uses, and whether the latencies its usual benchmarks report
include host-side work. Like a device, it is frozen and validated once, and every claim it
makes is covered by one of its :class:`~dse.spec.sources.Source` entries.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, PositiveInt, StrictBool, field_validator, model_validator

from dse.errors import did_you_mean
from dse.spec.kinds import kind_names
from dse.spec.sources import Frozen, Source, source_for
from dse.spec.units import Bytes
from dse.spec.vocabulary import EPILOGUE_OPS, PRECISION_BYTES, onnx_op_types

__all__ = ["CLAIMS", "KERNELS", "SCRATCH", "RuntimeSpec"]

#: Specialised kernel implementations a runtime may have, and what each means.
KERNELS: dict[str, str] = {
    "winograd_3x3": "Winograd convolution for 3x3 stride-1 kernels",
    "gemm_1x1": "1x1 convolution run as a GEMM on the activations, without im2col",
    "im2col_gemm": "convolution lowered to an im2col copy plus a GEMM",
    "direct_conv": "direct (sliding-window) convolution kernels",
    "depthwise": "dedicated depthwise-convolution kernels",
    "int8": "integer (8-bit) arithmetic kernels",
    "fp16": "half-precision floating-point arithmetic kernels",
    "fused_attention": "a whole attention block (QK^T, softmax, V) in one kernel",
    "swish": "x * sigmoid(x) (SiLU) as one elementwise kernel: one pass over x, no Sigmoid pass",
    "gelu": "an exported exact GELU (x * 0.5 * (1 + erf(x / sqrt 2))) as one elementwise kernel",
    "skip_layernorm": "a residual Add and the layer normalisation that reads it as one kernel",
    "conv_sum": "a residual Add folded into the convolution before it (the convolution "
                "accumulates onto the skip tensor): no Add pass",
}

#: The fields whose values are claims about the stack: each must be covered by a source.
#: List fields are claimed item by item (``kernels.winograd_3x3``); a source naming the field
#: (``kernels``) covers every item.
CLAIMS: tuple[str, ...] = ("precisions", "fuses", "kernels", "default_threads",
                           "timing_includes_host", "code_bytes", "ram_bytes", "ram_per_op_bytes",
                           "ram_per_tensor_bytes", "scratch")

#: Scratch-buffer rules a runtime may follow (:data:`dse.cost.footprint.SCRATCH_RULES` sizes
#: them), and what each means.
SCRATCH: dict[str, str] = {
    "cmsis_nn": "CMSIS-NN s8 kernels built for the DSP extension (Cortex-M4/M7/M33): an im2col "
                "buffer per convolution, one for depthwise convolutions other than 3x3",
    "cmsis_nn_mve": "CMSIS-NN s8 kernels built for Helium (MVE, Cortex-M55/M85)",
    "none": "no scratch buffers beside the activations",
}

#: Further fields a source may name (they are facts too, but the check does not demand them).
_ALSO_SOURCED = ("version", "device_kinds", "host_work", "url")


class RuntimeSpec(Frozen):
    """One software stack (inference engine plus the kernels and compiler it ships with).

    Attributes:
        name: The file name (``acl``, ``ncnn_vulkan``).
        version: The release the catalog describes (``"18.05"``), as the vendor numbers it.
        device_kinds: Device kinds (:func:`dse.devices.kinds.kind_names`) it runs on.
        precisions: Precisions (keys of :data:`dse.spec.vocabulary.PRECISION_BYTES`) it has
            kernels for.
        fuses: ONNX op types it folds into the epilogue of the preceding Conv/Gemm/MatMul
            (``BatchNormalization``, ``Relu``, ``Clip``; ``Add`` only if it fuses residual adds
            into the convolution). ``None``: not documented (no claim either way); ``[]``: it
            fuses nothing.
        kernels: Specialised kernel classes it has, from :data:`KERNELS`; ``None``: not
            documented.
        default_threads: Threads per inference of its stock benchmark: ``None`` means all
            cores of the cluster it runs on (CPU runtimes); for an accelerator runtime the host
            threads that drive it (usually 1).
        timing_includes_host: Whether the latencies its usual benchmarks report include host
            work (input quantisation or conversion, USB transfers, pre/post-processing), and so
            depend on the host machine.
        host_work: What that per-inference host work is.
        code_bytes: Flash its code takes (the interpreter or generated code; what it includes
            is said by its source). ``None``: not stated, not counted.
        ram_bytes: RAM it takes whatever the model (interpreter object, allocator state).
        ram_per_op_bytes: RAM it keeps per operator of the model (node and registration
            structs, the kernels' persistent data).
        ram_per_tensor_bytes: RAM it keeps per tensor (tensor structs).
        scratch: The rule its kernels' scratch buffers follow (:data:`SCRATCH`); the footprint
            plans them in the arena, alive during their layer only.
    """

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    description: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    version: str = Field(min_length=1)
    url: str | None = None
    device_kinds: tuple[str, ...] = Field(min_length=1)
    precisions: tuple[str, ...] = Field(min_length=1)
    fuses: tuple[str, ...] | None = None
    kernels: tuple[str, ...] | None = None
    default_threads: PositiveInt | None
    timing_includes_host: StrictBool
    host_work: str = ""
    code_bytes: Bytes | None = Field(default=None, ge=0)
    ram_bytes: Bytes | None = Field(default=None, ge=0)
    ram_per_op_bytes: Bytes | None = Field(default=None, ge=0)
    ram_per_tensor_bytes: Bytes | None = Field(default=None, ge=0)
    scratch: str | None = None
    sources: tuple[Source, ...] = Field(min_length=1)
    notes: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        # YAML reads 18.05 as the float 18.05 (and 2.10 as 2.1): ask for a string.
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"write the version as a string (\"{value}\" in quotes), so "
                             f"that 2.10 does not become 2.1; got {value!r}")
        return value

    @field_validator("device_kinds")
    @classmethod
    def _known_kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, kind_names(), "device kind")

    @field_validator("precisions")
    @classmethod
    def _known_precisions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known(value, list(PRECISION_BYTES), "precision")

    @field_validator("fuses")
    @classmethod
    def _known_ops(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        known = onnx_op_types() - {"Conv", "Gemm", "MatMul"}
        return _known(value, sorted(known), "ONNX op type", show=sorted(EPILOGUE_OPS | {"Add"}))

    @field_validator("kernels")
    @classmethod
    def _known_kernels(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else _known(value, list(KERNELS), "kernel")

    @field_validator("scratch")
    @classmethod
    def _known_scratch(cls, value: str | None) -> str | None:
        if value is not None and value not in SCRATCH:
            raise ValueError(did_you_mean(value, list(SCRATCH), what="scratch rule"))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RuntimeSpec:
        problems = []
        for kernel in ("int8", "fp16"):
            if kernel in (self.kernels or ()) and kernel not in self.precisions:
                problems.append(f"kernels.{kernel}: {kernel} kernels, but {kernel} is not "
                                f"among precisions {list(self.precisions)}")
        problems += claim_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def claims(self) -> list[str]:
        """The paths of every claim this spec states (``kernels.winograd_3x3``, ...)."""
        return list(_claim_paths(self))

    def source_of(self, path: str) -> Source | None:
        """The source covering one claim path, if any (the most specific one)."""
        return source_for(self.sources, path)


def _known(value: tuple[str, ...], known: list[str] | frozenset[str], what: str, *,
           show: list[str] | None = None) -> tuple[str, ...]:
    problems = [f"{item}: " + did_you_mean(item, known if show is None else show, what=what)
                + (" (or any op type dse counts)" if show else "")
                for item in value if item not in known]
    if len(set(value)) != len(value):
        problems.append(f"listed twice: {sorted({v for v in value if value.count(v) > 1})}")
    if problems:
        raise ValueError("\n".join(problems))
    return value


def _claim_paths(spec: RuntimeSpec) -> Iterator[str]:
    for field in CLAIMS:
        value = getattr(spec, field)
        if isinstance(value, tuple):
            yield from (f"{field}.{item}" for item in value)
            if not value:
                yield field  # "fuses nothing" is a claim too
        elif value is not None or field == "default_threads":
            yield field  # default_threads null ("all cores") is a claim


def claim_problems(spec: RuntimeSpec) -> list[str]:
    """Claims stated without a source, and source fields that name nothing.

    Returns:
        Problem lines ``path: message``; empty when every claim is covered.
    """
    claims = list(_claim_paths(spec))
    problems = [f"{path}: no source given for this claim (add the path to the fields of an "
                f"entry in sources)" for path in claims if source_for(spec.sources, path) is None]
    known = [*claims, *_ALSO_SOURCED]
    for source in spec.sources:
        problems += [f"sources.{source.id}: field {f!r} names no claim this runtime states "
                     f"(claims: {', '.join(CLAIMS)}; also {', '.join(_ALSO_SOURCED)})"
                     for f in source.fields
                     if not any(k == f or k.startswith(f + ".") for k in known)]
    ids = [s.id for s in spec.sources]
    if len(set(ids)) != len(ids):
        problems.append(f"sources: ids must be unique, got {ids}")
    return problems
