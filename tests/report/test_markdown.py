"""The one Markdown table writer (report.md, summary.md, the experiment reference)."""

from __future__ import annotations

from dse.report.markdown import markdown_table


def test_markdown_table_escapes_pipes_once_and_keeps_empty_cells_narrow():
    text = markdown_table(["", "a|b"], [["x", "1"], ["", r"c\|d"]])
    assert text.splitlines() == ["| | a\\|b |", "|---|---|", "| x | 1 |", "| | c\\|d |"]
