"""Strict parsing of quantities with units: ``"25.6 GB/s"``, ``"8 MiB"``, ``"4 TOPS"``.

A YAML number is taken as already in the SI base unit the field name says (``mem_bw_bytes_s:
25.6e9``). A string must be a number followed by a unit of the field's quantity; anything else is
refused with a message that says what was expected. Decimal prefixes are powers of 1000, binary
ones (``KiB``, ``MiB``) powers of 1024; ``KB`` is refused as ambiguous.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, BeforeValidator

__all__ = [
    "Bandwidth",
    "Bytes",
    "Frequency",
    "OpsPerSecond",
    "Power",
    "Quantity",
    "Seconds",
    "field_quantities",
    "format_quantity",
    "parse_quantity",
]

Quantity = Literal["bytes", "bandwidth", "ops_s", "seconds", "power", "frequency"]

_SI = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BIN = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def _table() -> dict[Quantity, dict[str, float]]:
    bytes_ = {f"{p}B": f for p, f in _SI.items() if p != "P"}
    bytes_ |= {f"{p}B": f for p, f in _BIN.items()}
    bits = {f"{p}bit": f / 8 for p, f in _SI.items() if p != "P"}
    bandwidth = {f"{u}/s": f for u, f in (bytes_ | bits).items()}
    bandwidth |= {f"{p}bps": f / 8 for p, f in _SI.items() if p in ("k", "M", "G")}
    ops = {}
    for p, f in _SI.items():
        for word in ("OPS", "FLOPS", "FLOP/s", "OP/s", "MAC/s"):
            ops[f"{p}{word}"] = f * (2 if word == "MAC/s" else 1)
    seconds = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    power = {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "µW": 1e-6}
    frequency = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
    return {"bytes": bytes_, "bandwidth": bandwidth, "ops_s": ops, "seconds": seconds,
            "power": power, "frequency": frequency}


_UNITS = _table()
_EXAMPLE: dict[Quantity, str] = {
    "bytes": "'8 MiB' or '512 kB'",
    "bandwidth": "'25.6 GB/s' or '480 Mbit/s'",
    "ops_s": "'4 TOPS' or '57.6 GFLOPS'",
    "seconds": "'1.5 ms' or '20 us'",
    "power": "'2.5 W' or '500 mW'",
    "frequency": "'1.5 GHz' or '600 MHz'",
}
_AMBIGUOUS = {"KB": "kB (1000 bytes) or KiB (1024 bytes)", "Kb": "kbit", "MBps": "MB/s",
              "GBps": "GB/s", "mb": "MB or Mbit", "gb": "GB or Gbit"}
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def parse_quantity(value: object, quantity: Quantity) -> float:
    """A quantity in SI base units (bytes, bytes/s, ops/s, s, W, Hz).

    Args:
        value: A number (already in base units) or a string ``"<number> <unit>"``.
        quantity: Which kind of quantity the field holds.

    Raises:
        ValueError: The string is not a number with a unit of this quantity, or the value is not
            finite. The message names what was expected and what was found.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a string such as {_EXAMPLE[quantity]}, "
                         f"got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(f"expected a number with a unit such as {_EXAMPLE[quantity]}, "
                             f"got {value!r}")
        unit = match.group(2) or ""
        if not unit:
            number = float(match.group(1))
        elif unit in _UNITS[quantity]:
            number = float(match.group(1)) * _UNITS[quantity][unit]
        elif unit in _AMBIGUOUS:
            raise ValueError(f"unit {unit!r} in {value!r} is ambiguous; write "
                             f"{_AMBIGUOUS[unit]}")
        else:
            other = [q for q, units in _UNITS.items() if unit in units]
            hint = f" (that is a unit of {other[0].replace('_', '/')})" if other else ""
            raise ValueError(f"unknown unit {unit!r} in {value!r}{hint}; expected a "
                             f"{quantity.replace('_', '/')} such as {_EXAMPLE[quantity]}")
    else:
        raise ValueError(f"expected a number or a string such as {_EXAMPLE[quantity]}, "
                         f"got {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _validator(quantity: Quantity) -> BeforeValidator:
    # the JSON Schema of a quantity (dse schema) says what is read: a number or "3 ms"
    return BeforeValidator(lambda v: v if v is None else parse_quantity(v, quantity),
                           json_schema_input_type=float | str)


Bytes = Annotated[float, _validator("bytes")]
Bandwidth = Annotated[float, _validator("bandwidth")]
OpsPerSecond = Annotated[float, _validator("ops_s")]
Seconds = Annotated[float, _validator("seconds")]
Power = Annotated[float, _validator("power")]
Frequency = Annotated[float, _validator("frequency")]

#: The quantity of each annotated type, by its validator (what a model's field keeps of it).
_QUANTITY_OF: dict[int, Quantity] = {
    id(get_args(Bytes)[1]): "bytes", id(get_args(Bandwidth)[1]): "bandwidth",
    id(get_args(OpsPerSecond)[1]): "ops_s", id(get_args(Seconds)[1]): "seconds",
    id(get_args(Power)[1]): "power", id(get_args(Frequency)[1]): "frequency"}


def field_quantities(*models: type[BaseModel]) -> dict[str, Quantity]:
    """The quantity of every field annotated with one of this module's types (``Bytes``,
    ``Bandwidth``, ...), by field name, in ``models`` and the models their fields hold
    (``peak_ops_s: dict[str, OpsPerSecond]`` counts too): what formats a spec's numbers with
    their units, read from the models themselves."""
    found: dict[str, Quantity] = {}
    seen: set[type[BaseModel]] = set()

    def quantity(metadata: Any) -> Quantity | None:
        return next((_QUANTITY_OF[id(m)] for m in metadata if id(m) in _QUANTITY_OF), None)

    def visit_type(name: str, annotation: Any) -> None:
        if get_origin(annotation) is Annotated:
            q = quantity(annotation.__metadata__)
            if q is not None:
                found.setdefault(name, q)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            visit_model(annotation)
        for arg in get_args(annotation):
            visit_type(name, arg)

    def visit_model(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            q = quantity(info.metadata)
            if q is not None:
                found.setdefault(name, q)
            visit_type(name, info.annotation)

    for model in models:
        visit_model(model)
    return found


_FORMAT: dict[Quantity, tuple[str, tuple[tuple[float, str], ...]]] = {
    "bytes": ("B", ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"))),
    "bandwidth": ("B/s", ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"))),
    "ops_s": ("OPS", ((1e12, "TOPS"), (1e9, "GOPS"), (1e6, "MOPS"))),
    "seconds": ("s", ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))),
    "power": ("W", ((1.0, "W"), (1e-3, "mW"), (1e-6, "uW"))),
    "frequency": ("Hz", ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz"))),
}


def format_quantity(value: float, quantity: Quantity, *, digits: int = 3) -> str:
    """``value`` (SI base units) with the largest unit that keeps it >= 1: ``'25.6 GB/s'``.

    The result parses back with :func:`parse_quantity` to within ``digits`` significant digits.
    """
    base, scales = _FORMAT[quantity]
    for factor, unit in scales:
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {unit}"
    return f"{value:.{digits}g} {base}" if value else f"0 {base}"
