"""Writing output files atomically: a reader never sees half a file.

Temporary files are created next to their target as ``.<name>.<random>.tmp`` (so that
:func:`clean_stale_temporaries` can find what a killed writer left behind) and are given the
mode an ordinary file gets (``0o644`` less the umask) before they replace the target:
:func:`tempfile.mkstemp` creates them ``0o600``, readable by their owner only.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dse.errors import DseError, Problem

__all__ = ["atomic_path", "clean_stale_temporaries", "file_mode", "save_figure"]

#: What :func:`atomic_path` names its temporary files: ``.<target name>.<mkstemp part>.tmp``.
_TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def file_mode() -> int:
    """The mode of a new ordinary file under the current umask (``0o644 & ~umask``)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o644 & ~umask


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path next to ``path`` that replaces it when the block ends without error.

    The folder is created if missing; on error the temporary file is removed and ``path`` is
    left as it was. The file is readable by everyone (``0o644`` less the umask: see
    :func:`file_mode`). Only a regular file is ever replaced: a device (``/dev/null``), a FIFO, a
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
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def clean_stale_temporaries(folder: Path | str, targets: Iterable[str]) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left in ``folder`` for these target names
    (``fnmatch`` patterns such as ``best_*.yaml``) when its process was killed; returns them.

    Only files named as :func:`atomic_path` names them, for one of ``targets``, are touched:
    another program's temporaries in the same folder are left alone.
    """
    import fnmatch

    folder = Path(folder)
    removed = []
    patterns = list(targets)
    for path in folder.glob(".*.tmp") if folder.is_dir() else []:
        match = _TEMPORARY.match(path.name)
        if match and any(fnmatch.fnmatchcase(match["target"], p) for p in patterns):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def save_figure(fig: Any, stem: Path | str, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write a matplotlib figure as ``stem.png``, ``stem.svg``, ... atomically.

    The figure is a :class:`matplotlib.figure.Figure` made without pyplot: it needs no
    backend (none is chosen for the caller) and is freed with its last reference."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=110)
        written.append(target)
    return written
