"""Loaders: the published tables in ../shared/data/ as dse measurements.

Each loader reads one table and maps its device and model names to catalog devices and zoo
workloads, by a documented table of its own (``calibration/mappings/<name>.md``). Rows that do not
map are never dropped silently: they are returned with the reason, counted and reported.
Register a loader with :func:`register_loader`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dse.calibrate.measurements import COLUMNS, validate
from dse.errors import DseError, Problem
from dse.plugins import Registry
from dse.spec import loading
from dse.spec.loading import check_regular_file

__all__ = ["LOADERS", "LoadResult", "RegisteredLoader", "data_dir", "load", "loader_names", "options_json", "register_loader",
           "text"]


@dataclass(frozen=True)
class LoadResult:
    """Measurements (validated, see :mod:`dse.calibrate.measurements`) and the rows left out.

    Attributes:
        unmapped: One row per source row not used: ``row`` (file row, header = 1), ``device``,
            ``model``, ``reason``.
    """

    name: str
    measurements: pd.DataFrame
    unmapped: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Rows used and left out, with the reasons counted."""
        counts = self.unmapped["reason"].value_counts() if len(self.unmapped) else pd.Series()
        rows = [{"dataset": self.name, "what": "mapped", "rows": len(self.measurements)}]
        rows += [{"dataset": self.name, "what": f"left out: {r}", "rows": int(n)}
                 for r, n in counts.items()]
        return pd.DataFrame(rows)


Loader = Callable[[Path], LoadResult]


@dataclass(frozen=True)
class RegisteredLoader:
    """A loader and the shared table it reads (what the ``dse.loaders`` entry points name).

    Attributes:
        name: The dataset name (``coral``).
        filename: The table's file name in :func:`data_dir`.
        load: Reads the table at a path.
    """

    name: str
    filename: str
    load: Loader


def _builtins() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


#: The loaders, by dataset name: the modules of this package (imported before the first lookup)
#: and the ``dse.loaders`` entry-point group.
LOADERS: Registry[RegisteredLoader] = Registry("dse.loaders", builtins=_builtins, what="dataset",
                                               instantiate=False)


def register_loader(name: str, filename: str, loader: Loader, *,
                    replace: bool = False) -> None:
    """Register ``loader`` for the shared table ``filename`` under ``name``.

    Raises:
        ValueError: The name is taken and ``replace`` is false.
    """
    LOADERS.register(RegisteredLoader(name, filename, loader), replace=replace)


def loader_names() -> list[str]:
    """The dataset names, in registration order."""
    return LOADERS.names()


def data_dir() -> Path:
    """The shared data folder: ``$DSE_DATA``, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("DSE_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path("../shared/data")


def load(name: str, path: Path | str | None = None) -> LoadResult:
    """Load one shared table as measurements.

    Raises:
        PluginNotFoundError: Unknown loader name (listing the known ones).
        DseError: The file is missing.
    """
    entry = LOADERS.get(name)
    file = Path(path) if path is not None else data_dir() / entry.filename
    problems = check_regular_file(file, limit=loading.MAX_CSV_BYTES)
    if problems:
        if problems[0].message == "file not found":
            problems = [Problem(str(file), "", "file not found (set DSE_DATA to the folder of "
                                "the shared measurement tables)")]
        raise DseError(problems)
    return entry.load(file)


def text(value: object) -> str:
    """A CSV cell as text: empty for a missing value (pandas reads those as NaN)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def options_json(options: Mapping[str, object] | None) -> str:
    """Zoo options as the measurement format's ``options`` cell (empty when there are none)."""
    return json.dumps(dict(options), sort_keys=True) if options else ""


def finish(name: str, rows: list[dict[str, object]], unmapped: list[dict[str, object]],
           file: Path) -> LoadResult:
    """Build a :class:`LoadResult` from mapped rows (dicts with :data:`COLUMNS`).

    Every row must name its runtime (a loader knows what the table ran); the names are checked
    against the built-in catalog's runtimes.
    """
    from dse.devices import default_catalog

    nameless = [row for row in rows if not row.get("runtime")]
    if nameless:
        raise ValueError(f"loader {name!r}: {len(nameless)} row(s) without a runtime, first "
                         f"{nameless[0]}")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["dataset"] = name
    measurements = validate(frame, file=str(file), known_runtimes=set(
        default_catalog().runtimes)) if len(frame) else frame
    return LoadResult(name, measurements, pd.DataFrame(
        unmapped, columns=["row", "device", "model", "reason"]))
