"""`espwatch triage` as users run it: the table, JSON Lines, Markdown, exit status and bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
SAMPLES = ROOT / "samples"
ELF = ROOT / "tests" / "data" / "fleet" / "rv32-demo-O1.elf"


def espwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "espwatch", *args], capture_output=True, timeout=300, cwd=cwd,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def test_table_with_examples() -> None:
    r = espwatch("triage", "-j", "1", "--per-file", str(CORPUS), str(SAMPLES))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Per file:" in out and "a-esp32-mdf-factory-invalid-magic-idf31.log: 1 boots, device 30:ae:a4:00:43:84" in out
    assert out.startswith("espwatch triage: 63 logs, ")
    # app versions are comma-joined in a comma-joined headline: counted and in brackets (`1` is a version)
    assert re.search(r", \d+ firmware versions? \(1, 1\.4\.2, 95a1e4cd, ", out.splitlines()[0]), out.splitlines()[0]
    for heading in ("Crashes by signature: ", "Boot loops: ", "Findings by code: ", "OTA and image failures"):
        assert heading in out
    assert "StoreProhibited @ 0x400e37f4 < 0x400d0c2e < 0x40087015" in out
    assert "example: " in out and "Guru Meditation Error" in out
    assert "\x1b" not in out


def test_json_lines_groups_per_file_and_totals(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    r = espwatch("triage", "-j", "2", "--json", "--per-file", "-o", str(out), str(CORPUS))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    kinds = [x["record"] for x in recs]
    assert kinds == sorted(kinds, key=["file", "group", "totals"].index) and kinds[-1] == "totals"
    files = [x for x in recs if x["record"] == "file"]
    groups = [x for x in recs if x["record"] == "group"]
    assert len(files) == recs[-1]["files"] == 53
    assert {g["group"] for g in groups} == {"crash", "boot_loop", "finding", "ota"}
    for g in groups:
        assert {"key", "count", "files", "devices", "firmware", "elf_sha256", "first_seen", "last_seen",
                "file_time_first", "file_time_last", "example"} <= set(g)
        assert g["example"]["excerpt"] and g["files"] <= g["count"]
    assert sum(len(f["crashes"]) for f in files) == sum(g["count"] for g in groups if g["group"] == "crash")


def test_markdown_for_a_tracker(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    r = espwatch("triage", "-j", "1", "--markdown", "--per-file", str(CORPUS / "b-esp32s3-esphome-assert-do-core-init-timestamps.log"),
                 str(SAMPLES / "ota-switch-then-crash.log"))
    assert r.returncode == 0, r.stderr
    md = r.stdout.decode()
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    fences = [t.content for t in tokens if t.type == "fence"]
    assert any("Guru Meditation" in f or "assert failed" in f for f in fences)
    assert sum(1 for t in tokens if t.type == "table_open") >= 4
    assert "### Crashes by signature" in md and "### Per file" in md


def test_exit_status_and_one_line_errors(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(CORPUS / "b-esp32-arduino-loadprohibited-core1-null.log", logs / "a.log")
    shutil.copy(ELF, logs / "oops.log")  # an ELF file named like a log
    r = espwatch("triage", "-j", "1", str(logs))
    assert r.returncode == 1
    err = r.stderr.decode().strip().splitlines()
    assert any("oops.log is an ELF file" in e for e in err) and all(e.startswith("espwatch: ") for e in err)
    assert "Unreadable (1):" in r.stdout.decode() and "LoadProhibited" in r.stdout.decode()
    for args, needle in ((["triage", str(tmp_path / "none.log")], "no such file"),
                         (["triage", "--device-from", "(", str(logs)], "not a valid regex"),
                         (["triage", "-j", "0", str(logs)], "-j must be at least 1"),
                         (["triage", "--json", "--markdown", str(logs)], "not allowed with"),
                         (["triage", "--elf", str(logs / "a.log"), str(logs)], "not an ELF file"),
                         (["triage", "--patterns", str(tmp_path / "nope"), str(logs)], "not a directory")):
        r = espwatch(*args)
        assert r.returncode == 2, args
        assert needle in r.stderr.decode() and len(r.stderr.decode().strip().splitlines()) == 1, r.stderr


def test_device_from_path_and_elf_in_the_cli(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_fleet_signature import RV32_O1, RV32_O2, riscv_crash_log

    from espwatch.symbols.elf_locate import elf_sha256

    for unit, (elf, mepc, ra) in {"unit-7": (RV32_O2, 0x42000076, 0x42000194),
                                  "unit-9": (RV32_O1, 0x42000070, 0x42000198)}.items():
        (tmp_path / unit).mkdir()
        (tmp_path / unit / "boot.log").write_bytes(riscv_crash_log(elf_sha256(elf), "2.0", mepc, ra, "aa:bb:cc:dd:ee:ff"))
    r = espwatch("triage", "-j", "2", "--json", "--elf", str(RV32_O2), "--elf", str(RV32_O1),
                 "--device-from", r"(unit-\d+)", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (crash,) = [json.loads(x) for x in r.stdout.decode().splitlines() if '"group": "crash"' in x]
    assert crash["key"] == "Store access fault @ crash_here < main"
    assert crash["device_ids"] == ["unit-7", "unit-9"] and crash["count"] == 2 and crash["example"]["decoded"]


def test_help_lists_triage() -> None:
    r = espwatch("--help")
    assert "triage" in r.stdout.decode()
    r = espwatch("triage", "--help")
    assert r.returncode == 0 and "--dask" in r.stdout.decode() and "--device-from" in r.stdout.decode()
