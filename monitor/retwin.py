"""`re_twin(rx)`: the same regex compiled by the standard library's `re`, for ASCII text, where both agree.

The pattern files' regexes are compiled by the `regex` module (`espwatch.lazyregex`), whose calls cost about
twice those of `re` for the same simple regex (~3.3 us against ~1.4 us for a findall on a log line). Most
shipped regexes use nothing `regex`-specific, and on ASCII text `re` and `regex` (VERSION0) read such a
source the same way: their classes (`\\w`, `\\d`, `\\b`) and case folding differ only outside ASCII, and
`\\s` at the separators U+001C-U+001F, which `re` counts as space and `regex` does not: the twin spells `\\s`
out as `regex` reads it on ASCII (`[\\t\\n\\x0b\\x0c\\r ]`). So the hot path asks `text.isascii()` once per
line (a flag of the string: no scan) and calls the twin when there is one.

A source gets no twin (None) when it is not ASCII, uses a flag other than IGNORECASE/MULTILINE/DOTALL,
verbose mode or comments, a brace that is not a counted repeat (`regex`'s fuzzy matching, `{e<=1}`, is
literal text to `re`), `\\S` inside a set, or anything `re` refuses or warns about (one group name on two
alternatives, POSIX classes, `\\p{..}`, variable-width lookbehind, inline flags past the start...).
tests/test_retwin.py checks that every shipped regex gives the same matches with both, on the corpus and
on generated lines.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

_REPEAT = re.compile(r"\{\d*(?:,\d*)?\}")
_FLAGS = ((2, re.IGNORECASE), (8, re.MULTILINE), (16, re.DOTALL))
"""`regex` flag bits (I, M, S: the same values as re's) and their `re` flags."""
_UNICODE, _VERSION0 = 32, 0x2000
"""Bits that change nothing for a str pattern read as VERSION0 (LazyRegex always sets VERSION0)."""
_INLINE_VERBOSE = re.compile(r"\(\?[a-zA-Z-]*x")
_SPACE = r"\t\n\x0b\x0c\r "
"""What `regex`'s `\\s` matches in ASCII."""

_twins: dict[tuple[str, int], re.Pattern[str] | None] = {}


def twin_source(src: str) -> str | None:
    """`src` for `re`: `\\s` and `\\S` spelled out as `regex` reads them on ASCII; None when a brace is not
    a counted repeat (`{2}`, `{1,8}`, `{,4}`), `\\S` stands in a set, or a set does not close."""
    out: list[str] = []
    i, n = 0, len(src)
    in_set = False
    while i < n:
        c = src[i]
        if c == "\\":
            nxt = src[i + 1 : i + 2]
            if nxt == "s":
                out.append(_SPACE if in_set else f"[{_SPACE}]")
            elif nxt == "S":
                if in_set:
                    return None
                out.append(f"[^{_SPACE}]")
            else:
                out.append(src[i : i + 2])
            i += 2
            continue
        if in_set:
            if c == "]":
                in_set = False
        elif c == "[":
            in_set = True
            out.append(c)
            i += 1
            if src[i : i + 1] == "^":
                out.append("^")
                i += 1
            if src[i : i + 1] == "]":  # a `]` first in a set is itself
                out.append("]")
                i += 1
            continue
        elif c == "{" and _REPEAT.match(src, i) is None:
            return None
        out.append(c)
        i += 1
    return None if in_set else "".join(out)


def re_twin(rx: Any) -> re.Pattern[str] | None:
    """`rx` (a `regex` pattern or a LazyRegex) compiled by `re`, or None when `re` might read it otherwise.

    On ASCII text (`text.isascii()`) the twin's search/match/findall/finditer give what `rx`'s give."""
    src, flags = rx.pattern, rx.flags
    key = (src, flags)
    if key in _twins:
        return _twins[key]
    twin: re.Pattern[str] | None = None
    rest = flags & ~(_UNICODE | _VERSION0)
    re_flags = 0
    for bit, flag in _FLAGS:
        if rest & bit:
            re_flags |= flag
            rest &= ~bit
    source = None
    if (not rest and isinstance(src, str) and src.isascii() and "(?#" not in src
            and _INLINE_VERBOSE.search(src) is None):
        source = twin_source(src)
    if source is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # "possible nested set" and the like: not read the same
                twin = re.compile(source, re_flags)
        except (re.error, Warning, RecursionError, OverflowError):
            twin = None
    _twins[key] = twin
    return twin
