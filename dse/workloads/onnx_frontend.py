"""ONNX frontend: an ONNX model in, a workload graph out.

The model is checked as a whole before anything is counted, and every problem found (unknown op
types, tensors produced twice, undefined inputs, cycles, external data outside the model's
folder, unknown shapes) is reported in one :class:`~dse.errors.OnnxError`.

Weights are never copied: shape inference runs on a *skeleton* of the model whose initializers are
replaced by typed graph inputs (small integer initializers are kept, since shape inference needs
their values, e.g. a Reshape's target shape), and external data is never read at all, only its
location checked. Only dims and element types are needed to count a model.

Constant folding: ``Constant`` nodes and nodes whose inputs are all constants (a
``DequantizeLinear`` of int8 weights, a ``Transpose`` of a weight) are not operators at run time;
their outputs count as weights of the operators that consume them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import onnx
from onnx import ModelProto, TensorProto, helper, shape_inference

from dse.errors import OnnxError, Problem
from dse.spec import loading
from dse.spec.loading import read_bytes_bounded
from dse.workloads.ops import COUNTERS, NodeView, count_node

__all__ = ["graph_from_model", "load_onnx"]

UnknownOps = Literal["error", "other"]

_DEFAULT_DOMAINS = ("", "ai.onnx")

# Constant inputs that are operator arguments or statistics, not learned parameters. They are
# still weights (read every inference) but not counted in `params`.
_ARGUMENT_INPUTS: dict[str, frozenset[int]] = {
    "BatchNormalization": frozenset({3, 4}),  # running mean and variance
    "Clip": frozenset({1, 2}),
    "Pad": frozenset({1, 2, 3}),
    "Resize": frozenset({1, 2, 3}),
    "Upsample": frozenset({1}),
    "Reshape": frozenset({1}),
    "Slice": frozenset({1, 2, 3, 4}),
    "Squeeze": frozenset({1}),
    "Unsqueeze": frozenset({1}),
    "Expand": frozenset({1}),
    "Tile": frozenset({1}),
    "Split": frozenset({1}),
    "TopK": frozenset({1}),
    "NonMaxSuppression": frozenset({2, 3, 4}),
    "QuantizeLinear": frozenset({1, 2}),
    "DequantizeLinear": frozenset({1, 2}),
    "QLinearConv": frozenset({1, 2, 4, 5, 6, 7}),
    "QLinearMatMul": frozenset({1, 2, 4, 5, 6, 7}),
    "ConvInteger": frozenset({2, 3}),
    "MatMulInteger": frozenset({2, 3}),
}
# Integer constants are parameters only where they are quantized weights.
_INTEGER_PARAM_INPUTS: dict[str, frozenset[int]] = {
    "QLinearConv": frozenset({3, 8}),
    "QLinearMatMul": frozenset({3}),
    "ConvInteger": frozenset({1}),
    "MatMulInteger": frozenset({0, 1}),
    "DequantizeLinear": frozenset({0}),
    "Gather": frozenset({0}),
}
_FLOAT_TYPES = frozenset(
    {
        TensorProto.FLOAT,
        TensorProto.FLOAT16,
        TensorProto.BFLOAT16,
        TensorProto.DOUBLE,
    }
)
# Shape inference needs the values of small integer initializers (shapes, axes, pads).
_KEEP_INITIALIZER_ELEMS = 64
_NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"}
)


def load_onnx(
    path: str | os.PathLike[str],
    *,
    unknown_ops: UnknownOps = "error",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> nx.DiGraph:
    """Read an ONNX file into a workload graph.

    Args:
        path: The ``.onnx`` file. External data, if any, must lie inside its folder.
        unknown_ops: ``"error"`` to reject op types dse cannot count, ``"other"`` to record them
            as class ``other`` with zero MACs (listed in the workload summary).
        input_shapes: Shapes for model inputs whose dims are symbolic. A symbolic leading
            (batch) dim defaults to 1.

    Raises:
        OnnxError: If the file is missing, unreadable, malformed or hostile, with every problem.
    """
    path = Path(path)
    file = str(path)
    data, problems = read_bytes_bounded(path, limit=loading.MAX_ONNX_BYTES, label=file)
    if data is None:
        if problems[0].message == "file not found":
            problems = [Problem(file, "", "expected an ONNX file, found no such file")]
        raise OnnxError(problems)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises DecodeError and friends; all mean "not ONNX"
        raise OnnxError(
            [Problem(file, "", f"expected an ONNX model, the file could not be parsed "
                     f"({str(exc)[:200]})")]
        ) from None
    return graph_from_model(
        model,
        source=file,
        base_dir=path.resolve().parent,
        unknown_ops=unknown_ops,
        input_shapes=input_shapes,
    )


def graph_from_model(
    model: ModelProto,
    *,
    source: str,
    base_dir: Path | None = None,
    unknown_ops: UnknownOps = "error",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> nx.DiGraph:
    """Build the workload graph of an in-memory ONNX model (see :func:`load_onnx`).

    Args:
        model: The model. It is not modified.
        source: Name used in error messages (file path or zoo name).
        base_dir: Folder that external data must lie in; ``None`` forbids external data.
        unknown_ops: See :func:`load_onnx`.
        input_shapes: See :func:`load_onnx`.
    """
    problems: list[Problem] = []
    g = model.graph
    if not model.HasField("graph") or len(g.node) == 0:
        raise OnnxError([Problem(source, "graph", "expected at least one node, found none")])
    _check_opsets(model, source, problems)

    initializers = {t.name: t for t in g.initializer}
    for t in g.initializer:
        _check_external(t, f"initializer {t.name!r}", source, base_dir, problems)
    for node in g.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                _check_external(attr.t, f"node {node.name!r} attribute {attr.name!r}", source,
                                base_dir, problems)

    if _check_text(model, source, problems):
        raise OnnxError(problems)
    names = _node_ids(g.node)
    _check_attributes(model, names, source, problems)
    producer: dict[str, str] = {}
    graph_inputs = [i.name for i in g.input if i.name not in initializers]
    defined = set(graph_inputs) | set(initializers)
    for node, nid in zip(g.node, names, strict=True):
        where = f"node {nid!r} ({node.op_type})"
        for out in node.output:
            if not out:
                continue
            if out in producer or out in defined:
                first = producer.get(out, "a graph input or initializer")
                problems.append(
                    Problem(source, where, f"tensor {out!r} is already produced by {first}; "
                            "expected every tensor to be produced once")
                )
            else:
                producer[out] = nid
    known = defined | set(producer)
    for node, nid in zip(g.node, names, strict=True):
        for inp in node.input:
            if inp and inp not in known:
                problems.append(
                    Problem(source, f"node {nid!r} ({node.op_type})",
                            f"input {inp!r} is not a graph input, initializer or node output")
                )

    dag = nx.DiGraph()
    dag.add_nodes_from(names)
    for node, nid in zip(g.node, names, strict=True):
        for inp in node.input:
            if inp in producer:
                dag.add_edge(producer[inp], nid)
    if not nx.is_directed_acyclic_graph(dag):
        cycle = nx.find_cycle(dag)
        loop = " -> ".join([repr(u) for u, _ in cycle] + [repr(cycle[0][0])])
        problems.append(Problem(source, "graph", f"expected an acyclic graph, found the cycle {loop}"))

    unknown: dict[str, list[str]] = {}
    for node, nid in zip(g.node, names, strict=True):
        op = _op_key(node)
        if op != "Constant" and op not in COUNTERS:
            unknown.setdefault(op, []).append(nid)
    if unknown and unknown_ops == "error":
        for op, nodes in sorted(unknown.items()):
            shown = ", ".join(repr(n) for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
            problems.append(
                Problem(source, f"node {shown}",
                        f"op type {op!r} is not known to dse ({len(nodes)} node(s)); pass "
                        "unknown_ops='other' (CLI: --unknown-ops other) to record it as class "
                        "'other' with zero MACs")
            )
    if problems:
        raise OnnxError(problems)

    shapes, types = _infer_shapes(model, initializers, source, input_shapes, problems)
    if problems:
        raise OnnxError(problems)
    return _build(model, names, dag, producer, initializers, shapes, types, graph_inputs, source,
                  problems)


# ---------------------------------------------------------------------------------------------


def _op_key(node: onnx.NodeProto) -> str:
    return node.op_type if node.domain in _DEFAULT_DOMAINS else f"{node.domain}::{node.op_type}"


def _node_ids(nodes: Sequence[onnx.NodeProto]) -> list[str]:
    seen: set[str] = set()
    ids = []
    for i, node in enumerate(nodes):
        nid = node.name or f"{node.op_type}_{i}"
        if nid in seen:
            nid = f"{nid}_{i}"
        seen.add(nid)
        ids.append(nid)
    return ids


def _check_opsets(model: ModelProto, source: str, problems: list[Problem]) -> None:
    newest = onnx.defs.onnx_opset_version()
    for op in model.opset_import:
        if op.domain in _DEFAULT_DOMAINS and op.version > newest:
            problems.append(
                Problem(source, "opset_import",
                        f"expected ONNX opset <= {newest} (installed onnx {onnx.__version__}), "
                        f"got {op.version}")
            )


def _check_external(
    tensor: TensorProto, where: str, source: str, base_dir: Path | None, problems: list[Problem]
) -> None:
    if tensor.data_location != TensorProto.EXTERNAL:
        return
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    if base_dir is None:
        problems.append(Problem(source, where, "external data is not allowed for an in-memory "
                                "model; load it from its file"))
        return
    if "\0" in location:
        problems.append(Problem(source, where, f"expected an external data location, got a "
                                f"path with a NUL byte: {location[:80]!r}"))
        return
    if not location or Path(location).is_absolute() or ".." in Path(location).parts:
        problems.append(
            Problem(source, where, "expected external data at a relative path inside the "
                    f"model's folder, got location {location!r}")
        )
        return
    try:
        target = (base_dir / location).resolve()
        outside = not target.is_relative_to(base_dir)
        is_file = not outside and target.is_file()
        size = target.stat().st_size if is_file else 0
    except (OSError, ValueError) as exc:
        problems.append(Problem(source, where, f"external data {location[:80]!r} cannot be "
                                f"checked: {exc}"))
        return
    if outside:
        problems.append(
            Problem(source, where, f"external data {location!r} resolves to {str(target)!r}, "
                    "outside the model's folder")
        )
        return
    if not is_file:
        problems.append(Problem(source, where, f"external data file {location!r} does not exist"))
        return
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        problems.append(Problem(source, where, f"external data offset/length are not integers: {info}"))
        return
    if offset < 0 or offset > size or (length is not None and offset + length > size):
        problems.append(
            Problem(source, where, f"external data {location!r} is {size} bytes, but the tensor "
                    f"claims offset {offset} and length {length}")
        )


def _infer_shapes(
    model: ModelProto,
    initializers: Mapping[str, TensorProto],
    source: str,
    input_shapes: Mapping[str, Sequence[int]] | None,
    problems: list[Problem],
) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """Static shape and element type of every tensor, from shape inference on a skeleton."""
    g = model.graph
    input_shapes = dict(input_shapes or {})
    skeleton_inputs = []
    for vi in g.input:
        if vi.name in initializers:
            continue
        tt = vi.type.tensor_type
        if vi.name in input_shapes:
            dims: list[int] = [int(d) for d in input_shapes.pop(vi.name)]
            if not dims or not all(0 < d < loading.MAX_INT for d in dims):
                problems.append(Problem(source, f"input_shapes.{vi.name}", f"expected sizes "
                                        f"from 1 to 2**63 - 1, got {str(dims)[:80]}"))
                dims = [1] * len(dims)
        else:
            dims = []
            for k, d in enumerate(tt.shape.dim):
                if d.HasField("dim_value") and d.dim_value > 0:
                    dims.append(d.dim_value)
                elif k == 0:
                    dims.append(1)  # symbolic batch dim: one frame per inference
                else:
                    label = d.dim_param or "?"
                    problems.append(
                        Problem(source, f"input {vi.name!r} dim {k}",
                                f"expected a fixed size, found symbolic {label!r}; give "
                                "input_shapes={name: [...]} (CLI: --input-shape name=1,3,224,224)")
                    )
                    dims.append(1)
        skeleton_inputs.append(helper.make_tensor_value_info(vi.name, tt.elem_type, dims))
    for name in input_shapes:
        known = ", ".join(repr(i.name) for i in g.input if i.name not in initializers)
        problems.append(Problem(source, f"input_shapes.{name}",
                                f"no model input of that name; inputs are {known}"))
    kept = []
    for t in g.initializer:
        if t.data_type not in _FLOAT_TYPES and math.prod(t.dims) <= _KEEP_INITIALIZER_ELEMS and \
                t.data_location != TensorProto.EXTERNAL:
            kept.append(t)
        else:
            skeleton_inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    skeleton_graph = helper.make_graph(
        list(g.node), g.name or "graph", skeleton_inputs, list(g.output), initializer=kept,
        value_info=list(g.value_info),
    )
    skeleton = helper.make_model(
        skeleton_graph, opset_imports=list(model.opset_import), ir_version=max(model.ir_version, 4)
    )
    try:
        inferred = shape_inference.infer_shapes(skeleton, strict_mode=True, data_prop=True)
    except Exception as exc:  # onnx raises InferenceError, ValidationError, RuntimeError
        # one line per problem: onnx's messages span several
        text = " ".join(str(exc).split())
        problems.append(Problem(source, "shape inference", f"the model is inconsistent: "
                                f"{text[:500]}"))
        return {}, {}

    shapes: dict[str, tuple[int, ...]] = {}
    types: dict[str, int] = {}
    for t in g.initializer:
        shapes[t.name] = tuple(int(d) for d in t.dims)
        types[t.name] = t.data_type
    ig = inferred.graph
    for vi in [*ig.input, *ig.value_info, *ig.output]:
        tt = vi.type.tensor_type
        types.setdefault(vi.name, tt.elem_type)
        if not tt.HasField("shape"):
            continue
        dims_ = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        if all(d >= 0 for d in dims_):
            shapes.setdefault(vi.name, tuple(dims_))
    for node in g.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    shapes[node.output[0]] = tuple(int(d) for d in attr.t.dims)
                    types[node.output[0]] = attr.t.data_type
    return shapes, types


def _check_text(model: ModelProto, source: str, problems: list[Problem]) -> bool:
    """Names that are not UTF-8 text: protobuf hands an invalid UTF-8 string field of a proto2
    message (ONNX's) over as bytes. Whether there was one."""
    g = model.graph
    found = False
    for i, node in enumerate(g.node):
        for field, value in (("name", node.name), ("op_type", node.op_type),
                             ("domain", node.domain), *(("input", v) for v in node.input),
                             *(("output", v) for v in node.output),
                             *(("attribute name", a.name) for a in node.attribute)):
            if not isinstance(value, str):
                problems.append(Problem(source, f"node {i}", f"expected {field} as UTF-8 text, "
                                        f"got the bytes {bytes(value)[:40]!r}"))
                found = True
    for kind, items in (("initializer", g.initializer), ("input", g.input),
                        ("output", g.output), ("value_info", g.value_info)):
        for i, item in enumerate(items):
            if not isinstance(item.name, str):
                problems.append(Problem(source, f"{kind} {i}", f"expected a name as UTF-8 text, "
                                        f"got the bytes {bytes(item.name)[:40]!r}"))
                found = True
    return found


def _check_attributes(model: ModelProto, names: Sequence[str], source: str,
                      problems: list[Problem]) -> None:
    """Attributes of the standard ops whose type is not the one their schema declares (a
    ``group`` given as a string), or whose integers are out of range."""
    versions = {op.domain: op.version for op in model.opset_import}
    version = versions.get("", versions.get("ai.onnx", onnx.defs.onnx_opset_version()))
    for node, nid in zip(model.graph.node, names, strict=True):
        where = f"node {nid!r} ({node.op_type})"
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.UNDEFINED:
                problems.append(Problem(source, where, f"attribute {attr.name!r} has no type"))
            elif attr.type == onnx.AttributeProto.INT and abs(attr.i) >= loading.MAX_INT:
                problems.append(Problem(source, where, f"attribute {attr.name!r} is {attr.i}; "
                                        "expected an integer of magnitude < 2**63"))
        if node.domain not in _DEFAULT_DOMAINS:
            continue
        try:
            schema = onnx.defs.get_schema(node.op_type, max(int(version), 1), "")
        except Exception:  # onnx.defs.SchemaError: unknown op type, reported elsewhere
            continue
        for attr in node.attribute:
            spec = schema.attributes.get(attr.name)
            if spec is None or attr.type in (spec.type, onnx.AttributeProto.UNDEFINED):
                continue
            problems.append(Problem(source, where, f"attribute {attr.name!r} is of type "
                                    f"{_attr_type(attr.type)}, expected {_attr_type(spec.type)}"))


def _attr_type(kind: Any) -> str:
    try:
        return str(onnx.AttributeProto.AttributeType.Name(kind))
    except ValueError:
        return f"type {kind}"


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS,
                         onnx.AttributeProto.TENSOR, onnx.AttributeProto.SPARSE_TENSOR):
            continue
        try:
            value = helper.get_attribute_value(attr)
        except ValueError:  # an attribute without a type: reported by _check_attributes
            continue
        out[attr.name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


def _is_param(op: str, index: int, elems: int, dtype: int | None) -> bool:
    if index in _ARGUMENT_INPUTS.get(op, ()) or elems <= 1:
        return False
    if dtype is not None and dtype not in _FLOAT_TYPES:
        return index in _INTEGER_PARAM_INPUTS.get(op, ())
    return True


def _build(
    model: ModelProto,
    names: Sequence[str],
    dag: nx.DiGraph,
    producer: Mapping[str, str],
    initializers: Mapping[str, TensorProto],
    shapes: Mapping[str, tuple[int, ...]],
    types: Mapping[str, int],
    graph_inputs: Sequence[str],
    source: str,
    problems: list[Problem],
) -> nx.DiGraph:
    g = model.graph
    constant = set(initializers)
    folded: set[str] = set()
    # ONNX does not require file order to be topological: walk the dependency graph (acyclic by
    # now), ties broken by file order so that the result is deterministic.
    order = {nid: i for i, nid in enumerate(names)}
    topo = list(nx.lexicographical_topological_sort(dag, key=lambda n: order[n]))
    node_by_id = dict(zip(names, g.node, strict=True))
    for nid in topo:
        node = node_by_id[nid]
        inputs = [i for i in node.input if i]
        if node.op_type == "Constant" or (
            inputs and all(i in constant for i in inputs) and node.op_type not in _NONDETERMINISTIC
        ):
            folded.add(nid)
            constant.update(o for o in node.output if o)

    out = nx.DiGraph(
        inputs={i: shapes.get(i, ()) for i in graph_inputs},
        outputs={o.name: shapes.get(o.name, ()) for o in g.output},
        source=source,
    )
    for nid in topo:
        if nid in folded:
            continue
        node = node_by_id[nid]
        where = f"node {nid!r} ({node.op_type})"
        in_shapes: list[tuple[int, ...] | None] = []
        weights: list[bool] = []
        missing = False
        for inp in node.input:
            if not inp:
                in_shapes.append(None)
                weights.append(False)
                continue
            if inp not in shapes:
                missing = True
                problems.append(Problem(source, where, f"shape of input {inp!r} is unknown after "
                                        "shape inference; expected static shapes"))
            in_shapes.append(shapes.get(inp))
            weights.append(inp in constant)
        out_shapes = []
        for o in node.output:
            if not o:
                continue
            if o not in shapes:
                missing = True
                problems.append(Problem(source, where, f"shape of output {o!r} is unknown after "
                                        "shape inference; expected static shapes"))
            out_shapes.append(shapes.get(o, ()))
        if missing:
            continue
        too_large = [shp for shp in (*in_shapes, *out_shapes)
                     if shp is not None and math.prod(shp) >= loading.MAX_INT]
        if too_large:
            problems.append(Problem(source, where, f"a tensor of shape {list(too_large[0])} "
                                    "has 2**63 elements or more; expected fewer"))
            continue
        # A custom domain's op is counted by the counter registered as ``domain::OpType``.
        view = NodeView(_op_key(node), tuple(in_shapes), tuple(weights), tuple(out_shapes),
                        _attrs(node))
        try:
            count = count_node(view)
            big = count is not None and max(abs(int(count.macs)), abs(int(count.ops))) >= \
                loading.MAX_INT
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError) as exc:
            # Shape inference accepted the node, but its attributes contradict its shapes
            # (a group of 0, a kernel_shape of the wrong rank): hostile or broken input.
            problems.append(Problem(source, where, f"cannot count the node: its attributes "
                                    f"do not fit its shapes ({type(exc).__name__}: "
                                    f"{str(exc)[:120]})"))
            continue
        if count is not None and big:
            problems.append(Problem(source, where, f"{int(count.macs):,} MACs; expected fewer "
                                    "than 2**63"))
            continue
        op_class, macs, ops = (count.op_class, count.macs, count.ops) if count else ("other", 0, 0)
        weight_elems = params = in_elems = 0
        weight_shapes = []
        for k, (inp, shp, is_w) in enumerate(zip(node.input, in_shapes, weights, strict=True)):
            if shp is None:
                continue
            elems = math.prod(shp)
            if is_w:
                weight_elems += elems
                weight_shapes.append(shp)
                if _is_param(node.op_type, k, elems, types.get(inp)):
                    params += elems
            else:
                in_elems += elems
        out.add_node(
            nid,
            name=nid,
            op=node.op_type if node.domain in _DEFAULT_DOMAINS else _op_key(node),
            op_class=op_class,
            macs=int(macs),
            ops=int(ops),
            params=int(params),
            weight_elems=int(weight_elems),
            in_elems=int(in_elems),
            out_elems=int(sum(math.prod(s) for s in out_shapes)),
            in_shapes=[list(s) for s, w in zip(in_shapes, weights, strict=True)
                       if s is not None and not w],
            out_shapes=[list(s) for s in out_shapes],
            weight_shapes=[list(s) for s in weight_shapes],
            inputs=[i for i, w in zip(node.input, weights, strict=True) if i and not w],
            outputs=[o for o in node.output if o],
        )
        for inp in node.input:
            src = producer.get(inp)
            if src is None or src in folded:
                continue
            elems = math.prod(shapes[inp])
            if out.has_edge(src, nid):
                out.edges[src, nid]["tensors"].append(inp)
                out.edges[src, nid]["elems"] += elems
            else:
                out.add_edge(src, nid, tensors=[inp], elems=elems)
    if problems:
        raise OnnxError(problems)
    return out
