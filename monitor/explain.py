"""`espwatch explain` as a library: the page of every code (patterns, derived kinds, diagnosis rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from espwatch.patterns import Pattern, PatternSet

if TYPE_CHECKING:
    from espwatch.diagnosis.rules import Rule


def all_pages(patterns: PatternSet, rules: Sequence[Rule] = ()) -> list[Pattern]:
    """Every code with a page: the patterns and derived kinds, then the diagnosis rules."""
    from espwatch.diagnosis import rule_pages

    pages = list(patterns.patterns)
    known = {p.code for p in pages}
    pages.extend(p for p in rule_pages(rules) if p.code not in known)
    return pages


def find_page(pages: Sequence[Pattern], code: str) -> Pattern | None:
    """The page of `code` (case-insensitive), or None."""
    want = code.strip().upper()
    return next((p for p in pages if p.code.upper() == want), None)
