"""From a YAML file to a validated model, or one error listing every problem.

Every file dse reads from the user goes through :func:`read_bytes_bounded` (or
:func:`read_text_bounded`): only a regular file is opened (a directory, a FIFO, ``/dev/zero``, a
socket is refused before anything blocks or runs without end), and never more than a size limit
is read. The limits are the module constants below; other readers (measurement CSVs, ONNX files,
zoo options) use them too.

YAML is read by :func:`load_yaml` with a safe loader that resolves plain scalars by the YAML 1.2
core schema (``yes``/``no``/``on``/``off`` are strings, ``1:30`` is a string and not 90, ``010``
is ten, ``0o17`` is octal), refuses duplicate keys, integers of |x| >= :data:`MAX_INT`, nesting
deeper than :data:`MAX_DEPTH` and documents whose aliases expand to more than
:data:`MAX_YAML_NODES` nodes (the "billion laughs"). Each such problem names the file and line.

Validation errors of pydantic are rewritten into :class:`~dse.errors.Problem` rows that name the
file and the YAML path (``devices/ncs2.yaml: peak_ops_s.fp16: must be > 0, got -1``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dse.errors import Problem, did_you_mean

__all__ = ["MAX_CSV_BYTES", "MAX_DEPTH", "MAX_INT", "MAX_NAME_LENGTH", "MAX_ONNX_BYTES",
           "MAX_YAML_BYTES", "MAX_YAML_NODES", "check_regular_file", "load_yaml",
           "load_yaml_text", "problems_from_validation", "read_bytes_bounded",
           "read_text_bounded", "validate"]

M = TypeVar("M", bound=BaseModel)

# ----- limits ----------------------------------------------------------------------------------
# Read at call time (never copied into defaults), so a caller or a test may change one.

#: Largest YAML file read (bytes): a catalog entry or an experiment is a few KB.
MAX_YAML_BYTES = 16 * 2**20
#: Largest measurement CSV (or benchmark tool output) read (bytes).
MAX_CSV_BYTES = 64 * 2**20
#: Largest ONNX file read (bytes): protobuf's own ceiling is 2 GiB; external data is not read.
MAX_ONNX_BYTES = 2**31 - 1
#: Deepest nesting of mappings and lists in a YAML document (a spec needs fewer than 10).
MAX_DEPTH = 64
#: Most nodes a YAML document may expand to, counting every use of an alias in full.
MAX_YAML_NODES = 200_000
#: Integers read from input must satisfy ``-MAX_INT < x < MAX_INT`` (a signed 64-bit range).
MAX_INT = 2**63
#: Longest name (zoo model, device, option, key) accepted in characters.
MAX_NAME_LENGTH = 128


def _limit_name(limit: int) -> str:
    for name in ("MAX_YAML_BYTES", "MAX_CSV_BYTES", "MAX_ONNX_BYTES"):
        if globals()[name] == limit:
            return f" (dse.spec.loading.{name})"
    return ""


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _os_problem(label: str, exc: OSError) -> Problem:
    if isinstance(exc, FileNotFoundError):
        return Problem(label, "", "file not found")
    if exc.errno == errno.ENAMETOOLONG:
        return Problem(label, "", "cannot read: the file name is too long")
    return Problem(label, "", f"cannot read: {exc.strerror or exc}")


def check_regular_file(path: Path | str, *, label: str | None = None,
                       limit: int | None = None) -> list[Problem]:
    """Problems that keep ``path`` from being read as an input file (none: it can be).

    Refuses a path with a NUL byte, a missing file, a directory, a FIFO, a device or a socket
    (checked with :func:`os.stat`, before anything is opened), and a file larger than ``limit``
    bytes.
    """
    label = label or str(path)
    text = os.fspath(path)
    if "\0" in text:
        return [Problem(label.replace("\0", "\\0"), "", "expected a file name, got a path with "
                        "a NUL byte")]
    try:
        info = os.stat(text)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError):
            return [Problem(label, "", f"cannot read: {exc}")]
        return [_os_problem(label, exc)]
    if not stat.S_ISREG(info.st_mode):
        return [Problem(label, "", f"expected a regular file, found {_file_kind(info.st_mode)}")]
    if limit is not None and info.st_size > limit:
        return [Problem(label, "", f"the file is {info.st_size:,} bytes; the limit is "
                        f"{limit:,}{_limit_name(limit)}")]
    return []


def read_bytes_bounded(path: Path | str, *, limit: int, label: str | None = None
                       ) -> tuple[bytes | None, list[Problem]]:
    """The contents of a regular file of at most ``limit`` bytes.

    Returns:
        The bytes (``None`` if they cannot be read) and the problems (see
        :func:`check_regular_file`); never raises for a bad file.
    """
    label = label or str(path)
    problems = check_regular_file(path, label=label, limit=limit)
    if problems:
        return None, problems
    try:
        # O_NONBLOCK: a file swapped for a FIFO after the check must not block the open.
        fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, [_os_problem(label, exc)]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [Problem(label, "", f"expected a regular file, found "
                                  f"{_file_kind(info.st_mode)}")]
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 2**20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        return None, [_os_problem(label, exc)]
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        return None, [Problem(label, "", f"the file is larger than the limit of {limit:,} "
                              f"bytes{_limit_name(limit)}")]
    return data, []


def read_text_bounded(path: Path | str, *, limit: int, label: str | None = None
                      ) -> tuple[str | None, list[Problem]]:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (see
    :func:`read_bytes_bounded`); a file that is not UTF-8 is a problem naming the byte."""
    label = label or str(path)
    data, problems = read_bytes_bounded(path, limit=limit, label=label)
    if data is None:
        return None, problems
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return None, [Problem(label, "", f"expected UTF-8 text, found byte "
                              f"0x{data[exc.start]:02x} at offset {exc.start}")]


# ----- YAML ------------------------------------------------------------------------------------

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
     list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$", list("-+.0123456789")),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
)


class _Loader(_BaseLoader):
    """A safe loader with YAML 1.2 core-schema scalars that records problems instead of
    accepting duplicate keys and out-of-range integers."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}
    label = "<yaml>"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[Problem] = []

    def _problem(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.label, f"line {mark.line + 1}, column "
                                     f"{mark.column + 1}", message))

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or \
                        key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                try:
                    if key in seen:
                        self._problem(key_node, f"duplicate key {str(key)[:80]!r}; expected "
                                      "each key once")
                    seen.add(key)
                except TypeError:  # unhashable: the base class reports it
                    pass
        return super().construct_mapping(node, deep=deep)

    def construct_core_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        base = 16 if digits.startswith("0x") else 8 if digits.startswith("0o") else 10
        body = digits[2:] if base != 10 else digits
        # Checked before int(): a 5,000-digit literal would hit Python's conversion limit.
        if len(body.lstrip("0")) > 64 or abs(value := int(body, base)) >= MAX_INT:
            self._problem(node, f"expected an integer of magnitude < 2**63, got "
                          f"{text[:40]}{'...' if len(text) > 40 else ''}")
            return 0
        return sign * value

    def construct_core_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node)).lower()
        if text.lstrip("+-") == ".inf":
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)

    def construct_core_bool(self, node: yaml.ScalarNode) -> bool:
        return str(self.construct_scalar(node)).lower() == "true"


for _tag, _regexp, _first in _CORE_RESOLVERS:
    _Loader.add_implicit_resolver(_tag, re.compile(_regexp), _first)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_core_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_core_float)
_Loader.add_constructor("tag:yaml.org,2002:bool", _Loader.construct_core_bool)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _check_depth(text: str, label: str) -> list[Problem]:
    """Nesting deeper than :data:`MAX_DEPTH`, found from the event stream (the C parser keeps
    its own stack; composing a deeper document would recurse without bound)."""
    depth = 0
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return [Problem(label, _where(event.start_mark), f"nesting deeper than "
                                f"{MAX_DEPTH} levels (dse.spec.loading.MAX_DEPTH)")]
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return []


def _expanded_size(node: yaml.Node, label: str) -> list[Problem]:
    """Nodes the document expands to with every alias in full, counted without expanding
    (an alias is the same node object in the composed tree); an alias inside the node it
    names (a structure that contains itself) is a problem too."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    cycles: list[yaml.Node] = []

    def size(n: yaml.Node) -> int:
        if id(n) in open_:
            cycles.append(n)
            return 1
        if id(n) in sizes:
            return sizes[id(n)]
        open_.add(id(n))
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        open_.discard(id(n))
        sizes[id(n)] = min(total, MAX_YAML_NODES + 1)
        return sizes[id(n)]

    if size(node) > MAX_YAML_NODES:
        return [Problem(label, "", f"the document expands to more than {MAX_YAML_NODES:,} "
                        "nodes through its aliases (dse.spec.loading.MAX_YAML_NODES)")]
    if cycles:
        return [Problem(label, _where(cycles[0].start_mark), "an alias refers to the anchored "
                        "value it is inside (a structure that contains itself)")]
    return []


def load_yaml_text(text: str, *, label: str = "<yaml>") -> tuple[Any, list[Problem]]:
    """Parse YAML text with the bounded YAML 1.2 loader (see the module docstring).

    Returns:
        The data (``None`` if it cannot be read) and the problems found, each naming ``label``
        and the line; never raises for bad text.
    """
    try:
        problems = _check_depth(text, label)
        if problems:
            return None, problems
        loader = _Loader(text)
        loader.label = label
        try:
            node = loader.get_single_node()
            if node is None:
                return None, []
            problems = _expanded_size(node, label)
            if problems:
                return None, problems
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(label, _where(mark), f"invalid YAML: {what}")]
    except (ValueError, OverflowError, RecursionError) as exc:
        return None, [Problem(label, "", f"invalid YAML: {exc}")]
    if loader.problems:
        # constructed outside in, so a nested key's problem may come first: sort by position
        return None, sorted(loader.problems, key=lambda p: [int(n) for n in
                                                             re.findall(r"\d+", p.path)])
    return data, []


def load_yaml(path: Path | str, *, label: str | None = None) -> tuple[Any, list[Problem]]:
    """Read a YAML file safely and within the bounds of this module.

    Returns:
        The data (``None`` if unreadable) and the problems found (a missing or special file, a
        file over :data:`MAX_YAML_BYTES`, syntax errors, duplicate keys, out-of-range integers,
        too deep or too large documents, each with line and column).
    """
    label = label or str(path)
    text, problems = read_text_bounded(path, limit=MAX_YAML_BYTES, label=label)
    if text is None:
        return None, problems
    return load_yaml_text(text, label=label)


def validate(model: type[M], data: Any, *, file: str, prefix: str = ""
             ) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` as ``model``; returns the model or the problems (never raises)."""
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"{type(data).__name__} {data!r:.60}"
        return None, [Problem(file, prefix, f"expected a mapping of keys to values, got {found}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation(exc, model, file=file, prefix=prefix)


def problems_from_validation(exc: ValidationError, model: type[BaseModel], *, file: str,
                             prefix: str = "") -> list[Problem]:
    """One :class:`Problem` per error, with the YAML path and a message in dse's words."""
    problems = []
    errors = exc.errors(include_url=False)
    # pydantic also calls a list "too short" when its only items failed: those items say why
    inner = {tuple(e["loc"][:i]) for e in errors for i in range(len(e["loc"]))}
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in inner:
            continue
        # a key with a line break or a control character would break the one-line message
        loc = [str(part) if str(part).isprintable() else repr(str(part))[:80]
               for part in error["loc"] if part != "[key]"]
        path = ".".join(p for p in (prefix, *loc) if p)
        kind = error["type"]
        if kind == "value_error":
            # Our validators raise "path: message" lines relative to the model validated.
            text = re.sub(r"^Value error, ", "", error["msg"])
            for line in text.splitlines():
                sub, sep, msg = line.partition(": ")
                if sep and re.fullmatch(r"[A-Za-z0-9_.\-]+", sub):
                    problems.append(Problem(file, ".".join(p for p in (path, sub) if p), msg))
                else:
                    problems.append(Problem(file, path, line))
            continue
        problems.append(Problem(file, path, _message(error, model, loc)))
    return problems


def _message(error: Any, model: type[BaseModel], loc: list[str]) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    got = f"got {_show(value)}"
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        return did_you_mean(loc[-1] if loc else "", known, what="key") if known else "unknown key"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {_show(bound)}, {got}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, {got}"
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"must have at {'least' if kind == 'too_short' else 'most'} {n} " \
            f"{'entry' if n == 1 else 'entries'}, {got}"
    if kind in ("string_too_short", "string_too_long"):
        n = ctx.get("min_length" if kind == "string_too_short" else "max_length")
        return f"must be at {'least' if kind == 'string_too_short' else 'most'} {n} " \
            f"character{'' if n == 1 else 's'} long, {got}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        what = "letters, digits, '_', '.', '-' (starting with a letter or digit)" \
            if "A-Z" in pattern else "lower-case letters, digits, '_', '.', '-'"
        return f"expected {what}, {got}"
    if kind == "finite_number":
        return f"expected a finite number, {got}"
    if kind.startswith(("int_", "float_", "bool_", "string_", "dict_", "tuple_", "list_")):
        expected = kind.split("_")[0].replace("dict", "mapping").replace("tuple", "list")
        if kind.endswith("_from_float"):
            return f"expected a whole number, {got}"
        return f"expected {'an' if expected[0] in 'aeiou' else 'a'} {expected}, {got}"
    return f"{error['msg']}, {got}"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    # a 10,000-character value is shown by its start and its length
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text):,} characters)"


def _known_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: Any = model
    parts = iter(loc)
    for part in parts:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        if str(field.annotation).startswith(("dict[", "tuple[")):
            next(parts, None)  # the next part is a key or an index, not a field
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name in current.model_fields if name != "derived"]
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
