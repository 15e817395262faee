"""Search in the core (espwatch.search): literals through the scan's prefilter, regexes on candidate lines,
every capitalisation when ignoring case; the same lines as a plain regex over every cleaned line."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from espwatch.lines import clean_text
from espwatch.search import (
    SearchResult,
    compile_user_regex,
    plan,
    prefilter_for,
    required_literal,
    search_lines,
)


def naive(pattern: str, data: bytes) -> list[int]:
    rx = compile_user_regex(pattern)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return [i for i, raw in enumerate(lines, 1) if rx.search(clean_text(raw))]


def run(pattern: str, data: bytes, chunk: int = 4096, block: int | None = None) -> SearchResult:
    """The search over `data` in pieces that end at a line break, as LineIndex.iter_chunks gives them."""
    p = plan(pattern)
    res = SearchResult(p, bytes_total=len(data))
    chunks = []
    pos = 0
    while pos < len(data):
        buf = data[pos : pos + chunk] + b"tail of the next piece, read again"
        end = buf.rfind(b"\n", 0, chunk) + 1 or min(chunk, len(data) - pos)
        chunks.append((pos, buf, end))
        pos += end

    def line_of(offset: int) -> int:
        return data.count(b"\n", 0, offset) + 1

    blocks = None
    if block:  # LineIndex.blocks: line breaks before each `block` bytes
        blocks = [data.count(b"\n", 0, k) for k in range(0, len(data) + 1, block)]
    search_lines(p, chunks, line_of, res, blocks=blocks, block=block or 1 << 16)
    res.done = True
    return res


@pytest.mark.parametrize(("pattern", "literal", "whole"), [
    ("Guru Meditation", "Guru Meditation", True),
    ("abort\\(\\) was called", "abort() was called", True),
    ("task_wdt: .*IDLE", "task_wdt: ", False),
    ("rst:0x[0-9a-f]+ \\(", "rst:0x", False),
    ("ota_0|ota_1", None, False),
    ("colou?r", "colo", False),
    ("(spi|psram)_flash", "_flash", False),
    ("\\d+ bytes", " bytes", False),
    ("x", "x", True),
])
def test_required_literal(pattern: str, literal: str | None, whole: bool) -> None:
    assert required_literal(pattern) == (literal, whole)


def test_ignoring_case_the_prefilter_takes_every_capitalisation() -> None:
    p = plan("guru meditation")
    assert p.ignore_case and p.is_literal
    pf = prefilter_for(p)
    assert pf is not None and len(pf.literals) <= 32
    assert pf.find(b"xx GURU MEDITATION") and pf.find(b"Guru Meditation") and pf.find(b"guRu meditation")


def test_search_finds_the_lines_a_plain_regex_finds(corpus_dir: Path) -> None:
    data = b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in sorted(corpus_dir.glob("*.log")))
    data += b"\x1b[0;31mE (1) tag: Guru Meditation in colour\x1b[0m\n"
    patterns = ["Guru Meditation", "guru meditation", "Backtrace:", "backtrace", "abort\\(\\)", "0x4008",
                "rst:0x[0-9a-f]+", "ota_[01]", "E \\(\\d+\\)", "brownout|BROWN", "stack overflow",
                "checksum failed.*read", "Checksum", "ELF file SHA256", "zebra never there", "\\bcore\\b"]
    rnd = random.Random(5)
    words = [w for w in clean_text(data[:20000]).split() if len(w) > 3]
    patterns += rnd.sample(words, 10)
    for pattern in patterns:
        expected = naive(pattern, data)
        for block in (None, 1000, 65536):  # line numbers counted in the piece, or from the block index
            res = run(pattern, data, block=block)
            assert sorted(res.lines) == expected, (pattern, block)
            assert res.count == len(expected)
    assert run("zebra never there", data).count == 0


def test_text_split_by_a_colour_change(corpus_dir: Path) -> None:
    """Documented limit: the prefilter looks at the bytes the device sent, so a literal with a colour
    change inside it is not found; a regex whose literal is whole is matched on the text shown."""
    data = b"I (1) x: a\n\x1b[0;31mE (2) tag: Guru \x1b[0mMeditation\n"
    assert naive("Guru Meditation", data) == [2]
    assert run("Guru Meditation", data).count == 0
    assert sorted(run("Guru.Meditation", data).lines) == [2]


def test_line_index_offsets_and_pieces(tmp_path: Path, corpus_dir: Path) -> None:
    """What the monitor's search reads: pieces that end at line breaks and cover the file once, and the
    number of the line an offset is in, without counting the lines before."""
    from espwatch.tui.document import LineIndex

    data = b"".join(p.read_bytes() for p in sorted(corpus_dir.glob("*.log"))) * 3 + b"last line, no break"
    path = tmp_path / "all.log"
    path.write_bytes(data)
    index = LineIndex(path)
    try:
        for i in range(0, len(data), 70000):
            index.extend(data[i : i + 70000])
        rnd = random.Random(3)
        for off in [0, 1, len(data) - 1, *(rnd.randrange(len(data)) for _ in range(300))]:
            assert index.line_of_offset(off) == data.count(b"\n", 0, off) + 1
        pieces = list(index.iter_chunks(0, len(data), size=50000))
        assert b"".join(buf[:end] for _, buf, end in pieces) == data
        assert all(buf[:end].endswith(b"\n") for _, buf, end in pieces[:-1])
        assert [off for off, _, _ in pieces][1:] == [off + end for off, _, end in pieces][:-1]
    finally:
        index.close()
