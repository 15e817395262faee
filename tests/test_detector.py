"""The detector on real lines: kinds, fields, blocks, and independence from chunking and prefilter engine."""

from __future__ import annotations

import pytest

from espwatch.detector import Detector
from espwatch.events import Event
from espwatch.patterns import load_patterns
from espwatch.prefilter import default_engine

PATTERNS = load_patterns()


def detect(data: bytes, chunk: int | None = None) -> list[Event]:
    det = Detector(PATTERNS)
    out: list[Event] = []
    step = chunk or max(1, len(data))
    for i in range(0, len(data), step):
        out.extend(det.feed(data[i : i + step]))
    out.extend(det.close())
    return out


# Real lines from ../shared/corpus (and ESP-IDF's own messages), with what must come out of them.
REAL_LINES = [
    ("E (5934) esp_image: Checksum failed. Calculated 0xb3 read 0xcd", "checksum_failed",
     {"calculated": "0xb3", "read": "0xcd"}),
    ("csum err:0x78!=0xfc", "checksum_failed", {"calculated": "0x78", "read": "0xfc"}),
    ("rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)", "reset_reason",
     {"code": "0xc", "name": "SW_CPU_RESET", "boot": "0x13", "boot_mode": "SPI_FAST_FLASH_BOOT"}),
    ("07:48:06.489 -> ESP-ROM:esp32c3-api1-20210207", "boot_banner", {"rom": "esp32c3-api1-20210207", "chip": "esp32c3"}),
    ("\ufffd\ufffd\ufffdESP-ROM:esp32s3-20210327", "boot_banner", {"chip": "esp32s3"}),
    ("ets Jun  8 2016 00:22:57", "boot_banner", {"rom": "ets Jun  8 2016 00:22:57"}),
    ("I (27) boot: ESP-IDF v4.3.1 2nd stage bootloader", "boot_banner", {"idf_version": "v4.3.1"}),
    ("I (287) boot: Loaded app from partition at offset 0x20000", "partition_loaded", {"offset": "0x20000"}),
    ("E (418) boot: OTA app partition slot 0 is not bootable", "ota_slot_not_bootable", {"slot": "0"}),
    ("E (397) boot: Factory app partition is not bootable", "ota_slot_not_bootable", {"slot": "Factory"}),
    ("E (449) boot: No bootable app partitions in the partition table", "ota_slot_not_bootable", {"slot": "none"}),
    ("E (399) esp_image: image at 0x110000 has invalid magic byte", "invalid_magic", {"address": "0x110000"}),
    ("E (9181) esp_ota_ops: OTA image has invalid magic byte (expected 0xE9, saw 0x3c)", "invalid_magic",
     {"expected": "0xE9", "value": "0x3c"}),
    ("invalid header: 0xffffffff", "invalid_magic", {"value": "0xffffffff"}),
    ("E (397) esp_image: Image length 1146800 doesn't fit in partition length 1048576", "invalid_magic",
     {"image_length": "1146800", "partition_length": "1048576"}),
    ("E (63753) esp_image: Image hash failed - image is corrupt", "hash_failed", {}),
    ("E (15593) ota: esp_ota_end failed with 'ESP_ERR_OTA_VALIDATE_FAILED (5379)'", "ota_error",
     {"err": "ESP_ERR_OTA_VALIDATE_FAILED", "code": "5379"}),
    ("E (355915) esp_https_ota: Decryption of image header failed", "ota_error",
     {"message": "Decryption of image header failed"}),
    ("[14:01:49.128][W][safe_mode:094]: OTA rollback detected! Rolled back from partition 'app1'", "rollback",
     {"from": "app1"}),
    ("13:27:59.733 -> flash read err, 1000", "flash_error", {"address": "1000", "operation": "read"}),
    ("E (452) spi_flash: Detected size(128k) smaller than the size in the binary image header(4096k). Probe failed.",
     "flash_error", {"detected_size": "128k", "header_size": "4096k"}),
    ("E (103) spiram: SPI RAM enabled but initialization failed. Bailing out.", "psram_error", {"tag": "spiram"}),
    ("[22:41:37]E (243) psram: PSRAM ID read error: 0x00ffffff", "psram_error", {"id": "0x00ffffff"}),
    ("abort() was called at PC 0x401027b7 on core 0", "abort", {"pc": "0x401027b7", "core": "0"}),
    ("assert failed: xQueueSemaphoreTake queue.c:1713 (pxQueue->uxItemSize == 0)", "assert",
     {"function": "xQueueSemaphoreTake", "file": "queue.c", "line": "1713",
      "expression": "pxQueue->uxItemSize == 0"}),
    ('assertion "head != NULL" failed: file "/x/multi_heap_poisoning.c", line 205, function: multi_heap_free',
     "assert", {"expression": "head != NULL", "line": "205", "function": "multi_heap_free"}),
    ("CORRUPT HEAP: Bad head at 0x3ffeb398. Expected 0xabba1234 got 0x3ffe4364", "heap_corrupt",
     {"address": "0x3ffeb398", "expected": "0xabba1234", "got": "0x3ffe4364"}),
    ("***ERROR*** A stack overflow in task loopTask has been detected.", "stack_overflow", {"task": "loopTask"}),
    ("Debug exception reason: Stack canary watchpoint triggered (btuT) ", "stack_overflow", {"task": "btuT"}),
    ("Brownout detector was triggered", "brownout", {}),
    ("Guru Meditation Error: Core   0 panic'ed (Interrupt wdt timeout on CPU0)", "int_wdt", {"cpu": "0"}),
    ("Guru Meditation Error: Core  1 panic'ed (Cache disabled but cached memory region accessed)",
     "cache_disabled_access", {"core": "1"}),
    ("0x40081b01: spi_flash_disable_interrupts_caches_and_other_cpu at cache_utils.c:105", "spi_flash_guard",
     {"address": "0x40081b01", "function": "spi_flash_disable_interrupts_caches_and_other_cpu"}),
    ("[08:43:21]E (323) esp_core_dump_flash: Core dump flash config is corrupted! CRC=0x7bd5c66f instead of 0x0",
     "coredump", {"crc": "0x7bd5c66f"}),
    # message formats from ESP-IDF's bootloader and esp_image sources
    ("E (123) esp_image: image at 0x10000 segment count 99 exceeds max 16", "invalid_magic", {}),
    ("E (40) esp_image: Image requires chip rev >= v3.0, but chip is v1.0", "invalid_magic",
     {"required": "v3.0", "actual": "v1.0"}),
    ("E (33) boot: ota data partition invalid, falling back to factory", "ota_error", {}),
    ("terminate called after throwing an instance of 'std::bad_alloc'", "cpp_exception", {"type": "std::bad_alloc"}),
    ("Stack smashing protect failure!", "stack_overflow", {}),
    ("***ERROR*** A stack overflow in task Tmr Svc has been detected.", "stack_overflow", {"task": "Tmr Svc"}),
]


@pytest.mark.parametrize(("line", "kind", "fields"), REAL_LINES, ids=[r[1] + str(i) for i, r in enumerate(REAL_LINES)])
def test_real_line(line: str, kind: str, fields: dict) -> None:
    events = [e for e in detect(line.encode() + b"\n") if e.kind == kind]
    assert len(events) == 1, [(e.kind, e.code) for e in detect(line.encode() + b"\n")]
    for k, v in fields.items():
        assert events[0].fields.get(k) == v, (k, events[0].fields)


def test_backtrace_frames_and_corrupted_flag() -> None:
    line = (b"Backtrace:0x40375c3e:0x3fce4b900x403824a5:0x3fce4bb0 0x403888d6:0x3fce4bd0 |<-CORRUPTED\n")
    (ev,) = [e for e in detect(line) if e.kind == "backtrace"]
    assert ev.fields["frames"] == ["0x40375c3e:0x3fce4b90", "0x403824a5:0x3fce4bb0", "0x403888d6:0x3fce4bd0"]
    assert ev.fields["corrupted"] is True


def test_panic_block_collects_registers_and_ends_on_the_dump(corpus_dir) -> None:
    data = (corpus_dir / "b-esp32-arduino-ide-timestamps-instrfetchprohibited.log").read_bytes()
    (panic,) = [e for e in detect(data) if e.kind == "panic"]
    assert (panic.line, panic.end_line) == (2, 9)
    assert panic.fields["cause"] == "InstrFetchProhibited"
    assert panic.fields["pc"] == "0x800d0e9e" and panic.fields["excvaddr"] == "0x800d0e9c"
    assert len(panic.block) == 7 and panic.block[0].startswith("Core 1 register dump")


def test_riscv_panic_registers(corpus_dir) -> None:
    data = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes()
    (panic,) = [e for e in detect(data) if e.kind == "panic"]
    assert (panic.line, panic.end_line) == (81, 92)
    assert panic.fields["mepc"] == "0x420037ce" and panic.fields["mtval"] == "0x00000000"


def test_task_wdt_block_lists_tasks(corpus_dir) -> None:
    data = (corpus_dir / "b-esp32-arduino-task-wdt-abort-ble.log").read_bytes()
    (wdt,) = [e for e in detect(data) if e.kind == "task_wdt"]
    assert (wdt.line, wdt.end_line) == (1, 6)
    assert wdt.fields["tasks"] == ["IDLE0"] and wdt.fields["cpu"] == "0"
    assert wdt.fields["running"] == ["Btc_task", "IDLE1"]


def test_partition_table_block_rows(corpus_dir) -> None:
    data = (corpus_dir / "a-esp32s3-https-ota-success-reboot-healthy.log").read_bytes()
    tables = [e for e in detect(data) if e.kind == "partition_table"]
    assert len(tables) == 2
    rows = tables[0].fields["partitions"]
    assert [r["label"] for r in rows][-2:] == ["ota_0", "ota_1"]
    assert rows[-1]["offset"] == "001d0000" and rows[-1]["usage"] == "OTA app"


def test_coredump_block_spans_start_to_end(corpus_dir) -> None:
    data = (corpus_dir / "b-esp32-storeprohibited-coredump-uart.log").read_bytes()
    (cd,) = [e for e in detect(data) if e.code == "EW801"]
    assert (cd.line, cd.end_line) == (39, 326)


def test_register_dump_cut_off_at_end_of_file() -> None:
    data = b"Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n" \
           b"Core  0 register dump:\nPC      : 0x400d467a  PS      : 0x00060130  A0      : 0x800d"
    (ev,) = [e for e in detect(data) if e.kind == "panic"]
    assert ev.line == 1 and ev.end_line == 2 and ev.severity == "fatal"


@pytest.mark.parametrize("name", [
    "b-esp32-storeprohibited-coredump-uart.log", "b-esp32s3-esphome-assert-do-core-init-timestamps.log",
    "a-esp32s3-https-ota-success-reboot-healthy.log", "b-esp32c3-abort-then-illegal-instruction.log",
])
def test_chunking_does_not_change_events(corpus_dir, name: str) -> None:
    data = (corpus_dir / name).read_bytes()
    whole = [e.to_json() for e in detect(data)]
    assert whole
    for chunk in (1, 5, 333, 4096):
        assert [e.to_json() for e in detect(data, chunk)] == whole


def test_fallback_prefilter_gives_the_same_events(corpus_dir) -> None:
    data = b"".join(p.read_bytes() for p in sorted(corpus_dir.glob("*.log")))
    fast = [e.to_json() for e in detect(data)]
    assert Detector(PATTERNS).prefilter_engine == default_engine()
    det = Detector(PATTERNS, fallback_prefilter=True)
    assert det.prefilter_engine == "re"
    slow = [e.to_json() for e in det.feed(data) + det.close()]
    assert slow == fast


def test_line_numbers_count_crlf_once_and_last_line_without_newline() -> None:
    data = b"x\r\ny\r\nBrownout detector was triggered\r\nz\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"
    events = detect(data, 3)
    assert [(e.kind, e.line) for e in events] == [("brownout", 3), ("reset_reason", 5)]
    assert events[0].text == "Brownout detector was triggered"


def test_old_task_wdt_format_without_tag() -> None:
    data = (b"Task watchdog got triggered. The following tasks did not reset the watchdog in time:\n"
            b" - IDLE (CPU 0)\nTasks currently running:\nCPU 0: loopTask\nCPU 1: IDLE\nnext line\n")
    (wdt,) = [e for e in detect(data) if e.kind == "task_wdt"]
    assert (wdt.line, wdt.end_line) == (1, 5)
    assert wdt.fields["tasks"] == ["IDLE"] and wdt.fields["running"] == ["loopTask", "IDLE"]
