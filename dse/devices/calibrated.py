"""The calibrated catalog: the built-in devices with the shipped fitted overlays applied.

``calibration/overlays/<device>@<runtime>.yaml`` (or ``<device>@<runtime>@<host>.yaml``) holds
the values calibration fitted for one target, a catalog device under one runtime, from the
shared measurements (``dse calibrate-catalog`` writes them; each says from which data, when,
with what uncertainty and what leave-one-model-out error); a plain ``<device>.yaml`` is the
device's default-runtime target. :func:`calibrated_catalog` applies them
(``Catalog(overlays=...)``: before ``base:`` chains resolve, so a what-if built on a fitted
device inherits its fitted values); the datasheet catalog (:func:`~dse.devices.default_catalog`)
is unchanged, so both can be compared. Experiments use the calibrated catalog unless they say
``calibration: datasheet``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from dse.catalog import catalog_dir
from dse.devices.catalog import Catalog, default_catalog
from dse.devices.overlay import Overlay, load_overlay_folder
from dse.spec.device import DeviceSpec

__all__ = [
    "CalibrationSetting",
    "calibrated_catalog",
    "catalog_for",
    "inherited_from",
    "is_calibrated",
    "overlay_dir",
    "shipped_overlays",
]

#: ``shipped``: the built-in devices with the shipped overlays; ``datasheet``: without.
CalibrationSetting = Literal["shipped", "datasheet"]

#: How the shipped overlay files are named in messages.
OVERLAY_LABEL = "calibration/overlays"


def overlay_dir() -> Path:
    """Where the shipped overlays are (``calibration/overlays``)."""
    return catalog_dir("calibration") / "overlays"


def shipped_overlays(folder: Path | str | None = None) -> dict[str, Overlay]:
    """Every overlay of ``folder`` (default: the shipped ones), by file name without
    ``.yaml``: the target name (``coral_usb@edgetpu``, or ``coral_usb`` for a default-runtime
    file).

    Raises:
        SpecError: An overlay file is invalid or disagrees with its name (every problem).
    """
    folder, label = (Path(folder), str(folder)) if folder is not None else \
        (overlay_dir(), OVERLAY_LABEL)
    return {Path(file).stem: overlay for file, overlay in
            load_overlay_folder(folder, label=label).items()}


@functools.lru_cache(maxsize=1)
def calibrated_catalog() -> Catalog:
    """The built-in catalog with every shipped overlay applied (loaded once).

    Raises:
        SpecError: An overlay names an unknown device, runtime or host, or a value its spec
            refuses (every problem, each naming the overlay file).
    """
    return Catalog(overlays=load_overlay_folder(overlay_dir(), label=OVERLAY_LABEL))


def catalog_for(calibration: CalibrationSetting) -> Catalog:
    """The catalog an experiment's ``calibration`` setting asks for."""
    return calibrated_catalog() if calibration == "shipped" else default_catalog()


def is_calibrated(catalog: Catalog | DeviceSpec, device: str | None = None, *,
                  runtime: str | None = None, host: str | None = None) -> bool:
    """Whether a target carries fitted values (its own or inherited through ``base:``).

    Args:
        catalog: A catalog (then ``device`` names the device, or a target
            ``device@runtime[@host]``), or a spec itself.
    """
    if isinstance(catalog, DeviceSpec):
        spec: DeviceSpec | None = catalog
    else:
        name, *rest = str(device).split("@")
        runtime = runtime or (rest[0] if rest else None)
        host = host or (rest[1] if len(rest) > 1 else None)
        if name not in catalog.devices:
            return False
        spec = catalog.target(name, runtime, host) if runtime or host else \
            catalog.devices[name]
    return spec is not None and any(s.kind == "fitted" for s in spec.sources)


def inherited_from(spec: DeviceSpec) -> list[str]:
    """The devices whose fitted values ``spec`` inherited through ``base:`` (empty if none;
    the catalog's ``fitted`` sources say so, see :mod:`dse.devices.catalog`)."""
    marker = "; inherited from "
    return [s.cite.rsplit(marker, 1)[1].split(" ", 1)[0] for s in spec.sources
            if s.kind == "fitted" and marker in s.cite]
