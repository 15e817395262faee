"""esp_err_t codes: the table from ESP-IDF's sources, `explain` by number or name, names shown in scan/report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from espwatch.errcodes import error_table, lookup, printed_errors

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espwatch", *args], capture_output=True, text=True, cwd=ROOT)


def test_table_values_are_esp_idf_s() -> None:
    table = error_table()
    assert len(table.codes) > 200 and "v5.5.5" in table.versions
    known = {"ESP_FAIL": -1, "ESP_ERR_NO_MEM": 0x101, "ESP_ERR_INVALID_ARG": 0x102, "ESP_ERR_NOT_FOUND": 0x105,
             "ESP_ERR_OTA_VALIDATE_FAILED": 0x1503, "ESP_ERR_FLASH_OP_FAIL": 0x6001,
             "ESP_ERR_NVS_NOT_FOUND": 0x1102, "ESP_ERR_WIFI_NOT_INIT": 0x3001}
    for name, value in known.items():
        assert table.by_name(name).value == value, name
    assert len({c.name for c in table.codes}) == len(table.codes)


def test_lookup_by_number_or_name() -> None:
    assert [c.name for c in lookup("0x1503")] == ["ESP_ERR_OTA_VALIDATE_FAILED"]
    assert [c.name for c in lookup("5379")] == ["ESP_ERR_OTA_VALIDATE_FAILED"]
    assert lookup("esp_err_no_mem")[0].hex == "0x101"
    assert lookup("0x7fffffff") == [] and lookup("hello") == []


def test_numbers_in_error_context_only() -> None:
    names = lambda t: [c.name for c in printed_errors(t)]  # noqa: E731
    assert names("E (1) ota: esp_ota_set_boot_partition failed! err=0x1503") == ["ESP_ERR_OTA_VALIDATE_FAILED"]
    assert names("E (1) x: nvs_open returned 0x1102") == ["ESP_ERR_NVS_NOT_FOUND"]
    assert names("E (1) x: failed with error 257") == ["ESP_ERR_NO_MEM"]
    assert names("I (1) heap: free 259 bytes at 0x105") == []  # a number, but no error context
    assert names("E (1) x: err=0x103 (ESP_ERR_INVALID_STATE)") == []  # the device already named it


def test_explain_accepts_numbers_names_and_kinds() -> None:
    out = run("explain", "0x1503")
    assert out.returncode == 0 and "ESP_ERR_OTA_VALIDATE_FAILED" in out.stdout and "EW214" in out.stdout
    out = run("explain", "ESP_ERR_OTA_VALIDATE_FAILED")
    assert out.returncode == 0 and "0x1503" in out.stdout
    out = run("explain", "checksum_failed")
    assert out.returncode == 0 and "EW201" in out.stdout
    out = run("explain", "0x7ffffff0")
    assert out.returncode == 2 and out.stderr.count("\n") == 1


def test_scan_and_report_show_the_name(corpus_dir: Path) -> None:
    log = str(corpus_dir / "a-esp32-ota-html-instead-of-bin-invalid-magic.log")
    objs = [json.loads(line) for line in run("scan", "--json", "--no-elf", log).stdout.splitlines()]
    assert any(o["fields"].get("esp_err") == ["ESP_ERR_OTA_VALIDATE_FAILED"] for o in objs)
    assert "[ESP_ERR_OTA_VALIDATE_FAILED]" in run("scan", "--no-elf", log).stdout
    assert "`ESP_ERR_OTA_VALIDATE_FAILED`" in run("report", "--no-elf", log).stdout


def test_the_word_check_before_the_regex_hides_no_number(corpus_dir) -> None:
    """printed_errors skips the regex on ASCII lines without a context word: the same codes either way."""
    import random
    import re

    from espwatch import errcodes

    rx = re.compile(errcodes._NUMBER_IN_CONTEXT)
    lines = [ln for p in corpus_dir.glob("*.log") for ln in p.read_text(errors="replace").splitlines()]
    rnd = random.Random(3)
    words = ["ERR", "Error", "RET", "Returned", "rC", "RES", "Result", "CODE", "Status", "FAILED", "reason",
             "esp_err_t", "x", "0x103", "=", "(", " ", "faıled", "ſtatus", "-1", "257"]
    lines += ["".join(rnd.choice(words) for _ in range(rnd.randint(1, 8))) for _ in range(20000)]
    for text in lines:
        slow = []
        for m in rx.finditer(text):
            value = errcodes.parse_number(m.group("num"))
            for code in errcodes.error_table().by_value(value) if value else ():
                if code.name not in text and code not in slow:
                    slow.append(code)
        assert errcodes.printed_errors(text) == slow, text
