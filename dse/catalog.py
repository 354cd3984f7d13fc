"""Where the catalog folders are: ``devices/``, ``workloads/``, ``experiments/``,
``calibration/``.

In a source checkout (editable install) they are the folders at the top of the repository. A
regular ``pip install`` copies them into the package as ``dse/_catalog/`` (see ``setup.py``), so
they are found from any working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = ["CATALOG_FOLDERS", "catalog_dir"]

CatalogFolder = Literal["devices", "workloads", "experiments", "calibration"]
CATALOG_FOLDERS: tuple[CatalogFolder, ...] = ("devices", "workloads", "experiments", "calibration")


def catalog_dir(folder: CatalogFolder) -> Path:
    """The folder of the catalog, packaged copy first, then the source checkout.

    Raises:
        FileNotFoundError: If neither exists (a broken installation, not bad input).
    """
    if folder not in CATALOG_FOLDERS:
        raise ValueError(f"unknown catalog folder {folder!r}; expected one of {CATALOG_FOLDERS}")
    package = Path(__file__).resolve().parent
    for candidate in (package / "_catalog" / folder, package.parent / folder):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"catalog folder {folder!r} is missing from the installation")
