"""The streaming line splitter: breaks, odd bytes, huge lines, any chunking."""

from __future__ import annotations

import random

from espwatch.lines import LineSplitter, clean_text


def split(data: bytes, chunk: int, max_line: int = 1 << 20) -> list[tuple[int, bytes, bool]]:
    sp = LineSplitter(max_line=max_line)
    out = []
    for i in range(0, len(data), chunk):
        out.extend((ln.number, ln.raw, ln.truncated) for ln in sp.feed(data[i : i + chunk]))
    out.extend((ln.number, ln.raw, ln.truncated) for ln in sp.flush())
    return out


def test_line_breaks_follow_events_md() -> None:
    data = b"a\r\nb\nc\rstill c\n\nlast"
    lines = split(data, 3)
    assert [(n, r) for n, r, _ in lines] == [(1, b"a"), (2, b"b"), (3, b"c\rstill c"), (4, b""), (5, b"last")]
    assert clean_text(b"c\rstill c") == "c still c"


def test_any_chunking_gives_the_same_lines(corpus_dir) -> None:
    data = (corpus_dir / "b-esp32-storeprohibited-coredump-uart.log").read_bytes()
    whole = split(data, len(data))
    rnd = random.Random(4)
    for chunk in (1, 2, 3, 17, 4096):
        assert split(data, chunk) == whole
    # random chunk boundaries
    sp = LineSplitter()
    got, i = [], 0
    while i < len(data):
        n = rnd.randint(1, 300)
        got.extend((ln.number, ln.raw, ln.truncated) for ln in sp.feed(data[i : i + n]))
        i += n
    got.extend((ln.number, ln.raw, ln.truncated) for ln in sp.flush())
    assert got == whole


def test_invalid_utf8_and_nul_are_kept_raw_and_replaced_in_text() -> None:
    raw = b"E (1) x: caf\xc3\xa9 \xff\xfe bad \x00nul"
    (line,) = [ln for ln in LineSplitter().feed(raw + b"\n")]
    assert line.raw == raw
    assert "\ufffd" in line.text and "\x00" not in line.text and "café" in line.text


def test_ansi_colours_are_removed_for_matching() -> None:
    assert clean_text(b"\x1b[0;31mE (5934) esp_image: Checksum failed\x1b[0m") == "E (5934) esp_image: Checksum failed"
    # the visible escape glyph some terminals leave in copied logs
    assert clean_text("\u241b[0;33mW (184) x: y\u241b[0m".encode()) == "W (184) x: y"


def test_ten_megabyte_line_is_truncated_and_counting_goes_on() -> None:
    big = b"x" * (10 * 1024 * 1024)
    data = b"first\n" + big + b"\nafter\n"
    lines = split(data, 65536, max_line=1 << 20)
    assert [n for n, _, _ in lines] == [1, 2, 3]
    assert lines[1][2] is True and len(lines[1][1]) == 1 << 20
    assert lines[2][1] == b"after"


def test_no_newline_at_all_keeps_memory_bounded() -> None:
    sp = LineSplitter(max_line=1000)
    for _ in range(1000):
        assert list(sp.feed(b"y" * 1000)) == []
    (line,) = list(sp.flush())
    assert line.number == 1 and line.truncated and len(line.raw) == 1000
