"""What the detail pane says about an event, as Rich renderables and as plain text (for copy/save)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from espwatch.events import Event
from espwatch.patterns import PatternSet
from espwatch.render.frames import frame_lines
from espwatch.sanitize import for_terminal
from espwatch.tui.document import SessionInfo

SEVERITY_STYLE = {"info": "green", "warning": "yellow", "error": "red", "fatal": "bold white on red"}
SEVERITY_MARK = {"info": "·", "warning": "▲", "error": "●", "fatal": "✖"}


def _value(v: Any, limit: int = 400) -> str:
    if isinstance(v, list):
        if v and isinstance(v[0], dict):
            s = "; ".join(", ".join(f"{k}={x}" for k, x in d.items()) for d in v)
        else:
            s = ", ".join(str(x) for x in v)
    elif isinstance(v, dict):
        s = ", ".join(f"{k}={x}" for k, x in v.items())
    else:
        s = str(v)
    s = for_terminal(s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def boot_label(s: SessionInfo) -> str:
    f = s.facts
    parts = [f"Boot {s.number}"]
    if "reset_reason" in f:
        parts.append(str(f["reset_reason"]))
    if "partition" in f:
        parts.append(str(f["partition"]))
    app = " ".join(str(f[k]) for k in ("project", "app_version") if k in f)
    if app:
        parts.append(app)
    return for_terminal(" · ".join(parts))


def event_title(ev: Event, patterns: PatternSet | None) -> str:
    if ev.kind == "finding" and ev.title:
        return for_terminal(ev.title)
    pat = patterns.get(ev.code) if patterns is not None else None
    return for_terminal(pat.title if pat is not None and pat.title else ev.kind.replace("_", " "))


def render_event(ev: Event, patterns: PatternSet | None,
                 session: SessionInfo | None = None) -> RenderableType:
    """The detail pane for one event."""
    parts: list[RenderableType] = []
    sev = Text(f" {ev.severity.upper()} ", style=SEVERITY_STYLE.get(ev.severity, ""))
    head = Text.assemble(sev, " ", (event_title(ev, patterns), "bold"))
    parts.append(head)
    span = f"line {ev.line}" if ev.end_line == ev.line else f"lines {ev.line}-{ev.end_line}"
    parts.append(Text(for_terminal(f"{ev.kind} · {ev.code} · {span} · boot {ev.boot}"), style="dim"))
    if session is not None:
        parts.append(Text(boot_label(session), style="dim"))
    if ev.kind == "finding":
        for h in ev.hints:
            parts.append(Text.assemble(("• ", "cyan"), for_terminal(h)))
        if ev.evidence:
            parts.append(Text("evidence: lines " + ", ".join(str(n) for n in ev.evidence[:30]), style="dim"))
        return Group(*parts)
    parts.append(Text(for_terminal(ev.text.strip()), style="italic", overflow="fold"))
    if ev.fields:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for k, v in ev.fields.items():
            if v in (None, "", [], {}) or k == "coredump":
                continue
            table.add_row(for_terminal(k), _value(v))
        parts.append(Text(""))
        parts.append(table)
    if isinstance(ev.fields.get("coredump"), dict):
        parts.append(Text("\nCore dump (decoded by espwatch)", style="bold"))
        parts.append(Text("\n".join(_summary_lines(ev.fields["coredump"])), overflow="fold"))
    if ev.frames:
        parts.append(Text("\nBacktrace", style="bold"))
        for line in frame_lines(ev.frames):
            parts.append(Text(for_terminal(line), style="dim" if line.endswith("?? ??:0") else ""))
    pat = patterns.get(ev.code) if patterns is not None else None
    if pat is not None:
        if pat.hint:
            parts.append(Text("\nWhat it means", style="bold"))
            parts.append(Text(for_terminal(pat.hint.strip())))
        if pat.checks:
            parts.append(Text("\nCheck", style="bold"))
            for c in pat.checks:
                parts.append(Text.assemble(("• ", "cyan"), for_terminal(c)))
        if pat.references:
            parts.append(Text("\nReferences", style="bold"))
            for r in pat.references:
                parts.append(Text(for_terminal(r), style="underline blue"))
    return Group(*parts)


def event_plain(ev: Event, patterns: PatternSet | None) -> str:
    """The event as text for the clipboard or a file."""
    out = [f"[{ev.severity}] {event_title(ev, patterns)} ({ev.kind}, {ev.code})",
           f"lines {ev.line}-{ev.end_line}, boot {ev.boot}"]
    if ev.kind == "finding":
        out += [f"- {h}" for h in ev.hints]
        if ev.evidence:
            out.append("evidence: lines " + ", ".join(str(n) for n in ev.evidence))
        return for_terminal("\n".join(out) + "\n")
    out.append("")
    out.append(ev.text)
    out += ev.block
    if ev.fields:
        out.append("")
        out += [f"{k}: {_value(v, 2000)}" for k, v in ev.fields.items()
                if v not in (None, "", [], {}) and k != "coredump"]
    if isinstance(ev.fields.get("coredump"), dict):
        out += ["", "Core dump (decoded by espwatch):", *_summary_lines(ev.fields["coredump"])]
    if ev.frames:
        out.append("")
        out += frame_lines(ev.frames)
    pat = patterns.get(ev.code) if patterns is not None else None
    if pat is not None:
        if pat.hint:
            out += ["", pat.hint.strip()]
        out += [f"- check: {c}" for c in pat.checks]
        out += [f"- see: {r}" for r in pat.references]
    return for_terminal("\n".join(out) + "\n")


def report_plain(name: str, lines: int, sessions: Iterable[SessionInfo], events: list[Event],
                 patterns: PatternSet | None) -> str:
    """A whole-log summary: per boot its facts and its events, then findings."""
    sessions = list(sessions)
    out = [f"{name}: {lines} lines, {len(sessions)} boot(s)"]
    by_boot: dict[int, list[Event]] = {}
    for ev in events:
        by_boot.setdefault(ev.boot, []).append(ev)
    for s in sessions:
        facts = ", ".join(f"{k} {v}" for k, v in s.facts.items()
                          if k not in ("partitions", "partition_line") and not isinstance(v, list | dict))
        out.append(f"  boot {s.number}, lines {s.start_line}-{s.end_line}" + (f", {facts}" if facts else ""))
        for ev in by_boot.get(s.number, []):
            if ev.kind == "finding":
                continue
            span = f"{ev.line}" if ev.end_line == ev.line else f"{ev.line}-{ev.end_line}"
            out.append(f"    {span:>9}  {ev.severity:<7} {ev.kind:<22} {ev.code}  {ev.text.strip()[:100]}")
    findings = [ev for ev in events if ev.kind == "finding"]
    if findings:
        out.append("  findings:")
        for ev in findings:
            out.append(f"    [{ev.severity}] {ev.code} {ev.title}")
            out += [f"        - {h}" for h in ev.hints]
    fatal = [ev for ev in events if ev.severity in ("fatal", "error") and ev.kind != "finding"]
    if fatal:
        out.append("")
        out.append("details of errors:")
        for ev in fatal[:20]:
            out.append("")
            out.append(event_plain(ev, patterns).rstrip())
    return for_terminal("\n".join(out) + "\n")


def _summary_lines(summary: dict) -> list[str]:
    from espwatch.render.coredump import summary_lines

    return [for_terminal(line) for line in summary_lines(summary)]
