"""The names specs are written in: precisions, op classes, kernel classes, epilogue ops.

Specs validate against these (a device's ``efficiency`` keys, a runtime's ``precisions`` and
``fuses``); the workload layer classifies layers into them (:mod:`dse.workloads.ops`,
:mod:`dse.workloads.kernels`). They live here, below both, so that the spec layer depends on
nothing above it.
"""

from __future__ import annotations

import functools

__all__ = ["EPILOGUE_OPS", "KERNEL_CLASSES", "OP_CLASSES", "PRECISION_BYTES", "onnx_op_types"]

#: Bytes per tensor element at each supported precision.
PRECISION_BYTES: dict[str, float] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}

#: Op classes (DESIGN.md §2): what a layer computes.
OP_CLASSES: tuple[str, ...] = (
    "conv",
    "dwconv",
    "matmul",
    "pool",
    "eltwise",
    "norm",
    "activation",
    "attention",
    "data-movement",
    "other",
)

#: Kernel class -> the op class whose efficiency it falls back to (``None``: ``default``).
#: Which kernel class a layer is, is :mod:`dse.workloads.kernels`' business.
KERNEL_CLASSES: dict[str, str | None] = {
    "conv_first": "conv",      # the first convolution, on the image (3 or 1 channels)
    "conv3x3s1": "conv",       # 3x3 stride 1: Winograd where the runtime has it
    "conv1x1": "conv",         # pointwise: a GEMM without im2col
    "conv": "conv",            # other kernel sizes and strides (im2col + GEMM, direct)
    "dwconv3x3": "dwconv",
    "dwconv5x5": "dwconv",
    "dwconv": "dwconv",        # other depthwise kernel sizes
    "fc": "matmul",            # a product with a weight matrix (Gemm, MatMul)
    "attention": "attention",  # a product of two activations (QK^T, AV)
    "se": None,                # squeeze-excite: layers on a globally pooled tensor, the gate
    "gating": "activation",    # SiLU / swish: x * sigmoid(x)
    "gelu": "activation",      # the Erf of an exported exact GELU (graph.gelu_groups)
    "lrn": "norm",
    "softmax": "activation",
    "layernorm": "norm",
    "skip_layernorm": "norm",  # a layer norm whose input is a residual Add read by it alone
    "pool": "pool",
    "eltwise": "eltwise",
    "activation": "activation",
    "norm": "norm",
    "data-movement": "data-movement",
    "other": "other",
}

#: Ops an inference runtime computes in the epilogue of the Conv/MatMul before them, on the
#: output while it is still on chip (OpenVINO, TFLite, TensorRT and Vitis AI all fuse
#: Conv+BatchNorm+activation).
EPILOGUE_OPS = frozenset({"BatchNormalization", "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid",
                          "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Softplus", "Gelu",
                          "Mish", "Swish"})


@functools.cache
def onnx_op_types() -> frozenset[str]:
    """Every op type of the ONNX standard (all domains the installed ``onnx`` defines), plus
    the epilogue ops exporters emit outside it (``Swish``)."""
    import onnx.defs  # NOTE: deferred: onnx takes a while to import and most specs never ask

    return frozenset(s.name for s in onnx.defs.get_all_schemas_with_history()) | EPILOGUE_OPS
