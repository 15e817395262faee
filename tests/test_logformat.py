"""Host timestamp prefixes and ESP-IDF / Arduino-ESP32 log records, from real corpus lines."""

from __future__ import annotations

import pytest

from espwatch.logformat import parse_line, split_host_time


@pytest.mark.parametrize(
    ("line", "host", "body"),
    [
        ("07:48:06.522 -> rst:0x1 (POWERON),boot:0xd (SPI_FAST_FLASH_BOOT)", "07:48:06.522",
         "rst:0x1 (POWERON),boot:0xd (SPI_FAST_FLASH_BOOT)"),
        ("[08:43:21]ESP-ROM:esp32s3-20210327", "08:43:21", "ESP-ROM:esp32s3-20210327"),
        ("[14:01:49.128][W][safe_mode:094]: OTA rollback detected!", "14:01:49.128",
         "[W][safe_mode:094]: OTA rollback detected!"),
        ("12:34:56.789 > E (100) wifi: x", "12:34:56.789", "E (100) wifi: x"),
        ("2024-03-01 10:11:12.345 I (5) boot: y", "2024-03-01 10:11:12.345", "I (5) boot: y"),
        ("2024-03-01T10:11:12.345Z I (5) boot: y", "2024-03-01T10:11:12.345Z", "I (5) boot: y"),
        ("[2024-03-01 10:11:12] I (5) boot: y", "2024-03-01 10:11:12", "I (5) boot: y"),
        ("[  1234][E][WiFiClient.cpp:42] connect(): fail", None, "[  1234][E][WiFiClient.cpp:42] connect(): fail"),
        ("1234 not a time", None, "1234 not a time"),
    ],
)
def test_host_prefix(line: str, host: str | None, body: str) -> None:
    assert split_host_time(line) == (host, body)


def test_idf_record() -> None:
    rec = parse_line("07:48:06.555 -> I (49) boot: chip revision: 3")
    assert (rec.host_time, rec.level, rec.device_time, rec.tag, rec.message) == (
        "07:48:06.555", "info", "49", "boot", "chip revision: 3")


def test_idf_system_time_record() -> None:
    rec = parse_line("E (12:34:56.789) esp_image: Checksum failed. Calculated 0xb3 read 0xcd")
    assert (rec.level, rec.device_time, rec.tag) == ("error", "12:34:56.789", "esp_image")


def test_arduino_record() -> None:
    rec = parse_line("[  1234][E][WiFiClient.cpp:42] connect(): fail")
    assert (rec.level, rec.device_time, rec.tag, rec.message) == ("error", "1234", "WiFiClient.cpp", "fail")


def test_plain_line_has_no_record() -> None:
    rec = parse_line("Backtrace: 0x400d0e9e:0x3ffb1f20")
    assert rec.level is None and rec.body.startswith("Backtrace")


def test_host_time_precheck_skips_only_lines_no_prefix_matches() -> None:
    """split_host_time tests a line's first characters before its regexes: never a prefix lost."""
    from espwatch.logformat import _HOST_PREFIXES

    def reference(text: str) -> tuple[str | None, str]:
        start = len(text) - len(text.lstrip(" \t"))
        if start >= len(text):
            return None, text
        for rx in _HOST_PREFIXES:
            m = rx.match(text, start)
            if m:
                return m.group("ts"), text[m.end():]
        return None, text

    heads = ["", " ", "\t", "1", "12", "123", "2024", "[", "[1", "\u0661", "\u0661\u0662", "x"]
    mids = ["", ":", "-", ":34", ":34:56", ":34:56.789", "-01-02", "-01-02 10:11:12", "-01-02T10:11:12.5Z"]
    tails = ["", " ", "> ", " -> ", "] ", "]", ": ", "| ", " E (1) t: m", "x"]
    n = 0
    for h in heads:
        for m in mids:
            for t in tails:
                for pre in ("", "  ", "[", "1"):
                    text = pre + h + m + t
                    assert split_host_time(text) == reference(text), text
                    n += 1
    assert n > 4000
