"""Core dumps found in logs: the ESP-IDF v4.2 UART dump of the corpus (no ELF: Xtensa unwinds without one)
against esp-coredump's report of it, and a dump printed in a log decoded onto its event for scan, report
and the monitor's detail pane."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from gdb_report import parse_report

from espwatch.cli import main
from espwatch.coredump import decode_coredump
from espwatch.patterns import load_patterns
from espwatch.scan import scan_stream
from espwatch.tui.detail import event_plain

DATA = Path(__file__).parent / "data"


def test_old_uart_dump_without_elf_matches_esp_coredump(corpus_dir: Path) -> None:
    log = corpus_dir / "b-esp32-storeprohibited-coredump-uart.log"
    rep = decode_coredump(log.read_bytes(), name=log.name)
    gdb = parse_report((DATA / "esp-idf-monitor" / "core1_out.txt").read_text())
    assert (rep.source, rep.fmt, rep.version, rep.checksum_ok) == ("log", "elf", "1.0", True)
    assert (rep.first_line, rep.last_line) == (39, 326)
    assert rep.app_sha256 == "83cfeb53c9c00c61c4e52674e43654e4b452b7592075920977e491e06a4488d8"
    assert rep.crashed_task.tcb == gdb.crashed_tcb and rep.crashed_task.name == gdb.crashed_name == "main"
    assert rep.exception.name == "StoreProhibited" and rep.exception.address == 1
    assert [(t.tcb, t.name) for t in rep.tasks] == [(t.tcb, t.name) for t in gdb.threads]
    for gthread in gdb.threads:
        task = next(t for t in rep.tasks if t.tcb == gthread.tcb)
        # gdb with a dummy ELF prints every frame as `0xADDR in ?? ()`: the same addresses, frame by frame
        assert [f.pc for f in task.frames] == [f.addr for f in gthread.frames], gthread.name
    assert not rep.damage
    assert rep.elf_note.startswith("no ELF")


def test_log_with_a_core_dump_in_scan_report_and_detail(fixtures_dir: Path, tmp_path: Path, capsys,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    folder = fixtures_dir / "esp32-coredump-app"
    b64 = (folder / "coredump.b64").read_text().splitlines()
    log = tmp_path / "crash.log"
    log.write_text("\n".join(["I (401) esp_core_dump_uart: Press Enter to print core dump to UART...",
                              "================= CORE DUMP START =================", *b64,
                              "================= CORE DUMP END =================", "Rebooting..."]) + "\n")
    elf = str(folder / "esp32.elf")
    assert main(["scan", str(log), "--elf", elf, "--json"]) == 1
    event = next(json.loads(x) for x in capsys.readouterr().out.splitlines() if '"coredump"' in x)
    summary = event["fields"]["coredump"]
    assert summary["crashed_task"] == "main (TCB 0x3ffafba0)"
    assert summary["panic_reason"] == "abort() was called at PC 0x400d66b9 on core 0"
    assert [t["name"] for t in summary["tasks"]] == ["main", "IDLE0", "IDLE1", "ipc0", "esp_timer", "ipc1"]
    assert [f["function"] for f in event["frames"]][:4] == ["panic_abort", "esp_system_abort", "abort",
                                                           "fail_once"]
    main(["report", str(log), "--elf", elf])
    report = capsys.readouterr().out
    assert "Core dump decoded by espwatch (line 2):" in report
    assert re.search(r"Task 'ipc0' \(TCB 0x3ffaf354, blocked, priority 24, stack 448/560 used/free\)", report)
    ev = next(e for e in scan_stream(str(log), load_patterns()).events if e.kind == "coredump")
    assert ev.fields.get("coredump") is None  # without an ELF the block is only found, not decoded
    damaged = tmp_path / "damaged.log"
    damaged.write_text(log.read_text().replace(b64[100] + "\n", "").replace(b64[101] + "\n", ""))
    assert main(["scan", str(damaged), "--elf", elf, "--json"]) == 1
    event = next(json.loads(x) for x in capsys.readouterr().out.splitlines() if '"coredump"' in x)
    assert event["fields"]["coredump"]["damage"][0].startswith("the dump has 9300 of the 9396 bytes")


def test_detail_pane_text_of_a_decoded_core_dump(fixtures_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from espwatch.decoding import DecodeStage
    from espwatch.pipeline import Pipeline
    from espwatch.symbols import SymbolIndex

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    folder = fixtures_dir / "esp32c3-coredump-app"
    patterns = load_patterns()
    raw = b"".join(base64.b64decode(line) for line in (folder / "coredump.b64").read_text().split())
    text = "CORE DUMP START\n" + base64.encodebytes(raw).decode() + "CORE DUMP END\n"  # 76 characters a line
    index = SymbolIndex.load(folder / "esp32c3.elf")
    events = list(Pipeline(patterns, [DecodeStage(index, patterns.decode_codes)]).run([text.encode()]))
    ev = next(e for e in events if e.kind == "coredump")
    plain = event_plain(ev, patterns)
    assert "Core dump (decoded by espwatch):" in plain
    assert "Crashed task: main (TCB 0x3fc8ec30)" in plain
    assert "Task 'esp_timer' (TCB 0x3fc8da94, blocked" in plain
