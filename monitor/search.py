"""Search a log's bytes for what the user typed: literal text through the scan's prefilter, regexes on the
lines that contain their longest literal, with the number of matching lines and progress.

`plan(text)` turns the user's pattern into a `SearchPlan` (smart case: a pattern without capitals ignores
case): the literal that every match must contain (the whole pattern when it has no regex syntax, else the
longest run of plain characters that no alternation or optional part can skip) and the regex that decides.
`search_lines(plan, chunks, ...)` runs it over `(first line number, bytes of whole lines)` chunks: the
`Prefilter` (Aho-Corasick, the engine of `scan`) finds candidate lines in the raw bytes, and only those
lines are cleaned (escape sequences removed, as displayed) and matched. Without a usable literal every
line is cleaned and matched. Ignoring case, the prefilter looks for every capitalisation of a short piece
of the literal (at most 32 variants) and the line decides.

The prefilter sees the bytes the device sent: a literal with a colour change in the middle of it (an escape
sequence between two of its characters) is not found, while the screen shows it whole. ESP-IDF and
Arduino colour whole lines, so this does not happen with their logs.
"""

from __future__ import annotations

import itertools
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import regex

from espwatch.lines import clean_text
from espwatch.prefilter import Prefilter

MIN_LITERAL = 2
"""Shorter literals are not worth a prefilter: every line is matched instead."""
MAX_CASE_LETTERS = 5
"""Ignoring case, the prefilter piece has at most this many letters (2**5 capitalisations)."""
MAX_HITS = 1_000_000
"""Line numbers of hits kept for `>` / `<` (the count goes on beyond)."""

_SPECIAL = set(".^$*+?{}[]\\|()")
_ESCAPED_LITERAL = set(".^$*+?{}[]\\|()/-#&~ '\"")


@dataclass
class SearchPlan:
    """How a user's pattern is searched."""

    pattern: str
    rx: regex.Pattern[str]
    literal: str | None
    """Text every matching line contains (lowercase when ignoring case), or None."""
    ignore_case: bool
    is_literal: bool
    """The pattern is plain text: the literal alone decides."""


def compile_user_regex(text: str) -> regex.Pattern[str]:
    """Smart case: a pattern without capitals ignores case. Raises regex.error on a bad pattern."""
    flags = regex.MULTILINE | regex.V0
    if text == text.lower():
        flags |= regex.IGNORECASE
    return regex.compile(text, flags)


def required_literal(pattern: str) -> tuple[str | None, bool]:
    """(the longest plain run every match contains, whether the whole pattern is plain text).

    Conservative: a top-level `|` gives no literal; groups and classes end a run; a character followed
    by `?`, `*` or `{` is not required."""
    runs: list[str] = []
    cur: list[str] = []
    depth = 0
    i = 0
    plain = True
    n = len(pattern)

    def end_run() -> None:
        if cur:
            runs.append("".join(cur))
            cur.clear()

    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in _ESCAPED_LITERAL and depth == 0:
                char, width = nxt, 2
            else:  # \d, \s, \b, \1 ...: not plain text
                plain = False
                end_run()
                i += 2
                continue
        elif c == "[":
            plain = False
            end_run()
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        elif c == "(":
            plain = False
            end_run()
            depth += 1
            i += 1
            continue
        elif c == ")":
            plain = False
            depth = max(0, depth - 1)
            i += 1
            continue
        elif c == "|":
            if depth == 0:
                return None, False
            plain = False
            i += 1
            continue
        elif c in _SPECIAL:
            plain = False
            end_run()
            i += 1
            continue
        else:
            char, width = c, 1
        if depth > 0:
            i += width
            continue
        after = pattern[i + width] if i + width < n else ""
        if after in ("?", "*", "{"):
            plain = False
            end_run()
        elif after == "+":
            plain = False
            cur.append(char)
            end_run()
        else:
            cur.append(char)
        i += width
    end_run()
    if plain:
        whole = "".join(runs)
        return (whole or None), bool(whole)
    best = max(runs, key=len, default="")
    return (best if len(best) >= MIN_LITERAL else None), False


def plan(text: str) -> SearchPlan:
    """The plan for a user's pattern (raises regex.error on a bad regex)."""
    rx = compile_user_regex(text)
    ignore = bool(rx.flags & regex.IGNORECASE)
    literal, whole = required_literal(text)
    if literal is not None and ignore:
        literal = literal.lower()
    return SearchPlan(text, rx, literal, ignore, whole and literal is not None)


_COMMON = set("etaoinshrdlcu ETAOINSHRDLCU0123456789:.,-_()=/\t")


def _case_piece(literal: str) -> str:
    """The piece of `literal` the prefilter looks for ignoring case: at most MAX_CASE_LETTERS cased
    letters (every capitalisation is a pattern), no space at its ends, and as rare as can be: a piece of
    common bytes (" never ") makes the prefilter stop everywhere."""
    best, best_score = literal[:1], -1
    n = len(literal)
    for start in range(n):
        if literal[start].isspace():
            continue
        letters = 0
        for end in range(start, n):
            ch = literal[end]
            if ch.lower() != ch.upper():
                letters += 1
                if letters > MAX_CASE_LETTERS:
                    break
            if ch.isspace():
                continue
            piece = literal[start : end + 1]
            score = sum(0 if c.isspace() else 1 if c in _COMMON else 3 for c in piece)
            if score > best_score:
                best, best_score = piece, score
    return best


def prefilter_for(p: SearchPlan) -> Prefilter | None:
    """The scan's prefilter over the literal (every capitalisation of a piece when ignoring case)."""
    if p.literal is None or len(p.literal) < MIN_LITERAL:
        return None
    if not p.ignore_case:
        return Prefilter([p.literal])
    piece = _case_piece(p.literal)
    options = [(ch.lower(), ch.upper()) if ch.lower() != ch.upper() else (ch,) for ch in piece]
    variants = sorted({"".join(v) for v in itertools.product(*options)})
    return Prefilter(variants)


@dataclass
class SearchResult:
    """Lines that match, growing while the search runs."""

    plan: SearchPlan
    lines: array = field(default_factory=lambda: array("I"))
    """Matching line numbers in the order found (see `sorted_lines`)."""
    count: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    done: bool = False
    capped: bool = False

    @property
    def progress(self) -> float:
        return 1.0 if self.done or not self.bytes_total else min(1.0, self.bytes_done / self.bytes_total)


def _matches(p: SearchPlan, raw: bytes) -> bool:
    text = clean_text(raw)
    if p.is_literal:
        assert p.literal is not None
        return p.literal in (text.lower() if p.ignore_case else text)
    return p.rx.search(text) is not None


def search_lines(p: SearchPlan, chunks: Iterable[tuple[int, bytes, int]], line_of: Callable[[int], int],
                 result: SearchResult, on_hit: Callable[[int], None] | None = None,
                 cancel: threading.Event | None = None,
                 on_progress: Callable[[SearchResult], None] | None = None,
                 blocks: Sequence[int] | None = None, block: int = 1 << 16) -> None:
    """Match the lines of `chunks` ((offset, bytes, end): whole lines in `bytes[:end]`); every hit's line
    number goes into `result` (and to `on_hit`). Pieces without a candidate cost the prefilter only: their
    lines are not counted. A candidate's line number comes from `blocks` (line breaks before each `block`
    bytes of the log, `LineIndex.blocks`) and at most one block counted, or else from `line_of(offset)`
    (once per piece) and the breaks counted since."""
    pf = prefilter_for(p)
    for offset, buf, end in chunks:
        if cancel is not None and cancel.is_set():
            return
        if pf is not None:
            hits = pf.find(memoryview(buf)[:end] if end < len(buf) else buf)
            line = 0
            counted = 0  # buf[:counted] is counted in `line`
            line_end = -1
            for _, at in hits:
                if at < line_end:
                    continue  # this line was looked at
                ls = buf.rfind(b"\n", 0, at) + 1
                le = buf.find(b"\n", at, end)
                if le < 0:
                    le = end
                start = (offset + ls) // block * block  # the block the line starts in
                if blocks is not None and start >= offset + counted and start // block < len(blocks):
                    # the block's count is nearer than the last line counted: count from there
                    line = blocks[start // block] + 1 + buf.count(b"\n", start - offset, ls)
                elif line:
                    line += buf.count(b"\n", counted, ls)
                else:
                    line = line_of(offset) + buf.count(b"\n", 0, ls)
                counted = ls
                line_end = le + 1
                if _matches(p, buf[ls:le]):
                    _record(result, line, on_hit)
        else:
            first = line_of(offset)
            parts = buf[:end].split(b"\n")
            if buf[:end].endswith(b"\n"):
                parts.pop()
            for i, raw in enumerate(parts):
                if _matches(p, raw):
                    _record(result, first + i, on_hit)
        result.bytes_done += end
        if on_progress is not None:
            on_progress(result)


def _record(result: SearchResult, line: int, on_hit: Callable[[int], None] | None) -> None:
    result.count += 1
    if len(result.lines) < MAX_HITS:
        result.lines.append(line)
    else:
        result.capped = True
    if on_hit is not None:
        on_hit(line)
