"""Fuzz targets for text: the line reader, the detector (whole vs chunked), the pattern loader, the
sanitiser, and redaction + Markdown."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path

from espwatch.detector import Detector
from espwatch.errors import PatternError
from espwatch.lines import LineSplitter, clean_text
from espwatch.patterns import PatternSet, load_file, load_patterns
from espwatch.redact import Redactor
from espwatch.render.markdown import fence, md_cell, md_text
from espwatch.sanitize import clean_line, for_markdown, for_terminal, json_line, quote, sgr_text
from fuzz.harness import Target

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
IN_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]")  # what clean_line may not leave (TAB stays)
LOG_TOKENS = (
    b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n", b"ets Jun  8 2016 00:22:57\n",
    b"Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n",
    b"Backtrace: 0x400d1234:0x3ffb1230 0x400d5678:0x3ffb1250 |<-CORRUPTED\n",
    b"PC      : 0x400d1234  PS      : 0x00060530  A0      : 0x800d5678\n", b"abort() was called at PC 0x4008",
    b"E (30192) esp_image: Checksum failed. Calculated 0xb3 read 0xcd\n", b"I (45) boot: Loaded app from ",
    b"Task watchdog got triggered", b"CORE DUMP START", b"CORE DUMP END", b"\x1b[0;31m", b"\x1b[0m",
    b"\x1b]0;title\x07", b"\x1b]52;c;", b"\x1b\\", b"ELF file SHA256: ", b"password=", b"Authorization: ",
    b"Basic ", b"Bearer ", b"https://user:pass@", b"-----BEGIN PRIVATE KEY-----",
    b"-----END PRIVATE KEY-----",
    b"\xe2\x90\x9b[0;32m", b"?[0;33m", b"boot: Partition Table:", b"brownout", b"\r", b"\n\n\n",
)


def _corpus_heads(limit: int = 4096, count: int = 40) -> list[bytes]:
    logs = [*sorted((ROOT / "tests" / "data" / "corpus").glob("*.log")),
            *sorted((ROOT / "samples").glob("*.log"))]
    return [p.read_bytes()[:limit] for p in logs[:count]]


@cache
def _patterns() -> PatternSet:
    return load_patterns()


# -- lines -----------------------------------------------------------------------------------------------
def _cuts(data: bytes) -> list[int]:
    """Chunk boundaries chosen from the input's own hash (deterministic per input)."""
    h = hashlib.sha256(data).digest()
    cuts, pos, i = [], 0, 0
    while pos < len(data):
        pos += 1 + h[i % 32] % 37
        i += 1
        cuts.append(min(pos, len(data)))
    return cuts


def _chunks(data: bytes) -> list[bytes]:
    out, prev = [], 0
    for c in _cuts(data):
        out.append(data[prev:c])
        prev = c
    return out


def run_lines(data: bytes) -> None:
    whole = LineSplitter(max_line=64)
    a = [*whole.feed(data), *whole.flush()]
    split = LineSplitter(max_line=64)
    b = [line for chunk in _chunks(data) for line in split.feed(chunk)] + list(split.flush())
    assert [(x.number, x.raw, x.truncated) for x in a] == [(x.number, x.raw, x.truncated) for x in b]
    expected = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    assert len(a) == expected, (len(a), expected)
    for line in a:
        assert len(line.raw) <= 64 and b"\n" not in line.raw
        text = clean_text(line.raw)
        assert IN_LINE.search(text) is None, repr(text)


def run_detector(data: bytes) -> None:
    pats = _patterns()
    one = Detector(pats)
    a = one.feed(data) + one.close()
    two = Detector(pats)
    b = [ev for chunk in _chunks(data) for ev in two.feed(chunk)] + two.close()
    key = [(e.kind, e.line, e.end_line, e.code, e.text, e.block) for e in a]
    assert key == [(e.kind, e.line, e.end_line, e.code, e.text, e.block) for e in b]
    assert one.lines_seen == two.lines_seen
    for e in a:
        assert 1 <= e.line <= e.end_line <= max(1, one.lines_seen) + 1
        json_line(e.to_json())


# -- patterns --------------------------------------------------------------------------------------------
class _MemFile:
    """A pattern file in memory (what load_file reads: name, read_text)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.name = "fuzz.toml"

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)

    def __str__(self) -> str:
        return self.name


def run_patterns(data: bytes) -> None:
    try:
        pats = load_file(_MemFile(data))  # type: ignore[arg-type]
        PatternSet(pats)
    except PatternError as exc:
        msg = str(exc)
        assert "\n" not in msg.strip() or "TOML" in msg, msg
        return


def _pattern_seeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "patterns").glob("*.toml"))]


# -- sanitiser -------------------------------------------------------------------------------------------
def run_sanitizer(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")
    shown = for_terminal(text)
    assert FORBIDDEN.search(shown) is None, repr(shown)
    assert for_terminal(shown) == shown
    assert FORBIDDEN.search(for_markdown(text)) is None
    for line in text.split("\n"):
        cleaned = clean_line(line)
        assert IN_LINE.search(cleaned) is None, repr(cleaned)
        t = sgr_text(line)
        assert FORBIDDEN.search(t.plain) is None, repr(t.plain)
        assert all(0 <= s.start <= s.end <= len(t.plain) and not s.style.link for s in t.spans)
    q = quote(text)
    assert FORBIDDEN.search(q) is None and "\n" not in q and len(q) < 160
    obj = {"text": text}
    assert json.loads(json_line(obj)) == obj and FORBIDDEN.search(json_line(obj)) is None


# -- redaction and Markdown ------------------------------------------------------------------------------
MARK = "Zq9xK2mW7pL4"


def run_redaction(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    h = hashlib.sha256(data).digest()
    # a known secret, planted in one line as its own `password=` pair: it must never come out
    i = h[0] % len(lines)
    at = h[1] % (len(lines[i]) + 1)
    lines[i] = lines[i][:at] + f" password={MARK} " + lines[i][at:]
    red = Redactor(wifi=bool(h[2] & 1), mac=bool(h[2] & 2))
    out = [t for _, t in red.redact_lines(enumerate(lines, 1))]
    assert len(out) == len(lines)
    assert all(MARK not in t for t in out), [t for t in out if MARK in t]
    block = fence(out, "text")
    body = [for_markdown(t) for t in out]
    ticks = block.split("\n", 1)[0].removesuffix("text")
    assert set(ticks) == {"`"} and all(ticks not in ln for ln in body)  # nothing can close the fence
    for t in out[:20]:
        for s in (md_text(t), md_cell(t)):
            assert "\n" not in s and FORBIDDEN.search(s) is None
            assert re.search(r"(?<!\\)\|", s) is None  # a cell cannot be split by its content


TARGETS = [
    Target("lines", run_lines, lambda: _corpus_heads(2048), "LineSplitter whole vs chunked, clean_text",
           max_len=8192, tokens=LOG_TOKENS),
    Target("detector", run_detector, lambda: _corpus_heads(4096),
           "Detector: the same events whether the input comes whole or in chunks", max_len=16384,
           tokens=LOG_TOKENS),
    Target("patterns", run_patterns, _pattern_seeds, "pattern file loader: PatternError only",
           max_len=32768, tokens=(b"[[pattern]]\n", b"code = \"EW999\"\n", b"regex = '", b"literals = [",
                                  b"block = {", b"severity = ", b"kind = ", b"'''", b"\"\"\"", b"(?i)",
                                  b"(?P<", b"]]", b"{", b"}", b"=", b"\\")),
    Target("sanitizer", run_sanitizer, lambda: [*_corpus_heads(1024, 10), b"\x1b]0;t\x07\x1b[31mx\xc2\x9b2J"],
           "for_terminal / clean_line / sgr_text / quote / json_line: no control gets out",
           max_len=4096, tokens=LOG_TOKENS),
    Target("redaction", run_redaction, lambda: _corpus_heads(2048, 20),
           "Redactor + Markdown: a planted secret never survives, fences and cells cannot be broken",
           max_len=8192, tokens=(*LOG_TOKENS, b"`", b"```", b"|", b'"', b"'", b"=", b":", b"&", b",")),
]
