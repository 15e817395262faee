"""Pages for `espwatch explain`: what a pattern or rule code means, what to check, where to read more."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

from espwatch.patterns import Pattern, PatternSet


def all_pages(patterns: PatternSet) -> list[Pattern]:
    """Every code with a page: the patterns and derived kinds, plus diagnosis rules when available."""
    pages = list(patterns.patterns)
    try:
        from espwatch.diagnosis import rule_pages
    except ImportError:
        return pages
    # a malformed rules file raises PatternError (RuleError), which the CLI prints as one line
    known = {p.code for p in pages}
    pages.extend(p for p in rule_pages() if p.code not in known)
    return pages


def find_page(patterns: PatternSet, code: str) -> Pattern | None:
    want = code.strip().upper()
    return next((p for p in all_pages(patterns) if p.code.upper() == want), None)


def iter_list(patterns: PatternSet) -> Iterator[str]:
    pages = sorted(all_pages(patterns), key=lambda p: p.code)
    for p in pages:
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
