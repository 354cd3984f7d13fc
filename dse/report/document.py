"""A small report document (headings, paragraphs, lists, tables, images) rendered as Markdown
and as one self-contained HTML file (images embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from dse.report.markdown import markdown_table

__all__ = ["Block", "Document"]


@dataclass(frozen=True)
class Block:
    """One block: ``heading`` (``level``), ``text`` (a paragraph with Markdown ``**bold**`` and
    `` `code` ``), ``items`` (a bullet list), ``table`` (``header`` and ``rows`` of cell text)
    or ``image`` (``name`` of a PNG file next to the report, ``data`` its bytes, ``text`` its
    caption)."""

    kind: Literal["heading", "text", "items", "table", "image"]
    text: str = ""
    level: int = 2
    items: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    name: str = ""
    data: bytes = b""


@dataclass
class Document:
    """Blocks in order; :meth:`markdown` and :meth:`html` render them."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", text, level=level))

    def text(self, text: str) -> None:
        self.blocks.append(Block("text", text))

    def items(self, items: Sequence[str]) -> None:
        self.blocks.append(Block("items", items=tuple(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(Block("table", header=tuple(header),
                                 rows=tuple(tuple(r) for r in rows)))

    def image(self, name: str, data: bytes, caption: str) -> None:
        self.blocks.append(Block("image", caption, name=name, data=data))

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for b in self.blocks:
            if b.kind == "heading":
                lines += ["#" * b.level + " " + b.text, ""]
            elif b.kind == "text":
                lines += [b.text, ""]
            elif b.kind == "items":
                lines += [f"- {i}" for i in b.items] + [""]
            elif b.kind == "table":
                lines += [markdown_table(b.header, b.rows), ""]
            else:
                lines += [f"![{b.text}]({b.name})", "", f"*{b.text}*", ""]
        return "\n".join(lines).rstrip() + "\n"

    def html(self) -> str:
        parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
                 f"<title>{html.escape(self.title)}</title>", f"<style>{_CSS}</style>",
                 "</head><body>", f"<h1>{_inline(self.title)}</h1>"]
        for b in self.blocks:
            if b.kind == "heading":
                parts.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
            elif b.kind == "text":
                parts.append(f"<p>{_inline(b.text)}</p>")
            elif b.kind == "items":
                parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items)
                             + "</ul>")
            elif b.kind == "table":
                head = "".join(f"<th>{_inline(c)}</th>" for c in b.header)
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
                               for r in b.rows)
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                             "</table>")
            else:
                src = "data:image/png;base64," + base64.b64encode(b.data).decode("ascii")
                parts.append(f"<figure><img alt='{html.escape(b.text, quote=True)}' "
                             f"src='{src}'><figcaption>{_inline(b.text)}</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"


_CSS = ("body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.45}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}"
        "td,th{border:1px solid #ccc;padding:.2rem .45rem;text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}"
        "figcaption{font-size:.85rem;color:#555}")


def _inline(text: str) -> str:
    """Markdown's ``**bold**`` and `` `code` `` as HTML, everything else escaped."""
    out = []
    for i, chunk in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:
            out.append(f"<code>{html.escape(chunk)}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(chunk)))
    return "".join(out)
