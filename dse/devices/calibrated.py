"""The calibrated catalog: the built-in devices with the shipped fitted overlays applied.

``calibration/overlays/<device>.yaml`` holds the values calibration fitted for one catalog device
from the shared measurements (``dse calibrate-catalog`` writes them; each says from which data,
when, with what uncertainty and what leave-one-model-out error). :func:`calibrated_catalog`
applies them; the datasheet catalog (:func:`~dse.devices.default_catalog`) is unchanged, so
both can be compared. Experiments use the calibrated catalog unless they say
``calibration: datasheet``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from dse.catalog import catalog_dir
from dse.devices.catalog import Catalog, default_catalog
from dse.devices.overlay import Overlay, apply_overlay, load_overlay
from dse.errors import Problem, SpecError

__all__ = ["CalibrationSetting", "calibrated_catalog", "catalog_for", "is_calibrated", "overlay_dir",
           "shipped_overlays"]

#: ``shipped``: the built-in devices with the shipped overlays; ``datasheet``: without.
CalibrationSetting = Literal["shipped", "datasheet"]


def overlay_dir() -> Path:
    """Where the shipped overlays are (``calibration/overlays``)."""
    return catalog_dir("calibration") / "overlays"


def shipped_overlays(folder: Path | str | None = None) -> dict[str, Overlay]:
    """Every overlay of ``folder`` (default: the shipped ones), by device name.

    Raises:
        SpecError: An overlay file is invalid or two name the same device (every problem).
    """
    folder = Path(folder) if folder is not None else overlay_dir()
    out: dict[str, Overlay] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            overlay = load_overlay(path)
        except SpecError as exc:
            problems += exc.problems
            continue
        if overlay.device in out:
            problems.append(Problem(str(path), "device", f"{overlay.device!r} already has an "
                                    f"overlay in this folder"))
        out[overlay.device] = overlay
    if problems:
        raise SpecError(problems)
    return out


@functools.lru_cache(maxsize=1)
def calibrated_catalog() -> Catalog:
    """The built-in catalog with every shipped overlay applied (loaded once).

    Raises:
        SpecError: An overlay names an unknown device or a value its spec refuses.
    """
    base = default_catalog()
    fitted, problems = {}, []
    for name, overlay in shipped_overlays().items():
        if name not in base.devices:
            problems.append(Problem(f"calibration/overlays/{name}.yaml", "device",
                                    f"unknown device {name!r}"))
            continue
        try:
            fitted[name] = apply_overlay(base.devices[name], overlay,
                                         label=f"calibration/overlays/{name}.yaml")
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return base.with_devices(fitted, replace=True)


def catalog_for(calibration: CalibrationSetting) -> Catalog:
    """The catalog an experiment's ``calibration`` setting asks for."""
    return calibrated_catalog() if calibration == "shipped" else default_catalog()


def is_calibrated(catalog: Catalog, device: str) -> bool:
    """Whether ``device`` of ``catalog`` carries fitted values."""
    spec = catalog.devices.get(device)
    return spec is not None and any(s.kind == "fitted" for s in spec.sources)
