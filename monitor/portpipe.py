"""A merged log (`espwatch.merge`) read back into each port's own pipeline: events, boots and findings per
port, numbered by the merged log's lines.

`PortsPipeline` takes the merged log's bytes (the interface of `espwatch.pipeline.Pipeline`: `feed`,
`close`, `speculate`, `sessions`, `boots`), gives each port's lines, label removed, to that port's own
`Pipeline` (its own detector, boot tracker and stages: decoding with that port's ELF, diagnosis over that
port's boots), and renumbers what comes out: an event's lines become the merged log's line numbers, and
boots get one number sequence over all ports, in the order they start in the merged log (each keeps its
port and its own number as the facts "port" and "port_boot").
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from espwatch.events import Event
from espwatch.merge import split_label
from espwatch.pipeline import Pipeline, Stage
from espwatch.sessions import SessionInfo


class _LineMap:
    """A port's own line numbers -> merged line numbers, as runs (consecutive lines cost nothing)."""

    def __init__(self) -> None:
        self.local = array("Q")
        self.merged = array("Q")
        self.count = array("Q")
        self.lines = 0

    def add(self, merged: int) -> None:
        self.lines += 1
        if self.count and self.merged[-1] + self.count[-1] == merged:
            self.count[-1] += 1
            return
        self.local.append(self.lines)
        self.merged.append(merged)
        self.count.append(1)

    def __call__(self, local: int) -> int:
        if not self.local:
            return 0
        local = max(1, min(local, self.lines))
        i = bisect_right(self.local, local) - 1
        return self.merged[i] + (local - self.local[i])


class _Boots:
    """What `Follower` sets on a pipeline's boot tracker, passed to every port's tracker."""

    def __init__(self, owner: PortsPipeline) -> None:
        self._owner = owner
        self._keep: int | None = None
        self._on_drop: Callable[[Any], None] | None = None

    @property
    def keep_sessions(self) -> int | None:
        return self._keep

    @keep_sessions.setter
    def keep_sessions(self, n: int | None) -> None:
        self._keep = n
        for p in self._owner.pipes:
            p.boots.keep_sessions = n

    @property
    def on_drop(self) -> Callable[[Any], None] | None:
        return self._on_drop

    @on_drop.setter
    def on_drop(self, cb: Callable[[Any], None] | None) -> None:
        self._on_drop = cb
        owner = self._owner
        for i, p in enumerate(owner.pipes):
            p.boots.on_drop = None if cb is None else (
                lambda s, lane=i: (b := owner.boot_of(lane, s)) is not None and cb(b))  # type: ignore[misc]


class PortsPipeline:
    """See the module docstring. `pipes[i]` is the pipeline of the port labelled `labels[i]`."""

    def __init__(self, labels: Sequence[str], pipes: Sequence[Pipeline]) -> None:
        self.labels = list(labels)
        self.pipes = list(pipes)
        self.patterns = self.pipes[0].patterns
        self.stages: list[Stage] = []
        """(none of its own: each port's pipeline has its stages; see `stages_of`)"""
        self._lane = {label: i for i, label in enumerate(self.labels)}
        self._maps = [_LineMap() for _ in self.pipes]
        self._at_start = [True] * len(self.pipes)
        self._rest = b""
        self.merged_lines = 0
        self._boot_ids: dict[tuple[int, int], int] = {}
        self.boot_owner = array("I")
        """Global boot number - 1 -> lane."""
        self.boot_local = array("I")
        """Global boot number - 1 -> the port's own boot number."""
        self.boots = _Boots(self)

    @property
    def lines(self) -> int:
        return self.merged_lines

    def lane_of(self, label: str | None) -> int | None:
        return self._lane.get(label) if label is not None else None

    def stages_of(self, lane: int) -> list[Stage]:
        return self.pipes[lane].stages

    # -- boots -----------------------------------------------------------------------------------------
    def boot_of(self, lane: int, s: Any) -> SessionInfo | None:
        number = self._boot_ids.get((lane, s.number))
        if number is None:
            return None
        m = self._maps[lane]
        facts = dict(s.facts)
        facts["port"] = self.labels[lane]
        facts["port_boot"] = s.number
        return SessionInfo(number, m(s.start_line), m(s.end_line), facts, dict(s.counts))

    @property
    def sessions(self) -> list[SessionInfo]:
        """The boots each port's pipeline still keeps, by number."""
        out = [b for lane, p in enumerate(self.pipes) if self._maps[lane].lines
               for s in p.sessions if (b := self.boot_of(lane, s)) is not None]
        out.sort(key=lambda b: b.number)
        return out

    @property
    def first_open(self) -> int | None:
        """The lowest number among the ports' current boots (they all still change)."""
        nums = [self._boot_ids.get((lane, p.boots.current.number)) for lane, p in enumerate(self.pipes)]
        known = [n for n in nums if n is not None]
        return min(known) if known else None

    def _number_new_boots(self) -> None:
        new = []
        for lane, p in enumerate(self.pipes):
            if not self._maps[lane].lines:
                continue
            for s in p.sessions:
                if (lane, s.number) not in self._boot_ids:
                    new.append((self._maps[lane](s.start_line), lane, s.number))
        for _, lane, local in sorted(new):
            self.boot_owner.append(lane)
            self.boot_local.append(local)
            self._boot_ids[(lane, local)] = len(self.boot_owner)

    # -- events ----------------------------------------------------------------------------------------
    def _renumber(self, lane: int, events: list[Event]) -> list[Event]:
        m = self._maps[lane]
        for ev in events:
            ev.line, ev.end_line = m(ev.line), m(ev.end_line)
            if ev.evidence:
                ev.evidence = [m(x) for x in ev.evidence]
            boot = self._boot_ids.get((lane, ev.boot))
            if boot is None:  # a boot the port's tracker made while closing
                self._number_new_boots()
                boot = self._boot_ids.get((lane, ev.boot), ev.boot)
            ev.boot = boot
        return events

    def _gather(self, per_lane: list[list[Event]]) -> list[Event]:
        self._number_new_boots()
        out: list[Event] = []
        for lane, evs in enumerate(per_lane):
            if evs:
                out.extend(self._renumber(lane, evs))
        out.sort(key=lambda e: e.line)
        return out

    def feed(self, data: bytes) -> list[Event]:
        data = self._rest + data if self._rest else data
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]
        return self._feed_lines(data[:cut])

    def _feed_lines(self, data: bytes) -> list[Event]:
        bufs: list[list[bytes]] = [[] for _ in self.pipes]
        pos, end = 0, len(data)
        lane_of = self._lane
        n = self.merged_lines
        while pos < end:
            nl = data.find(b"\n", pos)
            nl = end - 1 if nl < 0 else nl
            raw = data[pos : nl + 1]
            pos = nl + 1
            n += 1
            label, whole, body = split_label(raw)
            lane = lane_of.get(label) if label is not None else None
            if lane is None:
                continue
            if self._at_start[lane]:
                self._maps[lane].add(n)
            self._at_start[lane] = whole
            bufs[lane].append(body)
        self.merged_lines = n
        return self._gather([p.feed(b"".join(b)) if b else [] for p, b in zip(self.pipes, bufs, strict=True)])

    def close(self) -> list[Event]:
        out = self._feed_lines(self._rest) if self._rest else []
        self._rest = b""
        return out + self._gather([p.close() for p in self.pipes])

    def speculate(self, pending: bool = True) -> list[Event]:
        """What `close()` would add now (each port's own `Pipeline.speculate`), renumbered."""
        per_lane = [p.speculate(pending) for p in self.pipes]
        out: list[Event] = []
        for lane, evs in enumerate(per_lane):
            if not evs:
                continue
            m = self._maps[lane]
            for ev in evs:
                ev.line, ev.end_line = m(ev.line), m(ev.end_line)
                if ev.evidence:
                    ev.evidence = [m(x) for x in ev.evidence]
                ev.boot = self._boot_ids.get((lane, ev.boot), ev.boot)
            out.extend(evs)
        out.sort(key=lambda e: e.line)
        return out


def port_lines(data: bytes, label: str) -> bytes:
    """The bytes of port `label` among merged lines (label removed, pieces joined back)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        nl = len(data) - 1 if nl < 0 else nl
        got, _, body = split_label(data[pos : nl + 1])
        if got == label:
            out.append(body)
        pos = nl + 1
    return b"".join(out)
