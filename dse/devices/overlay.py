"""Fitted values kept apart from datasheet values.

Calibration never edits a catalog file. It writes an :class:`Overlay`: the device, the spec paths
it fitted and their values, and where they came from. :func:`apply_overlay` returns a new spec
with the fitted values in place and a ``fitted`` source naming the overlay; the datasheet spec
is unchanged, so both can be shown side by side (``dse devices show NAME --overlay FILE``).

Overlay YAML::

    device: ncs2
    values: {efficiency.conv: 0.41, overhead_per_inference_s: 1.2 ms}
    provenance:
      method: bounded least squares in log space
      data: calibration/edge_accel_small_tables.csv
      fitted_on: 2026-11-22
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from dse.errors import Problem, SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import load_yaml, validate
from dse.spec.sources import Frozen

__all__ = ["FITTABLE", "Overlay", "apply_overlay", "load_overlay"]

#: Spec paths calibration may fit (a ``.`` path selects an entry of a mapping).
FITTABLE = ("peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes", "efficiency",
            "overhead_per_inference_s", "overhead_per_layer_s", "host_overhead_per_inference_s",
            "slot_speedup", "parallel_fraction", "power.idle_w", "power.active_w")


class Overlay(Frozen):
    """Fitted values for one device.

    Attributes:
        device: The catalog device the values apply to.
        values: Spec path -> fitted value (SI base units, or strings with units).
        provenance: How and on what the values were fitted (method, data, date, error).
    """

    device: str = Field(min_length=1)
    values: dict[str, Any] = Field(min_length=1)
    provenance: dict[str, Any] = Field(default_factory=dict)

    @field_validator("values")
    @classmethod
    def _fittable(cls, values: dict[str, Any]) -> dict[str, Any]:
        bad = [p for p in values if not any(p == f or p.startswith(f + ".") for f in FITTABLE)]
        if bad:
            raise ValueError("\n".join(f"{p}: not a fittable path; fittable: "
                                       f"{', '.join(FITTABLE)}" for p in bad))
        return values


def load_overlay(path: Path | str) -> Overlay:
    """Read an overlay YAML file.

    Raises:
        SpecError: Listing every problem with the file and YAML path.
    """
    data, problems = load_yaml(path)
    overlay = None
    if not problems:
        overlay, problems = validate(Overlay, data, file=str(path))
    if overlay is None:
        raise SpecError(problems)
    return overlay


def apply_overlay(spec: DeviceSpec, overlay: Overlay, *, label: str = "overlay") -> DeviceSpec:
    """A copy of ``spec`` with the overlay's fitted values; ``spec`` itself is unchanged.

    Raises:
        SpecError: The overlay is for another device, or a fitted value is invalid for the spec
            (negative, an efficiency above 1, ...).
    """
    if overlay.device != spec.name:
        raise SpecError([Problem(label, "device", f"overlay is for {overlay.device!r}, "
                                 f"not {spec.name!r}")])
    data = spec.model_dump(exclude_unset=True)
    derived = list(data.get("derived", ()))
    for path, value in overlay.values.items():
        node = data
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
        if path in derived:
            derived.remove(path)  # a fitted value replaces the derivation
    data["derived"] = derived
    provenance = ", ".join(f"{k}: {v}" for k, v in overlay.provenance.items())
    data["sources"] = [{"id": f"fitted:{label}", "kind": "fitted",
                        "cite": f"fitted by calibration ({provenance or 'no provenance given'})",
                        "fields": list(overlay.values)},
                       *data["sources"]]
    fitted, problems = validate(DeviceSpec, data, file=label, prefix="values")
    if fitted is None:
        raise SpecError(problems)
    return fitted
