"""`line_test(rx)`: `rx.search(line) is not None` as a faster callable, for the regexes only asked yes or no.

A block's `continue` and `end` regexes are tried on every line while a block is open, and the line that ends
a block matches none of them. The `regex` module tries every alternative at every position of such a line,
even those that can only match at its start (`^...`): a panic block's continuation regex cost 10-30 us on the
line after the panic. Here the top-level alternatives that start with `^` are tried once, with `match` at
the line start, and the others with `search`: the same answer. A source this split cannot keep exact (inline
flags, backreferences, nested sets, verbose or multi-line mode) keeps its plain `search`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_GROUP_KINDS = (":", "=", "!", "<=", "<!", "P<", ">")
"""What may follow `(?` in a source that is split (non-capturing, lookaround, named, atomic groups)."""


def _set_end(src: str, i: int) -> int | None:
    """The index just after the character set that opens at src[i] (`[`), or None for a nested set, a
    POSIX class or a set that does not close (not read here)."""
    n = len(src)
    j = i + 1
    if src[j : j + 1] == "^":
        j += 1
    if src[j : j + 1] == "]":
        j += 1  # a `]` first in a set is itself
    while j < n and src[j] != "]":
        if src[j] == "[":
            return None
        j += 2 if src[j] == "\\" else 1
    return j + 1 if j < n else None


def top_level_branches(src: str) -> list[str] | None:
    """The top-level alternatives of a regex source (one wrapping `(?:...)` looked through), or None when
    the source uses something the split could change the meaning of."""
    branches: list[str] = []
    depth, start, i, n = 0, 0, 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\":
            nxt = src[i + 1 : i + 2]
            if (nxt.isdigit() and nxt != "0") or nxt in ("g", "k", ""):
                return None  # a backreference (or a dangling escape)
            i += 2
            continue
        if c == "[":
            i = _set_end(src, i)
            if i is None:
                return None  # a nested set, a POSIX class, or a set that does not close
            continue
        if c == "(":
            if src.startswith("(?", i) and not src.startswith(_GROUP_KINDS, i + 2):
                return None  # inline flags, conditionals, recursion, branch reset...
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif c == "|" and depth == 0:
            branches.append(src[start:i])
            start = i + 1
        i += 1
    if depth != 0:
        return None
    branches.append(src[start:])
    if len(branches) == 1 and src.startswith("(?:") and src.endswith(")"):
        inner = top_level_branches(src[3:-1])  # None when the parentheses were not one wrapping group
        if inner is not None:
            return inner
    return branches


_VERSION0, _MULTILINE, _VERBOSE, _VERSION1 = 0x2000, 8, 64, 0x100
"""`regex` flag values (the module is imported only when a `regex` compile is needed)."""


def line_test(rx: Any) -> Callable[[str], bool]:
    """A callable giving `rx.search(text) is not None` (rx: a `regex` pattern or a LazyRegex). On ASCII text
    it calls the `re` twins (espwatch.retwin) of the regexes it tries when they all have one; the `regex`
    ones are compiled when a line first needs them."""
    from espwatch.lazyregex import LazyRegex
    from espwatch.retwin import re_twin

    split = _split(rx)
    slow: list[Callable[[str], bool]] = []

    def test(text: str) -> bool:
        if not slow:
            slow.append(_regex_test(rx, split))
        return slow[0](text)

    if split is None:
        twin = re_twin(rx)
        if twin is None:
            return _regex_test(rx, None)
        search = twin.search
        return lambda text: search(text) is not None if text.isascii() else test(text)
    anchored, others = split
    start_twin = re_twin(LazyRegex(anchored, rx.flags | _VERSION0, "line test"))
    other_twin = re_twin(LazyRegex(others, rx.flags | _VERSION0, "line test")) if others is not None else None
    if start_twin is None or (others is not None and other_twin is None):
        return _regex_test(rx, split)
    at_start = start_twin.match
    if other_twin is None:
        return lambda text: at_start(text) is not None if text.isascii() else test(text)
    anywhere = other_twin.search
    return lambda text: (at_start(text) is not None or anywhere(text) is not None) if text.isascii() \
        else test(text)


def _split(rx: Any) -> tuple[str, str | None] | None:
    """The sources of the regex matched at the line start (the top-level alternatives that start with `^`,
    without it) and of the one searched (the others, or None), or None when the source is not split."""
    flags = rx.flags
    if flags & (_MULTILINE | _VERBOSE | _VERSION1):
        return None
    branches = top_level_branches(rx.pattern)
    if branches is None:
        return None
    anchored = [b[1:] for b in branches if b.startswith("^")]
    if not anchored or any(b[:1] in ("*", "+", "?", "{") for b in anchored):
        return None
    others = [b for b in branches if not b.startswith("^")]
    return "(?:" + "|".join(anchored) + ")", ("(?:" + "|".join(others) + ")" if others else None)


def _regex_test(rx: Any, split: tuple[str, str | None] | None) -> Callable[[str], bool]:
    """The test with the `regex` module: `rx.search`, or the split regexes."""
    search = rx.search
    plain: Callable[[str], bool] = lambda text: search(text) is not None  # noqa: E731
    if split is None:
        return plain
    import regex

    try:
        at_start = regex.compile(split[0], rx.flags | regex.VERSION0).match
        other_rx = regex.compile(split[1], rx.flags | regex.VERSION0) if split[1] is not None else None
    except regex.error:
        return plain
    if other_rx is None:
        return lambda text: at_start(text) is not None
    anywhere = other_rx.search
    return lambda text: at_start(text) is not None or anywhere(text) is not None


def split_regexes(rx: Any) -> list[Any]:
    """The regexes a line test of `rx` may call (rx itself, or its split parts): for tests."""
    import regex

    split = _split(rx)
    if split is None:
        return [rx]
    return [regex.compile(src, rx.flags | regex.VERSION0) for src in split if src is not None]


_META = frozenset(".^$*+?{}[]\\|()")
_ZERO_WIDTH = ("(?=", "(?!", "(?<=", "(?<!")


def _group_end(src: str, i: int) -> int | None:
    """The index just after the group that opens at src[i] (`(`), or None when it does not close."""
    depth = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _set_end(src, i)
            if i is None:
                return None
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def required_literal(src: str, flags: int = 0) -> str | None:
    """Text that every match of the regex `src` contains (at least 2 characters), or None when the simple
    reading here finds none: the literal run at the start of the regex, after zero-width lookarounds.

    `lit not in line` then says, for the cost of a substring test, that the regex cannot match the line."""
    import regex

    if flags & (regex.IGNORECASE | regex.VERBOSE) or "(?" in src.replace("(?:", "").replace(
            "(?P<", "").replace("(?=", "").replace("(?!", "").replace("(?<=", "").replace("(?<!", ""):
        return None  # case-insensitive, verbose, or inline flags somewhere
    branches = top_level_branches(src)
    if branches is None or len(branches) != 1 or branches[0] != src:
        return None  # alternatives (or one wrapping group): no single start
    i, n = 0, len(src)
    while src.startswith(_ZERO_WIDTH, i):  # lookarounds consume nothing
        end = _group_end(src, i)
        if end is None:
            return None
        i = end
    out: list[str] = []
    while i < n:
        c = src[i]
        if c == "\\":
            nxt = src[i + 1 : i + 2]
            if not nxt or nxt.isalnum():
                break  # a class (\d, \s), an anchor (\b, \A), a code (\x41, \N{...}): not read here
            ch, step = nxt, 2
        elif c in _META:
            break
        else:
            ch, step = c, 1
        after = src[i + step : i + step + 1]
        if after in ("*", "?", "{"):
            break  # this character may be absent
        out.append(ch)
        if after == "+":
            break  # the character is there, what follows it may not start right after
        i += step
    lit = "".join(out)
    return lit if len(lit) >= 2 else None
