"""Writing output files atomically: a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "save_figure"]


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path`` that replaces it when the block ends without error.

    The folder is created if missing; on error the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_figure(fig: Any, stem: Path | str, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write a matplotlib figure as ``stem.png``, ``stem.svg``, ... atomically, then close it."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    written = []
    try:
        for fmt in formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, dpi=110)
            written.append(target)
    finally:
        plt.close(fig)
    return written
