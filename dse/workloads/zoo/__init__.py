"""The built-in zoo: classic models built as ONNX in code (nothing is downloaded).

Use :func:`build` for the ONNX model and :func:`names` for the list. See
``workloads/README.md`` for how zoo names join the measurement tables.
"""

from dse.workloads.zoo.registry import (
    MAX_MODEL_BYTES,
    ZooModel,
    build,
    get,
    names,
    register,
    resolve,
    unknown_name,
)

__all__ = ["MAX_MODEL_BYTES", "ZooModel", "build", "get", "names", "register", "resolve",
           "unknown_name"]
