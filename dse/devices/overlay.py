"""Fitted values kept apart from datasheet values.

Calibration never edits a catalog file. It writes an :class:`Overlay`: the *target* it was
fitted on (the device, the runtime it ran under, optionally the host that drove it), the spec
paths it fitted and their values, and where they came from. A catalog given overlays
(``Catalog(overlays=...)``) applies each to its device's YAML data before ``base:`` chains
resolve, so a what-if built on a fitted device keeps its fitted values; :func:`apply_overlay`
applies one to a built spec. The datasheet values are unchanged either way, so both can be
shown side by side (``dse devices show NAME --overlay FILE``, ``--runtime R``).

Overlay YAML::

    device: coral_usb
    runtime: edgetpu          # optional; default: the device's default runtime
    host: rpi4_cpu            # optional (needs runtime): timing that includes this host's work
    values: {efficiency.conv: 0.41, overhead_per_inference_s: 1.2 ms}
    provenance:
      method: bounded least squares in log space
      data: calibration/edge_accel_small_tables.csv
      fitted_on: 2026-11-22

In a folder of overlays (``calibration/overlays``) the file name is the target:
``<device>@<runtime>.yaml`` or ``<device>@<runtime>@<host>.yaml``; a plain ``<device>.yaml`` is
the device's default-runtime target. The ``device``, ``runtime`` and ``host`` a file states
must agree with its name; those it leaves out are taken from the name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from dse.errors import Problem, SpecError
from dse.spec.device import DeviceSpec
from dse.spec.loading import load_yaml, validate
from dse.spec.sources import Frozen

__all__ = ["FITTABLE", "Overlay", "apply_overlay", "apply_values", "load_overlay",
           "load_overlay_folder", "target_name"]

#: Spec paths calibration may fit (a ``.`` path selects an entry of a mapping).
FITTABLE = ("peak_ops_s", "mem_bw_bytes_s", "onchip_mem_bytes", "efficiency", "kernel_models",
            "overhead_per_inference_s", "overhead_per_layer_s", "host_overhead_per_inference_s",
            "slot_speedup", "parallel_fraction", "power.idle_w", "power.active_w",
            "latency_spread")

_NAME = r"^[a-z0-9][a-z0-9_.\-]*$"


def target_name(device: str, runtime: str | None = None, host: str | None = None) -> str:
    """``device@runtime@host``, leaving out what is ``None`` (the name of an overlay file)."""
    return "@".join([device, *([runtime] if runtime else []), *([host] if host else [])])


class Overlay(Frozen):
    """Fitted values for one target: a device under one runtime (optionally on one host).

    Attributes:
        device: The catalog device the values apply to.
        runtime: The runtime the measurements ran under; ``None``: the device's default
            runtime.
        host: The host whose work the measured timing includes (an Edge TPU driven by a
            Raspberry Pi vs a Xeon): a host CPU device or a platform; ``None``: any host.
        values: Spec path -> fitted value (SI base units, or strings with units).
        provenance: How and on what the values were fitted (method, data, date, error).
    """

    device: str = Field(min_length=1, pattern=_NAME)
    runtime: str | None = Field(default=None, min_length=1, pattern=_NAME)
    host: str | None = Field(default=None, min_length=1, pattern=_NAME)
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

    @model_validator(mode="after")
    def _host_needs_runtime(self) -> Overlay:
        if self.host is not None and self.runtime is None:
            raise ValueError("runtime: required with host (a host-specific overlay names the "
                             "runtime it was measured under)")
        return self

    @property
    def target(self) -> str:
        """The target's name as stated (``coral_usb@edgetpu@rpi4_cpu``)."""
        return target_name(self.device, self.runtime, self.host)


def load_overlay(path: Path | str, *, label: str | None = None) -> Overlay:
    """Read an overlay YAML file.

    Raises:
        SpecError: Listing every problem with the file and YAML path.
    """
    label = label or str(path)
    data, problems = load_yaml(path, label=label)
    overlay = None
    if not problems:
        overlay, problems = validate(Overlay, data, file=label)
    if overlay is None:
        raise SpecError(problems)
    return overlay


def load_overlay_folder(folder: Path | str, *, label: str | None = None) -> dict[str, Overlay]:
    """Every overlay file of a folder, by file label (``<label>/<name>.yaml``), in name order.

    The file name is the target (``<device>[@<runtime>[@<host>]].yaml``): what the YAML states
    must agree with it, and what it leaves out is taken from it.

    Raises:
        SpecError: Every problem of every file (invalid YAML or values, a name that disagrees).
    """
    folder = Path(folder)
    label = label or str(folder)
    out: dict[str, Overlay] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        file = f"{label}/{path.name}"
        parts = path.stem.split("@")
        data, found = load_yaml(path, label=file)
        if not found and len(parts) > 3:
            found = [Problem(file, "", "expected a file name <device>[@<runtime>[@<host>]]"
                             f".yaml, got {path.name!r}")]
        if not found and isinstance(data, dict):
            for key, named in zip(("device", "runtime", "host"), parts, strict=False):
                if data.get(key) is None:  # unstated (or null, as a fitted overlay dumps it)
                    data[key] = named
                elif data[key] != named:
                    found.append(Problem(file, key, f"must match the file name ({named!r}), "
                                         f"got {data[key]!r}"))
            if len(parts) == 1 and data.get("runtime") is not None:
                found.append(Problem(file, "runtime", f"a file named <device>.yaml is the "
                                     f"device's default runtime; name it "
                                     f"{target_name(parts[0], data['runtime'], data.get('host'))}"
                                     f".yaml"))
        overlay = None
        if not found:
            overlay, found = validate(Overlay, data, file=file)
        problems += found
        if overlay is not None:
            out[file] = overlay
    if problems:
        raise SpecError(problems)
    return out


def apply_values(data: dict[str, Any], overlay: Overlay, *, label: str) -> dict[str, Any]:
    """Device YAML data (a mapping, before validation) with the overlay's values set and a
    ``fitted`` source for them first in its sources; ``data`` itself is unchanged."""
    out = _copy_tree(data)
    for path, value in overlay.values.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.get(part)
            node[part] = child = dict(child) if isinstance(child, Mapping) else {}
            node = child
        node[leaf] = value
    provenance = ", ".join(f"{k}: {v}" for k, v in overlay.provenance.items())
    out["sources"] = [{"id": f"fitted:{label}", "kind": "fitted",
                       "cite": f"fitted by calibration ({provenance or 'no provenance given'})",
                       "fields": list(overlay.values)},
                      *(out.get("sources") or [])]
    return out


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
    # A fitted value replaces the derivation of that path.
    data["derived"] = [p for p in data.get("derived", ()) if p not in overlay.values]
    fitted, problems = validate(DeviceSpec, apply_values(data, overlay, label=label),
                                file=label, prefix="values")
    if fitted is None:
        raise SpecError(problems)
    return fitted


def _copy_tree(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy_tree(v) if isinstance(v, Mapping) else v for k, v in data.items()}
