"""The `scan` verb as a library: events of a log for scripts (JSON Lines) and people (a summary)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from espwatch.events import SEVERITY_RANK, Event, Frame, severity_at_least
from espwatch.patterns import PatternSet
from espwatch.pipeline import Pipeline, Stage, close_input, input_note, open_input, read_chunks
from espwatch.sessions import BootSession


@dataclass
class ScanResult:
    """What one scan found: its events (if kept), boots, and counts."""

    name: str
    pipeline: Pipeline
    events: list[Event] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    note: str | None = None
    """Set when the file looked like text in an encoding espwatch could not read (encoding.sniff)."""

    @property
    def sessions(self) -> list[BootSession]:
        return self.pipeline.sessions

    @property
    def worst(self) -> str | None:
        present = [s for s in self.counts if self.counts[s]]
        return max(present, key=SEVERITY_RANK.__getitem__) if present else None


def scan_stream(path: str, patterns: PatternSet, stages: list[Stage] | None = None,
                on_event: Callable[[Event], None] | None = None, keep_events: bool = True) -> ScanResult:
    """Scan one file (`-` for stdin), calling `on_event` for each event as soon as it is known."""
    fh, name = open_input(path)
    pipe = Pipeline(patterns, list(stages or []), keep_events=keep_events)
    result = ScanResult(name, pipe, note=input_note(fh))
    try:
        for ev in pipe.run(read_chunks(fh)):
            result.counts[ev.severity] += 1
            if keep_events:
                result.events.append(ev)
            if on_event is not None:
                on_event(ev)
    finally:
        close_input(fh, name)
    return result


def write_jsonl(ev: Event, out: TextIO, file: str | None = None) -> None:
    obj = ev.to_json()
    if file is not None:
        obj["file"] = file
    out.write(json.dumps(obj, ensure_ascii=False))
    out.write("\n")


def _boot_header(s: BootSession) -> str:
    f = s.facts
    parts = [f"boot {s.number}", f"lines {s.start_line}-{s.end_line}"]
    if "reset_reason" in f:
        parts.append(f"reset {f['reset_reason']}")
    if "partition" in f:
        part = f["partition"]
        off = f.get("partition_offset")
        parts.append(f"partition {part}" + (f" ({off})" if off and off != part else ""))
    app = " ".join(str(f[k]) for k in ("project", "app_version") if k in f)
    if app:
        parts.append(f"app {app}")
    chip = " ".join(str(f[k]) for k in ("chip",) if k in f)
    if "chip_revision" in f:
        chip = f"{chip} rev {f['chip_revision']}".strip()
    if chip:
        parts.append(f"chip {chip}")
    if "idf_version" in f:
        parts.append(f"ESP-IDF {f['idf_version']}")
    elif "bootloader_version" in f:
        parts.append(f"bootloader ESP-IDF {f['bootloader_version']}")
    if "arduino_version" in f:
        parts.append(f"Arduino {f['arduino_version']}")
    return ", ".join(parts)


def format_frame(fr: Frame) -> str:
    """One decoded frame the way addr2line -pfiaC writes it."""
    where = f"{fr.file or '??'}:{fr.line if fr.line is not None else '?'}"
    return f"0x{fr.addr:08x}: {fr.function or '??'} at {where}" + (" (inlined)" if fr.inlined else "")


def iter_summary(result: ScanResult, patterns: PatternSet, min_severity: str = "info",
                 show_facts: bool = False, width: int = 100, max_frames: int = 24) -> Iterator[str]:
    """Human-readable lines: per boot its facts, then its events with line and severity."""
    yield f"{result.name}: {result.pipeline.lines} lines, {len(result.sessions)} boot(s)"
    by_boot: dict[int, list[Event]] = {}
    for ev in result.events:
        by_boot.setdefault(ev.boot, []).append(ev)
    for s in result.sessions:
        yield "  " + _boot_header(s)
        for ev in by_boot.get(s.number, []):
            if ev.kind == "finding" or not severity_at_least(ev.severity, min_severity):
                continue
            pat = patterns.get(ev.code)
            if pat is not None and pat.fact and not show_facts and ev.severity == "info":
                continue
            text = ev.text.strip()
            if len(text) > width:
                text = text[: width - 3] + "..."
            span = f"{ev.line}" if ev.end_line == ev.line else f"{ev.line}-{ev.end_line}"
            yield f"    {span:>9}  {ev.severity:<7} {ev.kind:<22} {ev.code}  {text}"
            for fr in (ev.frames or [])[:max_frames]:
                yield "              " + format_frame(fr)
    findings = [ev for ev in result.events if ev.kind == "finding"]
    if findings:
        yield "  findings:"
        for ev in findings:
            yield f"    [{ev.severity}] {ev.code} {ev.title}"
            for h in ev.hints:
                yield f"        - {h}"
            if ev.evidence:
                yield f"        lines: {', '.join(str(n) for n in ev.evidence[:20])}"
    order = ("fatal", "error", "warning", "info")
    counts = ", ".join(f"{result.counts[s]} {s}" for s in order if result.counts[s])
    if result.note:
        yield f"  note: {result.name}: {result.note}"
    yield f"  total: {counts or 'no events'}"
