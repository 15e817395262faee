"""Live mode of the pipeline (espwatch.live): provisional events at quiet points, corrected, never doubled,
and after the end of input exactly what `scan` gives."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from espwatch.diagnosis import load_rules
from espwatch.enrich import Enrichment
from espwatch.events import Event
from espwatch.live import Changes, LiveFeed
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.scan import scan_stream

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def stages(patterns, rules):
    return Enrichment(None, "test", patterns, rules).stages()


class Screen:
    """What a consumer shows: the events handed out, updated in place, withdrawn."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def apply(self, changes: Changes) -> None:
        for old, new in changes.updated:
            i = next(i for i, e in enumerate(self.events) if e is old)
            self.events[i] = new
        for ev in changes.withdrawn:
            i = next(i for i, e in enumerate(self.events) if e is ev)
            del self.events[i]
        self.events.extend(changes.new)

    def bag(self) -> Counter:
        return Counter(json.dumps(e.to_json(), sort_keys=True) for e in self.events)


def bag(events: list[Event]) -> Counter:
    return Counter(json.dumps(e.to_json(), sort_keys=True) for e in events)


def logs(corpus_dir: Path) -> list[Path]:
    return sorted(corpus_dir.glob("*.log")) + sorted(SAMPLES.glob("*.log"))


def test_every_log_streamed_in_pieces_ends_as_scan(corpus_dir: Path, patterns, rules) -> None:
    """Random pieces, a look ahead after each: the events shown once everything arrived (before the end of
    input) are scan's, and after the end of input the committed stream is scan's, in scan's order."""
    rnd = random.Random(13)
    for path in logs(corpus_dir):
        expected = scan_stream(str(path), patterns, stages=stages(patterns, rules)).events
        data = path.read_bytes()
        feed = LiveFeed(Pipeline(patterns, stages(patterns, rules), keep_events=False))
        screen = Screen()
        committed: list[Event] = []
        pos = 0
        while pos < len(data):
            n = rnd.choice((1, 7, 100, 1000, 5000))
            ch = feed.feed(data[pos : pos + n], 0.0)
            committed += ch.committed
            screen.apply(ch)
            pos += n
            if rnd.random() < 0.3:
                screen.apply(feed.look_ahead())
        screen.apply(feed.look_ahead())
        assert screen.bag() == bag(expected), path.name  # what live shows = what scan says
        ch = feed.close()
        committed += ch.committed
        screen.apply(ch)
        assert [e.to_json() for e in committed] == [e.to_json() for e in expected], path.name
        assert screen.bag() == bag(expected), path.name
        assert not feed.provisional


STACK = "b-esp32c3-arduino-looptask-stack-overflow-regdump.log"


def test_a_device_that_halts_after_its_dump_shows_the_crash(corpus_dir: Path, patterns, rules) -> None:
    """The log ends inside the register dump (the device halted): nothing is final, but once the device
    is quiet the stack overflow and its finding are shown, as scan shows them."""
    data = (corpus_dir / STACK).read_bytes()
    expected = scan_stream(str(corpus_dir / STACK), patterns, stages=stages(patterns, rules)).events
    assert {e.code for e in expected} >= {"EW502", "EW923"}
    feed = LiveFeed(Pipeline(patterns, stages(patterns, rules), keep_events=False), quiet=0.2)
    screen = Screen()
    screen.apply(feed.feed(data, now=10.0))
    assert screen.events == []  # the dump may go on: nothing is final yet
    assert not feed.idle(now=10.1)  # not quiet yet
    ch = feed.idle(now=10.25)
    screen.apply(ch)
    assert screen.bag() == bag(expected)
    assert {e.code for e in ch.provisional} >= {"EW502", "EW923"}
    assert not feed.idle(now=11.0)  # nothing new: no second look


def test_more_block_lines_complete_the_event_shown(corpus_dir: Path, patterns, rules) -> None:
    """Quiet in the middle of a dump: the event is shown with the lines so far; when the rest arrives the
    same event is completed (an update), never shown twice."""
    data = (corpus_dir / STACK).read_bytes()
    cut = data.index(b"A2 ")
    feed = LiveFeed(Pipeline(patterns, stages(patterns, rules), keep_events=False))
    screen = Screen()
    screen.apply(feed.feed(data[:cut], now=1.0))
    screen.apply(feed.idle(now=2.0))
    first = next(e for e in screen.events if e.code == "EW502")
    assert (first.line, first.end_line) == (1, 5)
    screen.apply(feed.feed(data[cut:], now=3.0))
    ch = feed.idle(now=4.0)
    screen.apply(ch)
    assert [(old.end_line, new.end_line) for old, new in ch.updated if new.code == "EW502"] == [(5, 12)]
    screen.apply(feed.close())
    overflow = [e for e in screen.events if e.code == "EW502"]
    assert len(overflow) == 1 and overflow[0].end_line == 12 and overflow[0] is not first
    assert screen.bag() == bag(scan_stream(str(corpus_dir / STACK), patterns,
                                           stages=stages(patterns, rules)).events)


def test_ew910_as_soon_as_its_evidence_holds(patterns, rules) -> None:
    """The 4120 story: three OTA attempts with changing checksums. The log-wide rule EW910 is shown once
    the second differing checksum arrived, long before the end of input, and updated (not repeated) by
    the third; the single-failure EW912 shown after the first is withdrawn."""
    data = (SAMPLES / "ota-checksum-psram-4120.log").read_bytes()
    lines = data.splitlines(keepends=True)
    feed = LiveFeed(Pipeline(patterns, stages(patterns, rules), keep_events=False))
    screen = Screen()
    seen: list[tuple[int, set[str]]] = []
    for n, line in enumerate(lines, 1):
        screen.apply(feed.feed(line, now=n))
        screen.apply(feed.idle(now=n + 0.5))  # a quiet moment after every line
        seen.append((n, {e.code for e in screen.events if e.kind == "finding"}))
    first_910 = next(n for n, codes in seen if "EW910" in codes)
    first_912 = next(n for n, codes in seen if "EW912" in codes)
    assert first_912 == 74 and first_910 == 86  # the first failure, then the second
    assert first_910 < 98 < len(lines)  # before the third attempt and the end of the log
    assert all("EW912" not in codes for n, codes in seen if n >= 86)
    assert sum(1 for e in screen.events if e.code == "EW910") == 1
    ew910 = next(e for e in screen.events if e.code == "EW910")
    assert ew910.fields["calculated_values"] == ["0xb3", "0x3e", "0x91"]


def test_changes_fold_within_a_batch() -> None:
    """Changes gathered between two batches fold: an event handed out and replaced in the same batch is
    handed out once, replaced; one handed out and withdrawn is not handed out at all."""
    from espwatch.events import Event

    def ev(line: int) -> Event:
        return Event("panic", line, line, "fatal", "EW401", "x")

    a, a2, b, c, c2 = ev(1), ev(1), ev(2), ev(3), ev(3)
    shown_before = ev(9)
    ch = Changes(new=[a, b], provisional=[a, b])
    ch.extend(Changes(updated=[(a, a2)], withdrawn=[b], provisional=[a2]))
    assert ch.new == [a2] and not ch.updated and not ch.withdrawn
    ch.extend(Changes(updated=[(shown_before, c)]))
    ch.extend(Changes(updated=[(c, c2)]))
    assert ch.updated == [(shown_before, c2)]
    ch.extend(Changes(withdrawn=[c2]))
    assert ch.updated == [] and ch.withdrawn == [shown_before]
