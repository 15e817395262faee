"""`espwatch report` as a library: what a Markdown issue report of one log shows, and the report itself.

`build_report(path, options)` scans the log with the same enrichment as every verb, picks what the report
shows (the findings with their evidence, the boots, the notable events with the log lines around them and
their decoded backtraces), reads only those lines, with secrets removed (espwatch.redact), and hands the
result to `espwatch.render.report`, which writes the Markdown.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from espwatch.diagnosis.engine import DIAGNOSIS_KINDS
from espwatch.errors import InputError
from espwatch.events import SEVERITY_RANK, Event, severity_at_least
from espwatch.lineoffsets import LineOffsets, LineReader, lines_holding
from espwatch.lines import MAX_LINE, LineSplitter
from espwatch.pipeline import CHUNK, close_input, open_input, read_chunks
from espwatch.redact import PEM_NEEDLE, Redactor, pem_closes, pem_opens
from espwatch.scan import ScanResult, scan_stream

if TYPE_CHECKING:
    from espwatch.binlog import BinlogDecoder
    from espwatch.diagnosis.rules import Rule
    from espwatch.enrich import Enrichment
    from espwatch.patterns import PatternSet


@dataclass
class ReportOptions:
    elf: str | None = None
    no_elf: bool = False
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
    bootloader_elf: str | None = None
    """Binary logs: the bootloader's ELF (default: beside the app ELF)."""


@dataclass
class Report:
    markdown: str
    result: ScanResult
    redactor: Redactor
    shown_events: list[Event]
    elf_status: str


Span = tuple[int, int, Event]
"""The lines an event is shown with: (first, last, event)."""


@dataclass
class ReportContent:
    """Everything the Markdown shows, chosen and redacted; `espwatch.render.report` writes it."""

    name: str
    options: ReportOptions
    patterns: PatternSet
    result: ScanResult
    redactor: Redactor
    facts: dict[str, Any]
    elf_status: str
    decode_note: str
    diagnoses: list[Event]
    evidence: list[list[int]]
    """The evidence lines shown for each diagnosis."""
    shown: list[Event]
    hidden: Counter
    clusters: list[list[Span]]
    lines: dict[int, str]
    """The text of every line the report quotes, redacted."""


# -- the log lines around events ------------------------------------------------------------------
def numbered_lines(path: str, max_chars: int | None,
                   binlog: BinlogDecoder | None = None) -> Iterator[tuple[int, str]]:
    """(number, cleaned text) of every line, numbered as events.md counts them (the shared LineSplitter);
    lines longer than about `max_chars` are cut before they are decoded. `binlog`: the decoder the scan
    used, when the log was a binary log (its lines are those of the decoded text)."""
    fh, name = open_input(path)
    splitter = LineSplitter(max_line=max_chars * 4 if max_chars else MAX_LINE)
    try:
        chunks = read_chunks(fh)
        if binlog is not None and binlog.active:
            from espwatch.binlog import decode_stream

            chunks = decode_stream(chunks, binlog.fresh())
        for chunk in chunks:
            for line in splitter.feed(chunk):
                yield line.number, line.text
        for line in splitter.flush():
            yield line.number, line.text
    finally:
        close_input(fh, name)


def read_lines(path: str, wanted: set[int], redactor: Redactor, max_chars: int | None,
               binlog: BinlogDecoder | None = None, offsets: LineOffsets | None = None) -> dict[int, str]:
    """The text of the `wanted` line numbers (1-based, as events.md counts), redacted.

    With the `offsets` the scan recorded (a file, not a binary log), only the wanted lines are read, decoded
    and redacted; PEM private key blocks spanning lines are found by a byte search over the file. Without
    them every line is read.
    """
    if not wanted:
        return {}
    if offsets is None or not offsets.exact or path == "-" or (binlog is not None and binlog.active):
        pairs = redactor.redact_lines(numbered_lines(path, max_chars, binlog), keep=wanted)
    else:
        pairs = _redacted_ranges(path, wanted, redactor, max_chars * 4 if max_chars else MAX_LINE, offsets)
    out = {}
    for n, text in pairs:
        if max_chars and len(text) > max_chars:
            text = text[:max_chars] + f" [... {len(text) - max_chars} more characters]"
        out[n] = text
    return out


def _redacted_ranges(path: str, wanted: set[int], redactor: Redactor, max_line: int,
                     offsets: LineOffsets) -> Iterator[tuple[int, str]]:
    """The wanted lines, read range by range from the recorded offsets, redacted as in one pass."""
    # Where a multi-line PEM block is open: (offset of a marker line, open after it), in file order.
    states: list[tuple[int, bool]] = []
    if redactor.enabled:
        in_pem = False
        for start, text in lines_holding(path, PEM_NEEDLE, max_line):
            if not in_pem and pem_opens(text):
                in_pem = True
                redactor.counts["private_key"] += 1
            elif in_pem and pem_closes(text):
                in_pem = False
            else:
                continue
            states.append((start, in_pem))
    marks = [at for at, _ in states]
    numbers = sorted(wanted)
    ranges: list[tuple[int, int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    with LineReader(path, offsets, max_line) as reader:
        for first, last in ranges:
            lines = list(reader.lines(first, last))
            if not lines:
                continue
            i = bisect_left(marks, lines[0][1])  # markers before the range's first line
            in_pem = states[i - 1][1] if i else False
            yield from redactor.redact_lines(((n, text) for n, _, text in lines), in_pem=in_pem,
                                             count_blocks=False)


# -- the steps ------------------------------------------------------------------------------------
def last_facts(result: ScanResult) -> dict[str, Any]:
    """The last value of each boot fact over all boots (the newest boot describes the device best)."""
    facts: dict[str, Any] = {}
    for s in result.sessions:
        for k, v in s.facts.items():
            if k not in ("partitions", "partition_line") and v not in (None, ""):
                facts[k] = v
    return facts


def pick_events(result: ScanResult, opt: ReportOptions) -> tuple[list[Event], list[Event], Counter]:
    """The diagnoses (most severe first), the events shown (capped per kind) and the count left out."""
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
    return diagnoses, shown, hidden


def event_spans(shown: list[Event], total: int, opt: ReportOptions) -> list[Span]:
    """The lines around each shown event: a few before, its block, a few after (capped unless --full)."""
    spans: list[Span] = []
    for ev in shown:
        a, b = max(1, ev.line - opt.before), min(total, ev.end_line + opt.after)
        if not opt.full:
            b = min(b, ev.line + 40 + opt.after)
        spans.append((a, b, ev))
    return spans


def cluster_spans(spans: list[Span]) -> list[list[Span]]:
    """Spans that touch or overlap within one boot, shown as one excerpt."""
    clusters: list[list[Span]] = []
    for sp in sorted(spans, key=lambda t: (t[0], t[2].line)):
        last = clusters[-1] if clusters else None
        if last and sp[0] <= max(x[1] for x in last) + 1 and sp[2].boot == last[0][2].boot:
            clusters[-1].append(sp)
        else:
            clusters.append([sp])
    return clusters


def decode_note(enr: Enrichment, binlog: BinlogDecoder | None = None) -> str:
    if enr.elf is None:
        note = "No ELF was given (`espwatch report LOG --elf build/app.elf`): addresses are not decoded."
    elif enr.error:
        note = f"The ELF could not be used ({enr.error}): addresses are not decoded."
    else:
        note = f"Addresses decoded with `{enr.elf.path.name}`."
    if binlog is not None and binlog.active:
        st = binlog.stats
        note += (f" Binary log: {st.records} records decoded, {st.undecoded} not decoded, "
                 f"{st.junk_bytes} damaged bytes" + "".join(f"; {n}" for n in binlog.notes) + ".")
    return note


def report_binlog(enr: Enrichment, bootloader_elf: str | None) -> BinlogDecoder:
    """The binary log decoder of a report: like `scan`'s, but an unusable ELF only leaves records undecoded
    (the report says so) instead of stopping it."""
    from espwatch.binlog import BinlogDecoder, open_decoder
    from espwatch.errors import ElfError

    app = enr.elf.path if enr.elf is not None and not enr.load_error else None
    try:
        return open_decoder(app, bootloader_elf)
    except ElfError as exc:
        try:
            dec = open_decoder(app)
        except ElfError:
            dec = BinlogDecoder()
        dec.notes.append(f"an ELF could not be used for binary log records ({exc})")
        return dec


def collect(path: str, opt: ReportOptions, patterns: PatternSet | None = None,
            rules: list[Rule] | None = None) -> ReportContent:
    """Scan `path` and choose what the report shows (raises the errors `scan` raises)."""
    import os

    from espwatch.enrich import Enrichment

    if not patterns or rules is None:
        from espwatch.datacache import load_data

        loaded = load_data(opt.patterns_dirs)  # the built-in ones from the cache folder
        patterns, rules = patterns or loaded[0], rules if rules is not None else loaded[1]
    pats = patterns
    enr = Enrichment.choose(opt.elf, opt.no_elf, pats, rules, strict=False)
    offsets = LineOffsets()
    binlog = report_binlog(enr, opt.bootloader_elf)
    result = scan_stream(path, pats, stages=enr.stages(), binlog=binlog, offsets=offsets)
    facts = last_facts(result)
    elf_status = enr.describe(facts.get("elf_sha256")) if enr.elf is not None or opt.elf else "no ELF given"
    diagnoses, shown, hidden = pick_events(result, opt)
    evidence = [(d.evidence or [d.line]) if opt.full else (d.evidence or [d.line])[: opt.max_evidence]
                for d in diagnoses]
    spans = event_spans(shown, result.pipeline.lines, opt)
    wanted = {n for ev_lines in evidence for n in ev_lines}
    for a, b, _ in spans:
        wanted.update(range(a, b + 1))
    red = Redactor(enabled=opt.redact, wifi=opt.redact_wifi, mac=opt.redact_mac)
    lines = read_lines(path, wanted, red, None if opt.full else opt.max_line_chars, binlog, offsets)
    return ReportContent(os.path.basename(result.name), opt, pats, result, red, facts, elf_status,
                         decode_note(enr, binlog), diagnoses, evidence, shown, hidden, cluster_spans(spans),
                         lines)


@contextmanager
def spooled_stdin() -> Iterator[str]:
    """Standard input copied to a temporary file (deleted afterwards), for the two passes a report makes:
    the scan and the reading of the lines around events. Memory stays bounded: the copy is by chunks."""
    fd, name = tempfile.mkstemp(prefix="espwatch-report-stdin-", suffix=".log")
    try:
        with os.fdopen(fd, "wb") as fh:
            try:
                shutil.copyfileobj(sys.stdin.buffer, fh, CHUNK)
            except OSError as exc:
                raise InputError(f"<stdin>: read error: {exc.strerror or exc}") from None
        yield name
    finally:
        os.unlink(name)


def build_report(path: str, options: ReportOptions | None = None, patterns: PatternSet | None = None,
                 rules: list[Rule] | None = None) -> Report:
    """Scan `path` (`-`: standard input, spooled to a temporary file so it is read once) and write the
    report (raises InputError / PatternError / RuleError like `scan`)."""
    from espwatch.render.report import render_report

    if path == "-":
        with spooled_stdin() as spooled:
            content = collect(spooled, options or ReportOptions(), patterns, rules)
        content.name = "<stdin>"
    else:
        content = collect(path, options or ReportOptions(), patterns, rules)
    return Report(render_report(content), content.result, content.redactor, content.shown,
                  content.elf_status)
