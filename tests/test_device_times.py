"""Arrival times: compact in memory (at most one entry per 100 ms), a `.times` sidecar beside the session
log that maps byte offsets to host times, and `replay` showing them."""

from __future__ import annotations

import asyncio
import os
import struct
import sys
from datetime import datetime
from pathlib import Path

import pytest

from espwatch.commands.replay import _arrival_times
from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog
from espwatch.device.times import ArrivalTimes, header_bytes, load_times_for, times_path
from espwatch.errors import TimesFileError

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim

T0 = 1_767_000_000.0


def test_at_most_one_entry_per_100_ms() -> None:
    times = ArrivalTimes()
    for i in range(100_000):  # a read every millisecond for 100 s
        times.note(i * 40, T0 + i / 1000)
    assert 999 <= len(times) <= 1001
    assert times.nbytes == len(times) * 16
    assert times.time_at(0) == T0
    assert times.time_at(39 * 40) == T0  # within the first 100 ms
    assert abs(times.time_at(50_000 * 40) - (T0 + 50.0)) < 0.1001
    assert ArrivalTimes().time_at(5) is None


def test_sidecar_round_trip_and_damage() -> None:
    times = ArrivalTimes()
    for off, t in ((0, T0), (100, T0 + 1), (250, T0 + 2.5)):
        times.note(off, t)
    raw = header_bytes() + b"".join(struct.pack("<qd", o, t) for o, t in times.entries())
    back = ArrivalTimes.from_bytes(raw + b"\x01\x02\x03")  # a partial last record is ignored
    assert back.entries() == times.entries()
    assert back.time_at(99) == T0 and back.time_at(100) == T0 + 1 and back.time_at(10**9) == T0 + 2.5
    backwards = raw + struct.pack("<qd", 10, T0 + 9) + struct.pack("<qd", 900, T0 + 10)
    assert len(ArrivalTimes.from_bytes(backwards)) == 3  # stops where offsets go backwards
    with pytest.raises(TimesFileError, match="not an espwatch times file"):
        ArrivalTimes.from_bytes(b"NOTTIMES" + raw[8:])
    with pytest.raises(TimesFileError, match="too short"):
        ArrivalTimes.from_bytes(b"ESPW")


def test_session_log_writes_the_sidecar_with_its_offsets(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    with SessionLog(path) as log:
        for i in range(50):
            log.write(b"I (%d) app: line %d\n" % (i, i), when=T0 + i * 0.05)
        log.mark("reset /dev/ttyUSB0 (DTR/RTS)", when=T0 + 10)
        log.write(b"rst:0xc (SW_CPU_RESET)\n", when=T0 + 10.02)
        memory = log.times.entries()
    side = times_path(path)
    assert side == tmp_path / "s.log.times"
    loaded = load_times_for(path)
    assert loaded.entries() == memory
    assert len(memory) == 26  # 50 reads 50 ms apart, the host line; the last read within 100 ms
    assert os.path.getsize(side) == 16 + 16 * len(memory)
    data = path.read_bytes()
    assert all(off < len(data) for off, _ in memory)
    # a byte's time is the time of the read that brought it
    line_20 = data.index(b"I (20) app")
    assert loaded.time_at(line_20) == T0 + 20 * 0.05
    assert loaded.time_at(data.index(b"rst:0xc")) == T0 + 10


def test_appending_to_a_log_appends_to_its_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    with SessionLog(path) as log:
        log.write(b"first session\n", when=T0)
    with SessionLog(path) as log:
        log.write(b"second session\n", when=T0 + 3600)
    loaded = load_times_for(path)
    assert loaded.entries() == [(0, T0), (len(b"first session\n"), T0 + 3600)]
    assert load_times_for(tmp_path / "other.log") is None


def test_a_foreign_file_at_the_sidecar_path_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    times_path(path).write_bytes(b"something else entirely\n")
    with SessionLog(path) as log:
        log.write(b"x\n")
        assert log.times_path is None and "left alone" in log.times_problem
        assert log.times.time_at(0) is not None  # still known in memory
    assert times_path(path).read_bytes() == b"something else entirely\n"
    assert _arrival_times(str(path)) is None


@pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")
def test_live_reads_land_in_the_sidecar(tmp_path: Path, corpus_dir: Path) -> None:
    import time

    data = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes()
    with DevSim(tmp_path / "tty") as sim, SessionLog(tmp_path / "s.log") as log:
        src = SerialSource(str(sim.link), 115200, log, retry_delay=0.05)
        src.start()
        try:
            end = time.monotonic() + 10
            while src.state != "connected" and time.monotonic() < end:
                time.sleep(0.01)
            before = time.time()
            sim.write(data[:3000], rate=20_000)  # 150 ms
            time.sleep(0.3)
            sim.write(data[3000:], rate=20_000)
            while log.device_bytes < len(data) and time.monotonic() < end:
                time.sleep(0.01)
            after = time.time()
        finally:
            src.stop()
    loaded = load_times_for(tmp_path / "s.log")
    assert len(loaded) >= 3
    assert before - 0.01 <= loaded.time_at(0) <= loaded.time_at(len(data) - 1) <= after
    assert loaded.time_at(3500) - loaded.time_at(2000) >= 0.25  # the pause is in the times


def test_replay_shows_the_sidecar_times(tmp_path: Path, corpus_dir: Path) -> None:
    from espwatch.patterns import load_patterns
    from espwatch.tui.app import MonitorApp

    path = tmp_path / "s.log"
    lines = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes().splitlines(True)
    with SessionLog(path) as log:
        for i, ln in enumerate(lines):
            log.write(ln, when=T0 + i)  # one line a second
    lookup = _arrival_times(str(path))
    assert lookup is not None

    async def run() -> list[str | None]:
        app = MonitorApp(path, load_patterns(), show_times=True, arrival_time=lookup)
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.scan_done:
                await pilot.pause(0.02)
            out = []
            for n in (1, 10, 100):
                raw, _, offset = app.index.line(n)
                out.append(app.log_view.time_of(n, offset, raw))
            return out

    stamps = asyncio.run(run())
    expected = [datetime.fromtimestamp(T0 + n - 1) for n in (1, 10, 100)]
    assert stamps == [f"{d:%H:%M:%S}.000" for d in expected]


def test_a_stale_sidecar_is_restarted_with_a_new_log_and_a_torn_one_is_mended(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    with SessionLog(path) as log:
        log.write(b"old session\n" * 100, when=T0)
    path.unlink()  # the log is gone, its sidecar stays
    with SessionLog(path) as log:
        log.write(b"new\n", when=T0 + 50)
    assert load_times_for(path).entries() == [(0, T0 + 50)]
    with open(times_path(path), "ab") as fh:
        fh.write(b"\x01\x02\x03")  # a crash in the middle of a record
    with SessionLog(path) as log:
        log.write(b"more\n", when=T0 + 60)
    assert load_times_for(path).entries() == [(0, T0 + 50), (4, T0 + 60)]
