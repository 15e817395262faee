"""The verbs on a binary log: scan finds the events of the decoded lines, decode prints the decoded view
(with addresses annotated), report quotes decoded lines; bad ELF input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import small_fixture

from espwatch.binlog import decode_bytes, open_decoder
from espwatch.cli import main

FIX = small_fixture("esp32-binlog-app")
LOG, APP, BOOT = str(FIX / "binlog"), str(FIX / "log.elf"), str(FIX / "bootloader.elf")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no build folder to find an ELF in


def test_scan_json(capsys) -> None:
    assert main(["scan", "--json", LOG, "--elf", APP, "--bootloader-elf", BOOT]) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    kinds = [(e["kind"], e["line"]) for e in events]
    assert ("boot_banner", 1) in kinds and ("reset_reason", 3) in kinds
    assert ("boot_banner", 13) in kinds  # "I (31) boot: ESP-IDF v6.0-dev-... 2nd stage bootloader"
    assert ("partition_loaded", 33) in kinds
    sha = next(e for e in events if e["code"] == "EW110")
    assert sha["text"] == "I (127) app_init: ELF file SHA256:  ad8cfdd30..."
    assert not any(e["kind"] == "binlog_undecoded" for e in events)
    assert f"espwatch: {LOG}: binary log: 141 records decoded\n" in captured.err
    # the vendored ELF lost its DWARF, so its hash is not the one the app printed: said, as for text logs
    assert "DOES NOT MATCH" in captured.err


def test_scan_without_elf_marks_records(capsys) -> None:
    assert main(["scan", "--json", LOG]) == 0  # records without an ELF are info: a usage matter
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    undecoded = [e for e in events if e["kind"] == "binlog_undecoded"]
    assert len(undecoded) == 141 and {e["severity"] for e in undecoded} == {"info"}
    assert undecoded[0]["fields"] == {"source": "bootloader", "level": "I", "timestamp": "31",
                                      "reason": "no bootloader ELF to look up its format "
                                                "(give --bootloader-elf BOOTLOADER.elf)"}
    assert "141 not decoded" in captured.err


def test_scan_damaged_capture(tmp_path: Path, capsys) -> None:
    damaged = tmp_path / "damaged.bin"
    raw = (FIX / "binlog").read_bytes()
    cut = raw.index(b"\x02\x0c", 2000)
    damaged.write_bytes(raw[:cut + 7] + raw[cut + 30:] + b"\x02\x0c\x40\x00\x00")  # lost bytes, cut at end
    assert main(["scan", "--json", str(damaged), "--elf", APP, "--bootloader-elf", BOOT]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    marks = [e for e in events if e["code"] == "EW052"]
    assert [m["fields"]["reason"].split(" (")[0] for m in marks] == [
        "damaged binary log frame", "binary log frame cut off"]
    assert all(m["severity"] == "warning" for m in marks[:1])


def test_decode_prints_the_decoded_view(capsys) -> None:
    assert main(["decode", "--elf", APP, "--bootloader-elf", BOOT, LOG]) == 0
    out = capsys.readouterr().out.splitlines()
    annotations = [line for line in out if line.startswith("  0x")]
    assert "  0x400d3bcf: app_main at ??:?" in annotations  # the assert's address (no DWARF in this ELF)
    view = [line for line in out if not line.startswith("  0x")]
    expected = decode_bytes((FIX / "binlog").read_bytes(), open_decoder(APP, BOOT)).decode().splitlines()
    from espwatch.sanitize import clean_line  # decode prints each line's sanitised text

    assert view == [clean_line(x) for x in expected] and len(view) == 181


def test_decode_no_color(capsys) -> None:
    assert main(["decode", "--elf", APP, "--no-color", LOG]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "I (31) boot: ESP-IDF v6.0-dev-937-gfc685e12b94-dirty 2nd stage bootloader" in out


def test_report_quotes_decoded_lines(capsys) -> None:
    assert main(["report", LOG, "--elf", APP, "--full"]) == 0
    md = capsys.readouterr().out
    assert "Binary log: 141 records decoded, 0 not decoded, 0 damaged bytes" in md
    # the evidence of the ELF hash finding is a decoded line, quoted by its number in the decoded text
    assert "     42  I (127) app_init: ELF file SHA256:  ad8cfdd30..." in md


def test_bad_bootloader_elf_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["scan", LOG, "--bootloader-elf", str(tmp_path / "missing.elf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("espwatch: ") and "no such ELF file" in err and err.count("\n") == 1
    notelf = tmp_path / "bootloader.elf"
    notelf.write_bytes(b"\x7fELF" + b"\xff" * 40)
    assert main(["decode", "--elf", APP, "--bootloader-elf", str(notelf), LOG]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("espwatch: ") and "bootloader.elf: not a usable ELF file" in last


def test_decoded_view_carries_no_escape_sequence() -> None:
    """decode prints the sanitised text of each line (docs/hardening.md): no colour code, no sequence, and
    nothing left of an OSC payload."""
    from espwatch.sanitize import clean_line

    line = "\x1b[0;32mI (1) t: \x1b]0;pwned\x07title \x1b[2Jclear\tok\x1b[0m"
    assert clean_line(line) == "I (1) t: title clear\tok"


def test_text_logs_do_not_load_the_decoder(tmp_path: Path) -> None:
    """scan without an ELF makes the binary log decoder only at a byte that could start a frame."""
    import subprocess
    import sys

    log = tmp_path / "text.log"
    log.write_bytes(b"ets Jul 29 2019 12:21:46\r\nI (31) boot: ESP-IDF v5.1 2nd stage bootloader\r\n")
    code = ("import sys\nfrom espwatch.cli import main\n"
            "rc = main(['scan', '--no-elf', sys.argv[1], sys.argv[2]])\n"
            "print('MODULES', ' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code, str(log), LOG], capture_output=True, text=True,
                         cwd=tmp_path)
    assert "binary log: 0 records decoded, 141 not decoded" in out.stderr  # the second file has frames
    out = subprocess.run([sys.executable, "-c", code.replace(", sys.argv[2]", ""), str(log)],
                         capture_output=True, text=True, cwd=tmp_path)
    modules = out.stdout.split("MODULES ", 1)[1].split()
    assert "espwatch.binlog.lazy" in modules and "espwatch.binlog.decoder" not in modules
