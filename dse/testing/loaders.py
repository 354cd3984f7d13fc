"""The tests every calibration loader passes (:class:`dse.calibrate.loaders.BaseLoader`).

Subclass :class:`LoaderConformance` in a test module, under a name pytest collects, and set the
loader and the sample table it reads::

    class TestCoral(LoaderConformance):
        loader = "coral"  # a registered dataset name, or a BaseLoader
        # sample: default, the loader's table in the shared data folder (skipped if absent)

The suite checks the protocol of :meth:`~dse.calibrate.loaders.BaseLoader.load`: every row of
the sample is either mapped to measurement rows or left out with a reason (rows conserved), the
measurements have the canonical schema (:data:`dse.calibrate.measurements.SCHEMA`), loading is
deterministic, and it neither modifies the file, nor prints, nor opens a network connection.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from dse.calibrate.loaders import LOADERS, BaseLoader, LoadResult, data_dir
from dse.calibrate.measurements import COLUMNS, SCHEMA

__all__ = ["LoaderConformance"]

#: The columns of :attr:`~dse.calibrate.loaders.LoadResult.unmapped`.
UNMAPPED_COLUMNS = ["row", "device", "model", "reason"]


class LoaderConformance:
    """Shared tests of a calibration loader (not collected itself: no ``Test`` prefix).

    Attributes:
        loader: The loader under test: a :class:`~dse.calibrate.loaders.BaseLoader` or the
            name it is registered under.
        sample: The table to load; default: the loader's ``filename`` in
            :func:`~dse.calibrate.loaders.data_dir` (the tests are skipped when it is absent).
            Override the ``sample_path`` fixture to build one instead.
        comment: The comment character the sample's rows are counted with, as the loader
            reads them (``None`` for a table whose cells contain ``#``).
    """

    loader: ClassVar[BaseLoader | str]
    sample: ClassVar[Path | str | None] = None
    comment: ClassVar[str | None] = "#"

    # ----- fixtures ----------------------------------------------------------------------------

    @classmethod
    def the_loader(cls) -> BaseLoader:
        """The loader under test, looked up if it was given by name."""
        return LOADERS.get(cls.loader)

    @pytest.fixture(scope="class")
    @classmethod
    def sample_path(cls) -> Path:
        """The sample table (skips the tests when it is not there)."""
        path = Path(cls.sample) if cls.sample is not None else \
            data_dir() / cls.the_loader().filename
        if not path.is_file():
            pytest.skip(f"sample table {path} not found (set DSE_DATA)")
        return path

    @pytest.fixture(scope="class")
    @classmethod
    def result(cls, sample_path: Path) -> LoadResult:
        """The loader's result on the sample, loaded once for the class."""
        return cls.the_loader().load(sample_path)

    # ----- the tests ---------------------------------------------------------------------------

    def test_every_row_is_mapped_or_left_out_with_a_reason(self, result: LoadResult,
                                                           sample_path: Path) -> None:
        raw = pd.read_csv(sample_path, comment=self.comment, dtype=str,
                          keep_default_na=False)
        file_rows = list(range(2, len(raw) + 2))  # header = row 1, as the loaders number them
        assert len(result.source_rows) == len(result.measurements), \
            "LoadResult.source_rows must give the file row of every measurement"
        left_out = [int(r) for r in result.unmapped["row"]]
        counted = sorted([*result.source_rows, *left_out])
        assert counted == file_rows, (
            f"rows of the file neither mapped nor left out: "
            f"{sorted(set(file_rows) - set(counted))[:10]}; counted twice or not in the file: "
            f"{sorted(r for r in set(counted) if counted.count(r) > 1 or r not in file_rows)[:10]}")
        reasons = result.unmapped["reason"]
        blank = [int(r) for r, why in zip(result.unmapped["row"], reasons, strict=True)
                 if not isinstance(why, str) or not why.strip()]
        assert not blank, f"rows left out without a reason: {blank[:10]}"

    def test_measurements_have_the_canonical_schema(self, result: LoadResult) -> None:
        m = result.measurements
        assert list(m.columns) == [*COLUMNS, "value_si"]
        assert list(SCHEMA) == list(m.columns)
        for column, kind in SCHEMA.items():
            values = m[column]
            if kind == "text":
                odd = [v for v in values if not isinstance(v, str)]
                assert not odd, f"column {column}: not text: {odd[:5]}"
            elif kind == "whole":
                assert pd.api.types.is_integer_dtype(values), f"column {column}: {values.dtype}"
                assert (values >= 1).all(), f"column {column}: values below 1"
            elif len(values):
                assert pd.api.types.is_numeric_dtype(values), f"column {column}: {values.dtype}"
                assert (values > 0).all(), f"column {column}: values not positive"
        assert set(m["dataset"]) <= {result.name}
        assert result.name == self.the_loader().name
        assert list(result.unmapped.columns) == UNMAPPED_COLUMNS

    def test_loading_is_deterministic(self, result: LoadResult, sample_path: Path) -> None:
        again = self.the_loader().load(sample_path)
        pd.testing.assert_frame_equal(again.measurements, result.measurements)
        pd.testing.assert_frame_equal(again.unmapped, result.unmapped)
        assert again.source_rows == result.source_rows

    def test_loading_leaves_the_file_alone_prints_nothing_and_stays_offline(
            self, sample_path: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"a loader opened a network connection: {args}")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket, "create_connection", refuse)
        before = _fingerprint(sample_path)
        capsys.readouterr()
        self.the_loader().load(sample_path)
        out, err = capsys.readouterr()
        assert (out, err) == ("", ""), "a loader must not print"
        assert _fingerprint(sample_path) == before, "the loader modified its input file"


def _fingerprint(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns
