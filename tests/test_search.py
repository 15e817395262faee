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


def run(pattern: str, data: bytes, chunk: int = 4096) -> SearchResult:
    p = plan(pattern)
    res = SearchResult(p, bytes_total=len(data))
    chunks = []
    pos, line = 0, 1
    while pos < len(data):  # chunks of whole lines, as LineIndex.iter_ranges gives them
        end = data.rfind(b"\n", pos, pos + chunk) + 1 or min(len(data), data.find(b"\n", pos) + 1 or len(data))
        if end <= pos:
            end = len(data)
        chunks.append((line, data[pos:end]))
        line += data.count(b"\n", pos, end)
        pos = end
    search_lines(p, chunks, res)
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
        res = run(pattern, data)
        expected = naive(pattern, data)
        assert sorted(res.lines) == expected, pattern
        assert res.count == len(expected)
    assert run("zebra never there", data).count == 0


def test_text_split_by_a_colour_change(corpus_dir: Path) -> None:
    """Documented limit: the prefilter looks at the bytes the device sent, so a literal with a colour
    change inside it is not found; a regex whose literal is whole is matched on the text shown."""
    data = b"I (1) x: a\n\x1b[0;31mE (2) tag: Guru \x1b[0mMeditation\n"
    assert naive("Guru Meditation", data) == [2]
    assert run("Guru Meditation", data).count == 0
    assert sorted(run("Guru.Meditation", data).lines) == [2]
