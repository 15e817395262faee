"""`report` and `scan` on logs of any size: grouped, counted and capped output, memory that does not grow
with the events or the boots (issue 12.5). Real generated logs (tests/loggen.py), no mocks; the 1 GiB
figures are measured by bench/bench_memory.py, not here."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from loggen import big_log_chunks, corpus_logs, crash_dense_chunks, write

from espwatch.diagnosis import load_rules
from espwatch.diagnosis.engine import DIAGNOSIS_KINDS
from espwatch.enrich import Enrichment
from espwatch.events import Event, severity_at_least
from espwatch.patterns import load_patterns
from espwatch.render.summary import SummaryWriter
from espwatch.report import ReportOptions, build_report, collect
from espwatch.report_groups import event_signature, text_template
from espwatch.scan import ScanResult, scan_stream, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
REPORT_LIMIT = 200_000
"""The size a report stays under whatever the log (docs/hardening.md)."""


@pytest.fixture(scope="module")
def crash_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bounds") / "crash-dense.log"
    write(path, crash_dense_chunks(3 << 20))
    return path


@pytest.fixture(scope="module")
def spliced_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Healthy lines with every corpus log spliced in, several times over: findings repeat."""
    path = tmp_path_factory.mktemp("bounds") / "spliced.log"
    write(path, big_log_chunks(6 << 20, filler_per_log=200))
    return path


def json_events(path: Path) -> list[dict]:
    p = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--json", str(path)], capture_output=True,
                       text=True, cwd=ROOT)
    assert p.returncode in (0, 1), p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_crash_dense_report_is_small_and_its_counts_are_scan_json_counts(crash_log: Path) -> None:
    content = collect(str(crash_log), ReportOptions())
    md = build_report(str(crash_log)).markdown
    assert len(md.encode()) < REPORT_LIMIT
    events = json_events(crash_log)
    plain = [e for e in events if e["kind"] not in DIAGNOSIS_KINDS]
    assert len(plain) > 4_000  # every 10th line a crash line
    d = content.digest
    assert d.events_total == len(plain)
    assert f"{len(plain)} events" in md.splitlines()[2]
    # per code: the groups' counts add up to the events scan --json gives at the report's level
    wanted = Counter(e["code"] for e in plain if severity_at_least(e["severity"], "warning"))
    got: Counter = Counter()
    for g in d.groups:
        got[g.code] += g.count
    assert got == wanted
    # quoted and left-out events add up per kind, and the note says so
    per_kind = Counter(e["kind"] for e in plain if severity_at_least(e["severity"], "warning"))
    quoted = Counter(e.kind for e in content.shown)
    assert {k: quoted[k] + content.hidden[k] for k in per_kind} == dict(per_kind)
    assert len(content.shown) <= ReportOptions().max_excerpts
    assert f"{content.hidden['backtrace']:,} more backtrace" in md
    # a backtrace group: the same PCs with other stack pointers; first and last lines as scan --json says
    bt = max((g for g in d.groups if g.kind == "backtrace"), key=lambda g: g.count)
    lines = [e["line"] for e in plain if e["code"] == bt.code and bt.signature.endswith(
        " < ".join(f.split(":")[0] for f in e["fields"].get("frames", [])[:4]))]
    assert bt.count == len(lines) and (bt.first_line, bt.last_line) == (lines[0], lines[-1])
    assert f"| {bt.code} | backtrace | error | {bt.count:,} |" in md


def test_repeated_findings_are_grouped_and_counted(spliced_log: Path) -> None:
    content = collect(str(spliced_log), ReportOptions())
    md = build_report(str(spliced_log)).markdown
    assert len(md.encode()) < REPORT_LIMIT
    findings = [e for e in json_events(spliced_log) if e["kind"] in DIAGNOSIS_KINDS]
    d = content.digest
    assert sum(g.count for g in d.diagnoses) == len(findings) == d.diagnoses_total
    per_code: Counter = Counter()
    for g in d.diagnoses:
        per_code[g.code] += g.count
    assert per_code == Counter(e["code"] for e in findings)
    repeated = [g for g in content.diagnoses if g.count > 1]
    assert repeated, "the corpus spliced in several times repeats its findings"
    g = repeated[0]
    assert f"Found ×{g.count:,} in " in md.replace("\\", "")
    assert len(content.diagnoses) <= ReportOptions().max_findings
    left = d.diagnoses[len(content.diagnoses):]
    if left:
        assert f"{len(left):,} more groups, {sum(x.count for x in left):,} findings" in md


def test_full_keeps_every_event(tmp_path: Path) -> None:
    log = tmp_path / "crash.log"
    write(log, crash_dense_chunks(200_000))
    content = collect(str(log), ReportOptions(full=True))
    assert not content.hidden
    assert len(content.shown) == sum(content.digest.per_kind.values())


def test_size_limits_cut_with_a_note(crash_log: Path) -> None:
    opt = ReportOptions(max_per_kind=40, max_excerpts=200, max_events_chars=5_000)
    md = build_report(str(crash_log), opt).markdown
    events = md.split("## Events", 1)[1]
    assert "the report's size limit of 5,000 characters for excerpts" in events
    assert len(events) < 5_000 + 30_000  # the table of groups, one cut excerpt and the notes


def _peak_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        collect(str(path), ReportOptions())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_building_a_report_does_not_keep_every_event(tmp_path: Path) -> None:
    """Peak Python memory while building a report of a 1 MB and an 8 MB crash-dense log (about 1,800 and
    14,000 events): it does not grow with the events (measured: +0.15 MB; before, when every Event was
    kept: +17.3 MB)."""
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    write(small, crash_dense_chunks(1 << 20))
    write(big, crash_dense_chunks(8 << 20))
    collect(str(small), ReportOptions())  # patterns, rules and imports loaded outside the measure
    a, b = _peak_bytes(small), _peak_bytes(big)
    assert b - a < 3 << 20, (a, b)


@pytest.fixture(scope="module")
def loop_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus logs back to back, 16 times: about 600 boots in 1.7 MB (two chunks of the pipeline)."""
    path = tmp_path_factory.mktemp("bounds") / "loop.log"
    write(path, iter(corpus_logs() * 16))
    return path


def _scan_outputs(path: Path, keep: int | None) -> tuple[str, str, ScanResult]:
    pats, rules = load_patterns(), load_rules()
    texts = []
    result = None
    for as_json in (False, True):
        out = io.StringIO()
        enr = Enrichment.choose(None, True, pats, rules, strict=False)
        writer: list[SummaryWriter] = []

        def start(r: ScanResult, writer: list[SummaryWriter] = writer, out: io.StringIO = out) -> None:
            writer.append(SummaryWriter(out.write, r.name, pats, r.session))

        def emit(ev: Event, as_json: bool = as_json, writer: list[SummaryWriter] = writer,
                 out: io.StringIO = out) -> None:
            if as_json:
                write_jsonl(ev, out)
            else:
                writer[0].event(ev)

        result = scan_stream(str(path), pats, stages=enr.stages(), on_event=emit, keep_events=False,
                             on_start=start, keep_sessions=keep)
        if not as_json:
            writer[0].finish(result)
        texts.append(out.getvalue())
    assert result is not None
    return texts[0], texts[1], result


def test_boot_window_changes_no_output(loop_log: Path) -> None:
    """Keeping 8 sessions at each end gives the same text summary and JSON as keeping them all (the summary
    prints a boot when the next one begins: the boots let go of within a chunk stay reachable until the
    next chunk), and holds 16 sessions."""
    log = loop_log
    text_all, json_all, all_ = _scan_outputs(log, None)
    text_win, json_win, win = _scan_outputs(log, 8)
    assert all_.boot_count == win.boot_count > 500
    assert len(all_.sessions) == all_.boot_count
    assert [s.number for s in win.sessions] == [*range(1, 9), *range(win.boot_count - 7, win.boot_count + 1)]
    assert win.history is not None and win.history.folded + 16 == win.boot_count
    assert text_win == text_all and json_win == json_all
    assert set(win.fact_values("elf_sha256")) <= set(all_.fact_values("elf_sha256"))
    assert set(map(str, win.fact_values("chip"))) == set(map(str, all_.fact_values("chip")))


def test_report_of_a_boot_loop_lists_first_and_last_boots(loop_log: Path) -> None:
    log = loop_log
    rep = build_report(str(log))
    history = rep.result.history
    assert history is not None and history.folded > 0
    assert len(rep.result.sessions) == 2 * max(64, ReportOptions().max_boots)
    head = rep.markdown.splitlines()[2]
    assert f"{rep.result.boot_count} boot(s)" in head
    boots = rep.markdown.split("## Boots", 1)[1].split("## Events", 1)[0]
    rows = [r for r in boots.splitlines() if r.startswith("| ")]
    assert len(rows) == 1 + ReportOptions().max_boots + 1  # header, 20 first, "...", 20 last
    assert rows[-1].startswith(f"| {rep.result.boot_count} |")
    skipped = rep.result.boot_count - ReportOptions().max_boots
    assert f"{skipped} boots not shown" in boots
    full = build_report(str(log), ReportOptions(full=True))
    assert len(full.result.sessions) == rep.result.boot_count


def test_signatures() -> None:
    assert text_template("E (12345) wifi: reason 201, addr 0x3ffb1234 err 0x101") == \
        "E (#) wifi: reason #, addr 0x… err 0x101"
    assert text_template("boot 3 esp32s3 line 57", mask_hex=False) == "boot # esp32s3 line #"
    a = Event("backtrace", 1, 1, "error", "EW403", "Backtrace: 0x400d1234:0x3ffb0010 0x400d2000:0x3ffb0040",
              fields={"frames": ["0x400d1234:0x3ffb0010", "0x400d2000:0x3ffb0040"]})
    b = Event("backtrace", 9, 9, "error", "EW403", "Backtrace: 0x400d1234:0x3ffc9990 0x400d2000:0x3ffc99c0",
              fields={"frames": ["0x400d1234:0x3ffc9990", "0x400d2000:0x3ffc99c0"]})
    assert event_signature(a) == event_signature(b) == "PCs 0x400d1234 < 0x400d2000"
