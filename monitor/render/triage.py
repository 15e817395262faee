"""The triage for people: a table per kind of group with examples (text), and the same for a tracker
(Markdown). Everything from logs or file names is cleaned of control characters (text) or escaped and
fenced (Markdown)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from espwatch.fleet.groups import distinct_hashes
from espwatch.render.markdown import fence, md_cell, md_text, table
from espwatch.sanitize import for_terminal

if TYPE_CHECKING:
    from espwatch.fleet.groups import Group, Triage
    from espwatch.fleet.results import LogResult

HEADINGS = {
    "crash": ("Crashes by signature", "crash", "crashes"),
    "boot_loop": ("Boot loops", "boot loop", "boot loops"),
    "finding": ("Findings by code", "finding", "findings"),
    "ota": ("OTA and image failures by error", "failure", "failures"),
}
"""Per kind of group: the section title, and the word for one and for several occurrences."""
SINGULAR = {"crash": "Crash", "boot_loop": "Boot loop", "finding": "Finding", "ota": "OTA failure"}


def safe(s: object) -> str:
    """One line of text for the terminal (`espwatch.sanitize`: no escape sequence or control gets through)."""
    return for_terminal(str(s)).replace("\n", " ")


def size_text(n: int) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def short_time(t: float | None) -> str:
    """`2024-05-01 10:11Z`, or `-`."""
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%MZ")


def seen(g: Group) -> tuple[str, str]:
    """First and last seen: when the device printed it, else (marked `~`) the log files' times."""
    if g.first_seen is not None:
        return short_time(g.first_seen), short_time(g.last_seen)
    if g.file_first is not None:
        return "~" + short_time(g.file_first), "~" + short_time(g.file_last)
    return "-", "-"


def listed(values: set[str] | Sequence[str], most: int = 2, width: int = 14) -> str:
    vals = sorted(values)
    if not vals:
        return "-"
    text = ", ".join(vals[:most]) + (f" +{len(vals) - most}" if len(vals) > most else "")
    return text if len(text) <= width else text[: width - 1] + "…"


def headline(tri: Triage) -> str:
    parts = [f"{tri.files} log{'s' if tri.files != 1 else ''}", size_text(tri.bytes), f"{tri.boots} boots",
             f"{len(tri.devices)} device{'s' if len(tri.devices) != 1 else ''} named"]
    if tri.firmware:
        n = len(tri.firmware)  # the list in brackets: versions are comma-joined inside a comma-joined line
        parts.append(f"{n} firmware version{'s' if n != 1 else ''} ({listed(tri.firmware, 4, 60)})")
    if tri.failed:
        parts.append(f"{tri.failed} unreadable")
    return "espwatch triage: " + ", ".join(parts)


def label(g: Group) -> str:
    """What a group is, in one line: its key, and for a finding the rule's title too."""
    return f"{g.key} {g.title}" if g.kind == "finding" else g.key


def _where(g: Group) -> str:
    ex = g.example
    if ex is None:
        return ""
    span = f"{ex.line}" if ex.end_line == ex.line else f"{ex.line}-{ex.end_line}"
    who = f", device {ex.device}" if ex.device else ""
    return f"{ex.file}:{span} (boot {ex.boot}{who})"


def text_lines(tri: Triage, top: int = 20, examples: int = 3, width: int = 120,
               per_file: Sequence[LogResult] | None = None) -> Iterator[str]:
    """The readable form: the headline, then per kind of group a table and the examples of the first ones."""
    yield safe(headline(tri))
    if not tri.groups:
        yield "nothing to group: no crash, boot loop, finding or OTA failure in these logs"
    for kind, (title, one, many) in HEADINGS.items():
        gs = tri.ordered(kind)
        if not gs:
            continue
        total = sum(g.count for g in gs)
        yield ""
        yield f"{title}: {len(gs)} group{'s' if len(gs) != 1 else ''}, {total} {one if total == 1 else many}"
        yield f"  {'#':>3} {'count':>6} {'files':>6} {'devices':>7}  {'firmware':<14} " \
              f"{'first seen':<18} {'last seen':<18} what"
        room = max(20, width - 82)
        for i, g in enumerate(gs[:top], 1):
            first, last = seen(g)
            what = safe(label(g))
            if len(what) > room:
                what = what[: room - 1] + "…"
            yield f"  {i:>3} {g.count:>6} {g.files:>6} {len(g.devices):>7}  {listed(g.firmware):<14} " \
                  f"{first:<18} {last:<18} {what}"
        if len(gs) > top:
            yield f"  ... {len(gs) - top} more (--top to show them, --json for all)"
        for i, g in enumerate(gs[:examples], 1):
            yield ""
            yield f"  #{i} {safe(label(g))}"
            extra = []
            if g.elf_sha256:
                extra.append(f"ELF {listed(distinct_hashes(g.elf_sha256), 3, 60)}")
            if g.chips:
                extra.append(f"chip {listed(g.chips, 3, 40)}")
            if g.devices:
                extra.append(f"devices {listed(g.devices, 3, 60)}")
            if extra:
                yield "     " + safe("; ".join(extra))
            ex = g.example
            if ex is None:
                continue
            summary = ex.detail.get("summary")
            if summary:
                yield "     " + safe(summary)[: width - 5]
            yield f"     example: {safe(_where(g))}"
            for line in ex.excerpt:
                yield "       " + safe(line)[: width - 7]
    if per_file:
        yield ""
        yield "Per file:"
        for r in per_file:
            yield "  " + safe(file_line(r))
    if tri.errors:
        yield ""
        yield f"Unreadable ({tri.failed}):"
        for f, e in tri.errors:
            yield f"  {safe(f)}: {safe(e)}"
        if tri.failed > len(tri.errors):
            yield f"  ... {tri.failed - len(tri.errors)} more"
    yield ""
    yield "times: when the device printed it (arrival-time sidecar or a dated timestamp in the log), " \
          "else ~ the log files' modification times (UTC)"


def file_line(r: LogResult) -> str:
    """One line per log: boots, device, firmware and what it holds."""
    if r.error:
        return f"{r.file}: unreadable: {r.error}"
    kinds: dict[str, int] = {}
    for o in r.occurrences:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
    what = ", ".join(f"{n} {HEADINGS[k][1] if n == 1 else HEADINGS[k][2]}" for k, n in kinds.items()) \
        or "nothing to group"
    fw = f", firmware {', '.join(r.firmware)}" if r.firmware else ""
    dev = f", device {r.device}" if r.device else ""
    return f"{r.file}: {r.boots} boots{dev}{fw}: {what}"


def markdown(tri: Triage, top: int = 20, examples: int = 3,
             per_file: Sequence[LogResult] | None = None) -> str:
    """The triage for an issue tracker (GitHub / GitLab Markdown): tables, then fenced examples."""
    out = [f"## {md_text(headline(tri).removeprefix('espwatch triage: '))}", ""]
    if not tri.groups:
        out += ["Nothing to group: no crash, boot loop, finding or OTA failure in these logs.", ""]
    for kind, (title, one, many) in HEADINGS.items():
        gs = tri.ordered(kind)
        if not gs:
            continue
        total = sum(g.count for g in gs)
        out += [f"### {title}", "",
                f"{len(gs)} group{'s' if len(gs) != 1 else ''}, {total} {one if total == 1 else many}.", ""]
        rows = []
        for i, g in enumerate(gs[:top], 1):
            first, last = seen(g)
            what = label(g)
            rows.append([i, g.count, g.files, len(g.devices), listed(g.firmware, 3, 40), first, last, what])
        header = ["#", "count", "files", "devices", "firmware", "first seen", "last seen", "what"]
        out += [table(header, rows), ""]
        if len(gs) > top:
            out += [f"{len(gs) - top} more groups not shown.", ""]
        for i, g in enumerate(gs[:examples], 1):
            out += [f"#### {SINGULAR[kind]} #{i}: {md_text(label(g))}", ""]
            facts = [f"**{g.count}** in {g.files} file{'s' if g.files != 1 else ''}, "
                     f"{len(g.devices)} device{'s' if len(g.devices) != 1 else ''}"]
            if g.firmware:
                facts.append("firmware " + md_text(", ".join(sorted(g.firmware))))
            if g.elf_sha256:
                facts.append("ELF SHA256 " + md_text(", ".join(distinct_hashes(g.elf_sha256)[:5])))
            first, last = seen(g)
            facts.append(f"seen {md_text(first)} to {md_text(last)}")
            out += ["; ".join(facts), ""]
            ex = g.example
            if ex is not None:
                if ex.detail.get("summary"):
                    out += [md_text(ex.detail["summary"]), ""]
                out += [f"Example: {md_cell(_where(g))}", "", fence(ex.excerpt), ""]
    if per_file:
        out += ["### Per file", ""]
        rows = [[r.file, r.error or "", r.device or "", ", ".join(r.firmware), r.boots,
                 sum(1 for o in r.occurrences if o.kind == "crash"),
                 sum(1 for o in r.occurrences if o.kind != "crash")] for r in per_file]
        out += [table(["file", "error", "device", "firmware", "boots", "crashes", "other"], rows), ""]
    if tri.errors:
        out += [f"### Unreadable logs ({tri.failed})", ""]
        out += [f"- {md_text(f)}: {md_text(e)}" for f, e in tri.errors]
        out.append("")
    out += ["<sub>Times: when the device printed it (arrival-time sidecar or a dated timestamp), "
            "else ~ the log files' modification times (UTC). Made by espwatch triage.</sub>", ""]
    return "\n".join(out)
