"""Every example line of issue 14 (lines from public threads that espwatch missed or misread), as unit tests,
and precision on innocent lines that carry trigger words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import scan_file

from espwatch.detector import Detector
from espwatch.diagnosis import DiagnosisStage, load_rules
from espwatch.events import Event
from espwatch.patterns import load_patterns

PATTERNS = load_patterns()
RULES = load_rules()
ROOT = Path(__file__).resolve().parent.parent


def detect(text: str) -> list[Event]:
    det = Detector(PATTERNS)
    return det.feed(text.encode("utf-8")) + det.close()


def one(text: str, kind: str) -> Event:
    events = [e for e in detect(text) if e.kind == kind]
    assert len(events) == 1, [(e.kind, e.code, e.line) for e in detect(text)]
    return events[0]


def diagnose(path: Path) -> list[Event]:
    _, events = scan_file(path, PATTERNS, stages=[DiagnosisStage(PATTERNS, RULES)])
    return events


def scan_exit(path: Path) -> int:
    out = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--no-elf", str(path)],
                         capture_output=True, text=True, timeout=120)
    return out.returncode


# -- lines that were missed ----------------------------------------------------------------------------
def test_partition_table_errors_are_errors(tmp_path: Path) -> None:
    log = tmp_path / "pt.log"
    log.write_text("ESP-ROM:esp32c3-api1-20210207\nI (23) boot: ESP-IDF v5.1 2nd stage bootloader\n"
                   "E (24) flash_parts: partition 0 invalid magic number 0x502a\n"
                   "E (30) boot: Failed to verify partition table\n"
                   "E (34) boot: load partition table error!\n", encoding="utf-8")
    events = [e for e in diagnose(log) if e.kind == "partition_table_error"]
    assert [e.line for e in events] == [3, 4, 5]
    assert events[0].fields["magic"] == "0x502a" and events[0].severity == "error"
    assert scan_exit(log) == 1  # a device that cannot boot is not "2 info, exit 0"


def test_rom_checksum_failure_of_newer_chips() -> None:
    ev = one("Checksum failure. Calculated 0x18 stored 0x00\nets_main.c 333 \n", "checksum_failed")
    assert (ev.fields["calculated"], ev.fields["read"]) == ("0x18", "0x00")


def test_psram_id_error_with_the_esp_idf5_tag() -> None:
    ev = one("E (175) quad_psram: PSRAM ID read error: 0x00ffffff, PSRAM chip not found or not supported, "
             "or wrong PSRAM line mode\n", "psram_error")
    assert ev.fields["id"] == "0x00ffffff" and ev.severity == "error"


def test_arduino_psram_init_failed() -> None:
    ev = one("[W][esp32-hal-psram.c:65] psramInit(): PSRAM init failed!\n", "psram_error")
    assert ev.severity == "warning"
    ev = one("[   412][W][esp32-hal-psram.c:71] psramInit(): PSRAM init failed!\n", "psram_error")
    assert ev.code == "EW314"


def test_assert_with_cpp_function_names() -> None:
    ev = one("assert failed: void setup() main.cpp:5 (0)\n", "assert")
    assert ev.fields == {"function": "void setup()", "file": "main.cpp", "line": "5", "expression": "0"}
    ev = one("assert failed: esp_err_t nvs_get_str(nvs_handle_t, const char*, char*, size_t*) "
             "src/nvs_api.cpp:521 (key != nullptr)\n", "assert")
    assert ev.fields["function"].startswith("esp_err_t nvs_get_str(") and ev.fields["line"] == "521"


def test_the_2016_panic_wording() -> None:
    ev = one("Guru Meditation Error of type InstrFetchProhibited occurred on core 0\n", "panic")
    assert (ev.fields["cause"], ev.fields["core"]) == ("InstrFetchProhibited", "0")


def test_idf_v2_loading_app_partition() -> None:
    ev = one("I (305) boot: Loading app partition at offset 00010000\n", "partition_loaded")
    assert ev.fields["offset"] == "00010000"


# -- register dumps as real logs interleave them ---------------------------------------------------------
XTENSA_ROWS = (
    "PC      : 0x400d2f71  PS      : 0x00060730  A0      : 0x800d60cb  A1      : 0x3ffb2640\n"
    "A2      : 0x00000000  A3      : 0x3ffb2694  A4      : 0x3ffb2660  A5      : 0x00000001\n"
    "EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0  LEND    : 0x4000c2f6  LCOUNT  : 0x00000000\n"
)
RISCV_ROWS = (
    "MEPC    : 0x42005a1c  RA      : 0x42005a12  SP      : 0x3fc8f5c0  GP      : 0x3fc8b400\n"
    "MSTATUS : 0x00001881  MTVEC   : 0x40380001  MCAUSE  : 0x00000007  MTVAL   : 0x00000000\n"
    "MHARTID : 0x00000000\n"
)


def test_memory_dump_before_the_register_dump() -> None:
    ev = one("Guru Meditation Error: Core  0 panic'ed (IllegalInstruction). Exception was unhandled.\n"
             "Memory dump at 0x400d2f6c: 00000000 00000000 00000000\n"
             "Core  0 register dump:\n" + XTENSA_ROWS + "\nBacktrace: 0x400d2f6e:0x3ffb2640\n", "panic")
    assert ev.fields["pc"] == "0x400d2f71" and ev.fields["memory_at"] == "0x400d2f6c"
    assert ev.end_line == 6


def test_monitor_decode_lines_inside_the_dump() -> None:
    ev = one("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n\n"
             "Core  0 register dump:\n"
             "PC      : 0x400d2f71  PS      : 0x00060730  A0      : 0x800d60cb  A1      : 0x3ffb2640\n"
             "--- 0x400d2f71: app_main at /project/main/main.c:12\n"
             "--- 0x800d60cb: main_task at /idf/components/freertos/app_startup.c:208\n"
             "A2      : 0x00000000  A3      : 0x3ffb2694  A4      : 0x3ffb2660  A5      : 0x00000001\n"
             "EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0  LEND    : 0x4000c2f6  LCOUNT  : 0x00000000\n",
             "panic")
    assert ev.fields["pc"] == "0x400d2f71" and ev.fields["excvaddr"] == "0x00000000"
    assert ev.end_line == 8


def test_memory_protection_block_before_the_dump() -> None:
    ev = one("Guru Meditation Error: Core  0 panic'ed (Memory protection fault). \n"
             "  memory type: IRAM0_SRAM\n  faulting address: 0x4037d000\n  world: 0\n  operation type: Write\n"
             "\nCore  0 register dump:\n" + RISCV_ROWS, "panic")
    assert ev.fields["pc"] == ev.fields["mepc"] == "0x42005a1c"


def test_indented_lines_with_host_timestamps() -> None:
    text = "".join(f"  13:27:59.733 -> {line}\n" for line in (
        "Guru Meditation Error: Core  1 panic'ed (StoreProhibited). Exception was unhandled.",
        "Core  1 register dump:", *XTENSA_ROWS.splitlines()))
    ev = one(text, "panic")
    assert ev.fields["pc"] == "0x400d2f71" and ev.host_time == "13:27:59.733"


def test_crlf_colour_and_riscv_pc() -> None:
    text = ("\x1b[0;31mGuru Meditation Error: Core  0 panic'ed (Load access fault). Exception was unhandled."
            "\x1b[0m\r\n\r\nCore  0 register dump:\r\n" + RISCV_ROWS.replace("\n", "\r\n"))
    ev = one(text, "panic")
    assert ev.fields["pc"] == ev.fields["mepc"] == "0x42005a1c" and ev.fields["mcause"] == "0x00000007"


def test_every_crash_kind_from_a_panic_report_carries_the_pc() -> None:
    text = ("Guru Meditation Error: Core  0 panic'ed (Interrupt wdt timeout on CPU0). \n"
            "Core  0 register dump:\n" + XTENSA_ROWS)
    for ev in detect(text):
        assert ev.fields.get("pc") == "0x400d2f71", (ev.kind, ev.fields)


def test_a_2016_dump_without_0x() -> None:
    ev = one("Guru Meditation Error: Core   0 panic'ed (Interrupt wdt timeout on CPU0)\nRegister dump:\n"
             "PC      :  400d09b6  PS      :  00060034  A0      :  40080ed9  A1      :  3ffb1560  \n", "panic")
    assert ev.fields["pc"] == "0x400d09b6"


# -- layouts as pasted -----------------------------------------------------------------------------------
FRAMES = [f"0x400d{i:04x}:0x3ffb{i:04x}" for i in range(0x1000, 0x1000 + 19)]


def test_backtrace_wrapped_over_lines_keeps_every_frame() -> None:
    full = "Backtrace: " + " ".join(FRAMES)
    cut = 80  # a terminal 80 columns wide, cutting frames in the middle
    lines = [full[i:i + cut] for i in range(0, len(full), cut)]
    ev = one("\n".join(lines) + "\n\nELF file SHA256: 3cd6b8c3de9a37b2\n", "backtrace")
    assert ev.fields["frames"] == FRAMES
    assert ev.end_line == len(lines)


def test_rom_banner_glued_after_a_cut_line(tmp_path: Path) -> None:
    log = tmp_path / "glued.log"
    log.write_text("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
                   "I (287) boot: Loaded app from partition at offset 0x10000\n"
                   "I (5440) app: sending telemetry paylo"
                   "ncets Jun  8 2016 00:22:57\n\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n",
                   encoding="utf-8")
    pipe, events = scan_file(log)
    banners = [e for e in events if e.kind == "boot_banner"]
    assert [e.line for e in banners] == [3] and banners[0].fields["rom"] == "ets Jun  8 2016 00:22:57"
    assert len(pipe.sessions) == 2 and pipe.sessions[1].start_line == 3
    assert pipe.sessions[1].facts["reset_reason"] == "SW_CPU_RESET"


def test_partition_table_with_collapsed_spacing(tmp_path: Path) -> None:
    rows = ["## Label Usage Type ST Offset Length", "0 nvs WiFi data 01 02 00009000 00006000",
            "1 otadata OTA data 01 00 0000f000 00002000", "2 phy_init RF data 01 01 00011000 00001000",
            "3 ota_0 OTA app 00 10 00020000 00100000", "4 ota_1 OTA app 00 11 00120000 00100000"]
    for sep in (" ", ""):  # spaces collapsed to one, or lost after the tag
        log = tmp_path / "pt.log"
        log.write_text("I (56) boot: Partition Table:\n" + "".join(f"I (60) boot:{sep}{r}\n" for r in rows)
                       + "I (90) boot: End of partition table\n"
                       + "I (95) boot: Loaded app from partition at offset 0x120000\n", encoding="utf-8")
        _, events = scan_file(log)
        (table,) = [e for e in events if e.kind == "partition_table"]
        assert [r["label"] for r in table.fields["partitions"]] == ["nvs", "otadata", "phy_init", "ota_0",
                                                                    "ota_1"]
        (loaded,) = [e for e in events if e.kind == "partition_loaded"]
        assert loaded.fields["label"] == "ota_1"


def test_monitor_annotations_do_not_cut_a_task_list() -> None:
    ev = one("E (5012) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the "
             "watchdog in time:\nE (5012) task_wdt:  - IDLE0 (CPU 0)\n--- Warning: checksum mismatch\n"
             "E (5012) task_wdt: Tasks currently running:\nE (5012) task_wdt: CPU 0: busy_task\n", "task_wdt")
    assert ev.fields["tasks"] == ["IDLE0"] and ev.fields["running"] == ["busy_task"]


# -- boot loops, findings ------------------------------------------------------------------------------
def test_poweron_boots_each_ending_in_the_same_rom_error_are_a_loop() -> None:
    events = diagnose(ROOT / "samples" / "rom-flash-read-err-poweron-loop.log")
    loops = [e for e in events if e.kind == "boot_loop"]
    assert len(loops) == 1 and loops[0].fields["cause"] == "failure" and loops[0].fields["resets"] == 9
    assert any(e.code == "EW927" for e in events)


GUARD = "0x40081b01: spi_flash_disable_interrupts_caches_and_other_cpu at /idf/components/spi_flash/cache_utils.c:105\n"


def test_ew909_not_on_a_guard_frame_in_a_watchdog_report(tmp_path: Path) -> None:
    log = tmp_path / "wdt.log"
    log.write_text("E (5012) task_wdt: Task watchdog got triggered. The following tasks did not reset the "
                   "watchdog in time:\nE (5012) task_wdt:  - IDLE0 (CPU 0)\nE (5012) task_wdt: Tasks currently "
                   "running:\nE (5012) task_wdt: CPU 0: ota_task\n"
                   "Backtrace: 0x40081b01:0x3ffb0f40 0x400d1234:0x3ffb0f60\n" + GUARD, encoding="utf-8")
    events = diagnose(log)
    assert any(e.kind == "spi_flash_guard" for e in events)
    assert not [e for e in events if e.code == "EW909"]


def test_ew909_not_on_a_guard_frame_in_a_stack_overflow(tmp_path: Path) -> None:
    log = tmp_path / "canary.log"
    log.write_text("Guru Meditation Error: Core  0 panic'ed (Unhandled debug exception). \n"
                   "Debug exception reason: Stack canary watchpoint triggered (ota_task) \n"
                   "Core  0 register dump:\n" + XTENSA_ROWS + "\nBacktrace: 0x40081b01:0x3ffb0f40\n" + GUARD,
                   encoding="utf-8")
    assert not [e for e in diagnose(log) if e.code == "EW909"]


def test_ew909_on_a_cache_error_and_on_a_guard_frame_in_a_crash(tmp_path: Path) -> None:
    log = tmp_path / "cache.log"
    log.write_text("Guru Meditation Error: Core  1 panic'ed (Cache disabled but cached memory region accessed)."
                   "\nCore  1 register dump:\n" + XTENSA_ROWS, encoding="utf-8")
    assert [e for e in diagnose(log) if e.code == "EW909"]
    log.write_text("Guru Meditation Error: Core  0 panic'ed (IllegalInstruction). Exception was unhandled.\n"
                   "Core  0 register dump:\n" + XTENSA_ROWS + "\nBacktrace: 0x400d2f6e:0x3ffb2640 "
                   "0x40081b01:0x3ffb0f40\n" + GUARD, encoding="utf-8")
    (finding,) = [e for e in diagnose(log) if e.code == "EW909"]
    assert "crashing backtrace" in finding.text


def test_ew926_says_which_line_failed(tmp_path: Path) -> None:
    log = tmp_path / "psram.log"
    log.write_text("E (175) quad_psram: PSRAM ID read error: 0x00ffffff, PSRAM chip not found or not supported\n"
                   "I (180) cpu_start: Pro cpu start user code\n", encoding="utf-8")
    (finding,) = [e for e in diagnose(log) if e.code == "EW926"]
    assert "<" not in finding.text and "PSRAM ID read error" in finding.text


# -- encodings -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16-le-bom", "utf-16-le", "utf-16-be-bom", "utf-16-be", "utf-8-sig"])
def test_utf16_and_bom_logs_are_read(tmp_path: Path, encoding: str) -> None:
    text = ("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nflash read err, 1000\r\n"
            "ets_main.c 371 \r\n")
    codec = encoding.removesuffix("-bom")
    data = text.encode(codec)
    if encoding.endswith("-bom"):
        data = ("\ufeff".encode(codec)) + data
    log = tmp_path / "ps5.log"
    log.write_bytes(data)
    _, events = scan_file(log)
    assert [(e.kind, e.line) for e in events] == [("reset_reason", 1), ("flash_error", 2)]
    assert scan_exit(log) == 1


def test_unreadable_encoding_is_said(tmp_path: Path) -> None:
    log = tmp_path / "odd.log"
    log.write_bytes(bytes([0, 0, 0x41, 0x8F]) * 400)
    out = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--no-elf", str(log)],
                         capture_output=True, text=True, timeout=120)
    assert "encoding espwatch cannot read" in out.stderr and "no events" in out.stdout


# -- precision -------------------------------------------------------------------------------------------
INNOCENT = [
    "E (1200) quota_mgr: quota exceeded",
    "I (300) app: Start OTA server on port 8080",
    "I (301) app: rollback_enabled: 1",
    "I (302) heap: free 12345",
    "I (303) app: ota_url=https://example.com/fw.bin",
    "W (304) totals: 3 updates pending",
    "I (305) app: checksum of config block OK",
    "I (306) app: assertions enabled",
    "I (307) app: partition scheme: default",
    "I (308) mqtt: Subscribed to ota/cmd",
    "W (309) sensor: brownout threshold set to 2.7V",
    "I (310) app: PSRAM test passed",
    "I (311) app: free heap 123456, largest block 65536",
    "I (312) app: next update check in 3600 s",
    "[   120][I][app.cpp:12] setup(): OTA ready",
    "I (313) wifi: total time 1234 ms",
]


@pytest.mark.parametrize("line", INNOCENT)
def test_innocent_lines_with_trigger_words_stay_silent(line: str) -> None:
    assert detect(line + "\n") == []


def test_healthy_log_with_innocent_lines_exits_0(tmp_path: Path) -> None:
    log = tmp_path / "healthy.log"
    log.write_text("\n".join(INNOCENT) + "\n", encoding="utf-8")
    assert scan_exit(log) == 0
