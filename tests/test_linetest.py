"""espwatch.linetest: a block regex asked yes or no gives the answer of `search`, faster."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from espwatch.lazyregex import LazyRegex
from espwatch.linetest import line_test, required_literal, top_level_branches
from espwatch.patterns import load_patterns


@pytest.mark.parametrize(("src", "branches"), [
    ("a|b", ["a", "b"]),
    ("(?:^a|b)", ["^a", "b"]),
    ("(?:a)|(?:b)", ["(?:a)", "(?:b)"]),
    ("(?:a)b(?:c)", ["(?:a)b(?:c)"]),
    ("[|]|x", ["[|]", "x"]),
    ("[]|]x|y", ["[]|]x", "y"]),
    ("[^]|]|y", ["[^]|]", "y"]),
    (r"\||(?P<n>a|b)", [r"\|", "(?P<n>a|b)"]),
    (r"(?<=a|b)c|d", ["(?<=a|b)c", "d"]),
    ("(?i)a|b", None),
    ("(?i:a)|b", None),
    (r"(a)\1|b", None),
    ("[[:alpha:]]|b", None),
    ("(a|b", None),
    ("a)|(b", None),
])
def test_top_level_branches(src: str, branches: list[str] | None) -> None:
    assert top_level_branches(src) == branches


def _lines(corpus_dir: Path) -> list[str]:
    out = []
    for p in sorted(corpus_dir.glob("*.log")):
        for ln in p.read_text(errors="replace").splitlines():
            out += [ln, ln.strip(), ln.partition(" ")[2], ""]
    return out


def test_block_regexes_give_the_answer_of_search(corpus_dir: Path) -> None:
    """Every block regex of the shipped patterns, on every corpus line (and its variants)."""
    pats = load_patterns()
    regexes = {id(r): r for p in pats.matchers if p.block is not None
               for r in (p.block.cont, p.block.end) if r is not None}
    lines = _lines(corpus_dir)
    split = 0
    for rx in regexes.values():
        test = line_test(rx)
        if top_level_branches(rx.pattern) and any(b.startswith("^") for b in top_level_branches(rx.pattern)):
            split += 1
        for text in lines:
            assert test(text) == (rx.search(text) is not None), (rx.pattern, text)
    assert split >= 5  # the panic dump, backtrace, task watchdog... continuation regexes are split


@pytest.mark.parametrize("src", [
    r"(?:(?:Core\s*\d+ )?[Rr]egister dump:|^\s*PC\s*:|Core\s*\d+ was running|^Setting)",
    r"^(?=[^\n]*[0-9])\s*[0-9a-f]+$|^\s*\|<-CORRUPTED\s*$",
    r"(?:boot:|^)\s*(?:##|\d+\s+\S+)",
    r"^a|(?<=x)^b|c$",
    r"^(?:x|y)z|^$",
])
@pytest.mark.parametrize("flags", [0, regex.IGNORECASE])
def test_mixed_anchors(src: str, flags: int) -> None:
    rx = LazyRegex(src, flags, "test")
    test = line_test(rx)
    words = ["", " ", "Core 0 register dump:", "PC : 1", "  PC:", "Setting", "x", "xb", "b", "c", "ab",
             "0x40", " |<-CORRUPTED", "boot: ## x", " 12 nvs data", "z", "xz", "yz", "Register dump:", "A"]
    for a in words:
        for b in words:
            text = a + b
            assert test(text) == (rx.search(text) is not None), (src, text)


@pytest.mark.parametrize(("src", "flags", "lit"), [
    (r"(?<![\w/])PC\s*:\s*(?P<pc>0x[0-9a-f]{8})", 0, "PC"),
    (r'Detected in task "(?P<task>[^"]+)"', 0, 'Detected in task "'),
    (r"what\(\):\s*(?P<what>.+)", 0, "what():"),
    (r"abc?d", 0, "ab"),
    (r"abc*", 0, "ab"),
    (r"ab+c", 0, "ab"),
    (r"ab{2}", 0, None),
    (r"a\dbc", 0, None),
    (r"PC:", regex.IGNORECASE, None),
    (r"(?i)PC:", 0, None),
    (r"ab(?i:c)", 0, None),
    (r"abc|xyz", 0, None),
    (r"(?:abc)", 0, None),
    (r"(?=x)abc", 0, "abc"),
    (r"^abc", 0, None),
    (r"a.c", 0, None),
])
def test_required_literal(src: str, flags: int, lit: str | None) -> None:
    assert required_literal(src, flags) == lit


def test_required_literals_hold_on_the_corpus(corpus_dir: Path) -> None:
    """Every shipped regex (patterns, their lists and flags, block collect rules) with a required literal:
    no corpus line matches it without holding the literal."""
    pats = load_patterns()
    regexes = {}
    for p in pats.matchers:
        for rx in (p.rx, *p.lists.values(), *p.flags.values()):
            if rx is not None:
                regexes[id(rx)] = rx
        for col in p.block.collect if p.block is not None else ():
            regexes[id(col.rx)] = col.rx
    lines = _lines(corpus_dir)
    checked = 0
    for rx in regexes.values():
        lit = required_literal(rx.pattern, rx.flags)
        if lit is None:
            continue
        checked += 1
        for text in lines:
            if lit not in text:
                assert rx.search(text) is None, (rx.pattern, lit, text)
    assert checked >= 20
