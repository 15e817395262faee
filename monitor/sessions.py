"""Boot sessions: which boot each event belongs to, and what the device said about itself in it.

A boot starts at a ROM banner or a reset line (patterns with `starts_boot = true`); the banner and the
`rst:` line that follows it a few lines later open one boot, not two. Facts come from the `sets` table
of the pattern that matched (e.g. `sets = { reset_reason = "name" }`). Derived here: the label of a
`partition_loaded` offset (from the partition table printed in the same boot) and `partition_switch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from espwatch.events import SEVERITY_RANK, Event
from espwatch.patterns import PatternSet

SAME_BOOT_WINDOW = 6
"""A boot-start line within this many lines of the previous one, with nothing else between, joins it."""


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

    @property
    def partitions(self) -> list[dict[str, str]]:
        return self.facts.get("partitions", [])

    def partition_label(self, offset: str) -> str | None:
        """The label of the partition at `offset` in this boot's printed table."""
        try:
            want = int(offset, 16)
        except ValueError:
            return None
        for row in self.partitions:
            try:
                if int(row.get("offset", ""), 16) == want:
                    return row.get("label")
            except ValueError:
                continue
        return None

    @property
    def worst(self) -> str | None:
        return max(self.counts, key=SEVERITY_RANK.__getitem__) if self.counts else None

    def summary(self) -> dict[str, Any]:
        facts = {k: v for k, v in self.facts.items() if k not in ("partitions", "partition_line")}
        return {"boot": self.number, "line": self.start_line, "end_line": self.end_line, **facts}


class BootTracker:
    """Assigns `boot` to events in stream order and keeps the facts of each boot."""

    def __init__(self, patterns: PatternSet, keep_events: bool = True) -> None:
        self.patterns = patterns
        self.keep_events = keep_events
        self.sessions: list[BootSession] = [BootSession(1, 1, 1)]
        self._last_marker_line = -(10**9)
        self._others_since_marker = 0

    @property
    def current(self) -> BootSession:
        return self.sessions[-1]

    def process(self, ev: Event) -> list[Event]:
        """Place `ev` in its boot; return it plus any event derived from it."""
        pat = self.patterns.get(ev.code)
        cur = self.current
        if pat is not None and pat.starts_boot:
            joins = ev.line - self._last_marker_line <= SAME_BOOT_WINDOW and self._others_since_marker == 0
            if joins:
                pass
            elif not cur.started_by_marker and not cur.counts:
                cur.started_by_marker = True  # the log begins with this boot
            else:
                cur.end_line = max(cur.end_line, ev.line - 1)
                cur = BootSession(len(self.sessions) + 1, ev.line, ev.line, started_by_marker=True)
                self.sessions.append(cur)
            self._last_marker_line = ev.line
            self._others_since_marker = 0
        elif ev.kind != "boot_banner":
            self._others_since_marker += 1
        ev.boot = cur.number
        cur.end_line = max(cur.end_line, ev.end_line)
        out = [ev]
        if pat is not None:
            for fact, fname in pat.sets.items():
                if fname in ev.fields and fact not in cur.facts:
                    cur.facts[fact] = ev.fields[fname]
        if ev.kind == "partition_loaded" and "offset" in ev.fields:
            label = cur.partition_label(ev.fields["offset"])
            if label and "label" not in ev.fields:
                ev.fields["label"] = label
            cur.facts["partition"] = ev.fields.get("label") or ev.fields["offset"]
            cur.facts["partition_offset"] = ev.fields["offset"]
            cur.facts["partition_line"] = ev.line
            out.extend(self._switch(ev, cur))
        if self.keep_events:
            cur.events.extend(out)
        for e in out:
            cur.counts[e.severity] = cur.counts.get(e.severity, 0) + 1
        return out

    def note_line(self, number: int) -> None:
        """Extend the current boot to `number` (the last line read)."""
        self.current.end_line = max(self.current.end_line, number)

    def _switch(self, ev: Event, cur: BootSession) -> list[Event]:
        prev = next((s for s in reversed(self.sessions[:-1]) if "partition_offset" in s.facts), None)
        if prev is None or prev is cur:
            return []
        if int(prev.facts["partition_offset"], 16) == int(ev.fields["offset"], 16):
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
