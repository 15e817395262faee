"""The rule loader's error messages, explain pages, bounded memory on a large log, and the scan CLI wiring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from espwatch.diagnosis import DiagnosisStage, RuleError, load_rules, rule_pages
from espwatch.diagnosis.checks import CHECKS
from espwatch.diagnosis.findings import MAX_EVIDENCE
from espwatch.diagnosis.rules import load_rule_files
from espwatch.explain import all_pages, find_page
from espwatch.patterns import load_patterns
from espwatch.render.explain import iter_page
from espwatch.scan import scan_stream

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PATTERNS = load_patterns()

GOOD = '''
[[rule]]
code = "EW990"
title = "t"
severity = "warning"
when = "repeat"
select = { kind = "brownout" }
summary = "s"
hint = "h"
references = ["https://example.com/x"]
'''


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rules.toml"
    p.write_text(text, encoding="utf-8")
    return p


def load_file(path: Path) -> list:
    return load_rule_files([path], CHECKS)


@pytest.mark.parametrize(("change", "message"), [
    (('severity = "warning"', 'severity = "loud"'), "severity must be one of"),
    (('when = "repeat"', 'when = "sometimes"'), "`when` must be one of"),
    (('select = { kind = "brownout" }', 'select = { kind = "brownout", match = { name = "(" } }'), "bad regex"),
    (('select = { kind = "brownout" }', 'select = { knd = "brownout" }'), "unknown selector keys"),
    (('summary = "s"', 'summary = "s {oops"'), "bad placeholder"),
    (('references = ["https://example.com/x"]', 'references = ["ftp://x"]'), "not an https URL"),
    (('hint = "h"', 'hint = "h"\nmin_count = 0'), "`min_count` must be an integer >= 1"),
    (('hint = "h"', 'hint = "h"\nvarying = ["calculated"]'), "need min_count >= 2"),
    (('hint = "h"', 'hint = "h"\nwithin_boots = 1'), "unknown keys ['within_boots']"),
])
def test_malformed_rule_names_file_and_code(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    p = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RuleError) as exc:
        load_file(p)
    text = str(exc.value)
    assert str(p) in text and "(EW990)" in text and message in text, text


def test_bad_code_check_and_duplicate(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"rule\[0\]: `code` must look like EW9xx"):
        load_file(write(tmp_path, GOOD.replace('"EW990"', '"EW100"')))
    with pytest.raises(RuleError, match=r"\(EW990\): unknown check 'nope'"):
        load_file(write(tmp_path, GOOD.replace('when = "repeat"', 'when = "check"\ncheck = "nope"')
                         .replace('select = { kind = "brownout" }\n', "")))
    with pytest.raises(RuleError, match=r"rule\[1\] \(EW990\): code already used by rule\[0\]"):
        load_file(write(tmp_path, GOOD + GOOD))
    with pytest.raises(RuleError, match="not valid TOML"):
        load_file(write(tmp_path, "[[rule]\n"))
    assert load_file(write(tmp_path, GOOD))[0].code == "EW990"


def test_rule_pages_for_explain() -> None:
    rules = load_rules()
    pages = {p.code: p for p in rule_pages(rules)}
    assert set(pages) == {r.code for r in rules}
    assert pages["EW902"].kind == "boot_loop" and pages["EW910"].kind == "finding"
    every = all_pages(PATTERNS, rules)
    page = find_page(every, "ew910")
    assert page is not None
    text = "\n".join(iter_page(page))
    assert "CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL" in text and "issues/4120" in text
    stack = "\n".join(iter_page(find_page(every, "EW923")))
    assert "CONFIG_ESP_MAIN_TASK_STACK_SIZE" in stack and "CONFIG_FREERTOS_TIMER_TASK_STACK_DEPTH" in stack


def test_explain_cli_lists_rules() -> None:
    out = subprocess.run([sys.executable, "-m", "espwatch", "explain", "--list"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    for code in ("EW902", "EW910", "EW930"):
        assert code in out


def test_findings_come_as_soon_as_certain(corpus_dir: Path) -> None:
    """A sequence finding is returned by process() with the event that completes it, not at finish()."""
    stage = DiagnosisStage(PATTERNS)
    pipe_events = []
    from espwatch.pipeline import Pipeline, read_chunks

    pipe = Pipeline(PATTERNS, [stage])
    with open(corpus_dir / "a-esp32-arduino-spiram-not-initialized-abort.log", "rb") as fh:
        for chunk in read_chunks(fh):
            pipe_events.extend(pipe.feed(chunk))
    before_close = [e.code for e in pipe_events if e.kind == "finding"]
    assert "EW925" in before_close


def test_bounded_memory_on_a_large_log(tmp_path: Path, corpus_dir: Path) -> None:
    """5000 boots of a crash loop: one finding, exact count, capped evidence, small state."""
    boot = (corpus_dir / "b-esp32s3-esphome-assert-do-core-init-timestamps.log").read_text(encoding="utf-8")
    one = "\n".join(boot.splitlines()[32:65]) + "\n"  # boot 2: RTC_SW_CPU_RST banner .. core dump error
    big = tmp_path / "big.log"
    big.write_text(one * 5000, encoding="utf-8")
    stage = DiagnosisStage(PATTERNS)
    events = []
    scan_stream(str(big), PATTERNS, stages=[stage], keep_events=False,
                on_event=lambda e: events.append(e) if e.kind in ("finding", "boot_loop") else None)
    rep = [e for e in events if e.code == "EW903"]
    assert len(rep) == 1 and rep[0].fields["count"] == 5000
    assert len(rep[0].evidence) <= MAX_EVIDENCE
    loops = [e for e in events if e.kind == "boot_loop"]
    assert len(loops) == 1 and loops[0].fields["resets"] == 4999
    assert stage.boot is None  # nothing of the last boot is held once the log ended
    assert all(len(p) <= p.maxlen for p in stage._pending.values())
    check = next(c for c in stage._checks if c.rule.code == "EW903")
    assert len(check.groups) == 1 and len(check.groups[next(iter(check.groups))]["boots"]) <= 40


def test_scan_cli_shows_findings_and_json() -> None:
    log = str(SAMPLES / "ota-checksum-psram-4120.log")
    out = subprocess.run([sys.executable, "-m", "espwatch", "scan", log], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert "EW910" in out.stdout and "CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL" in out.stdout
    js = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--json", log], capture_output=True, text=True,
                        cwd=ROOT).stdout
    objs = [json.loads(line) for line in js.splitlines()]
    fnd = [o for o in objs if o["kind"] == "finding"]
    assert len(fnd) == 1 and fnd[0]["code"] == "EW910" and fnd[0]["evidence"] == [74, 86, 98]
    assert {"title", "hints", "evidence", "line", "end_line", "severity", "boot", "text", "fields"} <= set(fnd[0])
