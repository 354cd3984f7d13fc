"""Loaders: the published tables in ../shared/data/ as dse measurements.

Each loader reads one table and maps its device and model names to catalog devices and zoo
workloads, by a documented table of its own (``calibration/mappings/<name>.md``). Rows that do not
map are never dropped silently: they are returned with the reason, counted and reported.
A loader is a :class:`BaseLoader` (or a function, see :func:`register_loader`); register it with
:func:`register_loader` and test it with :class:`dse.testing.loaders.LoaderConformance`.
"""

from __future__ import annotations

import abc
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import pandas as pd

from dse.calibrate.measurements import COLUMNS, validate
from dse.errors import DseError, Problem
from dse.plugins import Registry
from dse.spec import loading
from dse.spec.loading import check_regular_file

__all__ = [
    "LOADERS",
    "BaseLoader",
    "LoadResult",
    "RegisteredLoader",
    "data_dir",
    "finish",
    "load",
    "loader_names",
    "options_json",
    "register_loader",
    "table_rows",
    "text",
]


@dataclass(frozen=True)
class LoadResult:
    """Measurements (validated, see :mod:`dse.calibrate.measurements`) and the rows left out.

    Attributes:
        name: The dataset name.
        measurements: The rows used, validated (:func:`dse.calibrate.measurements.validate`).
        unmapped: One row per source row not used: ``row`` (file row, header = 1), ``device``,
            ``model``, ``reason``.
        source_rows: The file row (header = 1) each measurement came from, in the order of
            ``measurements``; with ``unmapped["row"]``, every row of the file once.
    """

    name: str
    measurements: pd.DataFrame
    unmapped: pd.DataFrame
    source_rows: tuple[int, ...] = ()

    def summary(self) -> pd.DataFrame:
        """Rows used and left out, with the reasons counted."""
        counts = self.unmapped["reason"].value_counts() if len(self.unmapped) else pd.Series()
        rows = [{"dataset": self.name, "what": "mapped", "rows": len(self.measurements)}]
        rows += [{"dataset": self.name, "what": f"left out: {r}", "rows": int(n)}
                 for r, n in counts.items()]
        return pd.DataFrame(rows)


Loader = Callable[[Path], LoadResult]


class BaseLoader(abc.ABC):
    """A calibration loader: one published table in, dse measurement rows out.

    A subclass names its dataset and the table it reads (:attr:`name`, :attr:`filename`) and
    implements :meth:`load`. Register an instance (or the class) with :func:`register_loader`,
    or name it in the ``dse.loaders`` entry-point group, and inherit the shared tests,
    :class:`dse.testing.loaders.LoaderConformance`.

    Attributes:
        name: The dataset name (``coral``) that ``dse calibrate --dataset`` and
            :func:`dse.calibrate.loaders.load` take.
        filename: The table's file name in the shared data folder (:func:`data_dir`).
    """

    name: str
    filename: str

    @abc.abstractmethod
    def load(self, file: Path) -> LoadResult:
        """Read the table at ``file`` and map its rows.

        Called by :func:`dse.calibrate.loaders.load` (``dse calibrate``, ``dse validate``,
        ``dse calibrate-catalog``), once per request, with the path of the table (by default
        :attr:`filename` in :func:`data_dir`), after the path was checked to be a regular file
        of bounded size. May be called any number of times; the same file gives the same
        result.

        Returns:
            A :class:`LoadResult` (build it with :func:`finish`): the measurement rows in the
            canonical schema (:data:`dse.calibrate.measurements.COLUMNS` plus ``value_si``,
            validated), the file row each came from, and every file row not used with a
            non-empty reason. Every row of the file is either mapped or left out: none is
            dropped silently.

        It must not modify the file, print (the CLI reports the :class:`LoadResult`), download
        anything or keep state between calls.

        Raises:
            DseError: The file is not the table this loader reads (missing columns).
        """


@dataclass(frozen=True)
class RegisteredLoader(BaseLoader):
    """A loader given as a function of the table's path (:func:`register_loader` with a name,
    a file name and a function).

    Attributes:
        name: The dataset name (``coral``).
        filename: The table's file name in :func:`data_dir`.
        function: Reads the table at a path (the protocol of :meth:`BaseLoader.load`).
    """

    name: str
    filename: str
    function: Loader

    def load(self, file: Path) -> LoadResult:
        return self.function(file)


def _builtins() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


#: The loaders, by dataset name: the modules of this package (imported before the first lookup)
#: and the ``dse.loaders`` entry-point group.
LOADERS: Registry[BaseLoader] = Registry("dse.loaders", builtins=_builtins, what="dataset")


@overload
def register_loader(loader: BaseLoader | type[BaseLoader], *,
                    replace: bool = False) -> BaseLoader: ...


@overload
def register_loader(loader: str, filename: str, function: Loader, *,
                    replace: bool = False) -> BaseLoader: ...


def register_loader(loader: str | BaseLoader | type[BaseLoader], filename: str | None = None,
                    function: Loader | None = None, *, replace: bool = False) -> BaseLoader:
    """Register a loader: a :class:`BaseLoader` (an instance, or a class called without
    arguments), or a dataset name, the shared table's file name and a function of the table's
    path. Returns the registered loader.

    Raises:
        ValueError: The name is taken and ``replace`` is false.
        TypeError: A name without a file name and a function, or a loader with them.
    """
    if isinstance(loader, str):
        if filename is None or function is None:
            raise TypeError("register_loader(name, filename, function): give all three")
        entry: BaseLoader = RegisteredLoader(loader, filename, function)
    elif filename is not None or function is not None:
        raise TypeError("register_loader(loader): a BaseLoader takes no file name or function")
    else:
        entry = loader() if isinstance(loader, type) else loader
    return LOADERS.register(entry, replace=replace)


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


def table_rows(file: Path) -> Iterator[tuple[int, Any]]:
    """The rows of a published table (a CSV whose ``#`` lines are comments), each with the
    number the loaders report it by (the header is row 1, the first data row 2)."""
    table = pd.read_csv(file, comment="#")
    return enumerate(table.itertuples(index=False), start=2)


def leaver(unmapped: list[dict[str, object]], row: int, device: object, model: object
           ) -> Callable[[str], None]:
    """The function that leaves file row ``row`` (of ``device`` and ``model``, as the table
    names them) out of the measurements, with its reason, into ``unmapped``."""

    def leave(reason: str) -> None:
        unmapped.append({"row": row, "device": device, "model": model, "reason": reason})

    return leave


def text(value: object) -> str:
    """A CSV cell as text: empty for a missing value (pandas reads those as NaN)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def options_json(options: Mapping[str, object] | None) -> str:
    """Zoo options as the measurement format's ``options`` cell (empty when there are none)."""
    return json.dumps(dict(options), sort_keys=True) if options else ""


def finish(name: str, rows: list[dict[str, object]], unmapped: list[dict[str, object]],
           file: Path) -> LoadResult:
    """Build a :class:`LoadResult` from mapped rows (dicts with :data:`COLUMNS` and ``row``,
    the file row they came from) and the rows left out (``row``, ``device``, ``model``,
    ``reason``).

    Every row must name its runtime (a loader knows what the table ran); the names are checked
    against the built-in catalog's runtimes.

    Raises:
        ValueError: A mapped row without its runtime or its file row (a bug of the loader).
    """
    from dse.devices import default_catalog

    nameless = [row for row in rows if not row.get("runtime")]
    if nameless:
        raise ValueError(f"loader {name!r}: {len(nameless)} row(s) without a runtime, first "
                         f"{nameless[0]}")
    unnumbered = [row for row in rows if not isinstance(row.get("row"), int)]
    if unnumbered:
        raise ValueError(f"loader {name!r}: {len(unnumbered)} row(s) without the file row "
                         f"they came from ('row'), first {unnumbered[0]}")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["dataset"] = name
    measurements = validate(frame, file=str(file), known_runtimes=set(
        default_catalog().runtimes))
    return LoadResult(name, measurements, pd.DataFrame(
        unmapped, columns=["row", "device", "model", "reason"]),
        tuple(int(str(row["row"])) for row in rows))
