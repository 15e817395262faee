"""The monitor a firmware engineer keeps open all day (issue 13), driven by the Pilot: live over the pty
simulator, and in replay. One test per defect of the issue."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest

from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog, strip_host_lines
from espwatch.diagnosis import load_rules
from espwatch.enrich import Enrichment
from espwatch.patterns import load_patterns
from espwatch.tui.app import MonitorApp
from espwatch.tui.logview import DECODED_MARK

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim
from helpers import until, write_lx106_crash

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
STORY = SAMPLES / "ota-checksum-psram-4120.log"
STACK = "b-esp32c3-arduino-looptask-stack-overflow-regdump.log"
SIZE = (120, 40)
posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()



def visible(view, line: int) -> bool:
    """Whether log line `line` is drawn whole on a screen line the scrollbar does not cover."""
    layout = view._screen_layout()
    height = view.scrollable_content_region.height
    rows = [view.at_disp(disp) for disp, part in layout[:height] if part == 0]
    return any(k < 0 and view.row_line(row) == line for row, k in rows)


def status(app) -> str:
    return str(app.query_one("#status").content)


class Live:
    """The monitor on a pty device (the simulator), with its session log."""

    def __init__(self, tmp: Path, patterns, enrichment=None, size=SIZE) -> None:
        self.sim = DevSim(tmp / "ttyESP")
        self.log = SessionLog(tmp / "session.log")
        self.source = SerialSource(str(self.sim.link), 115200, self.log, retry_delay=0.05)
        self.app = MonitorApp(self.log.path, patterns, source=self.source, name="ttyESP",
                              enrichment=enrichment)
        self.size = size

    def close(self) -> None:
        self.source.stop()
        self.log.close()
        self.sim.close()


def run_live(tmp: Path, patterns, body, enrichment=None, size=SIZE):
    live = Live(tmp, patterns, enrichment, size)

    async def main():
        async with live.app.run_test(size=size) as pilot:
            await until(pilot, lambda: live.app.source_state == "connected")
            return await body(live, pilot)

    try:
        return asyncio.run(main())
    finally:
        live.close()


# -- 1. the newest line is always visible ---------------------------------------------------------------
def test_the_last_line_shows_with_a_wide_line_in_the_log(tmp_path: Path, patterns) -> None:
    """41 lines, one of them 300 characters wide: after End line 41 is on screen (the horizontal scrollbar
    used to cover it); with wrapping (W) too, and the wide line is whole."""
    lines = [f"I ({i}) app: line {i}" for i in range(1, 42)]
    lines[19] = "W (20) app: " + "x" * 288
    path = tmp_path / "wide.log"
    path.write_text("\n".join(lines) + "\n")

    async def run() -> None:
        app = MonitorApp(path, patterns)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.scan_done)
            view = app.log_view
            view.goto_line(20)  # draw the wide line: the view learns its width
            await pilot.pause(0.1)
            await pilot.press("end")
            await pilot.pause(0.1)
            assert view.show_horizontal_scrollbar
            assert visible(view, 41)
            await pilot.press("W")
            await pilot.pause(0.1)
            assert view.wrap and "wrap" in status(app)
            assert visible(view, 41)
            view.goto_line(20, center=False)
            await pilot.pause(0.1)
            layout = view._screen_layout()
            parts = [part for disp, part in layout if view.row_line(view.at_disp(disp)[0]) == 20]
            assert len(parts) >= 3  # the 300 characters take several screen lines

    asyncio.run(run())


@posix_only
def test_live_the_newest_line_and_port_lost_stay_visible(tmp_path: Path, patterns) -> None:
    async def body(live, pilot):
        app, view = live.app, live.app.log_view
        wide = b"I (5) app: " + b"y" * 400 + b"\r\n"
        await asyncio.to_thread(live.sim.write, b"".join(b"I (%d) app: tick %d\r\n" % (i, i) for i in range(60))
                                + wide + b"I (99) app: the newest line\r\n")
        await until(pilot, lambda: app.lines >= 62)
        await pilot.pause(0.3)
        assert view.follow and visible(view, 62)
        await asyncio.to_thread(live.sim.unplug)
        await until(pilot, lambda: app.source_state in ("lost", "waiting"))
        await until(pilot, lambda: app.lines >= 63)
        await pilot.pause(0.3)
        raw = app.index.line(app.lines)[0]
        assert b"lost" in raw and visible(view, app.lines)

    run_live(tmp_path, patterns, body)


# -- 2. findings as soon as their evidence is complete ---------------------------------------------------
def finding_codes(app) -> set[str]:
    return {app.store.code(r) for r in app.store.rows() if app.store.kind(r) == "finding"}


@posix_only
def test_live_ew910_appears_before_the_stream_ends(tmp_path: Path, patterns) -> None:
    """The story (three OTA attempts, checksums that change) streamed at 115200 baud, then the device goes
    on talking: EW910 shows while the device still sends, not at the next reset or the end of input."""
    story = STORY.read_bytes()
    tail = b"".join(b"I (%d) app: still running %d\n" % (90000 + i, i) for i in range(1500))

    async def body(live, pilot):
        app = live.app
        writer = asyncio.get_running_loop().run_in_executor(None, live.sim.write, story + tail, 11520)
        await until(pilot, lambda: "EW910" in finding_codes(app), timeout=60)
        assert not writer.done()  # the device is still talking
        assert live.sim.total < len(story + tail)
        await writer
        await until(pilot, lambda: app.bytes_read >= len(story + tail))
        await pilot.pause(0.6)
        assert sum(1 for r in app.store.rows() if app.store.code(r) == "EW910") == 1
        assert "EW912" not in finding_codes(app)  # shown after the first failure, withdrawn at the second

    enr = Enrichment(None, "test", patterns, load_rules())
    run_live(tmp_path, patterns, body, enrichment=enr)


@posix_only
def test_live_a_device_that_halts_after_its_dump_shows_the_crash(tmp_path: Path, corpus_dir: Path,
                                                                 patterns) -> None:
    """Issue 12 item 4: the stack overflow's register dump is the last thing the device says; the event and
    its finding show once it is quiet (provisional: marked as such), as scan shows them."""
    data = (corpus_dir / STACK).read_bytes()

    async def body(live, pilot):
        app = live.app
        await asyncio.to_thread(live.sim.write, data)
        await until(pilot, lambda: "EW923" in finding_codes(app), timeout=20)
        rows = [r for r in app.store.rows() if app.store.kind(r) == "stack_overflow"]
        assert len(rows) == 1 and rows[0] in app.store.provisional
        app.select_event(rows[0])
        await pilot.pause(0.1)
        assert "provisional" in str(app.query_one("#detail").content.renderables[3])
        ev = app.store.get(rows[0])
        assert (ev.line, ev.end_line) == (1, 12)
        # the device goes on: the dump is over, the event is final (the same row, not a second one)
        await asyncio.to_thread(live.sim.write, b"\r\nI (100) app: rebooting\r\n")
        await until(pilot, lambda: rows[0] not in app.store.provisional)
        assert [r for r in app.store.rows() if app.store.kind(r) == "stack_overflow"] == rows

    enr = Enrichment(None, "test", patterns, load_rules())
    run_live(tmp_path, patterns, body, enrichment=enr)


# -- 3. filters that filter ------------------------------------------------------------------------------
def test_level_filter_keeps_events_own_lines_not_a_findings_span(patterns) -> None:
    """Errors only: the E lines and the lines of error events; the I lines inside EW910's evidence span
    (lines 74-98) go, and the status line says how many lines are hidden."""
    enr = Enrichment(None, "test", patterns, load_rules())

    async def run() -> None:
        app = MonitorApp(STORY, patterns, enrichment=enr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            assert "EW910" in finding_codes(app)
            await pilot.press("l", "l", "l")
            await until(pilot, lambda: app.filter is not None and app.filter.complete)
            kept = list(app.filter.lines)
            text = STORY.read_text().splitlines()
            assert {74, 86, 98} <= set(kept)
            assert not [n for n in kept if text[n - 1].startswith("I (")]
            assert not [n for n in range(75, 86) if n in kept and not text[n - 1].startswith("E (")]
            hidden = app.lines - len(kept)
            assert f"{hidden:,} lines hidden" in status(app)

    asyncio.run(run())


# -- 4. decoded crashes in the log ----------------------------------------------------------------------
def lx106_log(tmp: Path) -> Path:
    return write_lx106_crash(tmp)


def test_decoded_frames_show_under_the_backtrace(tmp_path: Path, data_dir: Path, patterns, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    path = lx106_log(tmp_path)
    before = path.read_bytes()
    enr = Enrichment.choose(data_dir / "lx106-inline-demo" / "demo.elf", patterns=patterns, background=True)

    async def run() -> None:
        app = MonitorApp(path, patterns, enrichment=enr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done and enr.state == "ready", timeout=60)
            view = app.log_view
            await until(pilot, lambda: view.display_rows > app.lines)
            expected = ["0x40200095: ring_full at /espwatch/lx106-inline-demo/src/ring.h:22",
                        " (inlined by) ring_push at /espwatch/lx106-inline-demo/src/ring.h:27",
                        " (inlined by) pump at /espwatch/lx106-inline-demo/src/main.c:41",
                        "0x4020011e: image_checksum at /espwatch/lx106-inline-demo/src/checksum_step.inc:3",
                        " (inlined by) main at /espwatch/lx106-inline-demo/src/main.c:55",
                        "0x40000400: ?? ??:0"]
            assert app._decoded_text(4) == expected
            under = [view._body(view.disp_of(3) + 1 + k)[0].plain for k in range(len(expected))]
            assert under == [DECODED_MARK + e for e in expected]  # right under line 4, addr2line's form
            assert view.at_disp(view.disp_of(4)) == (4, -1)  # line 5 comes after them
            await pilot.press("d")
            assert view.display_rows == app.lines
            await pilot.press("d")
            assert view.display_rows == app.lines + len(expected)

    asyncio.run(run())
    assert path.read_bytes() == before  # decoded lines are never written to the log


def test_detail_pane_of_a_decoded_backtrace(tmp_path: Path, data_dir: Path, patterns, monkeypatch) -> None:
    from rich.console import Console

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    path = lx106_log(tmp_path)
    enr = Enrichment.choose(data_dir / "lx106-inline-demo" / "demo.elf", patterns=patterns, background=True)

    async def run() -> str:
        app = MonitorApp(path, patterns, enrichment=enr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done and enr.state == "ready", timeout=60)
            await until(pilot, lambda: app._decoded_text(4))
            bt = next(r for r in app.store.rows() if app.store.kind(r) == "backtrace")
            app.select_event(bt)
            await pilot.pause(0.1)
            console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
            console.print(app.query_one("#detail").content)
            return console.export_text()

    text = asyncio.run(run())
    assert text.index("Decoded\n0x40200095: ring_full at") < text.index("frames_text") \
        if "frames_text" in text else "Decoded\n0x40200095: ring_full at" in text
    assert "False" not in text and "frames_text" not in text and "['" not in text
    assert text.index("Decoded") < text.index("What it means")


# -- rough edges -----------------------------------------------------------------------------------------
def test_n_at_the_live_tail_goes_to_the_newest_event(tmp_path: Path, corpus_dir: Path, patterns) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes((corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes())

    async def run() -> None:
        app = MonitorApp(path, patterns, follow=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.lines == 145 and len(app.notable) > 3)
            view = app.log_view
            assert view.follow and view.current_line() == 145
            await pilot.press("n")
            assert app.selected is not None and app.selected.line == 144  # the newest, not "no more events"
            await pilot.press("N")
            assert app.selected.line == 93

    asyncio.run(run())


def test_80x24_shows_whole_lines_and_an_event_bar(corpus_dir: Path, patterns) -> None:
    async def run() -> None:
        app = MonitorApp(corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log", patterns)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.scan_done)
            assert not app.side_shown
            assert app.log_view.size.width >= 78
            assert app.query_one("#eventbar").display
            await pilot.press("n", "n")
            bar = str(app.query_one("#eventbar").content)
            assert "abort() was called" in bar
            await pilot.press("enter")  # the details over the log
            await pilot.pause(0.1)
            assert type(app.screen).__name__ == "DetailScreen"
            await pilot.press("escape")
            await pilot.press("s")  # side panes on, even at 80 columns
            assert app.side_shown and not app.query_one("#eventbar").display
            await pilot.press("s")
            assert not app.side_shown
        app2 = MonitorApp(corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log", patterns)
        async with app2.run_test(size=(140, 40)) as pilot:
            assert app2.side_shown

    asyncio.run(run())


def test_w_writes_the_markdown_report_beside_the_log(tmp_path: Path, corpus_dir: Path, patterns) -> None:
    path = tmp_path / "logs" / "c3.log"
    path.parent.mkdir()
    path.write_bytes((corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes())
    cwd = Path.cwd()

    async def run() -> Path:
        app = MonitorApp(path, patterns)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            await pilot.press("w")
            await until(pilot, lambda: app.last_report is not None)
            notes = [n.message for n in app._notifications]
            assert any(str(app.last_report) in m for m in notes)  # it says where
            return app.last_report

    report = asyncio.run(run())
    assert report.parent == path.parent and report.suffix == ".md" and report.parent != cwd
    assert report.read_text().startswith("# espwatch report: c3.log")


def test_search_counts_hits(corpus_dir: Path, patterns) -> None:
    async def run() -> None:
        app = MonitorApp(corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log", patterns)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            await pilot.press("slash", *"mepc", "enter")
            await until(pilot, lambda: app.search is not None and app.search.done)
            assert "/mepc: 2 hits" in status(app)  # grep -ci mepc says 2
            assert app.log_view.current_line() == 18
            await pilot.press("slash", "ctrl+u", *"zebra", "enter")
            await until(pilot, lambda: app.search is not None and app.search.done)
            assert "/zebra: 0 hits" in status(app)

    asyncio.run(run())


def test_replay_shows_the_arrival_times_of_a_session(tmp_path: Path, patterns) -> None:
    """A session log written live keeps its arrival times beside it (.times); replay shows them."""
    from espwatch.device.times import load_times_for

    log = SessionLog(tmp_path / "s.log")
    t0 = datetime(2025, 1, 2, 10, 0, 0).timestamp()
    for i in range(5):
        log.write(b"I (%d) app: line %d\n" % (i, i), when=t0 + i * 1.5)
    log.close()
    times = load_times_for(tmp_path / "s.log")

    async def run() -> list[str | None]:
        app = MonitorApp(tmp_path / "s.log", patterns, arrival_time=times.time_at, show_times=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            return [app._time_of(n, app.index.line(n)[2], app.index.line(n)[0]) for n in range(1, 6)]

    assert asyncio.run(run()) == ["10:00:00.000", "10:00:01.500", "10:00:03.000", "10:00:04.500",
                                  "10:00:06.000"]


# -- 5. console mode -------------------------------------------------------------------------------------
@posix_only
def test_console_mode_sends_keys_as_typed(tmp_path: Path, patterns) -> None:
    async def body(live, pilot):
        app = live.app
        await pilot.press("f2")
        assert app.console_mode and "CONSOLE" in status(app)
        await pilot.press(*"help", "tab", "up", "ctrl+c", "enter", "n", "l")  # n, l: no monitor keys now
        got = await asyncio.to_thread(live.sim.received, 12)
        assert got == b"help\t\x1b[A\x03\r\nnl"
        assert app.filter is None and app.selected is None
        await pilot.press("ctrl+t", "ctrl+t")  # Ctrl+T twice sends Ctrl+T itself
        assert await asyncio.to_thread(live.sim.received, 1) == b"\x14"
        await pilot.press("ctrl+t", "y")  # the idf.py monitor menu: pause the output
        assert app.log_view.paused
        await pilot.press("ctrl+t", "ctrl+y")
        assert not app.log_view.paused
        await pilot.press("f2")
        assert not app.console_mode and "CONSOLE" not in status(app)
        await pilot.press("i", *"one line", "enter")  # the line box stays for one-off sends
        assert await asyncio.to_thread(live.sim.received, 10) == b"one line\r\n"
        await pilot.press("escape")
        # nothing typed was echoed into the log by the monitor: it holds what the device sent
        assert strip_host_lines((tmp_path / "session.log").read_bytes()) == bytes(live.sim.written)

    run_live(tmp_path, patterns, body)


@posix_only
def test_ctrl_t_logging_copies_the_output(tmp_path: Path, patterns) -> None:
    async def body(live, pilot):
        app = live.app
        await pilot.press("ctrl+t", "l")
        assert app.capture_path is not None and app.capture_path.parent == tmp_path
        await asyncio.to_thread(live.sim.write, b"I (1) app: copied\r\n")
        await until(pilot, lambda: app.lines >= 1)
        await pilot.pause(0.2)
        path = app.capture_path
        await pilot.press("ctrl+t", "ctrl+l")
        assert app.capture_path is None
        assert path.read_bytes() == b"I (1) app: copied\r\n"

    run_live(tmp_path, patterns, body)


def test_many_boots_live_keep_a_bounded_pipeline(patterns) -> None:
    """Over hundreds of boots the live pipeline keeps its last boots only, and still ends as scan."""
    import json
    from collections import Counter

    from espwatch.live import LiveFeed
    from espwatch.pipeline import Pipeline
    from espwatch.scan import scan_stream

    one = (SAMPLES / "brownout-loop.log").read_bytes()
    path = SAMPLES.parent / "tests" / "data"  # any folder: the log is written to a temporary file below
    del path
    data = one * 100
    feed = LiveFeed(Pipeline(patterns, Enrichment(None, "t", patterns, load_rules()).stages(), keep_events=False))
    dropped: list[int] = []
    feed.pipeline.boots.keep_sessions = 16
    feed.pipeline.boots.on_drop = lambda s: dropped.append(s.number)
    shown = []
    for i in range(0, len(data), 5000):
        ch = feed.feed(data[i : i + 5000], 0.0)
        shown += ch.committed
    shown += feed.close().committed
    assert len(feed.pipeline.sessions) <= 16 and dropped == list(range(1, len(dropped) + 1))
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".log") as fh:
        fh.write(data)
        fh.flush()
        expected = scan_stream(fh.name, patterns, stages=Enrichment(None, "t", patterns, load_rules()).stages())
    bag = lambda evs: Counter(json.dumps(e.to_json(), sort_keys=True) for e in evs)  # noqa: E731
    assert bag(shown) == bag(expected.events) and len(expected.sessions) == 300
