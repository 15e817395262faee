"""The monitor's parts without a screen: line colours, help text, details, events and boots in bounded
memory (read again from the log), console key bytes."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.style import Style

from espwatch.events import Event, Frame
from espwatch.patterns import load_patterns
from espwatch.scan import scan_stream
from espwatch.tui.console import key_bytes
from espwatch.tui.detail import event_plain, reflow, render_event
from espwatch.tui.eventstore import EventStore, LineOrder
from espwatch.tui.help import keys_table
from espwatch.tui.logview import line_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()


def rendered(renderable, width: int = 100) -> str:
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def colours(text) -> set:
    console = Console(force_terminal=True, color_system="truecolor")
    return {seg.style.color.name for seg in text.render(console) if seg.style and seg.style.color}


def test_every_line_is_coloured_by_its_level() -> None:
    """The level colour is a span (Rich drops a Text's base style when rendering a Text without spans)."""
    assert colours(line_text(b"E (1234) wifi: connect failed", 30)) == {"red"}
    assert colours(line_text(b"W (12) spi_flash: detected size", 30)) == {"yellow"}
    assert colours(line_text(b"[   123][E][WiFiGeneric.cpp:1038] _eventCallback(): Reason: 2", 70)) == {"red"}
    dim = [seg.style for seg in line_text(b"D (5) tag: debug", 16).render(Console())]
    assert dim and all(s is not None and s.dim for s in dim)
    assert colours(line_text(b"plain text", 10)) == set()
    # the device's own colours win; escapes never reach the text
    own = line_text(b"\x1b[0;32mE (1) tag: green on purpose\x1b[0m", 40)
    assert colours(own) == {"color(2)"} and "\x1b" not in own.plain  # ANSI green, not the level red
    # escapes that set no colour: coloured by level after all
    assert colours(line_text(b"\x1b[KE (1) tag: boom", 20)) == {"red"}
    assert line_text(b"E (1) x: boom", 13).spans[0].style == Style(color="red")
    host = line_text(b"--- espwatch 2025-01-02 10:00:00.000: port /dev/ttyUSB0 lost ---", 70)
    assert colours(host) == {"black"}  # espwatch's own lines stand out (black on cyan)


def test_help_shows_every_key_as_typed() -> None:
    text = rendered(keys_table())
    assert "] / [" in text and "[/b]" not in text and "[b]" not in text
    for key in ("F2", "Ctrl+T", "W", "d", "s", "n / N"):
        assert key in text


def test_hints_reflow_to_the_width(patterns) -> None:
    pat = patterns.get("EW404")
    assert "\n" in pat.hint  # written with hard line breaks in the TOML file
    assert "\n" not in reflow(pat.hint)
    ev = Event("abort", 16, 16, "fatal", "EW404", "abort() was called at PC 0x42003863 on core 0")
    wide = rendered(render_event(ev, patterns), width=300)
    assert reflow(pat.hint) in wide  # one line when there is room: no break in the middle of a sentence


def test_detail_shows_frames_first_and_no_python_values(patterns) -> None:
    ev = Event(kind="backtrace", line=34, end_line=34, severity="error", code="EW403",
               text="Backtrace: 0x400e37f4:0x3ffb5db0", fields={
                   "frames_text": "0x400e37f4:0x3ffb5db0", "frames": ["0x400e37f4:0x3ffb5db0"],
                   "corrupted": False, "core": "0"},
               frames=[Frame(0x400E37F4, "helper", "main/h.h", 7, inlined=True),
                       Frame(0x400E37F4, "app_main", "main/app.c", 42)])
    text = rendered(render_event(ev, patterns))
    assert text.index("0x400e37f4: helper at main/h.h:7") < text.index("core")
    assert "False" not in text and "frames_text" not in text and "['0x" not in text
    assert "corrupted" not in text  # False says nothing
    ev.fields["corrupted"] = True
    assert re.search(r"corrupted +yes", rendered(render_event(ev, patterns)))
    # without an ELF the raw addresses are the frames
    ev.frames = None
    text = rendered(render_event(ev, patterns))
    assert re.search(r"frames +0x400e37f4:0x3ffb5db0", text) and "frames text" not in text
    assert "False" not in event_plain(ev, patterns)


def test_finding_summary_counts_in_words(corpus_dir: Path) -> None:
    events = scan_stream(str(corpus_dir / "b-esp32-cache-disabled-isr-context.log"), load_patterns(),
                         stages=__import__("espwatch.enrich", fromlist=["Enrichment"])
                         .Enrichment(None, "t", load_patterns()).stages()).events
    ew909 = [e for e in events if e.code == "EW909"]
    assert ew909 and ew909[0].text.startswith("Cache-disabled access in boot 1")
    assert not any("1 lines" in e.text for e in events)  # issue 13: "1 lines point at it"


def read_back(path: Path, patterns):
    """An EventStore that keeps no body in memory: every event read again from `path`, or (made from other
    events) from the spill file."""
    from espwatch.reread import reread
    from espwatch.tui.document import LineIndex

    index = LineIndex(path)
    data = path.read_bytes()
    index.extend(data)

    def again(first, last, kind, code, boot):
        return reread(patterns, b"".join(b for _, b in index.iter_ranges(first, last)), first, kind, code, boot)

    return EventStore(patterns, again, keep_full=0, keep_derived=0), index


def test_events_read_again_from_the_log_equal_scan(corpus_dir: Path, patterns) -> None:
    """Bodies let go are read again from the event's own lines, or from the spill file for events made
    from other events: the same events as scan (every corpus log and sample), with the fields a later stage
    added (the partition label) kept, and no body left in memory."""
    from espwatch.enrich import Enrichment

    for path in [*sorted(corpus_dir.glob("*.log")), *sorted((ROOT / "samples").glob("*.log"))]:
        events = scan_stream(str(path), patterns, stages=Enrichment(None, "t", patterns).stages()).events
        store, index = read_back(path, patterns)
        try:
            for ev in events:
                store.add(ev)
            assert len(store._recent) == 0 and len(store._pinned) == 0
            derived = [e for e in events if (p := patterns.by_code.get(e.code)) is None or p.derived]
            assert store.spilled >= len(derived)
            again = [store.get(r) for r in store.rows()]
            assert [e.to_json() for e in again] == [e.to_json() for e in events], path.name
            assert store.nbytes <= 16 * len(events) + 16
        finally:
            store.close()
            index.close()


def test_line_order_steps_through_every_event() -> None:
    order = LineOrder()
    for row, line in enumerate([5, 9, 9, 20, 3, 40]):  # 3: a finding about an earlier line
        order.add(line, row)
    assert order.after(0) == 4 and order.after(5) == 1 and order.after(9, 1) == 2 and order.after(9) == 3
    assert order.before(9, 1) == 0 and order.before(9) == 0 and order.before(3) is None
    assert order.last() == 5
    order.remove(3)
    assert order.after(9) == 5
    # many rows, a few late ones (findings): the same answers as a sorted list
    import random
    from bisect import bisect_left, bisect_right

    rnd = random.Random(2)
    order, keys, line = LineOrder(), [], 0
    for row in range(20000):
        line += rnd.randrange(3)
        at = line if rnd.random() > 0.05 else rnd.randrange(1, line + 1)
        order.add(at, row)
        keys.append((at, row))
    keys.sort()
    assert len(order.runs) < 20
    for _ in range(300):
        q = rnd.randrange(line + 2)
        i = bisect_right(keys, (q, 1 << 33))
        assert order.after(q) == (keys[i][1] if i < len(keys) else None)
        j = bisect_left(keys, (q, -1)) - 1
        assert order.before(q) == (keys[j][1] if j >= 0 else None)


@pytest.mark.parametrize(("key", "char", "expected"), [
    ("a", "a", b"a"), ("A", "A", b"A"), ("space", " ", b" "), ("enter", "\r", b"\r\n"), ("tab", "\t", b"\t"),
    ("up", None, b"\x1b[A"), ("down", None, b"\x1b[B"), ("left", None, b"\x1b[D"), ("right", None, b"\x1b[C"),
    ("ctrl+c", "\x03", b"\x03"), ("ctrl+d", "\x04", b"\x04"), ("backspace", "\x7f", b"\x7f"),
    ("escape", "\x1b", b"\x1b"), ("home", None, b"\x1b[H"), ("delete", None, b"\x1b[3~"), ("é", "é", "é".encode()),
    ("f5", None, None),
])
def test_console_keys_are_sent_as_a_terminal_sends_them(key, char, expected) -> None:
    assert key_bytes(key, char) == expected


def test_boots_read_again_from_the_log(corpus_dir: Path, patterns) -> None:
    """A boot whose facts were let go reads them again from its first lines: the same facts."""
    from espwatch.tui.app import MonitorApp

    path = ROOT / "samples" / "ota-rollback-to-previous-slot.log"
    expected = scan_stream(str(path), patterns).pipeline.sessions

    async def run() -> list:
        app = MonitorApp(path, patterns)
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.scan_done:
                await pilot.pause(0.02)
            return [app._reread_boot(s.number, s.start_line, s.end_line) for s in expected]

    again = asyncio.run(run())
    for s, a in zip(expected, again, strict=True):
        facts = {k: v for k, v in s.facts.items() if k != "partition_line"}
        assert {k: v for k, v in a.facts.items() if k != "partition_line"} == facts
