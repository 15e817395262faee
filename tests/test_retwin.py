"""espwatch.retwin: on ASCII text a shipped regex and its `re` twin give the same matches."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import regex

from espwatch.lazyregex import LazyRegex
from espwatch.lines import clean_text
from espwatch.linetest import line_test, split_regexes
from espwatch.logformat import split_host_time
from espwatch.patterns import load_patterns
from espwatch.retwin import re_twin

ASCII = "".join(map(chr, range(128)))


def _shipped() -> dict[int, Any]:
    """Every regex of the shipped patterns, and the parts the block tests are split into."""
    out: dict[int, Any] = {}
    for p in load_patterns().matchers:
        rxs = [p.rx, *p.lists.values(), *p.flags.values(), *(sw.rx for sw in p.severity_when)]
        if p.block is not None:
            rxs += [r for r in (p.block.cont, p.block.end) if r is not None]
            rxs += [col.rx for col in p.block.collect]
            for r in (p.block.cont, p.block.end):
                if r is not None:
                    rxs += split_regexes(r)
        for rx in rxs:
            out[id(rx)] = rx
    return out


def _lines(corpus_dir: Path) -> list[str]:
    """Corpus lines as the detector sees them (cleaned, without the host time) and as they are, their
    variants, a few lines joined (a `join` block), and random mutations with every ASCII character."""
    lines: list[str] = []
    for p in sorted(corpus_dir.glob("*.log")):
        raws = p.read_bytes().split(b"\n")
        for i, raw in enumerate(raws):
            text = clean_text(raw)
            body = split_host_time(text)[1]
            lines += [raw.decode("ascii", "replace"), text, body, body.strip(), body.partition(" ")[2],
                      body.lower(), body.upper(), "".join(r.decode("latin-1").strip() for r in raws[i : i + 4])]
    rnd = random.Random(5)
    some = [ln for ln in lines if ln]
    for _ in range(4000):
        ln = rnd.choice(some)
        at = rnd.randrange(len(ln) + 1)
        lines.append(ln[:at] + "".join(rnd.choice(ASCII) for _ in range(rnd.randrange(1, 4))) + ln[at:])
    return [*sorted({ln for ln in lines if ln.isascii()}), "", " ", "\t", ASCII]


def _found(rx: Any, text: str) -> list[tuple[Any, ...]]:
    return [(m.span(), m.groups(), m.groupdict(), m.lastindex) for m in rx.finditer(text)]


def test_shipped_regexes_and_their_twins_match_alike(corpus_dir: Path) -> None:
    regexes = _shipped()
    lines = _lines(corpus_dir)
    twins = 0
    for rx in regexes.values():
        twin = re_twin(rx)
        if twin is None:
            continue
        twins += 1
        compiled = regex.compile(rx.pattern, rx.flags | regex.VERSION0)
        for text in lines:
            assert _found(twin, text) == _found(compiled, text), (rx.pattern, text)
            assert twin.findall(text) == compiled.findall(text), (rx.pattern, text)
            m1, m2 = twin.match(text), compiled.match(text)
            assert (m1 and (m1.span(), m1.groupdict())) == (m2 and (m2.span(), m2.groupdict())), (rx.pattern, text)
    assert twins >= 0.8 * len(regexes)  # most shipped regexes use nothing `regex`-specific


def test_block_tests_with_twins_give_the_answer_of_search(corpus_dir: Path) -> None:
    lines = [*_lines(corpus_dir), "Register dump: \u00e9", "  PC : 0x400d1234 \u00e9"]
    for p in load_patterns().matchers:
        for rx in (p.block.cont, p.block.end) if p.block is not None else ():
            if rx is None:
                continue
            test = line_test(rx)
            for text in lines:
                assert test(text) == (rx.search(text) is not None), (rx.pattern, text)


@pytest.mark.parametrize("src", [r"\s", r"\S", r"[\s]", r"[^\s]", r"a\s+b", r"[\sx]+", r"\\s", r"[\]\s]",
                                 r"[^]\s]", r"\w+", r"\W", r"\d", r"\b\w", r"\B.", r"(?i)k", r"(?s).", r"[a-f]"])
@pytest.mark.parametrize("flags", [0, regex.IGNORECASE])
def test_classes_on_every_ascii_character(src: str, flags: int) -> None:
    twin = re_twin(LazyRegex(src, flags, "test"))
    assert twin is not None
    compiled = regex.compile(src, flags | regex.VERSION0)
    for c in ASCII:
        for text in (c, c + "a" + c, "A" + c + " "):
            assert _found(twin, text) == _found(compiled, text), (src, text)


@pytest.mark.parametrize("src", [
    r"a{e<=1}",  # fuzzy matching: literal text to `re`
    r"[\S]",  # \S in a set: not spelled out here
    r"[[:alpha:]]",  # a POSIX class: `re` warns of a nested set
    r"(?P<x>a)|(?P<x>b)",  # one name on two alternatives
    r"\p{L}",
    r"(?<=a+)b",  # variable-width lookbehind
    r"a(?i)b",  # inline flags past the start
    "(?x) a # comment",
    r"a(?#[)\s",
    "\u00e9",
    r"[abc",
])
def test_no_twin_where_re_reads_otherwise(src: str) -> None:
    assert re_twin(LazyRegex(src, 0, "test")) is None


def test_no_twin_for_other_flags() -> None:
    assert re_twin(LazyRegex("ab", regex.VERSION1, "test")) is None
    assert re_twin(LazyRegex("ab", regex.ASCII, "test")) is None
    assert re_twin(LazyRegex("ab", regex.IGNORECASE | regex.DOTALL | regex.MULTILINE, "test")) is not None
