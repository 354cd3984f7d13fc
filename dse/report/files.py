"""Writing output files atomically: a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dse.errors import DseError, Problem

__all__ = ["atomic_path", "save_figure"]


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path`` that replaces it when the block ends without error.

    The folder is created if missing; on error the temporary file is removed and ``path`` is
    left as it was. The file is readable by everyone (0644 less the umask), as ``open`` would
    make it. Only a regular file is ever replaced: a device (``/dev/null``), a FIFO, a
    directory or a symbolic link at ``path`` is refused.

    Raises:
        DseError: ``path`` exists and is not a regular file.
    """
    path = Path(path)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except (OSError, ValueError) as exc:
        raise DseError([Problem(str(path), "", f"cannot write here: {exc}")]) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise DseError([Problem(str(path), "", "expected a regular file to write (or no file), "
                                "found a special file, directory or link; give another path")])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
