"""`espwatch report`: structure checked by parsing the Markdown (markdown-it-py tokens), on real logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from espwatch.render.markdown import fence, md_cell
from espwatch.report import ReportOptions, build_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def parse(md: str):
    return MarkdownIt("commonmark").enable("table").parse(md)


def headings(tokens, level: str) -> list[str]:
    out = []
    for i, t in enumerate(tokens):
        if t.type == "heading_open" and t.tag == level:
            out.append(tokens[i + 1].content)
    return out


def tables(tokens) -> list[list[list[str]]]:
    """Each table as rows of cell texts (header row first)."""
    out, rows, row, in_table = [], [], None, False
    for i, t in enumerate(tokens):
        if t.type == "table_open":
            in_table, rows = True, []
        elif t.type == "table_close":
            in_table = False
            out.append(rows)
        elif in_table and t.type == "tr_open":
            row = []
        elif in_table and t.type == "tr_close":
            rows.append(row)
        elif in_table and t.type in ("th_open", "td_open"):
            inline = tokens[i + 1]
            row.append("".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
                       if inline.type == "inline" else "")
    return out


def fences(tokens) -> list[str]:
    return [t.content for t in tokens if t.type == "fence"]


def test_4120_report_structure() -> None:
    rep = build_report(str(SAMPLES / "ota-checksum-psram-4120.log"))
    toks = parse(rep.markdown)
    assert headings(toks, "h1") == ["espwatch report: ota-checksum-psram-4120.log"]
    assert headings(toks, "h2") == ["Environment", "Diagnosis", "Boots", "Events"]
    h3 = headings(toks, "h3")
    assert h3[0].startswith("EW910 (error): Image damaged on its way to flash")
    env, boots = tables(toks)
    env_map = {r[0]: r[1] for r in env[1:]}
    assert env_map["ESP-IDF (app)"] == "v4.0-beta1-134-gef17d8bba"
    assert env_map["App"] == "gateway 1.4.2" and env_map["ELF given to espwatch"] == "no ELF given"
    assert env_map["PSRAM"] == "64MBit"
    assert boots[0] == ["Boot", "Lines", "Reset reason", "Partition", "App version", "Worst", "Events"]
    assert boots[1][:4] == ["1", "1-99", "POWERON_RESET", "factory (0x10000)"] and boots[1][5] == "error"
    fs = fences(toks)
    evidence = fs[0].splitlines()
    assert [ln.split()[0] for ln in evidence if ln.strip() != "..."] == ["74", "86", "98"]
    assert "Checksum failed. Calculated 0x91 read 0xcd" in fs[0]
    md = rep.markdown
    assert "CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL" in md and "PSRAM" in md
    assert "esptool read-flash 0x140000 0x130000 readback.bin" in md
    assert "No ELF was given" in md
    # context merged: line 74 and 75 share one excerpt, which runs 71-80
    assert any(f.splitlines()[0].split()[0] == "71" and f.splitlines()[-1].split()[0] == "80" for f in fs)


def test_hostile_log_cannot_break_structure(tmp_path: Path) -> None:
    """Backtick runs, </details>, HTML and pipes in the log stay inside fences and escaped cells."""
    src = (SAMPLES / "ota-checksum-psram-4120.log").read_text(encoding="utf-8").splitlines()
    src[41] = "I (543) cpu_start: App version:      1.4|2`x`</td>"  # a fact that lands in table cells
    src[71] = "```` </details> <script>alert(1)</script> | a | b | ~~~"
    src[72] = "</details>"
    src[75] = "# not a heading ``` `` ` |"
    log = tmp_path / "hostile.log"
    log.write_text("\n".join(src) + "\n", encoding="utf-8")
    rep = build_report(str(log))
    toks = parse(rep.markdown)
    assert headings(toks, "h2") == ["Environment", "Diagnosis", "Boots", "Events"]
    assert "# not a heading" not in " ".join(headings(toks, "h1") + headings(toks, "h3"))
    env, boots = tables(toks)
    assert all(len(r) == 2 for r in env) and all(len(r) == 7 for r in boots)
    assert {r[0]: r[1] for r in env[1:]}["App"] == "gateway 1.4|2`x`</td>"
    assert boots[1][4] == "1.4|2`x`</td>"
    blob = "\n".join(fences(toks))
    assert "```` </details> <script>alert(1)</script> | a | b | ~~~" in blob
    assert "\n</details>\n" in "\n" + blob + "\n" or blob.count("</details>") >= 2
    # outside fences, the only HTML is our own <details> wrappers, balanced
    html = [t.content.strip() for t in toks if t.type == "html_block"]
    opens = [h for h in html if h.startswith("<details")]
    closes = [h for h in html if h == "</details>"]
    assert opens and len(opens) == len(closes)
    assert not any("<script>" in h for h in html)
    inline_html = [c for t in toks if t.type == "inline" for c in (t.children or []) if c.type == "html_inline"]
    assert not inline_html


def test_fence_longer_than_content_backticks() -> None:
    text = fence(["a ````` b", "```"], "text")
    first = text.splitlines()[0]
    assert first == "``````text"
    toks = parse(text)
    assert [t.content for t in toks if t.type == "fence"] == ["a ````` b\n```\n"]
    assert md_cell("a|b") == "a\\|b"


def test_limits_and_full(corpus_dir: Path) -> None:
    log = str(corpus_dir / "b-esp32-task-wdt-btu-task-repeated.log")
    short = build_report(log, ReportOptions(max_per_kind=2))
    assert len(short.shown_events) == 2 and "3 more task\\_wdt" in short.markdown
    full = build_report(log, ReportOptions(max_per_kind=2, full=True))
    assert len(full.shown_events) == 5
    toks = parse(full.markdown)
    assert headings(toks, "h3")[0].startswith("EW922 (error)")


def test_crash_loop_report_lists_boots_and_backtrace(corpus_dir: Path) -> None:
    rep = build_report(str(corpus_dir / "b-esp32s3-esphome-assert-do-core-init-timestamps.log"))
    toks = parse(rep.markdown)
    h3 = headings(toks, "h3")
    assert any(h.startswith("EW903") for h in h3) and any(h.startswith("EW902") for h in h3)
    boots = tables(toks)[1]
    assert [r[0] for r in boots[1:]] == ["1", "2", "3"]
    assert [r[2] for r in boots[1:]] == ["POWERON", "RTC_SW_CPU_RST", "RTC_SW_CPU_RST"]
    assert any("Backtrace: 0x403779e2:0x3fceb180" in f for f in fences(toks))


def test_report_with_wrong_elf(corpus_dir: Path, tmp_path: Path) -> None:
    """A real file that is not the app's ELF: the hash does not match; EW930 appears; no crash."""
    elf = Path(sys.executable).resolve()
    rep = build_report(str(corpus_dir / "b-esp32s3-esphome-assert-do-core-init-timestamps.log"),
                       ReportOptions(elf=str(elf)))
    assert rep.elf_status.startswith("DOES NOT MATCH")
    assert "EW930" in rep.markdown
    env = tables(parse(rep.markdown))[0]
    assert {r[0]: r[1] for r in env[1:]}["ELF given to espwatch"].startswith("DOES NOT MATCH")


def test_cli_writes_file(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    p = subprocess.run([sys.executable, "-m", "espwatch", "report", str(SAMPLES / "ota-checksum-psram-4120.log"),
                        "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "report written to" in p.stderr
    assert headings(parse(out.read_text(encoding="utf-8")), "h2")[1] == "Diagnosis"
    bad = subprocess.run([sys.executable, "-m", "espwatch", "report", str(tmp_path / "missing.log")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "no such file" in bad.stderr


@pytest.mark.parametrize("name", ["ota-switch-then-crash.log", "brownout-loop.log", "ota-new-slot-rejected.log"])
def test_samples_render(name: str) -> None:
    rep = build_report(str(SAMPLES / name))
    toks = parse(rep.markdown)
    assert headings(toks, "h2") == ["Environment", "Diagnosis", "Boots", "Events"]
    assert len(tables(toks)[1]) == len(rep.result.sessions) + 1


def test_empty_log_has_no_boot(tmp_path: Path) -> None:
    """An empty file is no boot: the headline counts 0 and the Boots section says so instead of a row 1-1."""
    log = tmp_path / "empty.log"
    log.write_bytes(b"")
    md = build_report(str(log)).markdown
    assert "0 lines, 0 boot(s), 0 events" in md
    assert "None: the log is empty." in md and "| 1 | 1-1 |" not in md
    assert not [t for t in tables(parse(md)) if t and t[0][:2] == ["Boot", "Lines"]]


def test_a_file_read_best_effort_says_so(tmp_path: Path) -> None:
    """Bytes that are not text in any encoding espwatch reads: the report carries scan's note (in the
    Markdown and on stderr) instead of a bare "0 events"."""
    import random

    rnd = random.Random(1)
    log = tmp_path / "noise.bin"
    log.write_bytes(bytes(rnd.randrange(256) for _ in range(3000)))
    md = build_report(str(log)).markdown
    assert "Note on the input: " in md and "not UTF-8" in md
    out = subprocess.run([sys.executable, "-m", "espwatch", "report", str(log)], capture_output=True, text=True)
    assert out.returncode == 0 and "not UTF-8" in out.stderr and out.stderr.count("\n") == 1
