"""Groups across logs as a mergeable reduction: `partial(result)` for one log, `merge(a, b)` for two partials.

`merge` is associative and commutative: counts add, sets unite, first/last times take the min/max, and the
example of a group is the one from the smallest `(file, line)`. So the groups do not depend on how the
logs were split between processes or machines, nor on the order results came back: `-j 1`, `-j N` and
Dask give identical groups. Sets are exact (devices, firmware versions, ELF hashes); only the list of
unreadable files is capped (the `MAX_ERRORS` first by name, and the exact count).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from espwatch.fleet.results import GROUP_KINDS, LogResult, Occurrence, iso_time

MAX_ERRORS = 50
"""Unreadable files listed by name (all are counted)."""
MAX_LISTED = 20
"""Device ids listed per group in the JSON and the text (all are counted)."""


@dataclass(slots=True)
class Example:
    """The log excerpt that shows a group: where it is and its lines."""

    file: str
    line: int
    end_line: int
    boot: int
    device: str | None
    time: float | None
    detail: dict[str, Any]
    excerpt: list[str]

    @property
    def order(self) -> tuple[str, int]:
        return (self.file, self.line)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "end_line": self.end_line, "boot": self.boot,
                "device": self.device, "time": iso_time(self.time), **self.detail, "excerpt": self.excerpt}


def distinct_hashes(values: set[str]) -> list[str]:
    """Sorted ELF hashes without those that are the start of a longer one in the set (the app prints 9 or 16
    hex digits at start-up, the panic handler all 64: one firmware)."""
    vals = sorted(values)
    return [v for i, v in enumerate(vals) if not (i + 1 < len(vals) and vals[i + 1].startswith(v))]


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(slots=True)
class Group:
    """Everything with one key across the logs: counts, where, which firmware, when, and an example."""

    kind: str
    key: str
    title: str
    code: str | None
    count: int = 0
    """Occurrences (boots that crashed this way, findings, boot loops, OTA failure messages)."""
    files: int = 0
    devices: set[str] = field(default_factory=set)
    firmware: set[str] = field(default_factory=set)
    elf_sha256: set[str] = field(default_factory=set)
    chips: set[str] = field(default_factory=set)
    first_seen: float | None = None
    last_seen: float | None = None
    file_first: float | None = None
    file_last: float | None = None
    example: Example | None = None

    def absorb(self, other: Group) -> None:
        """Add `other` (same kind and key) into this group."""
        self.count += other.count
        self.files += other.files
        self.devices |= other.devices
        self.firmware |= other.firmware
        self.elf_sha256 |= other.elf_sha256
        self.chips |= other.chips
        self.first_seen = _min(self.first_seen, other.first_seen)
        self.last_seen = _max(self.last_seen, other.last_seen)
        self.file_first = _min(self.file_first, other.file_first)
        self.file_last = _max(self.file_last, other.file_last)
        if other.example is not None and (self.example is None or other.example.order < self.example.order):
            self.example = other.example
            self.title, self.code = other.title, other.code

    def to_json(self) -> dict[str, Any]:
        """The `--json` record of the group."""
        return {
            "record": "group", "group": self.kind, "key": self.key, "title": self.title, "code": self.code,
            "count": self.count, "files": self.files, "devices": len(self.devices),
            "device_ids": sorted(self.devices)[:MAX_LISTED], "firmware": sorted(self.firmware),
            "elf_sha256": distinct_hashes(self.elf_sha256), "chips": sorted(self.chips),
            "first_seen": iso_time(self.first_seen), "last_seen": iso_time(self.last_seen),
            "file_time_first": iso_time(self.file_first), "file_time_last": iso_time(self.file_last),
            "example": self.example.to_json() if self.example else None,
        }


@dataclass(slots=True)
class Triage:
    """The groups of a set of logs, and totals over them."""

    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    files: int = 0
    failed: int = 0
    bytes: int = 0
    lines: int = 0
    boots: int = 0
    devices: set[str] = field(default_factory=set)
    firmware: set[str] = field(default_factory=set)
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(file, message) of unreadable files: the MAX_ERRORS first by name."""

    def absorb(self, other: Triage, owned: bool = False) -> None:
        """Add `other` into this one, in place. `other` is left as it was, unless `owned` (then its groups
        may be taken over rather than copied: the caller no longer uses it)."""
        for k, g in other.groups.items():
            mine = self.groups.get(k)
            if mine is None:
                self.groups[k] = g if owned else copy.deepcopy(g)
            else:
                mine.absorb(g)
        self.files += other.files
        self.failed += other.failed
        self.bytes += other.bytes
        self.lines += other.lines
        self.boots += other.boots
        self.devices |= other.devices
        self.firmware |= other.firmware
        if other.errors:
            self.errors = sorted({*self.errors, *other.errors})[:MAX_ERRORS]

    def ordered(self, kind: str | None = None) -> list[Group]:
        """Groups by kind (GROUP_KINDS order), then most frequent first, then by key."""
        rank = {k: i for i, k in enumerate(GROUP_KINDS)}
        gs = [g for g in self.groups.values() if kind is None or g.kind == kind]
        return sorted(gs, key=lambda g: (rank.get(g.kind, 99), -g.count, g.key))

    def totals_json(self) -> dict[str, Any]:
        return {"record": "totals", "files": self.files, "unreadable": self.failed, "bytes": self.bytes,
                "lines": self.lines, "boots": self.boots, "devices": len(self.devices),
                "firmware": sorted(self.firmware), "groups": len(self.groups),
                "errors": [{"file": f, "error": e} for f, e in self.errors]}

    def to_json(self) -> list[dict[str, Any]]:
        """Every group's record, in `ordered()` order."""
        return [g.to_json() for g in self.ordered()]


def partial(result: LogResult) -> Triage:
    """The partial triage of one log."""
    t = Triage(files=1)
    if result.error is not None:
        t.failed = 1
        t.errors = [(result.file, result.error)]
        return t
    t.bytes, t.lines, t.boots = result.bytes, result.lines, result.boots
    if result.device:
        t.devices.add(result.device)
    t.firmware.update(result.firmware)
    for o in result.occurrences:
        g = t.groups.get((o.kind, o.key))
        if g is None:
            g = t.groups[(o.kind, o.key)] = Group(o.kind, o.key, o.title, o.code, files=1,
                                                  file_first=result.mtime, file_last=result.mtime)
            if result.device:
                g.devices.add(result.device)
        g.count += 1
        _note(g, o)
        if o.excerpt is not None and (g.example is None or (result.file, o.line) < g.example.order):
            g.example = Example(result.file, o.line, o.end_line, o.boot, result.device, o.time,
                                dict(o.detail), list(o.excerpt))
            g.title, g.code = o.title, o.code
    return t


def _note(g: Group, o: Occurrence) -> None:
    if o.firmware:
        g.firmware.add(o.firmware)
    if o.elf_sha256:
        g.elf_sha256.add(o.elf_sha256)
    if o.chip:
        g.chips.add(o.chip)
    g.first_seen = _min(g.first_seen, o.time)
    g.last_seen = _max(g.last_seen, o.time)


def merge(a: Triage, b: Triage) -> Triage:
    """A new triage holding both (neither input changes). Associative and commutative."""
    out = Triage()
    out.absorb(a)
    out.absorb(b)
    return out


def merge_all(parts: Iterable[Triage]) -> Triage:
    """All partials merged into a new triage (one accumulator: linear in the input)."""
    out = Triage()
    for p in parts:
        out.absorb(p)
    return out


def reduce_results(results: Iterable[LogResult]) -> Triage:
    """The triage of per-log results (the per-partition step of a distributed run)."""
    out = Triage()
    for r in results:
        out.absorb(partial(r), owned=True)
    return out
