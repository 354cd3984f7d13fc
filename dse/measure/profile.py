"""Per-node times from ONNX Runtime's profiler, matched to dse's workload graph.

With ``SessionOptions.enable_profiling`` ONNX Runtime writes a Chrome-trace JSON file: a list of
events, among them one ``model_run`` event (``cat: Session``) per ``run()`` call and one
``<node>_kernel_time`` event (``cat: Node``, ``args.op_name`` the op type) per node executed,
with ``ts`` and ``dur`` in microseconds. :func:`node_times` keeps the kernel events of the last
``runs`` ``model_run`` calls (the warm-up runs come first) and takes the median per node.

How ONNX Runtime's node names map to dse's graph node names (:func:`graph_node`): dse names
every graph node after its ONNX node (``conv1``; an unnamed ONNX node gets ``<OpType>_<index>``,
and :mod:`dse.measure.host` gives ONNX Runtime the same names before it loads the model). ONNX
Runtime keeps a node's name while it survives graph optimization, and names the nodes its
optimizers make after the node they replace, with a suffix or prefix: the NCHWc layout
transformer appends ``_nchwc`` (``clip1_nchwc`` is the fused Conv + BatchNormalization + Clip
carrying the Clip's name), fusions append ``/<FusionName>/`` (``mul1/QuickGeluFusion/``),
fused Gemms get a ``fused`` prefix (``fused pooler.dense``), and names made unique get
``_token_<n>``. The match strips these and looks the rest up in the graph; a fused node thus
matches the one graph node whose name it kept, not every node it absorbed. Nodes ONNX Runtime
inserts on its own (``ReorderInput``, ``ReorderOutput``, Reshapes around a Gemm) match nothing
and keep an empty ``graph_node``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NODE_COLUMNS", "graph_node", "node_times"]

#: Columns of the per-node table (and of the ``.nodes.csv`` sidecar).
NODE_COLUMNS = ("workload", "options", "threads", "node", "graph_node", "op_type", "median_us",
                "calls")

_SUFFIX = re.compile(r"(_nchwc|_token_\d+)+$")


def graph_node(ort_name: str, graph_nodes: Collection[str]) -> str:
    """The dse graph node an ONNX Runtime node name stands for, or ``""`` (see the module
    docstring for the rules)."""
    if ort_name in graph_nodes:
        return ort_name
    base = ort_name.removeprefix("fused ").split("/", 1)[0]
    base = _SUFFIX.sub("", base)
    return base if base in graph_nodes else ""


def node_times(trace: Path | str | list[dict[str, Any]], *, runs: int,
               graph_nodes: Collection[str] = ()) -> pd.DataFrame:
    """Median kernel time per node over the last ``runs`` runs of a profiler trace.

    Args:
        trace: The JSON file ``InferenceSession.end_profiling()`` returned, or its events.
        runs: How many of the last ``model_run`` calls to keep (the earlier ones are warm-up).
        graph_nodes: Node names of the dse workload graph, to fill ``graph_node``.

    Returns:
        One row per node in first-execution order: ``node`` (ONNX Runtime's name),
        ``graph_node``, ``op_type``, ``median_us``, ``calls`` (kernel events counted).
    """
    events = json.loads(Path(trace).read_text()) if isinstance(trace, str | Path) else trace
    starts = sorted(e["ts"] for e in events
                    if e.get("cat") == "Session" and e.get("name") == "model_run")
    since = starts[-runs] if 0 < runs <= len(starts) else (starts[0] if starts else 0)
    durations: dict[str, list[float]] = {}
    op_types: dict[str, str] = {}
    for e in events:
        name = str(e.get("name", ""))
        if e.get("cat") != "Node" or not name.endswith("_kernel_time") or e.get("ts", 0) < since:
            continue
        node = name.removesuffix("_kernel_time")
        durations.setdefault(node, []).append(float(e.get("dur", 0.0)))
        op_types.setdefault(node, str((e.get("args") or {}).get("op_name", "")))
    return pd.DataFrame(
        [{"node": node, "graph_node": graph_node(node, graph_nodes), "op_type": op_types[node],
          "median_us": float(np.median(d)), "calls": len(d)} for node, d in durations.items()],
        columns=["node", "graph_node", "op_type", "median_us", "calls"])
