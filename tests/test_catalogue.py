"""The message catalogue (patterns/catalogue): every message the sources print is recognised as what it is.

Each catalogued message is rendered with realistic arguments in every log format (ESP-IDF with milliseconds,
system time, date and time, no time, colour; Arduino-ESP32 with and without its time column; raw prints)
behind every host timestamp form, and must give an event of its classified kind from its classified pattern,
with the fields the classification names holding the rendered values. Messages classified "not an event"
must give no event at all. Coverage is printed per component and per kind.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from espwatch.detector import Detector
from espwatch.events import Event
from espwatch.patterns import load_patterns

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "patterns" / "catalogue"
sys.path.insert(0, str(ROOT / "tools" / "catalogue"))

from classify import load_classifier  # noqa: E402
from extract import pattern_sources  # noqa: E402
from render import Rendering, log_lines  # noqa: E402


def _messages() -> list[dict[str, Any]]:
    text = (CATALOGUE / "messages.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


MESSAGES = _messages()


def _norm(value: Any) -> str:
    """Values compared as the device meant them: 0x0010000 == 10000, ' 1' == '1'."""
    s = str(value).strip().strip('"').lower()
    if s.startswith("0x"):
        s = s[2:]
    if s and all(c in "0123456789abcdef" for c in s):
        s = s.lstrip("0") or "0"
    return s


def _scan_lines(lines: list[str]) -> dict[int, list[Event]]:
    """Events by start line of one detector run over `lines` (two blank lines after each)."""
    det = Detector(load_patterns())
    data = "".join(line + "\r\n\r\n\r\n" for line in lines).encode("utf-8")
    events = det.feed(data) + det.close()
    out: dict[int, list[Event]] = defaultdict(list)
    for ev in events:
        out[ev.line].append(ev)
    return out


def _check(msg: dict[str, Any], r: Rendering, events: list[Event]) -> str | None:
    """None when the rendering gave what the classification says, else why not."""
    cls = msg["classification"]
    if not cls["event"]:
        if events:
            return f"expected no event, got {[(e.kind, e.code) for e in events]}"
        return None
    hits = [e for e in events if e.kind == cls["kind"] and e.code == cls["code"]]
    if not hits:
        return f"expected {cls['kind']}/{cls['code']}, got {[(e.kind, e.code) for e in events] or 'nothing'}"
    ev = hits[0]
    for name in cls.get("fields", []):
        if ev.fields.get(name) in (None, "", []):
            return f"field {name} missing in {ev.fields}"
    for name, index in cls.get("values", {}).items():
        want = r.values[index - 1] if index - 1 < len(r.values) else None
        if want is None:
            continue
        got = ev.fields.get(name)
        if _norm(got) != _norm(want):
            return f"field {name}: expected {want!r}, got {got!r}"
    return None


def test_catalogue_is_classified_and_current() -> None:
    classifier = load_classifier(CATALOGUE / "classify.toml")
    patterns = load_patterns()
    assert len(MESSAGES) > 800
    for msg in MESSAGES:
        assert msg["classification"] is not None, msg["format"]
        fresh = classifier.classify(msg)
        assert fresh == msg["classification"], (
            f"{msg['format']!r}: messages.jsonl is not what classify.toml says now; "
            f"run `python tools/catalogue/extract.py --classify-only`")
        if fresh["event"]:
            pat = patterns.get(fresh["code"])
            assert pat is not None, f"{fresh['code']} (for {msg['format']!r}) is not a pattern"
            assert pat.kind == fresh["kind"], f"{fresh['code']} makes {pat.kind}, not {fresh['kind']}"
        if msg["source"] in ("esp-idf", "arduino-esp32"):
            assert msg.get("locations") or msg.get("references"), f"{msg['format']!r} has no source"
    unused = [r.index for r in classifier.rules if r.used == 0]
    assert not unused, f"classify.toml rules that match no message: {unused}"


def test_every_catalogued_message_is_recognised(capsys: pytest.CaptureFixture[str]) -> None:
    renderings: list[tuple[dict[str, Any], Rendering]] = []
    for msg in MESSAGES:
        for r in log_lines(msg):
            renderings.append((msg, r))
    by_line = _scan_lines([r.text for _, r in renderings])
    failures: dict[str, list[str]] = defaultdict(list)
    per_component: dict[str, Counter] = defaultdict(Counter)
    per_kind: dict[str, Counter] = defaultdict(Counter)
    for i, (msg, r) in enumerate(renderings):
        problem = _check(msg, r, by_line.get(1 + 3 * i, []))
        if problem:
            failures[msg["id"]].append(f"[{r.fmt}/{r.host}] {r.text!r}: {problem}")
    for msg in MESSAGES:
        cls = msg["classification"]
        comp = per_component[f"{msg['source']}/{msg['component']}"]
        comp["collected"] += 1
        ok = msg["id"] not in failures
        if cls["event"]:
            comp["events"] += 1
            comp["recognised"] += ok
            per_kind[cls["kind"]]["events"] += 1
            per_kind[cls["kind"]]["recognised"] += ok
        else:
            comp["silent"] += ok
            comp["not events"] += 1
    with capsys.disabled():
        print(f"\n  catalogue: {len(MESSAGES)} messages, {len(renderings)} renderings")
        print(f"  {'component':34} {'collected':>9} {'events':>6} {'recognised':>10} {'not events':>10} {'silent':>6}")
        for name in sorted(per_component):
            c = per_component[name]
            print(f"  {name:34} {c['collected']:9} {c['events']:6} {c['recognised']:10} {c['not events']:10} "
                  f"{c['silent']:6}")
        for kind in sorted(per_kind):
            k = per_kind[kind]
            print(f"  kind {kind:29} {k['recognised']:4}/{k['events']}")
    shown = [f"{msg_id}: {lines[0]}" for msg_id, lines in list(failures.items())[:25]]
    assert not failures, f"{len(failures)} messages not recognised as classified:\n" + "\n".join(shown)


def test_each_pattern_says_which_sources_it_covers() -> None:
    """A pattern's `sources` are the files of the messages the catalogue says it must recognise (kept in
    step by `extract.py --sync-patterns`); a pattern for lines no catalogued component prints names its
    source in words."""
    import tomllib

    cfg = tomllib.loads((CATALOGUE / "sources.toml").read_text(encoding="utf-8"))
    expected = pattern_sources(MESSAGES, cfg)
    for p in load_patterns().matchers:
        assert p.sources, f"{p.code} does not say which sources it covers"
        if p.code in expected:
            assert p.sources == expected[p.code], (
                f"{p.code}: sources differ from the catalogue; run "
                f"`python tools/catalogue/extract.py --classify-only --sync-patterns`")
