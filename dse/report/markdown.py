"""Markdown tables: the one writer behind report.md, summary.md and the experiment reference."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["markdown_table"]

_BARE_PIPE = re.compile(r"(?<!\\)\|")


def _cell(text: object) -> str:
    # a pipe would end the cell; one escaped already (by the caller) is left as it is
    text = _BARE_PIPE.sub(r"\\|", str(text))
    return f" {text} " if text else " "


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table, one line per row, without a trailing newline.

    Args:
        header: The column headings.
        rows: The rows' cells, as many as ``header``; each is written with ``str``.

    Returns:
        The table's lines joined by newlines.
    """
    lines = ["|" + "|".join(_cell(c) for c in header) + "|", "|" + "---|" * len(header)]
    lines += ["|" + "|".join(_cell(c) for c in row) + "|" for row in rows]
    return "\n".join(lines)
