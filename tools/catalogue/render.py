"""Render catalogue messages as a device prints them: realistic arguments, every log format and host prefix.

`render_message(msg)` gives the message texts (one per set of arguments) with the value of each conversion;
`log_lines(msg)` wraps each text in the log formats of its source (ESP-IDF with milliseconds, system time,
date and time, no time, colour; Arduino-ESP32 with and without its time column; raw prints) and each host
timestamp form that capture tools add (Arduino IDE, PlatformIO, bracketed, idf.py monitor --timestamps).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CONVERSION = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+|\*))?"
                        r"(?P<length>hh|h|ll|l|z|j|t|L)?(?P<conv>[diouxXcspfeEgG%])")

HOST_PREFIXES = {
    "none": "",
    "arduino-ide": "07:48:06.489 -> ",
    "platformio": "12:34:56.789 > ",
    "bracketed": "[14:01:49.128] ",
    "bracketed-date": "[2024-01-02 10:11:12.123] ",
    "idf-monitor": "2024-01-02 10:11:12.123 ",
}
_COLOUR = {"E": "31", "W": "33", "I": "32"}


@dataclass
class Rendering:
    """One printed line: the format it was rendered in, its text, and the value of each conversion."""

    fmt: str
    host: str
    text: str
    values: list[str]


def _pick(seed: int, options: list[Any]) -> Any:
    return options[seed % len(options)]


def _int_for(hint: str, seed: int) -> int:
    h = hint.lower()
    if "core" in h or "cpu" in h:
        return 1
    if "line" in h:
        return 123
    if re.search(r"\b(?:index|slot|i|idx|num|count|segment)\b", h):
        return _pick(seed, [1, 2, 3])
    if re.search(r"err|ret|rc\b|res\b|status|result", h):
        return _pick(seed, [5379, 261, 259])
    if re.search(r"addr|offset|pos|start|src|dest|pc\b", h):
        return _pick(seed, [0x10000, 0x110000, 0x3FFB2C40])
    if re.search(r"size|len|length|bytes", h):
        return _pick(seed, [1310720, 4096, 65536])
    return _pick(seed, [7, 42, 3, 12])


def _hex_for(hint: str, seed: int) -> int:
    h = hint.lower()
    if re.search(r"pc\b|ra\b|return_address|addr\b|entry", h):
        return _pick(seed, [0x400D1234, 0x42005A1C, 0x4008F3E2])
    if re.search(r"addr|offset|pos|start|src|dest", h):
        return _pick(seed, [0x10000, 0x110000, 0x9000])
    if re.search(r"err|ret|rc\b|res\b|status", h):
        return _pick(seed, [0x1503, 0x105, 0x103])
    if re.search(r"magic|value|id\b|word|head", h):
        return _pick(seed, [0xFF, 0x3C, 0x502A])
    if re.search(r"size|len|length", h):
        return _pick(seed, [0x140000, 0x1000])
    if "calc" in h:
        return _pick(seed, [0xB3, 0x18, 0x79])
    if "read" in h or "stored" in h or "expected" in h:
        return _pick(seed, [0xCD, 0x00, 0x7F])
    return _pick(seed, [0xB3, 0xCD, 0x1A, 0x7F])


def _str_for(hint: str, msg: dict[str, Any], seed: int) -> str:
    h = hint.lower()
    if hint.split(" ", 1)[0] in ("__func__", "__FUNCTION__", "__PRETTY_FUNCTION__", "func", "function"):
        return msg.get("function") or "app_main"
    if "err_to_name" in h:
        return _pick(seed, ["ESP_ERR_OTA_VALIDATE_FAILED", "ESP_ERR_NO_MEM", "ESP_FAIL"])
    if "errorstring" in h or "errortostring" in h or "error.c_str" in h:
        return _pick(seed, ["Flash Write Failed", "Magic Byte Is Wrong, not 0xE9", "connection refused"])
    if "sha" in h:
        return "3cd6b8c3de9a37b2"
    if re.search(r"flash size|size\s*:", h):
        return _pick(seed, ["4MB", "16MB"])
    if "task" in h or ("name" in h and "part" not in h):
        return _pick(seed, ["loopTask", "main", "IDLE0"])
    if "label" in h or "part" in h:
        return _pick(seed, ["ota_0", "ota_1", "factory"])
    if "file" in h:
        return "main.c"
    if "mode" in h:
        return "DIO"
    return _pick(seed, ["example", "timeout", "ota_0"])


def _format_value(spec: re.Match[str], value: Any) -> str:
    conv = spec["conv"]
    pyfmt = "%" + spec["flags"] + (spec["width"] or "") + (("." + spec["prec"]) if spec["prec"] else "")
    if conv in "diu":
        return (pyfmt + "d") % int(value)
    if conv in "xX":
        return (pyfmt + conv) % int(value)
    if conv == "p":
        return f"0x{int(value):08x}"
    if conv == "o":
        return (pyfmt + "o") % int(value)
    if conv == "c":
        return str(value)[:1]
    if conv in "feEgG":
        return (pyfmt + conv) % float(value)
    return (pyfmt + "s") % str(value)


def conversions(fmt: str) -> list[re.Match[str]]:
    """The conversions of a printf format (`%%` excluded)."""
    return [m for m in CONVERSION.finditer(fmt) if m["conv"] != "%"]


def render_text(fmt: str, values: list[str]) -> str:
    """Substitute already-rendered values for the conversions of `fmt`."""
    it = iter(values)
    out = []
    pos = 0
    for m in CONVERSION.finditer(fmt):
        out.append(fmt[pos:m.start()])
        out.append("%" if m["conv"] == "%" else next(it, ""))
        pos = m.end()
    out.append(fmt[pos:])
    return "".join(out)


def render_message(msg: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(text, values) for each set of arguments of a message: its `example_args`, else realistic ones."""
    fmt = msg["format"]
    convs = conversions(fmt)
    if msg.get("example_args"):
        out = []
        for example in msg["example_args"]:
            values = [str(v) for v in example]
            out.append((render_text(fmt, values), values))
        return out
    seed = zlib.crc32(msg["id"].encode())
    args = list(msg.get("args") or [])
    given = msg.get("arg_values") or {}
    values = []
    ai = 0
    for k, spec in enumerate(convs):
        if spec["width"] == "*" or spec["prec"] == "*":
            ai += 1  # the width argument
        hint = args[ai] if ai < len(args) else ""
        hint = f"{hint} {fmt[max(0, spec.start() - 16):spec.start()]}"  # the words before it say what it is
        conv = spec["conv"]
        if str(ai) in given:
            raw: Any = given[str(ai)]
        elif conv in "diu":
            raw = _int_for(hint, seed + k)
        elif conv in "xXp":
            raw = _hex_for(hint, seed + k)
        elif conv == "c":
            raw = "A"
        elif conv in "feEgG":
            raw = 1.5
        else:
            raw = _str_for(hint, msg, seed + k)
        values.append(_format_value(spec, raw))
        ai += 1
    return [(render_text(fmt, values), values)]


def _device_lines(msg: dict[str, Any], text: str) -> Iterator[tuple[str, str]]:
    """(format name, line) for one message text in every device log format of its source."""
    level, tag = msg["level"], msg.get("tag")
    if msg["source"] == "arduino-esp32":
        line = (msg.get("locations") or [{"line": 42}])[-1]["line"]
        where = f"{msg.get('file') or 'main.cpp'}:{line}"
        func = msg.get("function") or "setup"
        yield "arduino", f"[{12345:6}][{level}][{where}] {func}(): {text}"
        yield "arduino-short", f"[{level}][{where}] {func}(): {text}"
        colour = _COLOUR.get(level, "0")
        yield "arduino-colour", f"\x1b[0;{colour}m[  1234][{level}][{where}] {func}(): {text}\x1b[0m"
        return
    if level in ("E", "W", "I") and tag is not None:
        yield "idf", f"{level} (1234) {tag}: {text}"
        yield "idf-systime", f"{level} (00:01:30.042) {tag}: {text}"
        yield "idf-date", f"{level} (24-11-06 13:45:31.345) {tag}: {text}"
        yield "idf-notime", f"{level} {tag}: {text}"
        yield "idf-colour", f"\x1b[0;{_COLOUR[level]}m{level} (1234) {tag}: {text}\x1b[0m"
        return
    yield "print", text


def log_lines(msg: dict[str, Any]) -> Iterator[Rendering]:
    """Every rendering of a message: each argument set, device format and host prefix."""
    for text, values in render_message(msg):
        # A message printed with a line break inside gives several lines; the first is the event's.
        first = text.split("\n", 1)[0]
        for fmt_name, line in _device_lines(msg, first):
            for host_name, prefix in HOST_PREFIXES.items():
                yield Rendering(fmt_name, host_name, prefix + line, values)
