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
from dse.errors import DseError, Problem, did_you_mean
from dse.spec import loading
from dse.spec.loading import check_regular_file

__all__ = ["LoadResult", "data_dir", "load", "loader_names", "options_json", "register_loader",
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
_LOADERS: dict[str, tuple[str, Loader]] = {}


def register_loader(name: str, filename: str, loader: Loader) -> None:
    """Register ``loader`` for the shared table ``filename`` under ``name``."""
    _LOADERS[name] = (filename, loader)


def loader_names() -> list[str]:
    _builtins()
    return list(_LOADERS)


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
        DseError: Unknown loader name (listing the known ones), or the file is missing.
    """
    _builtins()
    if name not in _LOADERS:
        raise DseError([Problem("calibration", str(name)[:80],
                                did_you_mean(name, _LOADERS, what="dataset"))])
    filename, loader = _LOADERS[name]
    file = Path(path) if path is not None else data_dir() / filename
    problems = check_regular_file(file, limit=loading.MAX_CSV_BYTES)
    if problems:
        if problems[0].message == "file not found":
            problems = [Problem(str(file), "", "file not found (set DSE_DATA to the folder of "
                                "the shared measurement tables)")]
        raise DseError(problems)
    return loader(file)


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


def _builtins() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
