"""`espwatch scan` and `explain` as users run them: exit status, JSON Lines, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import fixture_folder

REQUIRED = {"kind", "line", "end_line", "severity", "code", "boot", "text", "fields"}


def espwatch(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espwatch", *args], input=stdin, capture_output=True,
                          timeout=300, cwd=cwd, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def test_json_lines_follow_the_contract(corpus_dir) -> None:
    r = espwatch("scan", "--json", str(corpus_dir / "a-esp32-image-too-big-no-bootable-partitions.log"))
    assert r.returncode == 1, r.stderr
    objs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert objs and all(set(o) >= REQUIRED for o in objs)
    assert [o["line"] for o in objs] == sorted(o["line"] for o in objs)
    assert all(o["severity"] in ("info", "warning", "error", "fatal") for o in objs)
    kinds = {o["kind"] for o in objs}
    assert {"invalid_magic", "ota_slot_not_bootable"} <= kinds


def test_healthy_log_exits_zero_and_summary_names_boots(corpus_dir) -> None:
    r = espwatch("scan", str(corpus_dir / "a-esp32s3-https-ota-success-reboot-healthy.log"))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "boot 1" in out and "boot 2" in out and "partition ota_1 (0x1d0000)" in out


def test_min_severity_and_stdin(corpus_dir) -> None:
    data = (corpus_dir / "b-esp32-brownout-arduino-v3.log").read_bytes()
    r = espwatch("scan", "--json", "--min-severity", "error", "-", stdin=data)
    assert r.returncode == 1
    objs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert objs and all(o["severity"] in ("error", "fatal") for o in objs)
    assert any(o["kind"] == "brownout" for o in objs)


def test_several_files_carry_their_name(corpus_dir) -> None:
    a = corpus_dir / "a-esp32-ota-checksum-psram-4120.log"
    b = corpus_dir / "a-esp32-arduino-httpupdate-checksum.log"
    r = espwatch("scan", "--json", str(a), str(b))
    files = {json.loads(x)["file"] for x in r.stdout.decode().splitlines()}
    assert files == {str(a), str(b)}


def _one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2
    err = r.stderr.decode().strip()
    assert err.startswith("espwatch: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_input_gives_one_line(tmp_path: Path, fixtures_dir) -> None:
    assert "no such file" in _one_line_error(espwatch("scan", str(tmp_path / "missing.log")))
    assert "directory" in _one_line_error(espwatch("scan", str(tmp_path)))
    elf = fixture_folder("rv32-inline-demo") / "demo.elf"
    assert "ELF file" in _one_line_error(espwatch("scan", str(elf)))
    image = fixtures_dir / "esp32c3-coredump-app" / "esp32c3.bin"
    assert "app image" in _one_line_error(espwatch("scan", str(image)))
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        locked = tmp_path / "locked.log"
        locked.write_text("x")
        locked.chmod(0)
        assert "cannot read" in _one_line_error(espwatch("scan", str(locked)))


def test_garbage_invalid_utf8_nul_and_huge_line_never_crash(tmp_path: Path) -> None:
    rnd = os.urandom(3 * 1024 * 1024)
    f = tmp_path / "garbage.log"
    f.write_bytes(b"\xff\xfe\x00" + rnd + b"\n" + b"A" * (10 * 1024 * 1024)
                  + b"\nBrownout detector was triggered\n\x00\x00\xc3(\n")
    r = espwatch("scan", "--json", str(f))
    assert r.returncode in (0, 1), r.stderr
    objs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    brown = [o for o in objs if o["kind"] == "brownout"]
    assert len(brown) == 1
    assert brown[0]["line"] == rnd.count(b"\n") + 3


def test_broken_pattern_folder_is_a_usage_error(tmp_path: Path, corpus_dir) -> None:
    (tmp_path / "bad.toml").write_text("[[pattern]]\ncode='EW990'\n")
    err = _one_line_error(espwatch("scan", "--patterns", str(tmp_path), str(corpus_dir / "a-esp32-ota-checksum-psram-4120.log")))
    assert "bad.toml" in err and "EW990" in err


def test_explain() -> None:
    r = espwatch("explain", "ew201")
    assert r.returncode == 0
    out = r.stdout.decode()
    assert "Checksum" in out and "What to check" in out and "https://" in out
    listing = espwatch("explain", "--list").stdout.decode().splitlines()
    assert len(listing) >= 50 and all(line.startswith("EW") for line in listing)
    assert "unknown code" in _one_line_error(espwatch("explain", "EW000"))


def test_text_summary_is_streamed_and_capped(tmp_path: Path) -> None:
    """Each boot is printed as the scan goes, with at most 200 events listed (the others counted)."""
    boot = ("rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
            + "abort() was called at PC 0x400d1234 on core 0\n" * 450)
    log = tmp_path / "dense.log"
    log.write_text(boot * 3)
    r = espwatch("scan", "--no-elf", str(log))
    assert r.returncode == 1
    out = r.stdout.decode().splitlines()
    assert out[0] == f"{log}:"
    assert sum(1 for line in out if "EW404" in line) == 3 * 200
    assert sum(1 for line in out if "... 250 more events in this boot (250 fatal abort)" in line) == 3
    assert out[-1] == "  total: 1,353 lines, 3 boot(s); 1350 fatal, 1 error, 3 info"  # + EW903


def test_empty_file_lists_no_boot_and_compressed_log_says_how_to_read_it(tmp_path: Path, corpus_dir) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    r = espwatch("scan", str(empty))
    assert r.returncode == 0, r.stderr
    assert "boot 1" not in r.stdout.decode() and "0 lines (the input is empty)" in r.stdout.decode()
    import gzip

    gz = tmp_path / "boot.log.gz"
    gz.write_bytes(gzip.compress((corpus_dir / "b-esp32-brownout-arduino-v3.log").read_bytes()))
    r = espwatch("scan", str(gz))
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and "is a gzip file, not a log" in err
    assert "zcat" in err and "espwatch triage" in err, err
