"""Boot sessions: which boot each event belongs to, and what the device said about itself in it.

A boot starts at a ROM banner or a reset line (patterns with `starts_boot = true`); the banner and the
`rst:` line that follows it a few lines later open one boot, not two. Facts come from the `sets` table
of the pattern that matched (e.g. `sets = { reset_reason = "name" }`). Derived here: the boot's partition
table (the image package's `PartitionTable`, from the rows the bootloader printed), the label of a
`partition_loaded` offset, and `partition_switch`. Diagnosis reads boots from here; it adds only the boot's
crash (`crash`), which needs the decoded frames that arrive after this stage.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from espwatch.events import SEVERITY_RANK, Event
from espwatch.logformat import host_seconds
from espwatch.patterns import PatternSet

if TYPE_CHECKING:
    from espwatch.image.partition_table import PartitionTable

_UNSEEN = object()

SAME_BOOT_WINDOW = 6
"""A boot-start line within this many lines of the previous one, with nothing else between, joins it."""
MAX_TABLE_ROWS = 64
"""Rows of a printed partition table kept (a real table has at most 95)."""


def _offset(text: Any) -> int | None:
    try:
        return int(str(text), 16)
    except ValueError:
        return None


@dataclass
class SessionInfo:
    """A copy of a boot session as it stands, safe to hand to another thread or process."""

    number: int
    start_line: int
    end_line: int
    facts: dict[str, Any]
    counts: dict[str, int]

    @classmethod
    def of(cls, s: BootSession) -> SessionInfo:
        return cls(s.number, s.start_line, s.end_line, dict(s.facts), dict(s.counts))


@dataclass
class BootSession:
    """One boot of the device as seen in the log."""

    number: int
    start_line: int
    end_line: int
    facts: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    started_by_marker: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    """Line of the first event of each kind in this boot."""
    host_start: float | None = None
    """Host time (seconds since midnight) of the boot's first timestamped event; `host_end` of its last."""
    host_end: float | None = None
    partition_table: PartitionTable | None = None
    crash: Any = None
    """The boot's crash (`diagnosis.signatures.Crash`), set by the diagnosis stage when the boot ends."""

    @property
    def partitions(self) -> list[dict[str, str]]:
        return self.facts.get("partitions", [])

    @property
    def reset_reason(self) -> str | None:
        return self.facts.get("reset_reason")

    @property
    def reset_line(self) -> int | None:
        return self.first_line.get("reset_reason")

    @property
    def brownout_line(self) -> int | None:
        return self.first_line.get("brownout")

    @property
    def lines(self) -> int:
        """Lines from the boot's first event to its end (the first boot of a log may begin with the tail
        of an earlier one, before anything recognisable)."""
        return self.end_line - min(self.first_line.values(), default=self.start_line) + 1

    def partition_label(self, offset: str) -> str | None:
        """The label of the partition at `offset` in this boot's printed table."""
        want = _offset(offset)
        if want is None or self.partition_table is None:
            return None
        part = self.partition_table.at(want)
        return part.label if part is not None else None

    @property
    def worst(self) -> str | None:
        return max(self.counts, key=SEVERITY_RANK.__getitem__) if self.counts else None

    def summary(self) -> dict[str, Any]:
        facts = {k: v for k, v in self.facts.items() if k not in ("partitions", "partition_line")}
        return {"boot": self.number, "line": self.start_line, "end_line": self.end_line, **facts}


class BootTracker:
    """Assigns `boot` to events in stream order and keeps the facts of each boot."""

    def __init__(self, patterns: PatternSet, keep_events: bool = True, keep_sessions: int | None = None,
                 on_drop: Callable[[BootSession], None] | None = None) -> None:
        self.patterns = patterns
        self.keep_events = keep_events
        self.keep_sessions = keep_sessions
        """Keep only the last N boots in `sessions` (None: all); `on_drop` gets each one let go."""
        self.on_drop = on_drop
        self.dropped = 0
        """Boots let go from the front of `sessions` (so `sessions[0].number == dropped + 1`)."""
        self.sessions: list[BootSession] = [BootSession(1, 1, 1)]
        self._prev_partition: BootSession | None = None
        """The last finished boot that loaded a partition (a switch is told against it)."""
        self._last_marker_line = -(10**9)
        self._others_since_marker = 0
        self._patterns_by_code: dict[str, Any] = {}

    @property
    def current(self) -> BootSession:
        return self.sessions[-1]

    def fork(self) -> BootTracker:
        """A copy to run ahead on (what-if): earlier boots are shared (they no longer change), the current
        one is copied, events are not kept."""
        other = copy.copy(self)
        other.keep_events = False
        other.on_drop = None
        cur = copy.copy(self.current)
        cur.facts, cur.counts, cur.first_line = dict(cur.facts), dict(cur.counts), dict(cur.first_line)
        cur.events = []
        other.sessions = [*self.sessions[:-1], cur]
        return other

    def session(self, number: int) -> BootSession:
        """The boot numbered `number` (the current one when out of range)."""
        i = number - self.dropped - 1
        if 0 <= i < len(self.sessions):
            return self.sessions[i]
        return self.current

    def process(self, ev: Event) -> list[Event]:
        """Place `ev` in its boot; return it plus any event derived from it."""
        pat = self._patterns_by_code.get(ev.code, _UNSEEN)
        if pat is _UNSEEN:  # PatternSet.get, remembered per code
            pat = self._patterns_by_code[ev.code] = self.patterns.get(ev.code)
        cur = self.sessions[-1]
        if pat is not None and pat.starts_boot:
            joins = ev.line - self._last_marker_line <= SAME_BOOT_WINDOW and self._others_since_marker == 0
            if joins:
                pass
            elif not cur.started_by_marker and not cur.counts:
                cur.started_by_marker = True  # the log begins with this boot
            else:
                cur.end_line = max(cur.end_line, ev.line - 1)
                if "partition_offset" in cur.facts:
                    self._prev_partition = cur
                cur = BootSession(cur.number + 1, ev.line, ev.line, started_by_marker=True)
                self.sessions.append(cur)
                if self.keep_sessions is not None and len(self.sessions) > self.keep_sessions:
                    self._drop_first()
            self._last_marker_line = ev.line
            self._others_since_marker = 0
        elif ev.kind != "boot_banner":
            self._others_since_marker += 1
        kind = ev.kind
        ev.boot = cur.number
        if ev.end_line > cur.end_line:
            cur.end_line = ev.end_line
        if kind not in cur.first_line:
            cur.first_line[kind] = ev.line
        t = host_seconds(ev.host_time) if ev.host_time else None
        if t is not None:
            if cur.host_start is None:
                cur.host_start = t
            cur.host_end = t
        out = [ev]
        if pat is not None and pat.sets:
            for fact, fname in pat.sets.items():
                if fname in ev.fields and fact not in cur.facts:
                    cur.facts[fact] = ev.fields[fname]
        if kind == "partition_table" and ev.fields.get("partitions"):
            from espwatch.image.partition_table import table_from_rows

            cur.partition_table = table_from_rows(ev.fields["partitions"][:MAX_TABLE_ROWS])
        elif kind == "partition_loaded" and "offset" in ev.fields:
            label = cur.partition_label(ev.fields["offset"])
            if label and "label" not in ev.fields:
                ev.fields["label"] = label
            cur.facts["partition"] = ev.fields.get("label") or ev.fields["offset"]
            cur.facts["partition_offset"] = ev.fields["offset"]
            cur.facts["partition_line"] = ev.line
            out.extend(self._switch(ev, cur))
        if self.keep_events:
            cur.events.extend(out)
        counts = cur.counts
        for e in out:
            counts[e.severity] = counts.get(e.severity, 0) + 1
        return out

    def _drop_first(self) -> None:
        old = self.sessions.pop(0)
        self.dropped += 1
        if self.on_drop is not None:
            self.on_drop(old)

    def note_line(self, number: int) -> None:
        """Extend the current boot to `number` (the last line read)."""
        self.current.end_line = max(self.current.end_line, number)

    def _switch(self, ev: Event, cur: BootSession) -> list[Event]:
        prev = self._prev_partition
        if prev is None or prev is cur:
            return []
        if _offset(prev.facts["partition_offset"]) == _offset(ev.fields["offset"]):
            return []
        pat = self.patterns.derived_code("partition_switch")
        frm, to = prev.facts.get("partition"), cur.facts.get("partition")
        return [Event(
            kind="partition_switch", line=ev.line, end_line=ev.line,
            severity=pat.severity if pat else "info", code=pat.code if pat else "EW000",
            text=ev.text, boot=cur.number, host_time=ev.host_time,
            fields={"from": frm, "to": to, "from_offset": prev.facts["partition_offset"],
                    "to_offset": ev.fields["offset"], "previous_boot": prev.number},
            evidence=[prev.facts["partition_line"], ev.line],
        )]
