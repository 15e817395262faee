"""Diagnosis rules on real logs: the corpus (../shared/corpus) and the samples built from real lines.

Run with `-s` to see the findings of every corpus log (printed by test_corpus_findings_summary).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import scan_file

from espwatch.diagnosis import DiagnosisStage, load_rules
from espwatch.enrich import ElfChoice
from espwatch.events import severity_at_least
from espwatch.patterns import load_patterns

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PATTERNS = load_patterns()
RULES = load_rules()

# Which rule each real log must trigger (corpus file or sample), and the words its finding must contain.
EXPECTED: list[tuple[str, str, list[str]]] = [
    ("samples/ota-checksum-psram-4120.log", "EW910", ["PSRAM", "0xb3", "0x3e", "0x91", "read 0xcd"]),
    ("samples/ota-bad-file-same-checksum.log", "EW911", ["calculated 0x1c", "read 0x0"]),
    ("corpus/a-esp32-arduino-httpupdate-checksum.log", "EW912", ["0x1c", "0x00"]),
    ("corpus/a-esp32-ota-checksum-psram-4120.log", "EW912", ["0xb3", "0xcd"]),
    ("corpus/a-esp32-ota-end-validate-failed.log", "EW912", ["0x79"]),
    ("corpus/a-esp32-esphome-ota-rollback-detected.log", "EW905", ["app1"]),
    ("samples/ota-rollback-to-previous-slot.log", "EW905", ["ota_1", "went back"]),
    ("samples/ota-new-slot-rejected.log", "EW906", ["rejected"]),
    ("samples/ota-switch-then-crash.log", "EW907", ["ota_0", "ota_1", "abort"]),
    ("corpus/a-esp32-image-too-big-no-bootable-partitions.log", "EW908", ["1146800", "98224", "1024 KiB"]),
    ("corpus/a-esp32-reset-loop-silent-brownout.log", "EW902", ["3 resets", "SW_CPU_RESET"]),
    ("corpus/a-esp32-reset-loop-silent-brownout.log", "EW904", ["esp_restart", "SW_CPU_RESET"]),
    ("corpus/a-esp32c3-sha256-mismatch-rtcwdt-loop.log", "EW904", ["RTC watchdog"]),
    ("corpus/b-esp32s3-esphome-assert-do-core-init-timestamps.log", "EW902", ["2 resets", "do_core_init"]),
    ("corpus/b-esp32s3-esphome-assert-do-core-init-timestamps.log", "EW903",
     ["do_core_init", "2 times", "0x403779e2"]),
    ("samples/brownout-loop.log", "EW920", ["3 boots"]),
    ("samples/brownout-loop.log", "EW902", ["a brownout"]),
    ("corpus/a-esp32-brownout-rom-csum-err.log", "EW921", ["line 1", "line 15"]),
    ("corpus/a-esp32-cache-disabled-after-spiram-init.log", "EW909", ["boot 1"]),
    ("corpus/b-esp32-cache-disabled-isr-context.log", "EW909", ["boot 1"]),
    ("corpus/b-esp32-task-wdt-btu-task-repeated.log", "EW922", ["5 times", "IDLE", "BTU_TASK", "Bluetooth"]),
    ("corpus/b-esp32c3-arduino-looptask-stack-overflow-regdump.log", "EW923",
     ["loopTask", "CONFIG_ARDUINO_LOOP_STACK_SIZE"]),
    ("corpus/b-esp32-stack-canary-btut-corrupted.log", "EW923", ["btuT", "CONFIG_BT_BTU_TASK_STACK_SIZE"]),
    ("corpus/b-esp32-arduino-corrupt-heap-assert-pio-decoder.log", "EW924", ["Bad head", "before the start"]),
    ("corpus/b-esp32-arduino-corrupt-heap-bad-head-newlib-assert.log", "EW924", ["Bad head"]),
    ("corpus/a-esp32-arduino-spiram-not-initialized-abort.log", "EW925", ["line 12", "abort"]),
    ("corpus/a-esp32s3-psram-id-read-error-abort.log", "EW925", ["line 10", "abort"]),
    ("corpus/a-esp32-arduino-spiram-bailing-out.log", "EW926", ["Bailing out"]),
    ("samples/rom-flash-read-err-poweron-loop.log", "EW902", ["POWERON_RESET", "flash read err, 1000"]),
    ("samples/rom-flash-read-err-poweron-loop.log", "EW927", ["9 boots", "flash read err, 1000"]),
    ("corpus/a-esp32-spiram-init-failed-continue-idf3.log", "EW926", ["line 13"]),
]


def resolve(name: str, corpus: Path) -> Path:
    kind, rest = name.split("/", 1)
    return (SAMPLES if kind == "samples" else corpus) / rest


def diagnose(path: Path, elf_sha256: str | None = None):
    elf = ElfChoice(Path("app.elf"), elf_sha256) if elf_sha256 else None
    pipe, events = scan_file(path, PATTERNS, stages=[DiagnosisStage(PATTERNS, RULES, elf=elf)])
    return pipe, events


def findings(events):
    return [e for e in events if e.kind in ("finding", "boot_loop")]


def labels(corpus: Path) -> list[dict]:
    out = []
    for f in sorted(corpus.glob("labels*.jsonl")):
        out.extend(json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
    return out


@pytest.mark.parametrize(("name", "code", "words"), EXPECTED, ids=[f"{c}-{n.split('/')[-1]}" for n, c, _ in EXPECTED])
def test_rule_fires_on_real_log(corpus_dir: Path, name: str, code: str, words: list[str]) -> None:
    _, events = diagnose(resolve(name, corpus_dir))
    hits = [e for e in findings(events) if e.code == code]
    assert hits, f"{code} not found; got {[(e.code, e.text) for e in findings(events)]}"
    ev = hits[0]
    blob = " ".join([ev.text, *ev.hints, json.dumps(ev.fields)])
    for w in words:
        assert w in blob, f"{w!r} missing from {code}: {ev.text}"
    assert ev.evidence and ev.line == ev.evidence[0] and ev.end_line == ev.evidence[-1]
    assert ev.title and ev.severity in ("info", "warning", "error", "fatal")
    js = ev.to_json()
    if ev.kind == "finding":
        assert js["title"] == ev.title and js["evidence"] == ev.evidence and js["hints"]


def test_the_4120_story(corpus_dir: Path) -> None:
    """Three OTA attempts, calculated varying, read constant: PSRAM and the Kconfig option are named."""
    _, events = diagnose(SAMPLES / "ota-checksum-psram-4120.log")
    f = [e for e in findings(events) if e.code == "EW910"]
    assert len(f) == 1
    text = " ".join([f[0].text, *f[0].hints])
    assert "PSRAM" in text and "CONFIG_SPIRAM_MALLOC_ALWAYSINTERNAL" in text
    assert "esptool read-flash 0x140000 0x130000" in text  # the slot the OTA wrote, from the partition table
    assert "espwatch image diff" in text and "image-info" in text
    assert f[0].evidence == [74, 86, 98]
    assert f[0].fields["calculated_values"] == ["0xb3", "0x3e", "0x91"] and f[0].fields["read"] == "0xcd"
    # the file-is-bad and the single-failure rules must not fire on the same story
    assert not [e for e in findings(events) if e.code in ("EW911", "EW912")]


def test_bad_file_is_not_blamed_on_psram() -> None:
    _, events = diagnose(SAMPLES / "ota-bad-file-same-checksum.log")
    codes = {e.code for e in findings(events)}
    assert "EW911" in codes and "EW910" not in codes


def test_no_warning_findings_on_healthy_logs(corpus_dir: Path) -> None:
    healthy = [lab["file"] for lab in labels(corpus_dir) if lab["healthy"]]
    assert len(healthy) == 7
    for name in healthy:
        _, events = diagnose(corpus_dir / name)
        bad = [(e.code, e.text) for e in findings(events) if severity_at_least(e.severity, "warning")]
        assert not bad, f"{name}: {bad}"


def test_corpus_findings_summary(corpus_dir: Path) -> None:
    """Print the findings per corpus log; every unhealthy log's findings rest on lines that exist."""
    total = 0
    with_findings = 0
    for lab in labels(corpus_dir):
        pipe, events = diagnose(corpus_dir / lab["file"])
        fs = findings(events)
        total += len(fs)
        with_findings += bool(fs)
        tag = "healthy" if lab["healthy"] else ""
        print(f"{lab['file']:<58} {tag:<8} " + (", ".join(f"{e.code}[{e.severity}]" for e in fs) or "-"))
        for e in fs:
            assert all(1 <= n <= pipe.lines for n in e.evidence), (lab["file"], e.code, e.evidence)
    print(f"{total} findings/derived events on {with_findings} of {len(labels(corpus_dir))} corpus logs")
    assert with_findings >= 20


def test_elf_mismatch(corpus_dir: Path) -> None:
    log = corpus_dir / "b-esp32s3-esphome-assert-do-core-init-timestamps.log"  # prints 3cd6b8c3a2e43895
    _, events = diagnose(log, elf_sha256="ab" * 32)
    hits = [e for e in findings(events) if e.code == "EW930"]
    assert len(hits) == 1 and hits[0].fields["printed"] == "3cd6b8c3a2e43895"
    assert hits[0].evidence == [29]
    _, events = diagnose(log, elf_sha256="3cd6b8c3a2e43895" + "0" * 48)
    assert not [e for e in findings(events) if e.code == "EW930"]
    _, events = diagnose(log)
    assert not [e for e in findings(events) if e.code == "EW930"]


def test_every_rule_has_a_real_log() -> None:
    covered = {code for _, code, _ in EXPECTED} | {"EW930"}
    assert covered == {r.code for r in RULES}


def test_boot_loop_is_a_derived_event_kind(corpus_dir: Path) -> None:
    _, events = diagnose(corpus_dir / "a-esp32-reset-loop-silent-brownout.log")
    loops = [e for e in events if e.kind == "boot_loop"]
    assert len(loops) == 1
    js = loops[0].to_json()
    assert js["code"] == "EW902" and js["boot"] == 2 and js["fields"]["boots"] == [2, 3, 4]
    assert loops[0].evidence == [15, 27, 39]  # the three reset lines


def test_two_different_crashes_are_not_a_loop(corpus_dir: Path) -> None:
    _, events = diagnose(corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log")
    assert not [e for e in findings(events) if e.code in ("EW902", "EW903")]


def test_findings_pass_through_later_stages_once(corpus_dir: Path) -> None:
    """A second diagnosis stage after the first must not re-diagnose or drop the first one's findings."""
    a, b = DiagnosisStage(PATTERNS, RULES), DiagnosisStage(PATTERNS, RULES)
    _, events = scan_file(corpus_dir / "b-esp32-task-wdt-btu-task-repeated.log", PATTERNS, stages=[a, b])
    assert [e.code for e in findings(events)].count("EW922") == 2  # one from each stage, none duplicated
