"""Markdown building blocks that text from a log or a device cannot break (GitHub / GitLab flavoured).

Log text only appears inside fences longer than any backtick run in it; inline text and table cells are
escaped (HTML, emphasis, links, tables, list and heading starts); both go through
`espwatch.sanitize.for_markdown` first (no escape sequence, control or bidi override).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import regex

from espwatch.sanitize import for_markdown

_BACKTICKS = regex.compile(r"`+")
_INLINE_SPECIAL = regex.compile(r"([\\`*_\[\]|~])")
_SPAN = regex.compile(r"`([^`\n]+)`")


def fence(lines: Iterable[str], info: str = "") -> str:
    """A fenced code block that its content cannot close: longer than any backtick run inside."""
    body = [for_markdown(ln) for ln in lines]
    longest = max((len(m.group(0)) for ln in body for m in _BACKTICKS.finditer(ln)), default=0)
    ticks = "`" * max(3, longest + 1)
    return "\n".join([ticks + info, *body, ticks])


def md_text(s: Any) -> str:
    """Inline text from the log or the device: HTML and Markdown syntax neutralised, one line."""
    t = for_markdown(str(s)).replace("\r", " ").replace("\n", " ")
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _INLINE_SPECIAL.sub(r"\\\1", t)
    t = regex.sub(r"^(\s*)(\d+)([.)])", r"\1\2\\\3", t)
    return regex.sub(r"^(\s*)([#+\-=>])", r"\1\\\2", t)


def md_cell(s: Any) -> str:
    """A table cell: like md_text (which escapes `|`), never empty."""
    t = md_text(s).strip()
    return t or " "


def md_rich(s: str) -> str:
    """Our own hint text: keep its `code spans`, escape everything else (values from logs included)."""
    if s.count("`") % 2:
        return md_text(s)
    out, pos = [], 0
    for m in _SPAN.finditer(s):
        out.append(md_text(s[pos:m.start()]))
        inner = m.group(1).replace("|", "\\|")
        out.append(f"`{inner}`")
        pos = m.end()
    out.append(md_text(s[pos:]))
    return "".join(out)


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(md_cell(c) for c in r) + " |")
    return "\n".join(lines)
