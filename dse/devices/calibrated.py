"""The calibrated catalog: the built-in devices with the shipped fitted overlays applied.

``calibration/overlays/<device>@<runtime>.yaml`` (or ``<device>@<runtime>@<host>.yaml``) holds
the values calibration fitted for one target, a catalog device under one runtime, from the
shared measurements (``dse calibrate-catalog`` writes them; each says from which data, when,
with what uncertainty and what leave-one-model-out error); a plain ``<device>.yaml`` is the
device's default-runtime target. :func:`calibrated_catalog` applies them
(``Catalog(overlays=...)``: before ``base:`` chains resolve, so a what-if built on a fitted
device inherits its fitted values); the datasheet catalog (:func:`~dse.devices.default_catalog`)
is unchanged, so both can be compared. Experiments use the calibrated catalog unless they say
``calibration: datasheet``, and so does every command that predicts (``--calibration
datasheet`` to compare): :func:`catalog_for` is the one place that choice is made, and
:func:`calibration_line` says which was used.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, get_args

from dse.catalog import catalog_dir
from dse.devices.catalog import Catalog, catalog_folders, default_catalog
from dse.devices.overlay import Overlay, load_overlay, load_overlay_folder
from dse.errors import DseError, Problem, SpecError, did_you_mean
from dse.spec.device import DeviceSpec

__all__ = [
    "SHIPPED",
    "CalibrationSetting",
    "calibrated_catalog",
    "calibration_line",
    "catalog_for",
    "check_calibration",
    "inherited_from",
    "is_calibrated",
    "overlay_dir",
    "resolve_overlay",
    "shipped_overlays",
]

#: ``shipped``: the built-in devices with the shipped overlays; ``datasheet``: without.
CalibrationSetting = Literal["shipped", "datasheet"]

#: How the shipped overlay files are named in messages.
OVERLAY_LABEL = "calibration/overlays"

#: What ``--overlay`` takes to mean "the shipped overlay of this device's target".
SHIPPED = "shipped"


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


def check_calibration(calibration: str, *, where: str = "--calibration") -> CalibrationSetting:
    """``calibration`` if it is a :data:`CalibrationSetting`.

    Raises:
        DseError: Any other value (naming the known ones).
    """
    known = get_args(CalibrationSetting)
    if calibration not in known:
        raise DseError([Problem(where, "", did_you_mean(calibration, known,
                                                        what="calibration"))])
    return calibration  # type: ignore[return-value]


def catalog_for(calibration: CalibrationSetting = "shipped", *,
                folders: Sequence[Path | str] = ()) -> Catalog:
    """The catalog a calibration choice asks for: ``shipped`` (the default of experiments and
    of every command that predicts) the built-in devices with the shipped overlays, ``datasheet``
    without them.

    Args:
        calibration: ``shipped`` or ``datasheet``.
        folders: Extra catalog folders (``--catalog``), read after the built-in one and those of
            ``DSE_CATALOG``; the shipped overlays apply to their devices too (a device of theirs
            with an overlay of its own name takes it).

    Raises:
        DseError: An unknown ``calibration``.
        SpecError: A catalog folder or an overlay is invalid.
    """
    shipped = check_calibration(calibration) == "shipped"
    if not folders:
        return calibrated_catalog() if shipped else default_catalog()
    overlays = load_overlay_folder(overlay_dir(), label=OVERLAY_LABEL) if shipped else None
    return Catalog(*catalog_folders(), *folders, overlays=overlays)


def calibration_line(catalog: Catalog, calibration: CalibrationSetting,
                     devices: Iterable[str] | None = None) -> str:
    """One line saying which values ``catalog`` gives the devices: ``devices: calibrated
    (shipped overlays: coral_usb, ncs2, ...)`` or ``devices: datasheet values``.

    Args:
        catalog: The catalog :func:`catalog_for` returned for ``calibration``.
        calibration: The choice it was built for.
        devices: The devices the command uses (default: every device with an overlay); those
            without a fitted target are named as running on datasheet values.
    """
    if calibration == "datasheet":
        return "devices: datasheet values (--calibration datasheet)"
    if devices is None:
        fitted = sorted({o.device for o in catalog.overlays.values()})
        shown = ", ".join(fitted[:8]) + (f" and {len(fitted) - 8} more" if len(fitted) > 8
                                          else "")
        return f"devices: calibrated (shipped overlays: {shown})"
    names = sorted(set(devices))
    fitted = [d for d in names if is_calibrated(catalog, d)]
    rest = [d for d in names if d not in fitted]
    if not fitted:
        return (f"devices: datasheet values ({', '.join(rest)}: no shipped overlay in "
                f"{OVERLAY_LABEL})")
    return (f"devices: calibrated (shipped overlays: {', '.join(fitted)})"
            + (f"; datasheet values for {', '.join(rest)} (no overlay)" if rest else ""))


def resolve_overlay(value: Path | str, device: str, *, runtime: str | None = None,
                    host: str | None = None) -> tuple[str, Overlay]:
    """An ``--overlay`` value: a file, or ``shipped`` for the shipped overlay of the device's
    target (its default runtime unless ``runtime`` is given; the same fallbacks over hosts as
    :meth:`~dse.devices.catalog.Catalog.target`).

    Returns:
        A label (the file) and the overlay.

    Raises:
        SpecError: The file is invalid, or no overlay is shipped for the target (naming the
            devices that have one).
    """
    if str(value) != SHIPPED:
        return str(value), load_overlay(value)
    catalog = calibrated_catalog()
    catalog.device(device)  # an unknown device is reported as such
    found = catalog.overlay_for(device, runtime, host)
    if found is None:
        fitted = sorted({o.device for o in catalog.overlays.values()})
        target = "@".join([device, *([runtime] if runtime else []), *([host] if host else [])])
        others = sorted(k for k, o in catalog.overlays.items() if o.device == device)
        text = f"no overlay shipped for {target!r}; " + (
            f"shipped for this device: {', '.join(others)}" if others else
            f"{len(fitted)} devices have one, such as {', '.join(fitted[:12])}")
        raise SpecError([Problem(f"--overlay {SHIPPED}", "", text)])
    return found


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
