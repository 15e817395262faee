"""Recognise the parts of a log line: host timestamp prefix, ESP-IDF and Arduino-ESP32 log records.

Used per event and per displayed line, never per byte of a scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from espwatch.lazyregex import LazyRegex

# Host-side timestamp prefixes added by the tool that captured the log, tried in order. Every regex here is
# compiled on its first use: a log without host times or Arduino lines never compiles those.
_HOST_PREFIXES = [
    # Arduino IDE serial monitor: "07:48:06.489 -> "; PlatformIO `time` filter: "12:34:56.789 > "
    LazyRegex(r"(?P<ts>\d{1,2}:\d{2}:\d{2}(?:\.\d{1,6})?) ?(?:->|>) ?", 0, "logformat: host prefix"),
    # ESPHome and bracketed forms: "[08:43:21]", "[14:01:49.128]", "[2024-01-02 10:11:12.123]"
    LazyRegex(
        r"\[(?P<ts>(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,6})?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)\] ?", 0, "logformat: host prefix"
    ),
    # ISO-8601 and idf.py monitor --timestamps ("2024-01-02 10:11:12.123 ", optional "> " or ": ")
    LazyRegex(
        r"(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
        r"(?: ?(?:->|>|:|\|))? ", 0, "logformat: host prefix"
    ),
]

_IDF = LazyRegex(
    r"(?s)(?P<level>[EWIDV]) \((?P<time>\d+|\d{1,2}:\d{2}:\d{2}\.\d{3}"
    r"|\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})\) "
    r"(?P<tag>[^:\s][^:]{0,40}?): ?(?P<msg>.*)",
    0, "logformat: record",
)
_ARDUINO = LazyRegex(
    r"(?s)\[ *(?P<time>\d+)\]\[(?P<level>[EWIDV])\]\[(?P<file>[^\]:]+):(?P<lineno>\d+)\] "
    r"(?:(?P<func>[\w:~<>]+)\(\): )?(?P<msg>.*)",
    0, "logformat: record",
)
# Arduino without the time stamp, and ESPHome: "[E][file.cpp:42] ...", "[W][safe_mode:094]: ..."
_ARDUINO_SHORT = LazyRegex(
    r"(?s)\[(?P<level>[EWIDVC])\]\[(?P<file>[^\]:]+)(?::(?P<lineno>\d+))?\]:? "
    r"(?:(?P<func>[\w:~<>]+)\(\): )?(?P<msg>.*)",
    0, "logformat: record",
)

LEVELS = {"E": "error", "W": "warning", "I": "info", "D": "debug", "V": "verbose", "C": "config"}


@dataclass(slots=True)
class LogRecord:
    """A parsed line. `body` is the line without the host prefix; the rest is None when unknown."""

    body: str
    host_time: str | None = None
    level: str | None = None
    device_time: str | None = None
    tag: str | None = None
    message: str | None = None


def split_host_time(text: str) -> tuple[str | None, str]:
    """Split a host timestamp prefix from the line: (timestamp or None, rest).

    Indentation before the timestamp (a pasted log, a quoted block) is not part of the line.
    """
    if not text:
        return None, text
    start = 0
    if text[0] in " \t":
        start = len(text) - len(text.lstrip(" \t"))
        if start >= len(text):
            return None, text
    first = text[start]
    # What every prefix needs at its start, tested before the regexes (a line of digits, a base64 row of a
    # core dump, would try all three): "1:" / "12:" (clock), "2024-" (date), "[" and a digit.
    if first == "[":
        if not text[start + 1 : start + 2].isdigit():
            return None, text
    elif not first.isdigit() or not (":" in text[start + 1 : start + 3]
                                     or text[start + 4 : start + 5] == "-"):
        return None, text
    for rx in _HOST_PREFIXES:
        m = rx.match(text, start)
        if m:
            return m.group("ts"), text[m.end() :]
    return None, text


def parse_line(text: str) -> LogRecord:
    """Host timestamp, then ESP-IDF (`E (123) tag: msg`) or Arduino-ESP32 (`[  12][E][f.cpp:4] f(): msg`)."""
    host, body = split_host_time(text)
    rec = LogRecord(body=body, host_time=host)
    m = _IDF.match(body)
    if m:
        rec.level, rec.device_time, rec.tag, rec.message = (
            LEVELS[m["level"]], m["time"], m["tag"].strip(), m["msg"])
        return rec
    m = _ARDUINO.match(body) or _ARDUINO_SHORT.match(body)
    if m:
        rec.level = LEVELS[m["level"]]
        rec.device_time = m.groupdict().get("time")
        rec.tag = m["file"]
        rec.message = m["msg"]
    return rec


_HOST_CLOCK = LazyRegex(r"(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?", 0, "logformat: host clock")


def host_seconds(host_time: str | None) -> float | None:
    """Seconds since midnight of a host timestamp such as 13:27:59.733 or [08:43:21]."""
    if not host_time:
        return None
    m = _HOST_CLOCK.search(host_time)
    if m is None:
        return None
    h, mi, s, frac = m.groups()
    return int(h) * 3600 + int(mi) * 60 + int(s) + (float(f"0.{frac}") if frac else 0.0)
