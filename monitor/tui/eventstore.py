"""The events of a log in the monitor, in bounded memory: a row of numbers per event, bodies on demand.

Every event keeps a row in arrays (first and last line, boot, severity, kind and code): 16 bytes. Its body
(text, fields, block, frames) is kept for the `keep_full` events received last, for provisional events, for
the last `keep_derived` events made from other events, and for the bodies asked for recently; any other
body is read again when it is asked for: from the log (`espwatch.reread`: the same detector over the
event's own lines, plus the few fields and frames a later stage added), or, for events made from other
events (findings, boot loops, partition switches: they cannot be read from the log), from a spill file (a
private temporary file of pickled bodies). So memory grows by 16 bytes per event plus about 50 bytes per
event whose body or added fields went to the spill file, whatever the size of the log.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from array import array
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from espwatch.events import SEVERITIES, SEVERITY_RANK, Event
from espwatch.patterns import PatternSet
from espwatch.reread import added_fields

KEEP_FULL = 5000
"""Bodies of the last events received, kept whole (the live tail; every event of a small log)."""
CACHE = 500
"""Bodies read again and kept for a while (the events the user looks at)."""
KEEP_DERIVED = 2000
"""Bodies of the last events made from other events kept in memory (older ones go to the spill file)."""


class Spill:
    """Objects pickled into a private temporary file (created on first use, gone when closed)."""

    def __init__(self) -> None:
        self._fh: Any = None
        self.size = 0
        self.count = 0

    def put(self, obj: Any) -> tuple[int, int]:
        if self._fh is None:
            self._fh = tempfile.TemporaryFile(prefix="espwatch-events-")  # noqa: SIM115 - closed by close()
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        at = self.size
        self._fh.seek(at)
        self._fh.write(data)
        self.size += len(data)
        self.count += 1
        return at, len(data)

    def get(self, where: tuple[int, int]) -> Any:
        at, n = where
        self._fh.seek(at)
        return pickle.loads(self._fh.read(n))  # our own file, written by put()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

Reread = Callable[[int, int, str, str, int], Event | None]
"""(first line, last line, kind, code, boot) -> the event read again from the log."""


class EventStore:
    """Rows for all events, bodies for some; ids are positions in arrival order and never change."""

    def __init__(self, patterns: PatternSet, reread: Reread | None = None,
                 keep_full: int = KEEP_FULL, keep_frames: Callable[[str], bool] | None = None,
                 keep_derived: int = KEEP_DERIVED) -> None:
        self.patterns = patterns
        self.reread = reread
        self.keep_full = keep_full
        self.keep_derived = keep_derived
        self.keep_frames = keep_frames or (lambda code: False)
        """Codes whose decoded frames cannot be made again from the event's own lines (a RISC-V stack
        dump needs the register dump before it): their frames are kept when the body goes."""
        self.line = array("I")
        self.end_line = array("I")
        self.boot = array("I")
        self.severity = array("B")
        self.kindcode = array("H")
        self.alive = bytearray()
        self._kc: list[tuple[str, str]] = []
        self._kc_index: dict[tuple[str, str], int] = {}
        self._pinned: OrderedDict[int, Event] = OrderedDict()
        """Bodies that cannot be read from the log (the last `keep_derived`), and provisional events."""
        self._spill = Spill()
        self._spilled: dict[int, tuple[int, int]] = {}
        """row -> where its body (an event made from other events) is in the spill file."""
        self._spilled_extras: dict[int, tuple[int, int]] = {}
        """row -> where the (fields, frames) a later stage added to a body let go of are in the spill file."""
        self._recent: OrderedDict[int, Event] = OrderedDict()
        self._cache: OrderedDict[int, Event] = OrderedDict()
        self._ids: dict[int, int] = {}
        """id(event object) -> row, for the bodies held in memory."""
        self.provisional: set[int] = set()
        self.count = 0
        """Rows alive."""

    def __len__(self) -> int:
        return self.count

    # -- writing ------------------------------------------------------------------------------------
    def _kcid(self, ev: Event) -> int:
        key = (ev.kind, ev.code)
        i = self._kc_index.get(key)
        if i is None:
            i = self._kc_index[key] = len(self._kc)
            self._kc.append(key)
        return i

    def _hold(self, row: int, ev: Event, provisional: bool) -> None:
        self._ids[id(ev)] = row
        pat = self.patterns.by_code.get(ev.code)
        if provisional or pat is None or pat.derived or self.reread is None:
            self._pinned[row] = ev
            if provisional:
                self.provisional.add(row)
            else:
                self._spill_pinned()
            return
        self.provisional.discard(row)
        self._recent[row] = ev
        while len(self._recent) > self.keep_full:
            old_row, old = self._recent.popitem(last=False)
            if self._ids.get(id(old)) == old_row:
                del self._ids[id(old)]
            frames = old.frames if old.frames and self.keep_frames(old.code) else None
            extra = added_fields(old, self.patterns)  # decoding may have added some since it came
            if extra or frames:
                self._spilled_extras[old_row] = self._spill.put((extra, frames))

    def _spill_pinned(self) -> None:
        """Bodies of events made from other events beyond `keep_derived` go to the spill file (oldest
        first; provisional ones stay: they are replaced soon)."""
        pinned = self._pinned
        if len(pinned) <= self.keep_derived:
            return
        for row in list(pinned):
            if len(pinned) <= self.keep_derived:
                break
            if row in self.provisional:
                continue
            ev = pinned.pop(row)
            if self._ids.get(id(ev)) == row:
                del self._ids[id(ev)]
            self._spilled[row] = self._spill.put(ev)

    def _release(self, row: int) -> None:
        for table in (self._pinned, self._recent, self._cache):
            ev = table.pop(row, None)
            if ev is not None and self._ids.get(id(ev)) == row:
                del self._ids[id(ev)]
        self._spilled.pop(row, None)
        self._spilled_extras.pop(row, None)
        self.provisional.discard(row)

    def add(self, ev: Event, provisional: bool = False) -> int:
        row = len(self.line)
        self.line.append(ev.line)
        self.end_line.append(ev.end_line)
        self.boot.append(ev.boot)
        self.severity.append(SEVERITY_RANK[ev.severity])
        self.kindcode.append(self._kcid(ev))
        self.alive.append(1)
        self.count += 1
        self._hold(row, ev, provisional)
        return row

    def row_of(self, ev: Event) -> int | None:
        """The row of an event object handed out (provisional, recent, cached); None when unknown."""
        return self._ids.get(id(ev))

    def replace(self, old: Event, new: Event, provisional: bool = False) -> int:
        """`new` takes the place of `old` (same row); a new row when `old` is unknown."""
        row = self.row_of(old)
        if row is None or not self.alive[row]:
            return self.add(new, provisional)
        self._release(row)
        self.line[row], self.end_line[row], self.boot[row] = new.line, new.end_line, new.boot
        self.severity[row], self.kindcode[row] = SEVERITY_RANK[new.severity], self._kcid(new)
        self._hold(row, new, provisional)
        return row

    def remove(self, ev: Event) -> int | None:
        row = self.row_of(ev)
        if row is None or not self.alive[row]:
            return None
        self._release(row)
        self.alive[row] = 0
        self.count -= 1
        return row

    # -- reading ------------------------------------------------------------------------------------
    def kind(self, row: int) -> str:
        return self._kc[self.kindcode[row]][0]

    def code(self, row: int) -> str:
        return self._kc[self.kindcode[row]][1]

    def severity_name(self, row: int) -> str:
        return SEVERITIES[self.severity[row]]

    def rows(self) -> Iterator[int]:
        """Rows alive, in arrival order."""
        alive = self.alive
        return (i for i in range(len(alive)) if alive[i])

    def held(self, row: int) -> Event | None:
        """The body when it is in memory (no reading)."""
        return self._pinned.get(row) or self._recent.get(row) or self._cache.get(row)

    def get(self, row: int) -> Event | None:
        """The whole event of a row (read again from the log when its body is not in memory)."""
        ev = self.held(row)
        if ev is not None:
            if row in self._cache:
                self._cache.move_to_end(row)
            return ev
        if not self.alive[row]:
            return None
        where = self._spilled.get(row)
        if where is not None:
            ev = self._spill.get(where)
        elif self.reread is None:
            return None
        else:
            ev = self.reread(self.line[row], self.end_line[row], self.kind(row), self.code(row),
                             self.boot[row])
            if ev is None:
                return None
            added = self._spilled_extras.get(row)
            if added is not None:
                extra, frames = self._spill.get(added)
                if extra:
                    ev.fields.update(extra)
                if frames is not None:
                    ev.frames = frames
        self._cache[row] = ev
        self._ids[id(ev)] = row
        while len(self._cache) > CACHE:
            old_row, old = self._cache.popitem(last=False)
            if self._ids.get(id(old)) == old_row:
                del self._ids[id(old)]
        return ev

    def events(self) -> list[Event]:
        """Every event, whole, by line (reads the log for the bodies not in memory: tests, small logs)."""
        out = [ev for ev in (self.get(r) for r in self.rows()) if ev is not None]
        out.sort(key=lambda e: e.line)
        return out

    def own_spans(self, min_rank: int = 0, rows: int | None = None) -> tuple[array, array]:
        """The lines of the events at `min_rank` or above that the device printed (not findings and other
        events made from other events: their span is evidence, not their own lines), merged into disjoint
        spans: (first lines, last lines), sorted. Rows come in line order (the detector's), so no sort is
        needed unless a row came late. `rows`: only the first rows (safe from another thread while rows
        are added)."""
        own = [(p := self.patterns.by_code.get(code)) is not None and not p.derived for _, code in self._kc]
        sev, kc, alive, line, end = self.severity, self.kindcode, self.alive, self.line, self.end_line
        firsts, lasts = array("I"), array("I")
        late: list[tuple[int, int]] = []
        for r in range(len(alive) if rows is None else rows):
            if not (alive[r] and sev[r] >= min_rank and own[kc[r]]):
                continue
            a, b = line[r], end[r]
            if lasts and a < firsts[-1]:
                late.append((a, b))
            elif lasts and a <= lasts[-1] + 1:
                if b > lasts[-1]:
                    lasts[-1] = b
            else:
                firsts.append(a)
                lasts.append(b)
        if late:
            from espwatch.tui.query import merge_spans

            f, la = merge_spans([*zip(firsts, lasts, strict=True), *late])
            firsts, lasts = array("I", f), array("I", la)
        return firsts, lasts

    def close(self) -> None:
        """Let go of the spill file."""
        self._spill.close()

    @property
    def spilled(self) -> int:
        """Bodies and added fields written to the spill file."""
        return self._spill.count

    @property
    def nbytes(self) -> int:
        """Bytes of the rows (the bodies come on top)."""
        return sum(a.itemsize * len(a) for a in (self.line, self.end_line, self.boot, self.severity,
                                                  self.kindcode)) + len(self.alive)


class LineOrder:
    """Rows ordered by (line, row), for "next / previous event" over any number of events.

    Keys are `line << 32 | row` in sorted `array('Q')` runs. Events come mostly in line order and are
    appended to the last run; the few that come late (findings about earlier lines) wait in a small sorted
    list that becomes a run of its own when full, and runs of similar size are merged (as a binary counter
    does): each key is merged O(log n) times, a query bisects a few runs. Withdrawn rows are skipped."""

    SIDE = 512

    def __init__(self) -> None:
        self.runs: list[array] = [array("Q")]
        self._side: list[int] = []
        self._dead: set[int] = set()

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs) + len(self._side) - len(self._dead)

    def add(self, line: int, row: int) -> None:
        key = line << 32 | row
        self._dead.discard(row)
        last = self.runs[-1]
        if not last or key >= last[-1]:
            last.append(key)  # the usual case: in line order
            return
        insort(self._side, key)
        if len(self._side) >= self.SIDE:
            self.runs.append(array("Q", self._side))
            self._side = []
            while len(self.runs) > 1 and len(self.runs[-1]) * 2 >= len(self.runs[-2]):
                last = self.runs.pop()
                self.runs[-1] = array("Q", heapq.merge(self.runs[-1], last))

    def remove(self, row: int) -> None:
        self._dead.add(row)

    def _keys(self) -> list[Any]:
        return [*self.runs, self._side]

    def after(self, line: int, row: int = 0xFFFFFFFF) -> int | None:
        """The row of the first entry after (line, row)."""
        key = line << 32 | row
        best = None
        for keys in self._keys():
            i = bisect_right(keys, key)
            while i < len(keys) and (keys[i] & 0xFFFFFFFF) in self._dead:
                i += 1
            if i < len(keys) and (best is None or keys[i] < best):
                best = keys[i]
        return None if best is None else best & 0xFFFFFFFF

    def before(self, line: int, row: int = 0) -> int | None:
        """The row of the last entry before (line, row)."""
        key = line << 32 | row
        best = None
        for keys in self._keys():
            i = bisect_left(keys, key) - 1
            while i >= 0 and (keys[i] & 0xFFFFFFFF) in self._dead:
                i -= 1
            if i >= 0 and (best is None or keys[i] > best):
                best = keys[i]
        return None if best is None else best & 0xFFFFFFFF

    def last(self) -> int | None:
        return self.before(0xFFFFFFFF, 0xFFFFFFFF)
