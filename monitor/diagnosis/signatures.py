"""Crash signatures: the cause of a crash and its top frames, so the same crash in several boots groups.

A crash is the first crash event of a boot (panic, abort, assert, stack overflow, heap corruption, interrupt
watchdog, cache error) together with the crash events that follow it closely (a panic's abort, an assert's
abort) and the first backtrace after it. The signature uses decoded function names when the decoder put
`frames` on the backtrace, else the PC part of the first `TOP_FRAMES` PC:SP pairs (the same binary crashing
in the same place gives the same PCs; stack pointers differ between boots and are left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from espwatch.events import Event

TOP_FRAMES = 4
SAME_CRASH_LINES = 60
"""Crash events within this many lines of the crash's last line belong to the same crash."""
BACKTRACE_LINES = 80
"""A backtrace this many lines after the crash at most is its backtrace."""


def crash_cause(ev: Event) -> str:
    f = ev.fields
    if ev.kind == "panic":
        return str(f.get("cause") or "panic")
    if ev.kind == "abort":
        return "abort()"
    if ev.kind == "assert":
        where = ":".join(str(x) for x in (f.get("file"), f.get("line")) if x)
        return " ".join(x for x in ("assert", str(f.get("function") or ""), where) if x)
    if ev.kind == "stack_overflow":
        return f"stack overflow in {f.get('task') or '?'}"
    if ev.kind == "heap_corrupt":
        return "heap corruption"
    if ev.kind == "int_wdt":
        return "interrupt watchdog"
    if ev.kind == "cache_disabled_access":
        return "cache disabled but cached memory accessed"
    return ev.kind


def frame_pcs(ev: Event) -> list[str]:
    """PCs of a backtrace event, innermost first (from `frames` 'pc:sp' strings)."""
    out = []
    for fr in ev.fields.get("frames", []) or []:
        pc = str(fr).split(":", 1)[0].lower()
        if pc:
            out.append(pc)
    return out


def frame_functions(ev: Event) -> list[str]:
    """Decoded function names of an event's frames (None for frames that decoded to nothing)."""
    if not ev.frames:
        return []
    return [f.function or f"0x{f.addr:08x}" for f in ev.frames if not f.inlined]


@dataclass(slots=True)
class Crash:
    """One crash in one boot."""

    boot: int
    line: int
    kind: str
    cause: str
    rank: int
    lines: list[int] = field(default_factory=list)
    last_line: int = 0
    pcs: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    backtrace_line: int | None = None
    corrupted: bool = False
    pc: str | None = None

    @property
    def top(self) -> list[str]:
        if self.functions:
            return self.functions[:TOP_FRAMES]
        if self.pcs:
            return self.pcs[:TOP_FRAMES]
        return [self.pc] if self.pc else []

    @property
    def key(self) -> str:
        return f"{self.cause} @ {' < '.join(self.top) or 'no backtrace'}"

    @property
    def evidence(self) -> list[int]:
        ev = list(self.lines)
        if self.backtrace_line is not None and self.backtrace_line not in ev:
            ev.append(self.backtrace_line)
        return sorted(ev)


class CrashTracker:
    """Builds the crash of the current boot from the event stream (one crash per boot: the first).

    Which events are crashes is data: `ranks` maps the codes of patterns with `crash = N` to N, and the
    cause of a crash is taken from its most specific event (the lowest N).
    """

    def __init__(self, ranks: dict[str, int]) -> None:
        self.ranks = ranks
        self.current: Crash | None = None

    def feed(self, ev: Event) -> None:
        c = self.current
        rank = self.ranks.get(ev.code)
        if rank is not None:
            if c is None:
                c = Crash(ev.boot, ev.line, ev.kind, crash_cause(ev), rank, [ev.line], ev.end_line)
                self.current = c
                c.pc = ev.fields.get("pc") or ev.fields.get("mepc")
                if ev.frames:
                    c.functions = frame_functions(ev)
                return
            if ev.line - c.last_line <= SAME_CRASH_LINES and c.backtrace_line is None:
                if ev.line not in c.lines and len(c.lines) < 8:
                    c.lines.append(ev.line)
                c.last_line = max(c.last_line, ev.end_line)
                if rank < c.rank:
                    c.rank, c.kind, c.cause = rank, ev.kind, crash_cause(ev)
                if c.pc is None:
                    c.pc = ev.fields.get("pc") or ev.fields.get("mepc")
            return
        if ev.kind == "backtrace" and c is not None and c.backtrace_line is None \
                and ev.line - c.last_line <= BACKTRACE_LINES:
            c.backtrace_line = ev.line
            c.pcs = frame_pcs(ev)
            c.corrupted = bool(ev.fields.get("corrupted"))
            funcs = frame_functions(ev)
            if funcs:
                c.functions = funcs

    def take(self) -> Crash | None:
        """The crash of the boot that just ended (and forget it)."""
        c, self.current = self.current, None
        return c
