"""The Markdown issue report (`espwatch report`): summary, environment, diagnosis, boots, events.

Everything from the log is redacted (the content's redactor) and escaped or fenced (`render.markdown`);
the report says what was removed.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import regex

from espwatch import __version__
from espwatch.events import SEVERITY_RANK
from espwatch.render.frames import frame_lines
from espwatch.render.markdown import fence, md_rich, md_text, table
from espwatch.render.summary import line_span
from espwatch.report_groups import OTHER

if TYPE_CHECKING:
    from espwatch.report import ReportContent


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching ranges merged."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def excerpt(lines: dict[int, str], ranges: list[tuple[int, int]], marked: set[int],
            budget: int | None = None) -> list[str]:
    """Numbered lines of the ranges, `>` on the marked ones, `...` between separate ranges; at most about
    `budget` characters (the lines left out are counted)."""
    out: list[str] = []
    used = 0
    for i, (a, b) in enumerate(merge_ranges(ranges)):
        if i:
            out.append("   ...")
        for n in range(a, b + 1):
            if n in lines:
                if budget is not None and used >= budget:
                    left = sum(1 for k in range(n, b + 1) if k in lines)
                    out.append(f"   ... {left} more lines (the report's size limit; --full shows all)")
                    return out
                out.append(f"{'>' if n in marked else ' '}{n:>6}  {lines[n]}")
                used += len(out[-1]) + 1
    return out


def _size(lines: list[str]) -> int:
    return sum(len(x) + 1 for x in lines)


MAX_CELL = 200
"""Characters of a value from the log shown in a table cell."""


def _cell(value: Any) -> str:
    s = str(value)
    return s if len(s) <= MAX_CELL else s[:MAX_CELL] + f" [... {len(s) - MAX_CELL} more characters]"


def _environment(c: ReportContent) -> list[str]:
    facts, red = c.facts, c.redactor
    chip = " ".join(str(facts[k]) for k in ("chip",) if k in facts) or "not printed"
    if "chip_revision" in facts:
        chip += f" (revision {facts['chip_revision']})"
    rows = [
        ["Chip", chip],
        ["ESP-IDF (app)", facts.get("idf_version", "not printed")],
        ["ESP-IDF (bootloader)", facts.get("bootloader_version", "not printed")],
        ["Arduino-ESP32", facts.get("arduino_version", "not printed")],
        ["App", " ".join(str(facts[k]) for k in ("project", "app_version") if k in facts) or "not printed"],
        ["ELF SHA-256 printed by the app", facts.get("elf_sha256", "not printed")],
        ["ELF given to espwatch", c.elf_status],
        ["PSRAM", facts.get("psram_size") or facts.get("psram_heap") or "not reported"],
        ["Flash size (image header)", facts.get("flash_size", "not printed")],
        ["Report made by", f"espwatch {__version__}"],
    ]
    return ["## Environment", "", table(["", ""], [[k, _cell(red.redact(str(v)))] for k, v in rows]), ""]


def _diagnosis(c: ReportContent) -> list[str]:
    red = c.redactor
    out = ["## Diagnosis", ""]
    if not c.diagnoses:
        out += ["No rule matched: espwatch has no diagnosis for this log. "
                "The events below may still help.", ""]
    shown = 0
    for g, ev_lines in zip(c.diagnoses, c.evidence, strict=True):
        if not c.options.full and shown and _size(out) > c.options.max_diagnosis_chars:
            break
        shown += 1
        d = g.first
        assert d is not None
        out += [f"### {md_text(d.code)} ({md_text(g.severity)}): {md_text(d.title or d.kind)}", ""]
        out += [md_rich(red.redact(d.text)), ""]
        if g.count > 1:
            what = "in other signatures of this code" if g.signature == OTHER else "like this"
            out += [md_text(f"Found {g.summary()} ({what}); the text and evidence are the first one's."), ""]
        hints = d.hints[1:] if d.hints and d.hints[0] == d.text else d.hints
        if d.kind != "finding":
            hints = [*hints, f"A derived `{d.kind}` event; see `espwatch explain {d.code}`."]
        out += [f"- {md_rich(red.redact(h))}" for h in hints]
        if hints:
            out.append("")
        more = len(d.evidence) - len(ev_lines)
        label = f"Evidence (lines {', '.join(str(n) for n in ev_lines)}"
        out += [label + (f", {more} more" if more > 0 else "") + "):", ""]
        out += [fence(excerpt(c.lines, [(n, n) for n in ev_lines], set()), "text"), ""]
        refs = d.fields.get("references") or []
        if refs:
            out.append("References: " + ", ".join(f"<{r}>" for r in refs if isinstance(r, str)
                                                    and regex.fullmatch(r"https://[^\s<>]+", r)))
            out.append("")
    left = c.digest.diagnoses[shown:]
    if left:
        per_code: Counter = Counter()
        for g in left:
            per_code[g.code] += g.count
        codes = ", ".join(f"{code} ×{n:,}" for code, n in per_code.most_common(12))
        more = "" if len(per_code) <= 12 else f" and {len(per_code) - 12} more codes"
        limit = (f"{c.options.max_findings} groups of findings" if shown == len(c.diagnoses)
                 else f"{c.options.max_diagnosis_chars:,} characters")
        note = (f"Not shown (limit of {limit}; `--full` shows all): "
                f"{len(left):,} more groups, {sum(per_code.values()):,} findings: {codes}{more}.")
        out += [md_rich(note), ""]
    return out


def _boots(c: ReportContent) -> list[str]:
    opt, red, result = c.options, c.redactor, c.result
    if not result.pipeline.lines:
        return ["## Boots", "", "None: the log is empty.", ""]
    sessions = result.sessions
    cut = not opt.full and result.boot_count > opt.max_boots
    keep = sessions if not cut else [*sessions[: opt.max_boots // 2], *sessions[-opt.max_boots // 2:]]
    rows: list[list[Any]] = []
    prev = 0
    for s in keep:
        if cut and s.number != prev + 1 and prev:
            skipped = f"{s.number - prev - 1} boots not shown (--full shows all)"
            rows.append(["...", skipped, "", "", "", "", ""])
        prev = s.number
        f = s.facts
        part = f.get("partition", "")
        if part and f.get("partition_offset") and f.get("partition_offset") != part:
            part = f"{part} ({f['partition_offset']})"
        rows.append([s.number, f"{s.start_line}-{s.end_line}", _cell(f.get("reset_reason", "not printed")),
                     _cell(part or "not printed"), _cell(red.redact(str(f.get("app_version", "")))) or " ",
                     s.worst or "none", sum(s.counts.values())])
    header = ["Boot", "Lines", "Reset reason", "Partition", "App version", "Worst", "Events"]
    return ["## Boots", "", table(header, rows), ""]


def _events(c: ReportContent) -> list[str]:
    opt, red = c.options, c.redactor
    out = ["## Events", "", c.decode_note, ""]
    if not c.shown:
        out += [f"No event at {opt.min_severity} level or above.", ""]
    if c.digest.repeated:
        out += _groups(c)
    counted: set[int] = set()  # groups whose counts were given (once, at their first quoted event)
    start = _size(out)
    left_out: Counter = Counter()
    for cl in c.clusters:
        used = _size(out) - start
        if not opt.full and used > opt.max_events_chars:
            left_out.update(x[2].kind for x in cl)
            continue
        budget = None if opt.full else opt.max_events_chars - used
        a, b = min(x[0] for x in cl), max(x[1] for x in cl)
        evs = [x[2] for x in cl]
        names = ", ".join(f"{md_text(e.kind)} ({md_text(e.code)}, {md_text(e.severity)})" for e in evs)
        out += [f"### Boot {evs[0].boot}, lines {evs[0].line}-{max(e.end_line for e in evs)}: {names}", ""]
        for e in evs:
            pat = c.patterns.get(e.code)
            if pat is not None:
                names = "".join(f"; `{n}`" for n in e.fields.get("esp_err") or [])
                title = md_text(pat.title)
                g = c.digest.group_of(e)
                seen = ""
                if g is not None and g.count > 1 and id(g) not in counted:
                    counted.add(id(g))
                    seen = f"; {md_text(g.summary())}"
                out.append(f"- line {line_span(e)}: {title} (`espwatch explain {e.code}`{names}){seen}")
        out.append("")
        marked = {n for e in evs for n in range(e.line, e.end_line + 1)}
        out += [f"<details open><summary>Log lines {a}-{b}</summary>", ""]
        out += [fence(excerpt(c.lines, [(a, b)], marked, budget), "text"), "", "</details>", ""]
        for e in evs:
            if not opt.full and (e.frames or e.fields.get("coredump")) and \
                    _size(out) - start > opt.max_events_chars:
                left_out[f"decoded frames of {e.kind}"] += 1
                continue
            if isinstance(e.fields.get("coredump"), dict):
                out += [f"Core dump decoded by espwatch (line {e.line}):", ""]
                from espwatch.render.coredump import summary_lines  # a core dump's reader, only for one

                summary = summary_lines(e.fields["coredump"])
                out += [fence([red.redact(line) for line in summary], "text"), ""]
            elif e.frames:
                out += [f"Decoded ({md_text(e.kind)}, line {e.line}):", ""]
                if e.fields.get("unwound_by") == "espwatch":
                    guess = " (frames past ROM code are a guess)" if e.fields.get("guessed") else ""
                    out += [md_text(f"Unwound by espwatch from the register dump and "
                                    f"{e.fields.get('stack_bytes')} bytes of stack memory; stopped: "
                                    f"{e.fields.get('stop_reason')}") + guess + ".", ""]
                frames = e.frames if opt.full else e.frames[: opt.max_frames]
                out += [fence([red.redact(line) for line in frame_lines(frames)], "text"), ""]
                if len(frames) < len(e.frames):
                    out += [f"{len(e.frames) - len(frames)} more frames (`--full` shows all).", ""]
    if left_out:
        out.append(f"Not shown (the report's size limit of {opt.max_events_chars:,} characters for excerpts; "
                   "`--full` shows all): " + ", ".join(f"{n} more {md_text(k)}" for k, n in
                                                      sorted(left_out.items())) + ".")
        out.append("")
    if c.hidden:
        out.append(f"Not shown (limit of {opt.max_per_kind} per kind, {opt.max_excerpts} in all; `--full` "
                   "shows all): "
                   + ", ".join(f"{n:,} more {md_text(k)}" for k, n in sorted(c.hidden.items())) + ".")
        out.append("")
    return out


def _groups(c: ReportContent) -> list[str]:
    """The table of event groups: code, signature, how many, where (capped, with what was left out)."""
    opt, red = c.options, c.redactor
    groups = sorted(c.digest.groups, key=lambda g: (-SEVERITY_RANK[g.severity], g.first_line))
    listed = groups if opt.full else groups[: opt.max_groups]
    rows = [[g.code, g.kind, g.severity, f"{g.count:,}", g.boots.removeprefix("boots ").removeprefix("boot "),
             f"{g.first_line}-{g.last_line}" if g.count > 1 else str(g.first_line), red.redact(g.signature)]
            for g in listed]
    out = [f"Events at {opt.min_severity} level or above, grouped by code and signature (top frames or "
           "PCs of a crash, else the text with numbers masked):", "",
           table(["Code", "Kind", "Severity", "Count", "Boots", "Lines", "Signature"], rows), ""]
    left = groups[len(listed):]
    if left:
        out += [md_rich(f"Not listed (limit of {opt.max_groups} groups; `--full` lists all): {len(left):,} "
                        f"more groups, {sum(g.count for g in left):,} events."), ""]
    return out


def render_report(c: ReportContent) -> str:
    """The whole report as Markdown."""
    result = c.result
    d = c.digest
    head = [f"# espwatch report: {md_text(c.name)}", "",
            f"{result.pipeline.lines} lines, {result.boot_count if result.pipeline.lines else 0} boot(s), "
            f"{d.events_total} events, {d.findings_total} finding(s); "
            f"worst severity: **{result.worst or 'none'}**.", ""]
    if result.note:  # how the input was read (an encoding espwatch could not read, as scan says it)
        head += [f"Note on the input: {md_text(result.note)}.", ""]
    body = [*_environment(c), *_diagnosis(c), *_boots(c), *_events(c)]
    # the redaction note is written last, once everything was redacted, and shown first
    note = [f"Redacted before sharing: {md_text(c.redactor.summary())}.", ""]
    return "\n".join([*head, *note, *body]).rstrip() + "\n"
