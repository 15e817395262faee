"""The `scan` summary for people: per boot its header (what the device said about itself) and its events,
then the findings and the counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from espwatch.events import Event, severity_at_least
from espwatch.render.frames import frame_lines

if TYPE_CHECKING:
    from espwatch.patterns import PatternSet
    from espwatch.scan import ScanResult
    from espwatch.sessions import BootSession


def boot_header(s: BootSession) -> str:
    """`boot 2, lines 159-222, reset RTC_SW_CPU_RST, partition ota_1 (0x1d0000), app ..., chip ...`."""
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


def line_span(ev: Event) -> str:
    """`57` or `57-73`: the lines an event covers."""
    return f"{ev.line}" if ev.end_line == ev.line else f"{ev.line}-{ev.end_line}"


DIAGNOSES = ("finding", "boot_loop")
"""Listed after the boots: a diagnosis can name a boot that ended long before it was certain."""
MAX_EVENTS_PER_BOOT = 200
"""Events listed per boot; the others are counted (memory stays bounded on any log)."""
MAX_DIAGNOSES = 200


class SummaryWriter:
    """The `scan` summary, written as the scan goes: each boot is printed when the next one begins, so
    memory holds one boot's listed events (at most `max_events`), never the whole log's.

    Feed it every event (`event`), then call `finish` with the scan's result."""

    def __init__(self, write: Callable[[str], object], name: str, patterns: PatternSet,
                 sessions: Callable[[int], BootSession], min_severity: str = "info", show_facts: bool = False,
                 width: int = 100, max_frames: int = 24, max_events: int = MAX_EVENTS_PER_BOOT) -> None:
        self.write = write
        self.patterns = patterns
        self.sessions = sessions
        self.min_severity = min_severity
        self.show_facts = show_facts
        self.width = width
        self.max_frames = max_frames
        self.max_events = max_events
        self.boot = 1
        self.listed: list[Event] = []
        self.more: Counter[str] = Counter()
        self.diagnoses: list[Event] = []
        self.more_diagnoses = 0
        write(f"{name}:\n")

    def _shown(self, ev: Event) -> bool:
        if not severity_at_least(ev.severity, self.min_severity):
            return False
        pat = self.patterns.get(ev.code)
        return not (pat is not None and pat.fact and not self.show_facts and ev.severity == "info")

    def event(self, ev: Event) -> None:
        if ev.kind in DIAGNOSES:
            if len(self.diagnoses) < MAX_DIAGNOSES:
                self.diagnoses.append(ev)
            else:
                self.more_diagnoses += 1
            return
        while ev.boot > self.boot:
            self._flush_boot()
        if not self._shown(ev):
            return
        if len(self.listed) < self.max_events:
            self.listed.append(ev)
        else:
            self.more[f"{ev.severity} {ev.kind}"] += 1

    def _flush_boot(self) -> None:
        write = self.write
        write("  " + boot_header(self.sessions(self.boot)) + "\n")
        for ev in self.listed:
            text = ev.text.strip()
            if len(text) > self.width:
                text = text[: self.width - 3] + "..."
            if ev.fields.get("esp_err"):
                text += f"  [{', '.join(ev.fields['esp_err'])}]"
            write(f"    {line_span(ev):>9}  {ev.severity:<7} {ev.kind:<22} {ev.code}  {text}\n")
            for line in frame_lines((ev.frames or [])[: self.max_frames]):
                write("              " + line + "\n")
        if self.more:
            detail = ", ".join(f"{n} {what}" for what, n in self.more.most_common(6))
            write(f"    ... {sum(self.more.values()):,} more events in this boot ({detail})\n")
        self.listed.clear()
        self.more.clear()
        self.boot += 1

    def finish(self, result: ScanResult) -> None:
        if not result.pipeline.lines:  # no boot to list in an empty input
            self.write("  total: 0 lines (the input is empty); no events\n")
            return
        while self.boot <= result.boot_count:
            self._flush_boot()
        write = self.write
        if self.diagnoses:
            write("  findings:\n")
            for ev in sorted(self.diagnoses, key=lambda e: e.line):
                title = ev.title or ev.kind
                write(f"    [{ev.severity}] {ev.code} {title}" + (f" (boot {ev.boot})" if ev.kind != "finding"
                                                                      else "") + "\n")
                for h in ev.hints:
                    write(f"        - {h}\n")
                if ev.evidence:
                    write(f"        lines: {', '.join(str(n) for n in ev.evidence[:20])}\n")
            if self.more_diagnoses:
                write(f"    ... {self.more_diagnoses:,} more findings (scan --json lists them all)\n")
        order = ("fatal", "error", "warning", "info")
        counts = ", ".join(f"{result.counts[s]} {s}" for s in order if result.counts[s])
        write(f"  total: {result.pipeline.lines:,} lines, {result.boot_count} boot(s); "
              f"{counts or 'no events'}\n")
