"""Recognise the parts of a log line: host timestamp prefix, ESP-IDF and Arduino-ESP32 log records.

Used per event and per displayed line, never per byte of a scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

# Host-side timestamp prefixes added by the tool that captured the log, tried in order.
_HOST_PREFIXES = [
    # Arduino IDE serial monitor: "07:48:06.489 -> "; PlatformIO `time` filter: "12:34:56.789 > "
    regex.compile(r"(?P<ts>\d{1,2}:\d{2}:\d{2}(?:\.\d{1,6})?) ?(?:->|>) ?"),
    # ESPHome and bracketed forms: "[08:43:21]", "[14:01:49.128]", "[2024-01-02 10:11:12.123]"
    regex.compile(
        r"\[(?P<ts>(?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,6})?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)\] ?"
    ),
    # ISO-8601 and idf.py monitor --timestamps ("2024-01-02 10:11:12.123 ", optional "> " or ": ")
    regex.compile(
        r"(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
        r"(?: ?(?:->|>|:|\|))? "
    ),
]

# Regex pieces shared by the pattern files and this module: a pattern writes `(?&name)` and the loader puts
# `(?:piece)` in its place (patterns.expand_pieces). One place for the shapes of log records.
REGEX_PIECES: dict[str, str] = {
    # ESP-IDF's time column: milliseconds, system time, date and time (log v2), as printed in the `( )`
    "idf_time": r"\d+|\d{1,2}:\d{2}:\d{2}\.\d{3}|\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}",
    # an ESP-IDF record's level and time up to the tag: `E (1234) `; log v2 may leave out the time: `E `
    "idf_e": r"(?<![\w])E(?: \((?&idf_time)\))? ",
    "idf_w": r"(?<![\w])W(?: \((?&idf_time)\))? ",
    "idf_ew": r"(?<![\w])[EW](?: \((?&idf_time)\))? ",
    "idf_i": r"(?<![\w])I(?: \((?&idf_time)\))? ",
    "idf_any": r"(?<![\w])[EWIDV](?: \((?&idf_time)\))? ",
    # an Arduino-ESP32 record up to its message: `[  1234][E][file.c:12] func(): `, `[E][file.c:12] func(): `
    "ard_file": r"[^\]\[\s]{1,80}",
    "ard_e": r"\[(?: *\d+\]\[)?E\]\[(?&ard_file)\] (?:[\w:~<>]{1,80}\(\): )?",
    "ard_ew": r"\[(?: *\d+\]\[)?[EW]\]\[(?&ard_file)\] (?:[\w:~<>]{1,80}\(\): )?",
    # one register of a panic dump (`PC      : 0x400d1234`, `MEPC    : 0x42000000`; 2016: `PC  :  400d09b6`)
    "reg": r"[A-Z][A-Z0-9/]{0,12} {0,8}: {0,4}(?:0x)?[0-9a-fA-F]{8}",
    # a line of a panic report after its first line, as printed between the panic line and the backtrace:
    # register dump heading and rows, ISR context, debug and memory-protection details, the faulting memory
    # and a stack guard's task, decoded addresses printed by older monitors
    "panic_dump": (
        r"(?:Core\s*\d+ )?[Rr]egister dump:|^\s*(?:(?&reg)\s*){1,8}$|Core\s*\d+ was running in ISR context:"
        r"|^Setting breakpoint at|^Debug exception reason:|^Detected in task"
        r"|^Stack pointer: 0x|^Stack bounds: 0x"
        r"|^\.?\s*Exception was unhandled|^Memory dump at 0x[0-9a-fA-F]{8}:"
        r"|^\s+(?:memory type|faulting address|world|operation type|byte-enables):"
        r"|^Core\s*\d+ [^\n]{0,40}operation at address|^(?:PMP|PMA|PMS)\w{0,12}\s*(?:\[\d+\])?\s*[:=]"
        r"|^\s*0x[0-9a-fA-F]{8}(?::| - )\s*\S|^\s+at \S"
    ),
    "hex": r"0x[0-9a-fA-F]+",
}
_PIECE_CALL = regex.compile(r"\(\?&(\w+)\)")


def expand_pieces(src: str, depth: int = 0) -> str:
    """`src` with each `(?&name)` of REGEX_PIECES replaced by its piece (other calls are left alone)."""
    if depth > 8 or "(?&" not in src:
        return src

    def sub(m: regex.Match[str]) -> str:
        piece = REGEX_PIECES.get(m.group(1))
        return m.group() if piece is None else "(?:" + expand_pieces(piece, depth + 1) + ")"

    return _PIECE_CALL.sub(sub, src)


_IDF = regex.compile(
    r"(?P<level>[EWIDV]) \((?P<time>(?:" + REGEX_PIECES["idf_time"] + r"))\) "
    r"(?P<tag>[^:\s][^:]{0,40}?): ?(?P<msg>.*)",
    regex.DOTALL,
)
_ARDUINO = regex.compile(
    r"\[ *(?P<time>\d+)\]\[(?P<level>[EWIDV])\]\[(?P<file>[^\]:]+):(?P<lineno>\d+)\] "
    r"(?:(?P<func>[\w:~<>]+)\(\): )?(?P<msg>.*)",
    regex.DOTALL,
)
# Arduino without the time stamp, and ESPHome: "[E][file.cpp:42] ...", "[W][safe_mode:094]: ..."
_ARDUINO_SHORT = regex.compile(
    r"\[(?P<level>[EWIDVC])\]\[(?P<file>[^\]:]+)(?::(?P<lineno>\d+))?\]:? "
    r"(?:(?P<func>[\w:~<>]+)\(\): )?(?P<msg>.*)",
    regex.DOTALL,
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
    if not (first.isdigit() or first == "["):
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
