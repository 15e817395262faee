"""Lines to events: the hot path of every scan and of the live monitor.

The regexes see at most `lines.MATCH_LIMIT` bytes of a line (the session log and the view keep it whole).

`Detector.feed(chunk)` takes bytes as they come. Without an open block it jumps from one prefilter hit
to the next (line numbers come from counting `\\n` in C: espwatch.linecount), so bytes that match no
literal cost almost nothing. A matching line is decoded, cleaned, and only the regexes of the patterns
whose literal occurred are tried. While a block (register dump, task list, core dump) is open, following
lines are looked at one by one until the block's rule ends it.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

from espwatch.events import Event
from espwatch.linecount import NewlineCounter
from espwatch.lineoffsets import LineOffsets
from espwatch.lines import MATCH_LIMIT, MAX_LINE, PartialLine
from espwatch.linetest import line_test, required_literal
from espwatch.logformat import split_host_time
from espwatch.patterns import Block, Collect, Pattern, PatternSet
from espwatch.prefilter import Prefilter
from espwatch.retwin import re_twin
from espwatch.sanitize import clean_line

_ANNOTATION = regex.compile(r"\s*--- ")
"""A line the host's monitor (idf.py monitor) put between the device's lines (`--- 0x400d1234: f at x.c:3`):
it neither belongs to nor ends an open block."""


_LineTest = Callable[[str], bool]
_Finditer = Callable[[str], Any]
_Collect = tuple[str | None, Collect, _Finditer | None]
_BlockTests = tuple[_LineTest | None, _LineTest | None, list[_Collect]]
"""A block's continue test, end test, and collect rules each with a text its regex needs (or None) and the
finditer of its `re` twin for ASCII lines (None when it has none: espwatch.retwin)."""

_Variant = tuple[Callable[[str], Any], tuple[tuple[str, Callable[[str], Any]], ...],
                 tuple[tuple[str, Callable[[str], Any]], ...]]
"""A pattern's regex search, its lists' findall and its flags' search, for one kind of line."""
_Plan = list[_Variant | None]
"""A pattern's calls for ASCII lines (`re` twins where there are: espwatch.retwin) and for the others (made
when a line first needs them: the `regex` compile of a regex with a twin waits for a non-ASCII line)."""


def _pick(rx: Any, ascii_text: bool) -> Any:
    """The regex to call on a line: its `re` twin for ASCII text when it has one, else itself."""
    if ascii_text:
        twin = re_twin(rx)
        if twin is not None:
            return twin
    return rx


def _variant(pat: Pattern, ascii_text: bool) -> _Variant:
    return (_pick(pat.rx, ascii_text).search,
            tuple((name, _pick(rx, ascii_text).findall) for name, rx in pat.lists.items()),
            tuple((name, _pick(rx, ascii_text).search) for name, rx in pat.flags.items()))


def _twin_finditer(rx: Any) -> _Finditer | None:
    twin = re_twin(rx)
    return twin.finditer if twin is not None else None


def _hex(value: str) -> str:
    return value if value[:2].lower() == "0x" else "0x" + value


@dataclass(slots=True)
class _OpenBlock:
    event: Event
    pattern: Pattern
    taken: int = 0  # lines taken after the first
    blanks: int = 0  # blank lines since the last line that belonged
    tests: _BlockTests | None = None  # its block's tests (Detector._tests_for)


@dataclass(slots=True)
class _Counters:
    bytes: int = 0
    lines: int = 0
    events: int = 0
    hit_lines: int = 0


def _literals_before(hits: list[tuple[int, int]], i: int, limit: int) -> tuple[set[int], int]:
    """The literal indexes of hits[i:] that start before offset `limit`, and the next index."""
    found: set[int] = set()
    n = len(hits)
    while i < n and hits[i][1] < limit:
        found.add(hits[i][0])
        i += 1
    return found, i


_NONE: frozenset[int] = frozenset()
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

MAX_CANDIDATE_SETS = 4096
"""Sets of literals found on one line whose patterns (in trial order) are remembered."""


def apply_pattern(pat: Pattern, body: str) -> dict[str, Any] | None:
    """Fields of `pat` matched against a line body, or None when its regex does not match."""
    m = pat.rx.search(body)  # type: ignore[union-attr] - a pattern that matches lines has a regex
    if m is None:
        return None
    fields: dict[str, Any] = dict(pat.fields) if pat.fields else {}
    for k, v in m.groupdict().items():
        if v is not None:
            fields[k] = v.strip()
    if pat.lists:
        for name, rx in pat.lists.items():
            fields[name] = rx.findall(body)
    if pat.flags:
        for name, rx in pat.flags.items():
            fields[name] = rx.search(body) is not None
    return fields


def snapshot(ev: Event) -> Event:
    """A copy of an event that later changes to `ev` (more block lines, decoded frames) do not reach."""
    frames = list(ev.frames) if ev.frames is not None else None
    return dataclasses.replace(ev, fields=copy.deepcopy(ev.fields), block=list(ev.block),
                               hints=list(ev.hints), evidence=list(ev.evidence), frames=frames)


class Detector:
    """Feed bytes, get events in input order. Counts lines exactly as events.md defines them."""

    def __init__(
        self, patterns: PatternSet, max_line: int = MAX_LINE, fallback_prefilter: bool = False,
        prefilter_engine: str | None = None,
        match_limit: int = MATCH_LIMIT,
    ) -> None:
        self.patterns = patterns
        lits: list[str] = []
        owners: list[list[Pattern]] = []
        index: dict[str, int] = {}
        for pat in patterns.matchers:
            for lit in pat.literals:
                if lit not in index:
                    index[lit] = len(lits)
                    lits.append(lit)
                    owners.append([])
                if pat not in owners[index[lit]]:
                    owners[index[lit]].append(pat)
        self._owners = owners
        self._order = {id(p): i for i, p in enumerate(patterns.matchers)}
        self._prefilter = Prefilter(lits, force_fallback=fallback_prefilter, engine=prefilter_engine)
        self._overlapping = self._prefilter.overlapping
        self._lit_bytes = [lit.encode() for lit in lits]
        self._trial: dict[frozenset[int], list[tuple[Pattern, _Plan]]] = {}
        self._plans: dict[int, _Plan] = {}
        """id(pattern) -> its calls (patterns live as long as the detector)."""
        self._block_tests: dict[int, _BlockTests] = {}
        """id(block) -> its continue and end tests (blocks live as long as the patterns)."""
        self._match_limit = min(max_line, match_limit)
        self._carry = PartialLine(self._match_limit)  # the detector never needs more of a line
        self._next_line = 1
        self._open: list[_OpenBlock] = []
        self._ready: list[tuple[int, int, Event]] = []
        self._seq = 0
        self.stats = _Counters()
        self.offsets: LineOffsets | None = None
        """When set, where the lines that events start on begin (for reading them back)."""
        self._base = 0  # file offset of the chunk being scanned
        self._carry_at = 0  # file offset of the carried-over partial line
        self._count = NewlineCounter()
        self._single = [frozenset((i,)) for i in range(len(lits))]  # the literals of a line with one hit

    @property
    def prefilter_engine(self) -> str:
        return self._prefilter.engine

    @property
    def lines_seen(self) -> int:
        """Complete lines consumed so far."""
        return self._next_line - 1

    @property
    def pending(self) -> bool:
        """True when an event waits for more input: an open block, or an event held behind one."""
        return bool(self._open or self._ready)

    def fork(self) -> Detector:
        """A copy whose `close()` gives what this detector's `close()` would give now, leaving this one
        untouched: open blocks and held events are copied, the patterns and the prefilter shared."""
        other = copy.copy(self)
        other._carry = self._carry.copy()
        other._count = self._count.fork()  # its own scratch buffer: a fork may run in another thread
        snap = {id(ob.event): snapshot(ob.event) for ob in self._open}
        other._open = [_OpenBlock(snap[id(ob.event)], ob.pattern, ob.taken, ob.blanks) for ob in self._open]
        other._ready = [(line, seq, snap.get(id(ev)) or snapshot(ev)) for line, seq, ev in self._ready]
        other.stats = copy.copy(self.stats)
        return other

    # -- input -------------------------------------------------------------------------------
    def feed(self, data: bytes | bytearray) -> list[Event]:
        """Consume a chunk; return the events that are complete (in input order). Nothing of `data` is
        kept, so the caller may reuse its buffer."""
        base = self.stats.bytes
        self.stats.bytes += len(data)
        last_nl = data.rfind(b"\n")
        if last_nl < 0:
            if not self._carry:
                self._carry_at = base
            self._carry.add(bytes(data))  # the caller may reuse its buffer
            return []
        if self._carry:
            first_nl = data.find(b"\n")
            self._carry.add(data[:first_nl])
            self._one_line(self._carry.take()[0])
            head = first_nl + 1
        else:
            head = 0
        if head <= last_nl:
            self._base = base
            self._scan(data, head, last_nl + 1)
        if last_nl + 1 < len(data):
            self._carry_at = base + last_nl + 1
            self._carry.add(data[last_nl + 1 :])
        return self._drain()

    def close(self) -> list[Event]:
        """End of input: the last line without a break counts; open blocks end here."""
        if self._carry:
            self._one_line(self._carry.take()[0])
        for ob in list(self._open):
            self._finish_block(ob)
        self._open.clear()
        return self._drain(final=True)

    # -- scanning ----------------------------------------------------------------------------
    def _scan(self, buf: bytes, start: int, stop: int) -> None:
        """Process the complete lines in buf[start:stop] (stop is just after a `\\n`)."""
        view = memoryview(buf)[start:stop] if (start or stop != len(buf)) else buf
        hits = self._prefilter.find(view)
        base = start
        pos = start  # start of the next line not yet accounted for
        line_no = self._next_line
        count, find, rfind, line_at = self._count, buf.find, buf.rfind, self._line_at
        single = self._single
        i, n = 0, len(hits)
        while pos < stop:
            if self._open:
                # Slow path: one line at a time while a block is open.
                nl = find(b"\n", pos, stop)
                if i < n and hits[i][1] < nl - base:
                    cands, i = _literals_before(hits, i, nl - base)
                    line_at(buf, pos, nl, line_no, frozenset(cands))
                else:
                    line_at(buf, pos, nl, line_no, _NONE)
                pos = nl + 1
                line_no += 1
                continue
            if i >= n:
                line_no += count(buf, pos, stop)
                pos = stop
                break
            lit, at = hits[i]
            hit_at = base + at
            ls = rfind(b"\n", pos, hit_at) + 1
            if ls == 0:
                ls = pos
            if ls > pos:
                line_no += count(buf, pos, ls)
            nl = find(b"\n", hit_at, stop)
            i += 1
            if i < n and hits[i][1] < nl - base:  # more than one literal on the line
                cands, i = _literals_before(hits, i, nl - base)
                cands.add(lit)
                line_at(buf, ls, nl, line_no, frozenset(cands))
            else:
                line_at(buf, ls, nl, line_no, single[lit])
            pos = nl + 1
            line_no += 1
        self.stats.lines += line_no - self._next_line
        self._next_line = line_no

    def _one_line(self, raw: bytes) -> None:
        """A single complete line (the carried-over one), prefiltered on its own."""
        cands = frozenset(i for i, _ in self._prefilter.find(raw))
        self._base = self._carry_at
        self._line_at(raw, 0, len(raw), self._next_line, cands)
        self._next_line += 1
        self.stats.lines += 1

    def _trial_order(self, cands: frozenset[int]) -> list[tuple[Pattern, _Plan]]:
        """The patterns owning the literals `cands` with their calls, in the order they are tried: file
        order, fallbacks last (remembered per set of literals)."""
        key = cands
        trial = self._trial.get(key)
        if trial is None:
            pats: list[Pattern] = []
            for c in cands:
                for p in self._owners[c]:
                    if p not in pats:
                        pats.append(p)
            pats.sort(key=lambda p: (p.fallback, self._order[id(p)]))
            if len(self._trial) >= MAX_CANDIDATE_SETS:
                self._trial.clear()
            trial = self._trial[key] = [(p, self._plan_of(p)) for p in pats]
        return trial

    def _plan_of(self, pat: Pattern) -> _Plan:
        plan = self._plans.get(id(pat))
        if plan is None:
            plan = self._plans[id(pat)] = [_variant(pat, True), None]
        return plan

    @staticmethod
    def _variant_of(pat: Pattern, plan: _Plan, which: int) -> _Variant:
        """A pattern's calls for ASCII lines (which=0) or the others (1)."""
        v = plan[which]
        if v is None:
            v = plan[which] = _variant(pat, which == 0)
        return v

    def _line_at(self, buf: bytes, ls: int, nl: int, number: int, cands: frozenset[int]) -> None:
        if not cands and not self._open:
            return
        raw = buf[ls:nl] if nl - ls <= self._match_limit else buf[ls : ls + self._match_limit]
        # clean_text and split_host_time, their common case inline (a few hundred ns a line)
        text = raw.decode("utf-8", "replace")
        if text[-1:] == "\r":
            text = text[:-1]
        if not text.isprintable() or "?[" in text or "\u241b" in text:
            text = clean_line(text)
        if text[:1] in _LETTERS:  # no host time starts with a letter
            host, body = None, text
        else:
            host, body = split_host_time(text)  # once per line, for the blocks and the patterns
        if self._open:
            self._feed_blocks(body, number)
        if not cands:
            return
        self.stats.hit_lines += 1
        if not self._overlapping:  # the `re` alternation may hide overlapping literals
            cands = frozenset(j for j, lit in enumerate(self._lit_bytes) if lit in raw)
        matched = False
        which = 0 if text.isascii() else 1
        for pat, plan in self._trial.get(cands) or self._trial_order(cands):
            if pat.fallback and matched:
                continue
            search, lists, flags = plan[which] or self._variant_of(pat, plan, which)
            m = search(body)
            if m is None:
                continue
            fields: dict[str, Any] = dict(pat.fields) if pat.fields else {}
            for k, v in m.groupdict().items():
                if v is not None:
                    fields[k] = v.strip()
            for name, findall in lists:
                fields[name] = findall(body)
            for name, flag in flags:
                fields[name] = flag(body) is not None
            severity = pat.severity
            for sw in pat.severity_when:
                val = fields.get(sw.field)
                if isinstance(val, str) and sw.rx.search(val):
                    severity = sw.severity
                    break
            if not matched and self.offsets is not None:
                self.offsets.note(number, self._base + ls)
            matched = True
            ev = Event(kind=pat.kind, line=number, end_line=number, severity=severity, code=pat.code,
                       text=text, fields=fields, host_time=host)
            if pat.block is not None:
                self._open.append(_OpenBlock(ev, pat, tests=self._block_tests.get(id(pat.block))))
            else:
                self._emit(ev)

    # -- blocks ------------------------------------------------------------------------------
    def _feed_blocks(self, body: str, number: int) -> None:
        """One line (without its host timestamp) for the open blocks."""
        if "--- " in body and _ANNOTATION.match(body) is not None:
            return  # a host annotation: no block takes it, none ends at it
        blank = not body or body.isspace()
        for ob in list(self._open) if len(self._open) > 1 else self._open:  # (a copy: blocks may close)
            if number <= ob.event.line:
                continue
            blk = ob.pattern.block
            assert blk is not None
            tests = ob.tests or self._tests_for(ob)
            cont, end, _ = tests
            if end is not None and end(body):
                if blk.end_inclusive:
                    self._take(ob, body, number)
                self._close(ob)
                continue
            if blank:
                ob.blanks += 1
                if ob.blanks > blk.max_blank:
                    self._close(ob)
                continue
            if cont is None or cont(body):
                self._take(ob, body, number)
                if ob.taken >= blk.max_lines:
                    self._close(ob)
            else:
                self._close(ob)

    def _tests_for(self, ob: _OpenBlock) -> _BlockTests:
        """The tests of an open block's rules (made once per block rule, kept on the open block)."""
        blk = ob.pattern.block
        assert blk is not None
        tests = self._block_tests.get(id(blk))
        if tests is None:
            tests = self._block_tests[id(blk)] = self._tests_of(blk)
        ob.tests = tests
        return tests

    @staticmethod
    def _tests_of(blk: Block) -> _BlockTests:
        """A block's `continue` and `end` regexes as yes/no tests, and its collect rules each with a text
        that its regex needs (espwatch.linetest)."""
        return (line_test(blk.cont) if blk.cont is not None else None,
                line_test(blk.end) if blk.end is not None else None,
                [(required_literal(col.rx.pattern, col.rx.flags), col, _twin_finditer(col.rx))
                 for col in blk.collect])

    def _take(self, ob: _OpenBlock, body: str, number: int) -> None:
        ev = ob.event
        blk = ob.pattern.block
        assert blk is not None
        if ob.blanks:
            ev.block.extend([""] * ob.blanks)
            ob.blanks = 0
        ev.block.append(body)
        ev.end_line = number
        ob.taken += 1
        asc = body.isascii()
        for lit, col, ascii_finditer in (ob.tests or self._tests_for(ob))[2]:
            if lit is not None and lit not in body:
                continue  # (a register dump line meets a dozen collect regexes; most cannot match it)
            for m in (ascii_finditer if asc and ascii_finditer is not None else col.rx.finditer)(body):
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                if col.normalize == "hex":
                    groups = {k: _hex(v.strip()) for k, v in groups.items()}
                if col.mode == "first":
                    for k, v in groups.items():
                        ev.fields.setdefault(k, v.strip())
                elif col.mode == "list":
                    for k, v in groups.items():
                        ev.fields.setdefault(k, []).append(v.strip())
                else:
                    ev.fields.setdefault(col.name, []).append({k: v.strip() for k, v in groups.items()})
        pat = ob.pattern
        if pat.flags or pat.lists:
            _, lists, flags = self._variant_of(pat, self._plan_of(pat), 0 if asc else 1)
            for name, flag in flags:
                if not ev.fields.get(name) and flag(body):
                    ev.fields[name] = True
            for name, findall in lists:
                ev.fields.setdefault(name, []).extend(findall(body))

    def _close(self, ob: _OpenBlock) -> None:
        if ob in self._open:
            self._open.remove(ob)
            self._finish_block(ob)

    def _finish_block(self, ob: _OpenBlock) -> None:
        # Blank lines at the end of a block are not part of it.
        blk = ob.pattern.block
        if blk is not None and blk.join and ob.event.block:
            ev = ob.event
            joined = split_host_time(ev.text)[1].strip() + "".join(b.strip() for b in ev.block)
            pat = ob.pattern
            _, lists, flags = self._variant_of(pat, self._plan_of(pat), 0 if joined.isascii() else 1)
            for name, findall in lists:
                ev.fields[name] = findall(joined)
            for name, flag in flags:
                ev.fields[name] = flag(joined) is not None
        self._emit(ob.event)

    # -- output ------------------------------------------------------------------------------
    def _emit(self, ev: Event) -> None:
        self._seq += 1
        heapq.heappush(self._ready, (ev.line, self._seq, ev))
        self.stats.events += 1

    def _drain(self, final: bool = False) -> list[Event]:
        limit = min((ob.event.line for ob in self._open), default=None)
        out: list[Event] = []
        while self._ready and (final or limit is None or self._ready[0][0] < limit):
            out.append(heapq.heappop(self._ready)[2])
        return out
