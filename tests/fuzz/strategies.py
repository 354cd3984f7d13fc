"""Hypothesis strategies that turn valid inputs into hostile ones.

Each mutator takes Hypothesis' ``draw`` and a valid input (YAML data, an ONNX model, CSV text)
and returns a hostile variant, so that a failing case shrinks to the smallest mutation that
breaks ``dse``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import onnx
import yaml
from hypothesis import strategies as st

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


#: Values that have broken parsers and validators before: out of range, not finite, the
#: wrong type, too long, too deep, NUL bytes, YAML 1.1 look-alikes.
HOSTILE_VALUES: list[Any] = [
    10**30, -(10**30), 2**63, -(2**63), 2**63 - 1, 2**31, -1, 0, 1, 10**6, 10**9,
    1e308, -1e308, 1e-308, float("nan"), float("inf"), float("-inf"), 0.5, -0.5,
    "", " ", "a" * 10_000, "x\0y", "\0", "ünï©ødé ✓", "\u202e\ufeff", "1:30", "yes", "off",
    "0o17", "1e999", "-.inf", ".nan", "ncs3", "resnet", "../../etc/passwd", "/dev/zero",
    "100 GB/s", "-5 ms", "1e400 W", "nan fps", "inf", "10 parsecs",
    True, False, None, [], {}, [1, 2, 3], [None], {"a": 1}, {"": None}, [[[]]],
]
_SCALARS = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
HOSTILE = st.one_of(
    _SCALARS,
    st.integers(min_value=30, max_value=300).map(_nested),
    st.lists(_SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=8), _SCALARS, max_size=3),
)

#: Plain-scalar YAML text spliced in verbatim (no quoting): YAML 1.1 quirks, huge literals,
#: tags, aliases and other syntax a dumper would never write.
RAW_SCALARS = [
    "1:30", "yes", "No", "on", "0o17", "017", "0x_1F", "1_000", "1e999", "-.inf", ".NaN",
    "9" * 5000, "-" + "9" * 40, "2001-12-14", "~", "!!binary AAAA", "!!set {a, b}",
    "!!python/object/apply:os.system [ls]", "!!float 1", "!!int x", "*undefined",
    "&a [*a]", "[" * 200 + "]" * 200, "{a: 1, a: 2}", "'unterminated", "\"\\x00\"",
    "|\n  block", ">-", "? complex\n: key", "@reserved", "`reserved", "%TAG", "---",
]


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.append((*prefix, i))
            out += _paths(v, (*prefix, i))
    return out


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    node = tree
    for part in path[:-1]:
        node = node[part]
    return node


def mutate_data(draw: Draw, data: dict[str, Any], *, keep: frozenset[str] = frozenset()
                ) -> dict[str, Any]:
    """One to three structural mutations of YAML data: delete a key, replace a value, rename a
    key, wrap a value in a list. ``keep`` are top-level keys never touched."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(data) if p[0] not in keep]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        op = draw(st.sampled_from(["delete", "replace", "replace", "replace", "rename", "wrap"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = draw(HOSTILE)
        elif op == "rename" and isinstance(parent, dict):
            new = draw(st.one_of(st.sampled_from([path[-1] + "s", path[-1][:-1], "", "x" * 300,
                                                  "nul\0key", "1", "null"]), st.text(max_size=8)))
            if new not in parent:
                parent[new] = parent.pop(path[-1])
        elif op == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6)


def mutate_text(draw: Draw, data: dict[str, Any], *, keep: frozenset[str] = frozenset()
                ) -> str:
    """A YAML text mutation: a raw scalar spliced in, a duplicate key, an alias bomb, deep
    nesting, truncation, or junk bytes."""
    op = draw(st.sampled_from(["raw", "raw", "duplicate", "bomb", "deep", "truncate", "junk"]))
    if op == "raw":
        paths = [p for p in _paths(data) if p[0] not in keep]
        data = copy.deepcopy(data)
        if paths:
            path = draw(st.sampled_from(paths))
            _parent(data, path)[path[-1]] = "__RAW__"
        return dump(data).replace("__RAW__", draw(st.sampled_from(RAW_SCALARS)), 1)
    text = dump(data)
    if op == "duplicate":
        key = draw(st.sampled_from([k for k in data if k not in keep] or ["name"]))
        return text + dump({key: data.get(key, 1)})
    if op == "bomb":
        depth = draw(st.integers(min_value=2, max_value=12))
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)]
        return "\n".join(lines) + "\n" + text
    if op == "deep":
        n = draw(st.integers(min_value=60, max_value=5000))
        flow = draw(st.booleans())
        nest = "[" * n + "]" * n if flow else "".join(f"{'  ' * i}- \n" for i in range(n))
        return text + "deep: " + ("\n" if not flow else "") + nest + "\n"
    if op == "truncate":
        return text[: draw(st.integers(min_value=0, max_value=max(len(text) - 1, 0)))]
    junk = draw(st.sampled_from(["\0", "\t", "\x1b[31m", "\ufffe", "\r", "\u2028", "%", "&",
                                 "*", "!", "|", ">", "'", '"', "{", "[", ":", "- ", "#"]))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:at] + junk + text[at:]


def hostile_yaml(draw: Draw, data: dict[str, Any], *, keep: frozenset[str] = frozenset()
                 ) -> str:
    """Hostile YAML text from valid data: a structural or a textual mutation."""
    if draw(st.booleans()):
        return dump(mutate_data(draw, data, keep=keep))
    return mutate_text(draw, data, keep=keep)


# ----- ONNX ------------------------------------------------------------------------------------

_A = onnx.AttributeProto


def mutate_onnx(draw: Draw, model: onnx.ModelProto) -> bytes:
    """A hostile variant of a valid ONNX model, serialized: attribute types and values, dims,
    op types, external data locations, duplicate outputs, truncated or flipped bytes."""
    model = copy.deepcopy(model)
    g = model.graph
    op = draw(st.sampled_from(["attr_type", "attr_value", "dims", "input_dims", "op_type",
                               "external", "drop_node", "dup_output", "opset", "truncate",
                               "flip"]))
    node = g.node[draw(st.integers(min_value=0, max_value=len(g.node) - 1))]
    if op == "attr_type" and node.attribute:
        attr = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        kind = draw(st.sampled_from([_A.STRING, _A.FLOAT, _A.INT, _A.INTS, _A.FLOATS,
                                     _A.STRINGS, _A.UNDEFINED, _A.TENSOR, _A.GRAPH]))
        attr.type = kind
        attr.s = draw(st.sampled_from([b"abc", b"\xff\xfe", b"3", b""]))
        attr.f = draw(st.floats(allow_nan=True, allow_infinity=True, width=32))
    elif op == "attr_value" and node.attribute:
        attr = node.attribute[draw(st.integers(0, len(node.attribute) - 1))]
        value = draw(st.sampled_from([0, -1, 2**62, -(2**62), 2**31, 1000, 7]))
        if attr.type == _A.INT:
            attr.i = value
        elif attr.type == _A.INTS:
            del attr.ints[:]
            attr.ints.extend([value] * draw(st.integers(min_value=0, max_value=6)))
        elif attr.type == _A.FLOAT:
            attr.f = draw(st.floats(allow_nan=True, allow_infinity=True, width=32))
    elif op == "dims" and g.initializer:
        t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        dims = draw(st.lists(st.sampled_from([0, -1, 1, 3, 2**40, 2**62]), max_size=5))
        del t.dims[:]
        t.dims.extend(dims)
    elif op == "input_dims":
        vi = g.input[0]
        for d in vi.type.tensor_type.shape.dim:
            choice = draw(st.sampled_from([0, -1, 1, 2**40, 2**62, None]))
            if choice is None:
                d.dim_param = draw(st.sampled_from(["N", "", "\0"]))
            else:
                d.dim_value = choice
    elif op == "op_type":
        node.op_type = draw(st.sampled_from(["Conv", "Gemm", "MatMul", "Relu", "NoSuchOp",
                                             "", "Loop", "If", "Einsum", "Attention"]))
        node.domain = draw(st.sampled_from(["", "", "com.microsoft", "\0"]))
    elif op == "external" and g.initializer:
        t = g.initializer[draw(st.integers(0, len(g.initializer) - 1))]
        t.data_location = onnx.TensorProto.EXTERNAL
        t.ClearField("raw_data")
        del t.float_data[:]
        entry = t.external_data.add()
        entry.key = "location"
        entry.value = draw(st.sampled_from(["w.bin", "/etc/passwd", "../w.bin", "a\0b", "",
                                            "x" * 5000, "/dev/zero", "."]))
        for key, value in draw(st.lists(st.tuples(st.sampled_from(["offset", "length"]),
                                                  st.sampled_from(["0", "-1", "x", "9" * 5000,
                                                                   "100"])), max_size=2)):
            e = t.external_data.add()
            e.key, e.value = key, value
    elif op == "drop_node":
        del g.node[draw(st.integers(0, len(g.node) - 1))]
        if not len(g.node):
            g.node.add().op_type = "Relu"
    elif op == "dup_output" and len(g.node) > 1:
        g.node[1].output[0] = g.node[0].output[0]
    elif op == "opset":
        model.opset_import[0].version = draw(st.sampled_from([0, 1, 6, 99, 2**62]))
    data = model.SerializeToString()
    if op == "truncate":
        return data[: draw(st.integers(min_value=0, max_value=len(data)))]
    if op == "flip":
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data


# ----- CSV -------------------------------------------------------------------------------------

CSV_CELLS = ["", "nan", "NaN", "inf", "-1", "0", "1e308", "9" * 400, "1:30", "yes", "x\0y",
             "\"", "\"\"", ",", "\n", "\r", "#", "{\"width\": 1e999}", "{\"resolution\": -3}",
             "{\"resolution\": 99999999}", "[1]", "{", "[" * 5000, "{\"bogus\": 1}",
             "ünï©ødé", "a" * 10_000, "ms", "W", "fps", "latency", "coral_usb", "int8",
             "threads", "0.5", "1e-320", "-0", "+1", "0x10", "True", "null", "mobilenet_v1",
             "no_such_model", "resnet8"]


def mutate_csv(draw: Draw, text: str) -> str:
    """A hostile variant of a CSV: a cell replaced, a column dropped or duplicated, a row with
    too many or too few cells, truncation, junk bytes."""
    rows = [line.split(",") for line in text.splitlines()]
    op = draw(st.sampled_from(["cell", "cell", "cell", "drop_column", "dup_column", "ragged",
                               "truncate", "junk", "header_only", "blank"]))
    if op == "cell":
        r = draw(st.integers(min_value=0, max_value=len(rows) - 1))
        c = draw(st.integers(min_value=0, max_value=len(rows[r]) - 1))
        rows[r][c] = draw(st.one_of(st.sampled_from(CSV_CELLS), st.text(max_size=20)))
    elif op == "drop_column":
        c = draw(st.integers(min_value=0, max_value=len(rows[0]) - 1))
        rows = [row[:c] + row[c + 1:] for row in rows]
    elif op == "dup_column":
        c = draw(st.integers(min_value=0, max_value=len(rows[0]) - 1))
        rows = [[*row, row[c]] if c < len(row) else row for row in rows]
    elif op == "ragged":
        r = draw(st.integers(min_value=1, max_value=len(rows) - 1))
        rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))] + draw(
            st.lists(st.sampled_from(CSV_CELLS), max_size=3))
    elif op == "header_only":
        rows = rows[:1]
    elif op == "blank":
        return draw(st.sampled_from(["", "\n", ",,,\n", "\0\0\0", "\ufeff"]))
    out = "\n".join(",".join(row) for row in rows) + "\n"
    if op == "truncate":
        return out[: draw(st.integers(min_value=0, max_value=len(out)))]
    if op == "junk":
        at = draw(st.integers(min_value=0, max_value=len(out)))
        return out[:at] + draw(st.sampled_from(["\0", "\"", "\r", "\xff", "\ufffe", ",,,",
                                                "\n\n"])) + out[at:]
    return out


# ----- --set -----------------------------------------------------------------------------------

SET_VALUES = ["2", "-1", "0", "1e999", "nan", ".nan", "-.inf", "9" * 5000, "[" * 1000,
              "[" * 2000 + "]" * 2000, "{a: 1, a: 2}", "&a [*a, *a]", "*a", "!!python/name:os",
              "yes", "1:30", "", "~", "\"\\0\"", "x\0y", "[1, 2]", "{min: 1, max: 4}",
              "{min: 4, max: 1}", "{min: 1, max: 100000000}", "'", "ncs3", "googlenet",
              "bert_encoder", "a" * 5000, "100000000", "2 ms", "-2 ms", "threads", "coexec"]


def set_path(draw: Draw, data: dict[str, Any], *, into_scalars: bool = True) -> str:
    """A ``--set PATH`` from the experiment's own paths, a near miss of one, or junk.
    ``into_scalars=False`` leaves out paths that go below a scalar or past a list's end."""
    paths = [".".join(str(p) for p in path) for path in _paths(data)]
    known = draw(st.sampled_from(paths))
    choices = [known, known, known, "x" * 500, "a\0b", "", "0", "..",
               "platform.accelerators.ncs9"]
    if into_scalars:
        choices += [known + ".x", known + ".0", known + ".99", known + ".",
                    known.replace(".", ".."), "workloads.0.zoo", "workloads.7", "stream.frames.0"]
    return draw(st.sampled_from(choices))


def set_value(draw: Draw, *, deep: bool = True) -> str:
    """A ``--set`` value; ``deep=False`` leaves out values nested past Python's recursion
    limit."""
    values = SET_VALUES if deep else [v for v in SET_VALUES if not v.startswith("[" * 100)]
    return draw(st.one_of(st.sampled_from(values), st.text(max_size=20)))
