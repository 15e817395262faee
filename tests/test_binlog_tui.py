"""Binary logs in the monitor and in replay, through the real verbs (the screen runs headless under the
Pilot instead of the terminal): the device simulator sends the fixture's raw bytes over a pty, the session
log keeps them byte for byte, and the screen shows the decoded lines with the same events as `scan` of the
decoded text; replaying the session log rebuilds the same screen."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest
from conftest import small_fixture

from espwatch import console
from espwatch.binlog import decode_bytes, open_decoder
from espwatch.binlog.spool import BinlogSpool
from espwatch.cli import main
from espwatch.device.sessionlog import strip_host_lines
from espwatch.patterns import load_patterns
from espwatch.scan import scan_stream
from espwatch.tui.app import MonitorApp

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim
from helpers import until

FIX = small_fixture("esp32-binlog-app")
RAW = (FIX / "binlog").read_bytes()
SIZE = (120, 40)
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")



def shown(events) -> list[tuple]:
    return [(e.kind, e.line, e.end_line, e.code, e.severity, e.text) for e in events
            if e.kind not in ("finding", "boot_loop")]


@pytest.fixture()
def decoded_scan(tmp_path: Path):
    text = tmp_path / "decoded.txt"
    text.write_bytes(decode_bytes(RAW, open_decoder(FIX / "log.elf", FIX / "bootloader.elf")))
    return scan_stream(str(text), load_patterns())


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))


def drive(monkeypatch, script) -> list[MonitorApp]:
    """Replace the terminal run of the app by `script(app, pilot)` under the Pilot."""
    apps: list[MonitorApp] = []

    def run(self: MonitorApp) -> None:
        async def go() -> None:
            async with self.run_test(size=SIZE) as pilot:
                await script(self, pilot)
        asyncio.run(go())
        apps.append(self)

    monkeypatch.setattr(MonitorApp, "run", run)
    monkeypatch.setattr(console, "need_terminal", lambda stdin=True: None)  # the Pilot is the terminal
    return apps


def test_live_binary_log_session(tmp_path: Path, monkeypatch, decoded_scan) -> None:
    sim = DevSim(tmp_path / "ttyESP")
    session = tmp_path / "session.log"
    times: list[str | None] = []

    async def script(app: MonitorApp, pilot) -> None:
        await until(pilot, lambda: app.source_state == "connected")
        await asyncio.to_thread(sim.write, RAW, 40_000)
        await until(pilot, lambda: app.lines >= 181 and len(app.events) >= len(shown(decoded_scan.events)))
        raw, _, offset = app.index.line(180)
        times.append(app.log_view.time_of(180, offset, raw))
        assert raw.startswith(b"\x1b[0;31mE (389) assert: Assert failed in 0x400d3bcf")

    apps = drive(monkeypatch, script)
    try:
        assert main(["monitor", "--port", str(sim.link), "--no-reset", "--log", str(session),
                     "--elf", str(FIX / "log.elf")]) == 0
    finally:
        sim.close()
    app = apps[0]
    assert shown(app.events) == shown(decoded_scan.events)
    assert [e.kind for e in app.events if e.kind == "partition_loaded"] == ["partition_loaded"]
    assert times[0] is not None and times[0].count(":") == 2  # host time of a decoded line
    assert strip_host_lines(session.read_bytes()) == bytes(sim.written) == RAW  # raw bytes kept
    assert not app.path.exists()  # the decoded spool is removed at exit

    # replaying the session log rebuilds the same screen (frames found without being told)
    async def wait_done(app: MonitorApp, pilot) -> None:
        await until(pilot, lambda: app.scan_done)

    replays = drive(monkeypatch, wait_done)
    assert main(["replay", str(session), "--elf", str(FIX / "log.elf")]) == 0
    assert shown(replays[0].events) == shown(app.events)
    assert replays[0].lines == decoded_scan.pipeline.lines == 181


def test_replay_finds_binary_logs_by_itself(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "capture.bin"
    log.write_bytes(RAW)

    seen: list[bytes] = []

    async def wait_done(app: MonitorApp, pilot) -> None:
        await until(pilot, lambda: app.scan_done)
        seen.append(app.index.line(13)[0])

    apps = drive(monkeypatch, wait_done)
    assert main(["replay", str(log)]) == 0  # no ELF: each record says so on its line
    app = apps[0]
    assert app.lines == 12 + 141
    assert seen[0].startswith(b"[espwatch] binlog: bootloader record I (31) not decoded: no bootloader ELF")
    assert sum(e.code == "EW051" for e in app.events) == 141


def test_spool_follows_a_growing_raw_file(tmp_path: Path) -> None:
    raw = tmp_path / "growing.bin"
    raw.write_bytes(b"")
    done = threading.Event()
    spool = BinlogSpool(raw, open_decoder(FIX / "log.elf", FIX / "bootloader.elf"), follow=True, until=done)
    spool.start()
    try:
        with open(raw, "ab") as fh:
            for i in range(0, len(RAW), 333):
                fh.write(RAW[i:i + 333])
                fh.flush()
                spool.wake.set()
        done.set()
        assert spool.done.wait(10)
        text = spool.path.read_bytes()
        assert text == decode_bytes(RAW, open_decoder(FIX / "log.elf", FIX / "bootloader.elf"))
        last = len(text) - 1
        assert spool.raw_offset(last) == len(RAW) and spool.raw_offset(0) <= len(RAW)
    finally:
        spool.cleanup()
    assert not spool.path.exists()
