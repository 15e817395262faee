"""espwatch.linetest: a block regex asked yes or no gives the answer of `search`, faster."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from espwatch.lazyregex import LazyRegex
from espwatch.linetest import line_test, top_level_branches
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
