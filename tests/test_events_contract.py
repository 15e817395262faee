"""Real `scan --json` output against the repo's maintained contract (docs/events.md, events.schema.json)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())
ORIGINAL_KINDS = ("boot_banner", "reset_reason", "partition_loaded", "ota_slot_not_bootable", "rollback",
                  "ota_error", "checksum_failed", "hash_failed", "invalid_magic", "cache_disabled_access",
                  "spi_flash_guard", "flash_error", "psram_error", "panic", "backtrace", "abort", "assert",
                  "heap_corrupt", "stack_overflow", "task_wdt", "int_wdt", "brownout", "coredump",
                  "partition_switch", "boot_loop", "finding")


def scan_json(*args: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--json", *args], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode in (0, 1), out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_every_corpus_log_and_sample_validates(corpus_dir: Path) -> None:
    logs = [*sorted(corpus_dir.glob("*.log")), *sorted((ROOT / "samples").glob("*.log"))]
    objs = scan_json("--no-elf", *map(str, logs))
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for obj in objs:
        errors = list(validator.iter_errors(obj))
        assert not errors, (obj, [e.message for e in errors])
    kinds = {o["kind"] for o in objs}
    assert {"finding", "panic", "backtrace", "checksum_failed", "boot_loop"} <= kinds
    assert all("file" in o for o in objs)


def test_decoded_frames_validate(fixtures_dir: Path) -> None:
    elf = fixtures_dir / "esp32c3-coredump-app" / "esp32c3.elf"
    log = ROOT / "samples" / "esp32c3-abort-then-illegal-instruction.log"
    objs = scan_json("--elf", str(elf), str(log))
    framed = [o for o in objs if "frames" in o]
    assert framed
    for obj in objs:
        jsonschema.validate(obj, SCHEMA)


def test_contract_keeps_the_original_kinds_and_keys() -> None:
    doc = (ROOT / "docs" / "events.md").read_text()
    for kind in ORIGINAL_KINDS:
        assert f"`{kind}`" in doc, kind
    required = set(SCHEMA["required"])
    assert required == {"kind", "line", "end_line", "severity", "code", "boot", "text", "fields"}
    documented = set(re.findall(r'"(\w+)":', doc))
    assert required <= documented
