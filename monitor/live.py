"""Live mode of the pipeline: events and findings shown as soon as they can be, corrected, never doubled.

`Pipeline.feed` only returns final events, in input order: an event whose register dump is still open, a
rule that fires when its boot or the log ends, wait. A monitor cannot wait for the end of input, so
`LiveFeed` adds *provisional* events: when the device has been quiet for `quiet` seconds (and at most
every `interval` seconds while it keeps talking) it asks `Pipeline.speculate()` what the end of input
would add now, and shows that. The pipeline itself is never changed by this: what it commits
later is exactly what `scan` prints, and each committed event replaces the provisional one it confirms
(same kind, code and first line) instead of being added next to it. Provisional events that the input
contradicts (a single checksum failure that turned out to be the first of two) are withdrawn.

So the events shown at any time are the committed ones plus what the end of input would add, and after
`close()` exactly `scan`'s events. The consumer gets `Changes`: new events, updates (old object -> new),
and withdrawn ones.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from espwatch.events import Event
from espwatch.pipeline import Pipeline

QUIET = 0.2
"""Seconds without bytes after which open blocks (a dump the device stopped in) are shown."""
INTERVAL = 0.5
"""While bytes keep coming, findings of end-of-boot / end-of-log rules are re-evaluated this often."""


def event_key(ev: Event) -> Hashable:
    """What a provisional event and the final one it becomes have in common."""
    return (ev.kind, ev.code, ev.line)


def same_content(a: Event, b: Event) -> bool:
    return a.to_json() == b.to_json() and a.block == b.block


@dataclass
class Changes:
    """What changed in the list of events shown."""

    new: list[Event] = field(default_factory=list)
    updated: list[tuple[Event, Event]] = field(default_factory=list)
    """(the event shown until now, the one that replaces it)."""
    withdrawn: list[Event] = field(default_factory=list)
    provisional: list[Event] = field(default_factory=list)
    """The events among `new` and the replacements that are provisional (may still change or go)."""
    committed: list[Event] = field(default_factory=list)
    """The final events among `new` and the replacements, in the pipeline's (scan's) order."""

    def __bool__(self) -> bool:
        return bool(self.new or self.updated or self.withdrawn)

    def extend(self, other: Changes) -> None:
        """Add `other` (which came later) to these changes, folding updates of events not yet handed out."""
        for ev in other.withdrawn:
            if not self._drop(ev):
                self.withdrawn.append(ev)
        for old, new in other.updated:
            if self._replace(old, new):
                continue
            self.updated.append((old, new))
        self.new.extend(other.new)
        self.committed.extend(other.committed)
        ids = {id(e) for e in other.provisional}
        self.provisional = [e for e in self.provisional if id(e) not in ids] + other.provisional

    def _drop(self, ev: Event) -> bool:
        """`ev` goes: if it was handed out in these changes, hand out less instead."""
        for i, e in enumerate(self.new):
            if e is ev:
                del self.new[i]
                return True
        for i, (old, new) in enumerate(self.updated):
            if new is ev:
                del self.updated[i]
                self.withdrawn.append(old)
                return True
        return False

    def _replace(self, old: Event, new: Event) -> bool:
        for i, e in enumerate(self.new):
            if e is old:
                self.new[i] = new
                return True
        for i, (first, cur) in enumerate(self.updated):
            if cur is old:
                self.updated[i] = (first, new)
                return True
        return False


class LiveFeed:
    """A `Pipeline` fed as bytes arrive, with provisional events (see the module docstring)."""

    def __init__(self, pipeline: Pipeline, quiet: float = QUIET, interval: float = INTERVAL) -> None:
        self.pipeline = pipeline
        self.quiet = quiet
        self.interval = interval
        self.closed = False
        self.looks = 0
        """Look-aheads made (for tests and benchmarks)."""
        self._shown: dict[Hashable, list[Event]] = {}
        """Provisional events on show, by key."""
        self._last_data = 0.0
        self._dirty = False
        """Bytes arrived since the last look ahead."""
        self._dirty_since = 0.0
        """When the first of them arrived."""

    @property
    def provisional(self) -> list[Event]:
        return [e for evs in self._shown.values() for e in evs]

    def feed(self, data: bytes, now: float) -> Changes:
        """Bytes from the device (or the growing file), read at time `now` (any monotonic clock)."""
        self._last_data = now
        if not self._dirty:
            self._dirty, self._dirty_since = True, now
        return self._commit(self.pipeline.feed(data))

    def idle(self, now: float) -> Changes:
        """Nothing to read at `now`: look ahead when due (quiet for `quiet` s, or bytes coming for
        `interval` s since the last look). Nothing is done when no byte came since the last look."""
        if self.closed or not self._dirty:
            return Changes()
        if now - self._last_data >= self.quiet or now - self._dirty_since >= self.interval:
            return self.look_ahead()
        return Changes()

    def look_ahead(self) -> Changes:
        """Show what the end of input would add now (see `Pipeline.speculate`)."""
        self._dirty = False
        self.looks += 1
        changes = Changes()
        old = self._shown
        new: dict[Hashable, list[Event]] = {}
        for ev in self.pipeline.speculate():
            key = event_key(ev)
            lst = old.get(key)
            prev = lst.pop(0) if lst else None
            keep = ev
            if prev is None:
                changes.new.append(ev)
                changes.provisional.append(ev)
            elif same_content(prev, ev):
                keep = prev
            else:
                changes.updated.append((prev, ev))
                changes.provisional.append(ev)
            new.setdefault(key, []).append(keep)
        for lst in old.values():
            changes.withdrawn.extend(lst)
        self._shown = new
        return changes

    def close(self) -> Changes:
        """End of input: the pipeline's final events; every provisional event is confirmed or withdrawn."""
        changes = self._commit(self.pipeline.close())
        for evs in self._shown.values():
            changes.withdrawn.extend(evs)
        self._shown.clear()
        self.closed = True
        return changes

    def _commit(self, events: list[Event]) -> Changes:
        changes = Changes(committed=list(events))
        shown = self._shown
        for ev in events:
            old = None
            if shown:
                key = event_key(ev)
                lst = shown.get(key)
                if lst:
                    old = lst.pop(0)
                    if not lst:
                        del shown[key]
            if old is None:
                changes.new.append(ev)
            else:
                changes.updated.append((old, ev))
        return changes
