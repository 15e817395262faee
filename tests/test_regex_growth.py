"""Every pattern and rule regex runs in linear time on adversarial lines built from its own characters.

A line from a device can be up to `lines.MAX_LINE` long and binary noise can repeat a pattern's literal
thousands of times. For each regex, inputs are built from its literals and the characters of its source
(the literal repeated, the literal then spaces, the literal then its characters...); the slowest at 10 kB
is timed again at 100 kB. Linear matching grows about 10x; quadratic matching about 100x. The test fails
above GROWTH_LIMIT, measured as the best of several runs (the machine is shared: no absolute times).
The slowest regex at 100 kB is printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import regex

from espwatch.detector import Detector
from espwatch.diagnosis import load_rules
from espwatch.patterns import load_patterns

GROWTH_LIMIT = 40.0
PROBE, SMALL, BIG = 4_000, 10_000, 100_000
PROBE_TIMEOUT = 0.5
"""Seconds one search of 4 kB may take: far beyond any linear regex, reached by a quadratic one."""


def pattern_regexes() -> Iterator[tuple[str, regex.Pattern[str], list[str]]]:
    blocks: set[int] = set()
    for p in load_patterns().matchers:
        assert p.rx is not None
        yield f"{p.code} regex", p.rx, p.literals
        for name, rx in p.lists.items():
            yield f"{p.code} lists.{name}", rx, p.literals
        for name, rx in p.flags.items():
            yield f"{p.code} flags.{name}", rx, p.literals
        blk = p.block
        if blk is None or id(blk) in blocks:  # blocks shared with `same_as` are timed once
            continue
        blocks.add(id(blk))
        if blk.cont is not None:
            yield f"{p.code} block.continue", blk.cont, p.literals
        if blk.end is not None:
            yield f"{p.code} block.end", blk.end, p.literals
        for i, c in enumerate(blk.collect):
            yield f"{p.code} block.collect[{i}]", c.rx, p.literals


def rule_regexes() -> Iterator[tuple[str, regex.Pattern[str], list[str]]]:
    for r in load_rules():
        for sel in (*r.select, *r.first, *r.then):
            for name, rx in sel.match.items():
                yield f"{r.code} match.{name}", rx, []
        for lk in r.lookups:
            for i, (rx, _) in enumerate(lk.table):
                yield f"{r.code} lookup.{lk.field}[{i}]", rx, []
        for key in ("ignore_reasons",):
            if key in r.params:
                yield f"{r.code} params.{key}", regex.compile(str(r.params[key])), []
        for i, (src, _) in enumerate(r.params.get("min_resets_when", [])):
            yield f"{r.code} params.min_resets_when[{i}]", regex.compile(src), []


ALL = list(pattern_regexes()) + list(rule_regexes())


def _units(rx: regex.Pattern[str], literals: list[str]) -> dict[str, str]:
    """Repeating units an attacker (or noise) could build from the regex's own text."""
    source = re.sub(r"\(\?P<\w+>|\\[A-Za-z]", "", rx.pattern)
    chars = "".join(sorted(c for c in set(source) - set("()[]{}?*+|^$\\") if c.isprintable()))
    units = {"chars": chars, "space": " ", "digits": "0123456789", "hex": "0x0123abcd "}
    words = list(dict.fromkeys(re.findall(r"[A-Za-z_]{3,}", source)))[:6]
    if words:
        units["words"] = " ".join(words) + " "
    for i, word in enumerate(words[:3]):
        units[f"word{i}"] = word + " "
    for i, lit in enumerate(literals[:4]):
        units[f"lit{i}"] = lit
        units[f"lit{i}+space"] = lit + " "
        units[f"lit{i}+chars"] = lit + chars
    return {k: v for k, v in units.items() if v}


def _prefixes(rx: regex.Pattern[str], literals: list[str]) -> list[str]:
    source = re.sub(r"\(\?P<\w+>|\\[A-Za-z]", "", rx.pattern)
    words = list(dict.fromkeys(re.findall(r"[A-Za-z_]{3,}", source)))[:2]
    return list(dict.fromkeys([*literals[:2], *words]))


def _inputs(units: dict[str, str], prefixes: list[str], size: int) -> dict[str, str]:
    """Each unit repeated to `size`; the plain ones also after a literal or word of the regex, and with a
    stray character at the end (what makes a `$`-anchored tail fail after a long scan)."""
    out = {}
    for name, unit in units.items():
        body = (unit * (size // len(unit) + 1))[:size]
        out[name] = body
        if name in ("chars", "space", "digits", "hex"):
            for pre in prefixes:
                text = (pre + body)[:size]
                out[f"{pre!r} then {name}"] = text
                out[f"{pre!r} then {name}, then ~"] = text[:-1] + "~"
    return out


def _once(rx: regex.Pattern[str], text: str) -> float:
    t0 = time.perf_counter()
    try:
        rx.search(text, timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return float("inf")
    return time.perf_counter() - t0


def _time(rx: regex.Pattern[str], text: str, min_total: float, limit: float = 30.0) -> float:
    """Seconds per search, best of 3 runs of enough repetitions to last `min_total`; inf past `limit`."""
    reps = 1
    while True:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            try:
                for _ in range(reps):
                    rx.search(text, timeout=limit)
            except TimeoutError:
                return float("inf")
            best = min(best, time.perf_counter() - t0)
        if best >= min_total or reps >= 256:
            return best / reps
        reps *= 4


def _growth(rx: regex.Pattern[str], literals: list[str]) -> tuple[float, float, str]:
    """(growth 10 kB -> 100 kB, seconds at 100 kB, input name) for the regex's slowest input."""
    units, prefixes = _units(rx, literals), _prefixes(rx, literals)
    probe = _inputs(units, prefixes, PROBE)
    times = {name: _once(rx, text) for name, text in probe.items()}
    worst = max(times, key=times.__getitem__)  # the slowest kind of input, found cheaply
    if times[worst] == float("inf"):
        return float("inf"), float("inf"), worst
    t_small = _time(rx, _inputs(units, prefixes, SMALL)[worst], 0.002, limit=PROBE_TIMEOUT * 5)
    if t_small == float("inf"):
        return float("inf"), float("inf"), worst
    big = _inputs(units, prefixes, BIG)[worst]
    try:  # a quadratic regex could take minutes at 100 kB: stop it well past linear growth
        rx.search(big, timeout=t_small * GROWTH_LIMIT * 2 + 0.5)
    except TimeoutError:
        return float("inf"), float("inf"), worst
    t_big = _time(rx, big, 0.0)
    return t_big / t_small, t_big, worst


def _growth_again(rx: regex.Pattern[str], literals: list[str], worst: str) -> float:
    """Growth measured again on one input, both sizes interleaved, best of 5 each (for a suspect)."""
    units, prefixes = _units(rx, literals), _prefixes(rx, literals)
    small, big = _inputs(units, prefixes, SMALL)[worst], _inputs(units, prefixes, BIG)[worst]
    t_small = t_big = float("inf")
    for _ in range(5):
        t_small = min(t_small, _time(rx, small, 0.005))
        t_big = min(t_big, _time(rx, big, 0.0))
    return t_big / t_small


def test_every_regex_grows_linearly(capsys: pytest.CaptureFixture[str]) -> None:
    results = []
    bad = []
    for name, rx, literals in ALL:
        growth, t_big, worst = _growth(rx, literals)
        if GROWTH_LIMIT < growth < float("inf"):  # measure again before blaming it: the machine is shared
            growth = min(growth, _growth_again(rx, literals, worst))
        results.append((t_big, growth, name, worst))
        if growth > GROWTH_LIMIT:
            bad.append(f"{name}: {growth:.0f}x from 10 kB to 100 kB on {worst}")
    results.sort(reverse=True)
    with capsys.disabled():
        print(f"\n  {len(results)} regexes timed at 10 kB and 100 kB; slowest at 100 kB:")
        for t_big, growth, name, worst in results[:5]:
            print(f"    {name:34} {t_big * 1000:8.2f} ms  (x{growth:.1f} from 10 kB; input {worst})")
    assert len(results) > 150
    assert not bad, "super-linear regexes:\n" + "\n".join(bad)


def test_detector_time_grows_linearly_with_line_length() -> None:
    """A line made of pattern literals, 100 kB and 1 MiB long: the detector's cost grows linearly."""
    lits = sorted({lit for p in load_patterns().matchers for lit in p.literals})
    unit = (" ".join(lits) + " ").encode()

    def cost(size: int) -> float:
        line = (unit * (size // len(unit) + 1))[:size] + b"\n"
        best = float("inf")
        for _ in range(3):
            det = Detector(load_patterns())
            t0 = time.perf_counter()
            det.feed(line)
            det.close()
            best = min(best, time.perf_counter() - t0)
        return best

    assert cost(1 << 20) / cost(100_000) < GROWTH_LIMIT
