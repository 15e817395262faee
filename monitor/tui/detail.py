"""What the detail pane says about an event, as Rich renderables and as plain text (for copy/save)."""

from __future__ import annotations

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


def reflow(text: str) -> str:
    """Text written with hard line breaks (hints in TOML files) as paragraphs that wrap to any width."""
    paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paras if p)


RAW_FRAME_FIELDS = ("frames", "frames_text")
"""Fields that hold the raw addresses of a backtrace: shown only when no decoded frames replace them."""


def _value(v: Any, limit: int = 400) -> str | None:
    """A field's value as people read it (None: not worth a row): booleans as yes, lists one per item."""
    if isinstance(v, bool):
        return "yes" if v else None
    if v in (None, "", [], {}):
        return None
    if isinstance(v, list):
        if v and isinstance(v[0], dict):
            s = "\n".join(", ".join(f"{k} {x}" for k, x in d.items()) for d in v)
        else:
            s = ", ".join(str(x) for x in v)
    elif isinstance(v, dict):
        s = ", ".join(f"{k} {x}" for k, x in v.items())
    else:
        s = str(v)
    s = for_terminal(s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _field_rows(ev: Event, limit: int = 400) -> list[tuple[str, str]]:
    rows = []
    for k, v in ev.fields.items():
        if k == "coredump" or (ev.frames and k in RAW_FRAME_FIELDS):
            continue
        if k == "frames_text" and "frames" in ev.fields:
            continue
        text = _value(v, limit)
        if text is not None:
            rows.append((k.replace("_", " "), text))
    return rows


def boot_label(s: SessionInfo) -> str:
    f = s.facts
    # several ports: the port's label and its own boot number (s.number counts the boots of all ports)
    parts = [f"{f['port']} · Boot {f.get('port_boot', s.number)}" if "port" in f else f"Boot {s.number}"]
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
                 session: SessionInfo | None = None, provisional: bool = False) -> RenderableType:
    """The detail pane for one event: what it is, its decoded frames, its fields, then what it means."""
    parts: list[RenderableType] = []
    sev = Text(f" {ev.severity.upper()} ", style=SEVERITY_STYLE.get(ev.severity, ""))
    head = Text.assemble(sev, " ", (event_title(ev, patterns), "bold"))
    parts.append(head)
    span = f"line {ev.line}" if ev.end_line == ev.line else f"lines {ev.line}-{ev.end_line}"
    boot = f"boot {ev.boot}"
    if session is not None and "port" in session.facts:  # several ports: the port's own boot number
        boot = f"port {session.facts['port']} boot {session.facts.get('port_boot', ev.boot)}"
    parts.append(Text(for_terminal(f"{ev.kind} · {ev.code} · {span} · {boot}"), style="dim"))
    if session is not None:
        parts.append(Text(boot_label(session), style="dim"))
    if provisional:
        parts.append(Text("provisional: the device has not finished this yet (it may still change)",
                          style="italic yellow"))
    if ev.kind == "finding":
        for h in ev.hints:
            parts.append(Text.assemble(("• ", "cyan"), for_terminal(reflow(h))))
        if ev.evidence:
            parts.append(Text("evidence: lines " + ", ".join(str(n) for n in ev.evidence[:30]), style="dim"))
        return Group(*parts)
    parts.append(Text(for_terminal(ev.text.strip()), style="italic", overflow="fold"))
    if ev.frames:
        parts.append(Text("\nDecoded", style="bold"))
        for line in frame_lines(ev.frames):
            parts.append(Text(for_terminal(line), style="dim" if line.endswith("?? ??:0") else "",
                              overflow="fold"))
    if isinstance(ev.fields.get("coredump"), dict):
        parts.append(Text("\nCore dump (decoded by espwatch)", style="bold"))
        parts.append(Text("\n".join(_summary_lines(ev.fields["coredump"])), overflow="fold"))
    rows = _field_rows(ev)
    if rows:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for k, v in rows:
            table.add_row(for_terminal(k), v)
        parts.append(Text(""))
        parts.append(table)
    pat = patterns.get(ev.code) if patterns is not None else None
    if pat is not None:
        if pat.hint:
            parts.append(Text("\nWhat it means", style="bold"))
            parts.append(Text(for_terminal(reflow(pat.hint))))
        if pat.checks:
            parts.append(Text("\nCheck", style="bold"))
            for c in pat.checks:
                parts.append(Text.assemble(("• ", "cyan"), for_terminal(reflow(c))))
        if pat.references:
            parts.append(Text("\nReferences", style="bold"))
            for r in pat.references:
                parts.append(Text(for_terminal(r), style="underline blue", overflow="fold"))
    return Group(*parts)


def event_plain(ev: Event, patterns: PatternSet | None) -> str:
    """The event as text for the clipboard or a file."""
    out = [f"[{ev.severity}] {event_title(ev, patterns)} ({ev.kind}, {ev.code})",
           f"lines {ev.line}-{ev.end_line}, boot {ev.boot}"]
    if ev.kind == "finding":
        out += [f"- {reflow(h)}" for h in ev.hints]
        if ev.evidence:
            out.append("evidence: lines " + ", ".join(str(n) for n in ev.evidence))
        return for_terminal("\n".join(out) + "\n")
    out.append("")
    out.append(ev.text)
    out += ev.block
    if ev.frames:
        out.append("")
        out += frame_lines(ev.frames)
    if isinstance(ev.fields.get("coredump"), dict):
        out += ["", "Core dump (decoded by espwatch):", *_summary_lines(ev.fields["coredump"])]
    rows = _field_rows(ev, 2000)
    if rows:
        out.append("")
        out += [f"{k}: {v}" for k, v in rows]
    pat = patterns.get(ev.code) if patterns is not None else None
    if pat is not None:
        if pat.hint:
            out += ["", reflow(pat.hint)]
        out += [f"- check: {reflow(c)}" for c in pat.checks]
        out += [f"- see: {r}" for r in pat.references]
    return for_terminal("\n".join(out) + "\n")


def _summary_lines(summary: dict) -> list[str]:
    from espwatch.render.coredump import summary_lines

    return [for_terminal(line) for line in summary_lines(summary)]
