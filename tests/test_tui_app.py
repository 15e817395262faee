"""The Textual screen driven by the Pilot: replay, navigation, search, filters, bookmarks, live mode."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog, strip_host_lines
from espwatch.patterns import load_patterns
from espwatch.scan import scan_stream
from espwatch.tui.app import MonitorApp

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim
from helpers import until

SIZE = (120, 40)
C3 = "b-esp32c3-abort-then-illegal-instruction.log"
COREDUMP = "b-esp32-storeprohibited-coredump-uart.log"


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()



def detail_text(app: MonitorApp) -> str:
    from rich.console import Console

    console = Console(width=60, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(app.query_one("#detail").content)
    return console.export_text()


def events_json(events) -> list[dict]:
    return [e.to_json() for e in events]


@pytest.mark.parametrize("name", [C3, COREDUMP, "a-esp32-flash-read-err-bootloop.log",
                                  "a-esp32c3-arduino-sha256-timestamped.log"])
def test_replay_gives_the_same_events_as_scan(corpus_dir: Path, patterns, name: str) -> None:
    path = corpus_dir / name
    expected = scan_stream(str(path), patterns)

    async def run() -> MonitorApp:
        app = MonitorApp(path, patterns)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
        return app

    app = asyncio.run(run())
    assert events_json(app.events) == events_json(expected.events)
    assert [s.summary() for s in expected.sessions] == [
        {"boot": s.number, "line": s.start_line, "end_line": s.end_line,
         **{k: v for k, v in s.facts.items() if k not in ("partitions", "partition_line")}}
        for s in (app.sessions[n] for n in sorted(app.sessions))]
    assert app.lines == expected.pipeline.lines


def test_navigation_selection_and_detail(corpus_dir: Path, patterns) -> None:
    async def run() -> None:
        app = MonitorApp(corpus_dir / C3, patterns)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            view = app.log_view
            assert view.rows == 145 and view.current_line() == 1
            await pilot.press("n")
            assert app.selected.line == 14
            await pilot.press("n")
            assert app.selected.kind == "abort" and view.current_line() == 16
            assert view.range == (16, 27)
            text = detail_text(app)
            assert "FATAL  abort() was called" in text and "What it means" in text and "pc" in text
            await pilot.press("N")
            assert app.selected.line == 14
            await pilot.press("right_square_bracket")  # next boot
            assert view.current_line() == 66
            await pilot.press("n")
            assert app.selected.line == 79
            await pilot.press("n")
            assert app.selected.kind == "panic"
            await pilot.press("left_square_bracket")
            assert view.current_line() == 66
            # selecting from code scrolls the log pane so that the event is on screen
            view.goto_line(1)
            app.select_event(next(e for e in app.timeline_events if e.kind == "panic"))
            await pilot.pause()
            top = view.scroll_offset.y
            assert top < 80 < top + view.size.height
            # the timeline drives the log pane too
            app.timeline.focus()
            await pilot.press("down")
            assert app.selected is not None and view.current_line() == app.selected.line
            # copy goes through the app clipboard (OSC 52)
            await pilot.press("c")
            assert app.clipboard.startswith(f"[{app.selected.severity}]")
            await pilot.press("C")  # the Markdown report, as `espwatch report` writes it
            await until(pilot, lambda: app.clipboard.startswith(f"# espwatch report: {C3}\n\n145 lines, 3 boot(s)"))

    asyncio.run(run())


def test_search_filters_bookmarks(corpus_dir: Path, patterns, tmp_path: Path) -> None:
    async def run() -> None:
        app = MonitorApp(corpus_dir / C3, patterns, report_dir=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            view = app.log_view
            await pilot.press("slash")
            await pilot.press(*"illegal")
            await pilot.press("enter")
            await until(pilot, lambda: view.current_line() == 80)  # test_illegal_instruction
            await pilot.press("greater_than_sign")
            await until(pilot, lambda: view.current_line() == 81)  # Illegal instruction
            await pilot.press("greater_than_sign")  # wraps around
            await until(pilot, lambda: view.current_line() == 80)
            await pilot.press("slash")
            await pilot.press("ctrl+u", *"Stack memory")  # capital: case-sensitive
            await pilot.press("enter")
            await until(pilot, lambda: view.current_line() == 93)  # from 80 forward
            await pilot.press("less_than_sign")
            await until(pilot, lambda: view.current_line() == 28)
            # bookmarks
            await pilot.press("m")
            view.goto_line(100)
            await pilot.press("m")
            view.goto_line(1)
            await pilot.press("apostrophe")
            assert view.current_line() == 28
            await pilot.press("apostrophe")
            assert view.current_line() == 100
            await pilot.press("apostrophe")
            assert view.current_line() == 28
            # level filter: all -> info -> warning -> error
            await pilot.press("escape")
            await pilot.press("l", "l")
            await until(pilot, lambda: app.filter is not None and app.filter.complete)
            kept = list(app.filter.lines)
            assert kept[:3] == [12, 13, 14]  # the W lines of boot 1 ...
            assert 16 in kept and 27 in kept  # ... and every line of the abort event (fatal)
            assert 15 not in kept and 1 not in kept
            assert view.rows == len(kept)
            # tag filter on top
            await pilot.press("f")
            await pilot.press(*"spi_flash")
            await pilot.press("enter")
            await until(pilot, lambda: app.filter is not None and app.filter.complete)
            assert list(app.filter.lines) == [14, 79, 144]
            # boot filter: only the boot under the cursor
            await pilot.press("escape")
            await until(pilot, lambda: app.filter is None)
            view.goto_line(70)
            await pilot.press("b")
            await until(pilot, lambda: app.filter is not None and app.filter.complete)
            assert list(app.filter.lines) == list(range(66, 131))
            await pilot.press("b")
            assert app.filter is None and view.rows == 145
            # save the report: Markdown, where it was asked to go
            await pilot.press("w")
            await until(pilot, lambda: app.last_report is not None)
            assert app.last_report.parent == tmp_path and app.last_report.suffix == ".md"
            text = app.last_report.read_text()
            assert text.startswith(f"# espwatch report: {C3}") and "abort" in text
            # the help screen opens and closes
            await pilot.press("question_mark")
            await pilot.press("escape")
            await pilot.press("q")
        assert app.return_code == 0 or app.return_code is None

    asyncio.run(run())


def test_report_goes_to_the_cache_folder_when_its_folder_cannot_be_written(tmp_path: Path, corpus_dir: Path,
                                                                          patterns, monkeypatch) -> None:
    """`w` where the log's folder cannot be written (here: a file stands where the folder should be, which
    fails for root too) saves the report in the cache folder's reports/ and says so."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(cache))
    (tmp_path / "blocked").write_text("a file, not a folder")
    app = MonitorApp(corpus_dir / C3, patterns, report_dir=tmp_path / "blocked")

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.follower is not None and app.follower.done)
            await pilot.press("w")
            await until(pilot, lambda: app.last_report is not None)
            assert app.last_report.parent == cache / "reports"
            assert app.last_report.read_text().startswith(f"# espwatch report: {C3}")
            message = [n.message for n in app._notifications][-1]
            assert message.startswith(f"report saved to {app.last_report} ({tmp_path / 'blocked'} cannot")

    asyncio.run(run())


def test_follow_a_growing_file(tmp_path: Path, corpus_dir: Path, patterns) -> None:
    data = (corpus_dir / C3).read_bytes()
    path = tmp_path / "growing.log"
    path.write_bytes(data[:2000])

    async def run() -> None:
        app = MonitorApp(path, patterns, follow=True)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.lines >= data[:2000].count(b"\n"))
            assert not app.events or all(e.line < 40 for e in app.events)
            with open(path, "ab") as fh:
                fh.write(data[2000:])
            await until(pilot, lambda: any(e.kind == "panic" for e in app.events))
            assert app.log_view.current_line() == app.lines  # follows the end

    asyncio.run(run())


def test_garbage_and_a_10mb_line(tmp_path: Path, corpus_dir: Path, patterns) -> None:
    from devsim import garbage

    path = tmp_path / "garbage.log"
    path.write_bytes((corpus_dir / C3).read_bytes() + garbage() + (corpus_dir / C3).read_bytes())
    expected = scan_stream(str(path), patterns)

    async def run() -> None:
        app = MonitorApp(path, patterns)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done)
            assert events_json(app.events) == events_json(expected.events)
            assert app.lines == expected.pipeline.lines
            view = app.log_view
            big = next(n for n in range(140, 170) if app.index.line(n)[1] >= 10 * 1024 * 1024)
            view.goto_line(big)
            await pilot.pause()
            assert view._content(big)[0].plain.endswith(f"({10 * 1024 * 1024 - 4096:,} more bytes)")
            shot = app.export_screenshot()
            assert "AAAAAAAAAA" in shot and "\x1b" not in shot
            await pilot.press("end")

    asyncio.run(run())


@pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")
def test_live_monitor_over_a_pty(tmp_path: Path, corpus_dir: Path, patterns) -> None:
    log_path = tmp_path / "session.log"
    log = SessionLog(log_path)
    sim = DevSim(tmp_path / "ttyESP")
    source = SerialSource(str(sim.link), 115200, log, retry_delay=0.05)
    data = (corpus_dir / C3).read_bytes()

    async def run() -> MonitorApp:
        app = MonitorApp(log_path, patterns, source=source, name="ttyESP")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.source_state == "connected")
            await asyncio.to_thread(sim.write, data[:5000], 200_000)
            await until(pilot, lambda: any(e.kind == "abort" for e in app.events))
            await pilot.press("ctrl+r")  # a pty cannot reset: a notice, no crash
            await asyncio.to_thread(sim.unplug)
            await until(pilot, lambda: app.source_state in ("lost", "waiting"))
            await asyncio.to_thread(sim.plug)
            await until(pilot, lambda: app.source_state == "connected")
            await asyncio.to_thread(sim.write, data[5000:], 200_000)
            await until(pilot, lambda: any(e.kind == "panic" for e in app.events))
            await until(pilot, lambda: len(app.sessions) == 3)
            assert app.log_view.current_line() == app.lines
            await pilot.press("t")  # host arrival times of live lines
            view = app.log_view
            raw, _, offset = app.index.line(10)
            stamp = view.time_of(10, offset, raw)
            assert view.show_times and stamp is not None and stamp.count(":") == 2
            await pilot.press("p")
            assert app.log_view.paused
            await pilot.press("p")
            await pilot.press("i")
            await pilot.press(*"help", "enter")
            await pilot.press("ctrl+right_square_bracket")
        return app

    try:
        asyncio.run(run())
    finally:
        source.stop()
        log.close()
        sim.close()
    raw = log_path.read_bytes()
    assert strip_host_lines(raw) == bytes(sim.written)
    assert b"lost" in raw and b"back" in raw


def test_elf_decodes_frames_in_the_detail_pane_and_status(tmp_path: Path, fixtures_dir: Path, patterns,
                                                          monkeypatch) -> None:
    """With --elf the index is built in the background; frames appear in the detail pane and the status
    line says whether the ELF is the device's."""

    from espwatch.enrich import Enrichment

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    elf = fixtures_dir / "esp32c3-coredump-app" / "esp32c3.elf"
    log = tmp_path / "c3.log"
    log.write_text("abort() was called at PC 0x42009351 on core 0\nCore  0 register dump:\n"
                   "MEPC    : 0x4038368e  RA      : 0x42009354  SP      : 0x3fc8cd5c  GP      : 0x3fc887e0\n\n"
                   "ELF file SHA256: 1234abcd5678\n")
    enr = Enrichment.choose(elf, patterns=patterns, background=True)

    async def run() -> tuple[str, str]:
        app = MonitorApp(log, patterns, enrichment=enr)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done and enr.state == "ready", timeout=60)
            await until(pilot, lambda: app.events[0].frames is not None, timeout=60)
            app.select_event(next(e for e in app.events if e.kind == "abort"))
            await pilot.pause(0.1)
            return detail_text(app), app.elf_state

    detail, status = asyncio.run(run())
    assert "fail_once" in detail
    assert "DOES NOT MATCH" in status and "esp32c3.elf" in status


@pytest.mark.skipif(os.name == "nt" or not os.path.exists("/dev/full"), reason="needs a pty and /dev/full")
def test_live_monitor_with_an_unwritable_session_log(tmp_path: Path, corpus_dir: Path, patterns) -> None:
    """The session log on /dev/full (every write: ENOSPC): the screen still shows every line and event, and
    the status line and a notification say loudly that the log is not saved."""
    log = SessionLog("/dev/full")
    sim = DevSim(tmp_path / "ttyESP")
    source = SerialSource(str(sim.link), 115200, log, retry_delay=0.05)
    data = (corpus_dir / C3).read_bytes()

    async def run() -> tuple[str, list[str]]:
        app = MonitorApp(tmp_path / "screen.log", patterns, source=source, name="ttyESP")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.source_state == "connected")
            await asyncio.to_thread(sim.write, data, 200_000)
            await until(pilot, lambda: any(e.kind == "panic" for e in app.events))
            await until(pilot, lambda: len(app.sessions) == 3)
            status = str(app.query_one("#status").content)
            said = app.source_text  # what the last status message (shown as a notification) said
            await pilot.press("ctrl+right_square_bracket")
        return status, said

    try:
        status, said = asyncio.run(run())
    finally:
        source.stop()
        log.close()
        sim.close()
    assert status.startswith(" LOG NOT SAVED (No space left on device (ENOSPC))") and "connected" in status
    assert "/dev/full cannot be written" in said and "retrying every 1 s" in said
    assert log.summary().saved == 0 and log.summary().received == len(data)
