"""`espwatch report` as a library: a Markdown issue report of one log (GitHub / GitLab flavoured).

Sections: environment (chip, ESP-IDF / Arduino, app, ELF hash and whether the given ELF matches), the
diagnosis (findings with their evidence lines), a table of boots, and the notable events with the log lines
around them and decoded backtraces. Secrets are removed first (espwatch.redact) and the report says what was
removed. Log text can never break the Markdown: it only appears inside fences longer than any backtick run
in it, and table cells / inline text are escaped.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import regex

from espwatch import __version__
from espwatch.decoding import DecodeStage, ElfChoice, ElfError, choose_elf, load_index
from espwatch.events import SEVERITY_RANK, Event, severity_at_least
from espwatch.lines import clean_text
from espwatch.patterns import PatternSet, load_patterns
from espwatch.pipeline import close_input, open_input, read_chunks
from espwatch.redact import Redactor
from espwatch.scan import ScanResult, scan_stream

DIAGNOSIS_KINDS = ("finding", "boot_loop")


@dataclass
class ReportOptions:
    elf: str | None = None
    full: bool = False
    redact: bool = True
    redact_wifi: bool = False
    redact_mac: bool = False
    max_per_kind: int = 5
    before: int = 3
    after: int = 5
    max_evidence: int = 12
    max_boots: int = 40
    max_line_chars: int = 400
    min_severity: str = "warning"
    patterns_dirs: list[str] = field(default_factory=list)


@dataclass
class Report:
    markdown: str
    result: ScanResult
    redactor: Redactor
    shown_events: list[Event]
    elf_status: str


# -- Markdown helpers -----------------------------------------------------------------------------
_BACKTICKS = regex.compile(r"`+")
_INLINE_SPECIAL = regex.compile(r"([\\`*_\[\]|~])")


def fence(lines: Iterable[str], info: str = "") -> str:
    """A fenced code block that its content cannot close: longer than any backtick run inside."""
    body = list(lines)
    longest = max((len(m.group(0)) for ln in body for m in _BACKTICKS.finditer(ln)), default=0)
    ticks = "`" * max(3, longest + 1)
    return "\n".join([ticks + info, *body, ticks])


def md_text(s: Any) -> str:
    """Inline text from the log or the device: HTML and Markdown syntax neutralised, one line."""
    t = str(s).replace("\r", " ").replace("\n", " ")
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _INLINE_SPECIAL.sub(r"\\\1", t)
    t = regex.sub(r"^(\s*)(\d+)([.)])", r"\1\2\\\3", t)
    return regex.sub(r"^(\s*)([#+\-=>])", r"\1\\\2", t)


def md_cell(s: Any) -> str:
    """A table cell: like md_text (which escapes `|`), never empty."""
    t = md_text(s).strip()
    return t or " "


_SPAN = regex.compile(r"`([^`\n]+)`")


def md_rich(s: str) -> str:
    """Our own hint text: keep its `code spans`, escape everything else (values from logs included)."""
    if s.count("`") % 2:
        return md_text(s)
    out, pos = [], 0
    for m in _SPAN.finditer(s):
        out.append(md_text(s[pos:m.start()]))
        inner = m.group(1).replace("|", "\\|")
        out.append(f"`{inner}`")
        pos = m.end()
    out.append(md_text(s[pos:]))
    return "".join(out)


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(md_cell(c) for c in r) + " |")
    return "\n".join(lines)


# -- the log lines around events ------------------------------------------------------------------
def read_lines(path: str, wanted: set[int], redactor: Redactor, max_chars: int | None) -> dict[int, str]:
    """The text of the `wanted` line numbers (1-based, as events.md counts), redacted."""
    if not wanted:
        return {}
    fh, name = open_input(path)
    try:
        def numbered() -> Iterator[tuple[int, str]]:
            n = 0
            carry = b""
            for chunk in read_chunks(fh):
                data = carry + chunk
                parts = data.split(b"\n")
                carry = parts.pop()
                for raw in parts:
                    n += 1
                    yield n, clean_text(raw[: (max_chars * 4 if max_chars else len(raw))])
            if carry:
                yield n + 1, clean_text(carry[: (max_chars * 4 if max_chars else len(carry))])

        out = {}
        for n, text in redactor.redact_lines(numbered(), keep=wanted):
            if max_chars and len(text) > max_chars:
                text = text[:max_chars] + f" [... {len(text) - max_chars} more characters]"
            out[n] = text
        return out
    finally:
        close_input(fh, name)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching ranges merged."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def excerpt(lines: dict[int, str], ranges: list[tuple[int, int]], marked: set[int]) -> list[str]:
    """Numbered lines of the ranges, `>` on the marked ones, `...` between separate ranges."""
    out: list[str] = []
    for i, (a, b) in enumerate(merge_ranges(ranges)):
        if i:
            out.append("   ...")
        for n in range(a, b + 1):
            if n in lines:
                out.append(f"{'>' if n in marked else ' '}{n:>6}  {lines[n]}")
    return out


# -- building -------------------------------------------------------------------------------------
def _facts(result: ScanResult) -> dict[str, Any]:
    """The last value of each boot fact over all boots (the newest boot describes the device best)."""
    facts: dict[str, Any] = {}
    for s in result.sessions:
        for k, v in s.facts.items():
            if k not in ("partitions", "partition_line") and v not in (None, ""):
                facts[k] = v
    return facts


def _elf_status(options: ReportOptions, facts: dict[str, Any], elf: ElfChoice | None,
                error: str | None) -> str:
    if not options.elf:
        return "no ELF given"
    if elf is None:
        return f"could not be used: {error}"
    return elf.describe(facts.get("elf_sha256"))


def build_report(path: str, options: ReportOptions | None = None,
                 patterns: PatternSet | None = None) -> Report:
    """Scan `path` and render the report (raises InputError / PatternError / RuleError like `scan`)."""
    from espwatch.diagnosis import DiagnosisStage

    opt = options or ReportOptions()
    pats = patterns or load_patterns(opt.patterns_dirs)
    elf: ElfChoice | None = None
    error: str | None = None
    stages: list[Any] = []
    decode_note = "No ELF was given (`espwatch report LOG --elf build/app.elf`): addresses are not decoded."
    if opt.elf:
        try:
            elf = choose_elf(opt.elf, discover=False)
            assert elf is not None
            stages.append(DecodeStage(load_index(elf)))
            decode_note = f"Addresses decoded with `{elf.path.name}`."
        except ElfError as exc:
            error = str(exc)
            decode_note = f"The ELF could not be used ({error}): addresses are not decoded."
    stages.append(DiagnosisStage(pats, elf_sha256=elf.sha256 if elf else None))
    result = scan_stream(path, pats, stages=stages)
    red = Redactor(enabled=opt.redact, wifi=opt.redact_wifi, mac=opt.redact_mac)
    facts = _facts(result)
    elf_status = _elf_status(opt, facts, elf, error)

    diagnoses = [e for e in result.events if e.kind in DIAGNOSIS_KINDS]
    diagnoses.sort(key=lambda e: (-SEVERITY_RANK[e.severity], e.line))
    per_kind: Counter = Counter()
    shown: list[Event] = []
    hidden: Counter = Counter()
    for ev in result.events:
        if ev.kind in DIAGNOSIS_KINDS or not severity_at_least(ev.severity, opt.min_severity):
            continue
        per_kind[ev.kind] += 1
        if opt.full or per_kind[ev.kind] <= opt.max_per_kind:
            shown.append(ev)
        else:
            hidden[ev.kind] += 1

    wanted: set[int] = set()
    evidence_of: dict[int, list[int]] = {}
    for i, d in enumerate(diagnoses):
        ev_lines = d.evidence or [d.line]
        if not opt.full:
            ev_lines = ev_lines[: opt.max_evidence]
        evidence_of[i] = ev_lines
        wanted.update(ev_lines)
    total = result.pipeline.lines
    spans: list[tuple[int, int, Event]] = []
    for ev in shown:
        a, b = max(1, ev.line - opt.before), min(total, ev.end_line + opt.after)
        if not opt.full:
            b = min(b, ev.line + 40 + opt.after)
        spans.append((a, b, ev))
        wanted.update(range(a, b + 1))
    clusters: list[list[tuple[int, int, Event]]] = []
    for sp in sorted(spans, key=lambda t: (t[0], t[2].line)):
        last = clusters[-1] if clusters else None
        if last and sp[0] <= max(x[1] for x in last) + 1 and sp[2].boot == last[0][2].boot:
            clusters[-1].append(sp)
        else:
            clusters.append([sp])
    lines = read_lines(path, wanted, red, None if opt.full else opt.max_line_chars)

    out: list[str] = []
    name = os.path.basename(result.name)
    out.append(f"# espwatch report: {md_text(name)}")
    out.append("")
    worst = result.worst or "none"
    n_find = sum(1 for d in diagnoses if d.kind == "finding")
    out.append(f"{result.pipeline.lines} lines, {len(result.sessions)} boot(s), "
               f"{sum(result.counts.values()) - len(diagnoses)} events, {n_find} finding(s); "
               f"worst severity: **{worst}**.")
    out.append("")
    redaction_at = len(out)  # filled in at the end, when everything was redacted

    # environment
    out.append("## Environment")
    out.append("")
    chip = " ".join(str(facts[k]) for k in ("chip",) if k in facts) or "not printed"
    if "chip_revision" in facts:
        chip += f" (revision {facts['chip_revision']})"
    env_rows = [
        ["Chip", chip],
        ["ESP-IDF (app)", facts.get("idf_version", "not printed")],
        ["ESP-IDF (bootloader)", facts.get("bootloader_version", "not printed")],
        ["Arduino-ESP32", facts.get("arduino_version", "not printed")],
        ["App", " ".join(str(facts[k]) for k in ("project", "app_version") if k in facts) or "not printed"],
        ["ELF SHA-256 printed by the app", facts.get("elf_sha256", "not printed")],
        ["ELF given to espwatch", elf_status],
        ["PSRAM", facts.get("psram_size") or facts.get("psram_heap") or "not reported"],
        ["Flash size (image header)", facts.get("flash_size", "not printed")],
        ["Report made by", f"espwatch {__version__}"],
    ]
    out.append(table(["", ""], [[k, red.redact(str(v))] for k, v in env_rows]))
    out.append("")

    # diagnosis
    out.append("## Diagnosis")
    out.append("")
    if not diagnoses:
        out.append("No rule matched: espwatch has no diagnosis for this log. "
                   "The events below may still help.")
        out.append("")
    for i, d in enumerate(diagnoses):
        title = d.title or d.kind
        out.append(f"### {md_text(d.code)} ({md_text(d.severity)}): {md_text(title)}")
        out.append("")
        out.append(md_rich(red.redact(d.text)))
        out.append("")
        hints = d.hints[1:] if d.hints and d.hints[0] == d.text else d.hints
        if d.kind != "finding":
            hints = [*hints, f"A derived `{d.kind}` event; see `espwatch explain {d.code}`."]
        for h in hints:
            out.append(f"- {md_rich(red.redact(h))}")
        if hints:
            out.append("")
        ev_lines = evidence_of[i]
        more = len(d.evidence) - len(ev_lines)
        label = f"Evidence (lines {', '.join(str(n) for n in ev_lines)}"
        label += (f", {more} more" if more > 0 else "") + "):"
        out.append(label)
        out.append("")
        out.append(fence(excerpt(lines, [(n, n) for n in ev_lines], set()), "text"))
        out.append("")
        refs = d.fields.get("references") or []
        if refs:
            out.append("References: " + ", ".join(f"<{r}>" for r in refs if isinstance(r, str)
                                                    and regex.fullmatch(r"https://[^\s<>]+", r)))
            out.append("")

    # boots
    out.append("## Boots")
    out.append("")
    boot_rows = []
    sessions = result.sessions
    cut = not opt.full and len(sessions) > opt.max_boots
    keep = sessions if not cut else [*sessions[: opt.max_boots // 2], *sessions[-opt.max_boots // 2:]]
    counts: Counter = Counter(e.boot for e in result.events if e.kind not in DIAGNOSIS_KINDS)
    worst_of: dict[int, str] = {}
    for e in result.events:
        if e.kind in DIAGNOSIS_KINDS:
            continue
        w = worst_of.get(e.boot)
        if w is None or SEVERITY_RANK[e.severity] > SEVERITY_RANK[w]:
            worst_of[e.boot] = e.severity
    prev = 0
    for s in keep:
        if cut and s.number != prev + 1 and prev:
            skipped = f"{s.number - prev - 1} boots not shown (--full shows all)"
            boot_rows.append(["...", skipped, "", "", "", "", ""])
        prev = s.number
        f = s.facts
        part = f.get("partition", "")
        if part and f.get("partition_offset") and f.get("partition_offset") != part:
            part = f"{part} ({f['partition_offset']})"
        boot_rows.append([s.number, f"{s.start_line}-{s.end_line}", f.get("reset_reason", "not printed"),
                          part or "not printed", red.redact(str(f.get("app_version", ""))) or " ",
                          worst_of.get(s.number, "none"), counts.get(s.number, 0)])
    header = ["Boot", "Lines", "Reset reason", "Partition", "App version", "Worst", "Events"]
    out.append(table(header, boot_rows))
    out.append("")

    # events
    out.append("## Events")
    out.append("")
    out.append(decode_note)
    out.append("")
    if not shown:
        out.append(f"No event at {opt.min_severity} level or above.")
        out.append("")
    for cl in clusters:
        a, b = min(x[0] for x in cl), max(x[1] for x in cl)
        evs = [x[2] for x in cl]
        names = ", ".join(f"{md_text(e.kind)} ({md_text(e.code)}, {md_text(e.severity)})" for e in evs)
        out.append(f"### Boot {evs[0].boot}, lines {evs[0].line}-{max(e.end_line for e in evs)}: {names}")
        out.append("")
        for e in evs:
            pat = pats.get(e.code)
            if pat is not None:
                span = f"{e.line}" if e.end_line == e.line else f"{e.line}-{e.end_line}"
                out.append(f"- line {span}: {md_text(pat.title)} (`espwatch explain {e.code}`)")
        out.append("")
        marked = {n for e in evs for n in range(e.line, e.end_line + 1)}
        out.append(f"<details open><summary>Log lines {a}-{b}</summary>")
        out.append("")
        out.append(fence(excerpt(lines, [(a, b)], marked), "text"))
        out.append("")
        out.append("</details>")
        out.append("")
        for e in evs:
            if not e.frames:
                continue
            out.append(f"Decoded ({md_text(e.kind)}, line {e.line}):")
            out.append("")
            decoded = []
            for fr in e.frames:
                where = f"{fr.file}:{fr.line}" if fr.file else "?"
                inl = " (inlined)" if fr.inlined else ""
                decoded.append(red.redact(f"0x{fr.addr:08x}  {fr.function or '??'} at {where}{inl}"))
            out.append(fence(decoded, "text"))
            out.append("")
    if hidden:
        out.append("Not shown (limit of " + str(opt.max_per_kind) + " per kind; `--full` shows all): "
                   + ", ".join(f"{n} more {md_text(k)}" for k, n in sorted(hidden.items())) + ".")
        out.append("")

    out.insert(redaction_at, f"Redacted before sharing: {md_text(red.summary())}.")
    out.insert(redaction_at + 1, "")
    return Report("\n".join(out).rstrip() + "\n", result, red, shown, elf_status)
