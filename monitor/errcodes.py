"""ESP-IDF's `esp_err_t` codes (patterns/data/esp_err.toml, made by tools/gen_esp_err.py): names, values,
descriptions, and the error numbers a device printed in a log line.

`lookup("0x1503")`, `lookup("5379")`, `lookup("ESP_ERR_OTA_VALIDATE_FAILED")` -> the codes it names;
`printed_errors(text)` -> the codes whose numbers a line carries in an error context (`err=0x105`,
`error 0x101`, `returned 0x1503`, `esp_err_t 0x103`), for the name to be shown next to the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from espwatch.events import Event

DATA = "data/esp_err.toml"

_NUMBER_IN_CONTEXT = (
    r"(?i:\b(?:err(?:or)?|ret(?:urn(?:ed)?)?|rc|res(?:ult)?|code|status|esp_err_t|failed|reason)\b)"
    r"\s*(?:=|:|is|with|\()?\s*(?:code\s*)?(?P<num>-?0x[0-9a-fA-F]{1,8}\b|-?\d{1,6}\b)")
"""An error number in an error context (compiled on first use)."""


_CONTEXT_WORDS = ("err", "ret", "rc", "res", "code", "status", "failed", "reason")
"""One of these is in the lower-cased text of an ASCII line wherever the regex above can match (a check
that costs far less than the regex on the many lines without one, e.g. a backtrace)."""


@lru_cache(maxsize=1)
def _number_in_context() -> re.Pattern[str]:
    return re.compile(_NUMBER_IN_CONTEXT)


@lru_cache(maxsize=1)
def _codes_by_value() -> dict[int, list[ErrorCode]]:
    out: dict[int, list[ErrorCode]] = {}
    for c in error_table().codes:
        out.setdefault(c.value, []).append(c)
    return out


@dataclass(frozen=True, slots=True)
class ErrorCode:
    name: str
    value: int
    description: str
    versions: tuple[str, ...]

    @property
    def hex(self) -> str:
        return f"0x{self.value:x}" if self.value >= 0 else str(self.value)


@dataclass(frozen=True)
class ErrorTable:
    codes: tuple[ErrorCode, ...]
    versions: tuple[str, ...]
    source: str

    def by_value(self, value: int) -> list[ErrorCode]:
        return [c for c in self.codes if c.value == value]

    def by_name(self, name: str) -> ErrorCode | None:
        want = name.strip().upper()
        return next((c for c in self.codes if c.name == want), None)


@lru_cache(maxsize=1)
def error_table() -> ErrorTable:
    """The table shipped with espwatch."""
    from espwatch.patterns import builtin_dir, read_toml

    data = read_toml(builtin_dir() / DATA)
    codes = tuple(ErrorCode(c["name"], int(c["value"]), c.get("description", ""),
                            tuple(c.get("versions", ()))) for c in data.get("code", []))
    return ErrorTable(codes, tuple(data.get("versions", ())), data.get("source", ""))


def parse_number(token: str) -> int | None:
    """`0x1503`, `5379`, `-1` -> the number; anything else -> None."""
    t = token.strip()
    try:
        return int(t, 16) if t.lower().lstrip("-").startswith("0x") else int(t, 10)
    except ValueError:
        return None


def lookup(query: str) -> list[ErrorCode]:
    """The codes a number or an ESP_ERR_/ESP_ name stands for (several names can share a value)."""
    table = error_table()
    code = table.by_name(query)
    if code is not None:
        return [code]
    value = parse_number(query)
    return table.by_value(value) if value is not None else []


def _matches_at_words(text: str, low: str) -> list[re.Match[str]]:
    """What `_number_in_context().finditer(text)` gives for an ASCII `text` (`low`: lower-cased), found by
    trying the regex only where a context word starts: the regex, scanning every position of a line with
    its case-insensitive alternatives, costs several microseconds a line (a panic line has `Error`)."""
    starts: set[int] = set()
    for word in _CONTEXT_WORDS:  # every alternative of the regex starts with one of them, or `esp_` `err`
        i = low.find(word)
        while i >= 0:
            starts.add(i)
            if word == "err" and i >= 4 and low.startswith("esp_", i - 4):
                starts.add(i - 4)
            i = low.find(word, i + 1)
    rx = _number_in_context()
    out: list[re.Match[str]] = []
    end = 0
    for i in sorted(starts):
        if i >= end:
            m = rx.match(text, i)  # (`\b` still sees the character before i)
            if m is not None:
                out.append(m)
                end = m.end()
    return out


def printed_errors(text: str) -> list[ErrorCode]:
    """The codes whose numbers `text` carries in an error context and whose names it does not print."""
    if text.isascii():  # (case-insensitive matching of non-ASCII text can meet these words otherwise)
        low = text.lower()
        if not ("err" in low or "ret" in low or "rc" in low or "res" in low or "code" in low
                or "status" in low or "failed" in low or "reason" in low):  # = _CONTEXT_WORDS, unrolled
            return []
        matches = _matches_at_words(text, low)
    else:
        matches = _number_in_context().finditer(text)
    out: list[ErrorCode] = []
    for m in matches:
        value = parse_number(m.group("num"))
        if value is None or value == 0:
            continue
        for code in _codes_by_value().get(value, ()):
            if code.name not in text and code not in out:
                out.append(code)
    return out


class ErrorNameStage:
    """Pipeline stage: `fields["esp_err"]` = the names of the esp_err_t numbers an event's line printed."""

    def process(self, ev: Event, boot: object = None) -> list[Event]:
        if ev.kind not in ("finding", "boot_loop") and "esp_err" not in ev.fields:
            names = [c.name for c in printed_errors(ev.text)]
            if names:
                ev.fields["esp_err"] = names
        return [ev]

    def finish(self) -> list[Event]:
        return []
