"""The pages of `espwatch explain`: one code in full, or the list of all codes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence

from espwatch.errcodes import ErrorCode
from espwatch.patterns import Pattern


def iter_list(pages: Sequence[Pattern]) -> Iterator[str]:
    for p in sorted(pages, key=lambda p: p.code):
        yield f"{p.code}  {p.severity:<7}  {p.kind:<24} {p.title}"


def iter_page(p: Pattern, width: int = 88) -> Iterator[str]:
    yield f"{p.code}: {p.title}"
    yield f"  kind {p.kind}, severity {p.severity}" + (f", family {p.family}" if p.family else "")
    if p.hint:
        yield ""
        yield "What it means"
        for para in p.hint.split("\n\n"):
            text = " ".join(para.split())
            yield from textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="  ")
    if p.checks:
        yield ""
        yield "What to check"
        for c in p.checks:
            yield from textwrap.wrap(c, width, initial_indent="  - ", subsequent_indent="    ")
    if p.rx is not None:
        yield ""
        yield "How it is recognised"
        yield "  lines containing " + " or ".join(repr(lit) for lit in p.literals)
        yield f"  matching /{p.rx.pattern}/"
        if p.block is not None:
            yield "  with the following lines that belong to it (register dump, list, dump body)"
    if p.references:
        yield ""
        yield "References"
        for r in p.references:
            yield f"  {r}"
    if p.source:
        yield ""
        yield f"Defined in {p.source}"


def iter_error_code(code: ErrorCode, related: Sequence[Pattern] = ()) -> Iterator[str]:
    """An esp_err_t code: name, value, ESP-IDF's description, versions, and the patterns that name it."""
    yield f"{code.name}: esp_err_t {code.hex} ({code.value})"
    yield f"  {code.description}" if code.description else "  (ESP-IDF gives no description)"
    if code.versions:
        last = f" .. {code.versions[-1]}" if len(code.versions) > 1 else ""
        yield f"  in ESP-IDF {code.versions[0]}{last}"
    if related:
        yield ""
        yield "Patterns that mention it"
        for p in related:
            yield f"  {p.code}  {p.title}"


def iter_kind(kind: str, pages: Sequence[Pattern]) -> Iterator[str]:
    """An event kind: the codes that produce it (`espwatch explain CODE` for each page)."""
    yield f"event kind {kind}: {len(pages)} code(s) produce it (see `espwatch explain --contract`)"
    for p in sorted(pages, key=lambda p: p.code):
        yield f"  {p.code}  {p.severity:<7}  {p.title}"
