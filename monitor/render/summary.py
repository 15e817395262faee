"""The `scan` summary for people: per boot its header (what the device said about itself) and its events,
then the findings and the counts."""

from __future__ import annotations

from collections.abc import Iterator
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


def iter_summary(result: ScanResult, patterns: PatternSet, min_severity: str = "info",
                 show_facts: bool = False, width: int = 100, max_frames: int = 24) -> Iterator[str]:
    """Human-readable lines: per boot its facts, then its events with line and severity."""
    yield f"{result.name}: {result.pipeline.lines} lines, {len(result.sessions)} boot(s)"
    by_boot: dict[int, list[Event]] = {}
    for ev in result.events:
        by_boot.setdefault(ev.boot, []).append(ev)
    for s in result.sessions:
        yield "  " + boot_header(s)
        for ev in by_boot.get(s.number, []):
            if ev.kind == "finding" or not severity_at_least(ev.severity, min_severity):
                continue
            pat = patterns.get(ev.code)
            if pat is not None and pat.fact and not show_facts and ev.severity == "info":
                continue
            text = ev.text.strip()
            if len(text) > width:
                text = text[: width - 3] + "..."
            if ev.fields.get("esp_err"):
                text += f"  [{', '.join(ev.fields['esp_err'])}]"
            yield f"    {line_span(ev):>9}  {ev.severity:<7} {ev.kind:<22} {ev.code}  {text}"
            for line in frame_lines((ev.frames or [])[:max_frames]):
                yield "              " + line
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
    yield f"  total: {counts or 'no events'}"
