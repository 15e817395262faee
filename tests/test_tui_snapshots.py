"""Snapshots of the main screens (pytest-textual-snapshot). Regenerate: pytest --snapshot-update."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import until, write_lx106_crash

from espwatch.patterns import load_patterns
from espwatch.tui.app import MonitorApp

SIZE = (120, 40)


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()


async def settle(pilot) -> None:
    app = pilot.app
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while not app.scan_done or app.search_busy or (app.filter is not None and not app.filter.complete):
        if loop.time() > end:
            raise AssertionError("app did not settle")
        await pilot.pause(0.02)
    app.clear_notifications()
    await pilot.pause()


def make(corpus_dir: Path, patterns, name: str) -> MonitorApp:
    return MonitorApp(corpus_dir / name, patterns)


def test_replay_with_event_selected(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32c3-abort-then-illegal-instruction.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("n", "n")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_panic_detail(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32-storeprohibited-coredump-uart.log")

    async def before(pilot) -> None:
        await settle(pilot)
        panic = next(e for e in pilot.app.timeline_events if e.kind == "panic")
        pilot.app.select_event(panic)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_level_filter_errors(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "a-esp32-flash-read-err-bootloop.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l", "l", "l")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_search(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32c3-abort-then-illegal-instruction.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("slash", *"mepc", "enter")
        await settle(pilot)
        await pilot.press("greater_than_sign")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


# -- issue 13: the states of the live monitor ------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "/nonexistent/espwatch-ttyESP"
"""A port that never appears: the monitor waits for it (a real SerialSource, a deterministic state)."""



async def quiet(pilot) -> None:
    pilot.app.clear_notifications()
    await pilot.pause(0.2)
    pilot.app.clear_notifications()
    await pilot.pause()


def test_narrow_terminal(snap_compare, corpus_dir: Path, patterns) -> None:
    """80x24: whole log lines, the side panes hidden, the selected event in a one-line bar."""
    app = make(corpus_dir, patterns, "b-esp32c3-abort-then-illegal-instruction.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("n", "n")
        await quiet(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_collapsed_side_panes(snap_compare, corpus_dir: Path, patterns) -> None:
    app = make(corpus_dir, patterns, "b-esp32-storeprohibited-coredump-uart.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("s", "n", "n", "n", "n", "n", "n")
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def lx106_crash(tmp_path: Path) -> Path:
    return write_lx106_crash(tmp_path)


def test_decoded_lines_under_a_backtrace_and_elf_mismatch(snap_compare, tmp_path: Path, data_dir: Path,
                                                           patterns, monkeypatch) -> None:
    """The frames under the Backtrace line in addr2line's form; the status says the ELF is not the one the
    device printed the hash of."""
    from espwatch.enrich import Enrichment

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    enr = Enrichment.choose(data_dir / "lx106-inline-demo" / "demo.elf", patterns=patterns, background=True)
    app = MonitorApp(lx106_crash(tmp_path), patterns, enrichment=enr, name="crash.log")

    async def before(pilot) -> None:
        await settle(pilot)
        await until(pilot, lambda: enr.state == "ready" and pilot.app.log_view.display_rows > pilot.app.lines)
        await pilot.press("n", "n")
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_elf_indexing(snap_compare, tmp_path: Path, data_dir: Path, patterns, monkeypatch) -> None:
    """While the ELF's index is being built the screen works and says so; decoding comes when it is ready."""
    from concurrent.futures import Future

    from espwatch.enrich import Enrichment

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    enr = Enrichment.choose(data_dir / "lx106-inline-demo" / "demo.elf", patterns=patterns, background=True)
    enr.index.result()
    enr.index = Future()  # the state of a big ELF's index build, held while the snapshot is taken
    path = lx106_crash(tmp_path)
    path.write_text(path.read_text().replace("ELF file SHA256: 0123456789abcdef\n", ""))
    app = MonitorApp(path, patterns, enrichment=enr, name="crash.log", follow=True)

    async def before(pilot) -> None:
        await until(pilot, lambda: pilot.app.lines == 6 and len(pilot.app.store) >= 2)
        assert "indexing" in str(pilot.app.query_one("#status").content)
        await pilot.press("n")
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_a_finding_appearing_live(snap_compare, tmp_path: Path, patterns) -> None:
    """The 4120 story up to the second failed attempt, then the app running on, followed as it grows: EW910
    is shown (provisional, marked …) while the log is still open."""
    from espwatch.diagnosis import load_rules
    from espwatch.enrich import Enrichment

    lines = (ROOT / "samples" / "ota-checksum-psram-4120.log").read_bytes().splitlines(keepends=True)
    path = tmp_path / "story.log"
    tail = b"".join(b"I (%d) app: still running, %d\n" % (70000 + i, i) for i in range(60))
    path.write_bytes(b"".join(lines[:90]) + tail)  # the log goes on: the event is not near its end
    app = MonitorApp(path, patterns, enrichment=Enrichment(None, "t", patterns, load_rules()), follow=True,
                     name="story.log")

    async def before(pilot) -> None:
        a = pilot.app
        # generous timeouts: on a shared, loaded machine the follower's quiet timer may fire late
        await until(pilot, lambda: any(a.store.code(r) == "EW910" for r in a.store.rows()), timeout=120)
        row = next(r for r in a.store.rows() if a.store.code(r) == "EW910")
        a.select_event(row)
        await until(pilot, lambda: a.timeline.cursor_node is not None
                    and a.timeline.cursor_node.data == ("event", row) and not a.follower.live._dirty,
                    timeout=120)
        await pilot.pause(0.3)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def live_app(tmp_path: Path, patterns, lost: bool) -> MonitorApp:
    from datetime import datetime

    from espwatch.device.reader import SerialSource
    from espwatch.device.sessionlog import SessionLog

    log = SessionLog(tmp_path / "session.log", times=False)
    when = datetime(2025, 1, 2, 10, 0, 0).timestamp()
    log.write(b"I (1234) app: waiting for a connection\r\nI (2234) app: free heap 201228\r\n")
    if lost:
        log.mark("port /dev/ttyUSB0 lost (device reports readiness to read but returned no data)", when=when)
    source = SerialSource(NOWHERE, 115200, log, retry_delay=60)
    return MonitorApp(log.path, patterns, source=source, name="session.log")


def test_port_waiting_after_lost(snap_compare, tmp_path: Path, patterns) -> None:
    app = live_app(tmp_path, patterns, lost=True)

    async def before(pilot) -> None:
        await until(pilot, lambda: pilot.app.lines == 3 and pilot.app.source_state == "waiting")
        await quiet(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=before)
    finally:
        app.source.stop()
        app.source.log.close()


def test_console_mode(snap_compare, tmp_path: Path, patterns) -> None:
    app = live_app(tmp_path, patterns, lost=False)

    async def before(pilot) -> None:
        await until(pilot, lambda: pilot.app.lines == 2 and pilot.app.source_state == "waiting")
        await pilot.press("f2")
        await quiet(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=before)
    finally:
        app.source.stop()
        app.source.log.close()
