"""Sources and the session log: a simulated device on a pty, unplugged mid-line, must lose no byte."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from espwatch.device.ports import guess_bridge
from espwatch.device.reader import SerialSource
from espwatch.device.reset import bootloader_reset, hard_reset
from espwatch.device.sessionlog import SessionLog, host_line, is_host_line, strip_host_lines
from espwatch.lines import LineSplitter
from espwatch.tui.document import LineIndex

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim, garbage
from helpers import wait_for

posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")



# -- session log --------------------------------------------------------------------------------------
def test_host_lines_strip_back_to_device_bytes(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "s.log")
    log.write(b"line one\npartial")
    log.mark("port X lost")
    log.write(b"rest\n")
    log.mark("port X back")
    log.write(b"--- espwatch lookalike in a device line ---\nend")
    log.close()
    data = (tmp_path / "s.log").read_bytes()
    lines = data.split(b"\n")
    assert lines[1] == b"partial"  # the cut line was ended by the inserted break
    assert is_host_line(lines[2]) and lines[2].endswith(b"(line cut) ---")
    assert is_host_line(lines[4]) and b"(line cut)" not in lines[4]
    assert strip_host_lines(data) == b"line one\npartialrest\n--- espwatch lookalike in a device line ---\nend"


def test_host_line_format() -> None:
    raw = host_line("port /dev/ttyUSB0 lost", when=0)
    assert raw.startswith(b"--- espwatch 19") and raw.endswith(b": port /dev/ttyUSB0 lost ---\n")
    assert strip_host_lines(raw) == b""


# -- device control ----------------------------------------------------------------------------------
class RecordingPort:
    def __init__(self) -> None:
        self._dtr = self._rts = False
        self.trace: list[tuple[bool, bool]] = []

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, v: bool) -> None:
        self._dtr = v
        self.trace.append((self._dtr, self._rts))

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, v: bool) -> None:
        self._rts = v
        self.trace.append((self._dtr, self._rts))


def _states(trace: list[tuple[bool, bool]]) -> list[tuple[bool, bool]]:
    out: list[tuple[bool, bool]] = []
    for s in trace:
        if not out or out[-1] != s:
            out.append(s)
    return out


def test_hard_reset_pulses_en_through_rts() -> None:
    port = RecordingPort()
    hard_reset(port, sleep=lambda s: None)
    # (DTR, RTS): RTS high = EN low (chip held in reset), then released.
    assert _states(port.trace) == [(False, True), (False, False)]


def test_bootloader_reset_holds_io0_low_while_en_rises() -> None:
    port = RecordingPort()
    bootloader_reset(port, tight=False, sleep=lambda s: None)
    seq = _states(port.trace)
    assert (False, True) in seq  # EN low, IO0 high
    i = seq.index((False, True))
    assert (True, False) in seq[i:]  # then IO0 low as EN goes high: download mode
    assert seq[-1] == (False, False)


def test_usb_jtag_bootloader_sequence_goes_through_both_high() -> None:
    port = RecordingPort()
    bootloader_reset(port, usb_jtag=True, sleep=lambda s: None)
    seq = _states(port.trace)
    assert (True, True) in seq and seq[-1] == (False, False)


def test_bridge_guess() -> None:
    assert guess_bridge(0x303A, 0x1001) == "Espressif USB-Serial-JTAG"
    assert guess_bridge(0x10C4, 0xEA60).startswith("Silicon Labs CP210x")
    assert guess_bridge(0x1A86, 0x7523) == "WCH CH340"
    assert guess_bridge(0x0403, 0x6001).startswith("FTDI")
    assert guess_bridge(0x1234, 0x5678) is None


# -- the line index counts like the detector ----------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_line_index_matches_line_splitter(tmp_path: Path, seed: int) -> None:
    import random

    rnd = random.Random(seed)
    pieces = []
    alphabet = b"ab\r\x00\xff "
    pool = bytes(rnd.choice(alphabet) for _ in range(100_000))
    for _ in range(3000):
        n = rnd.choice([0, 1, 5, 80, 300, 70000])
        at = rnd.randrange(0, len(pool) - n) if n else 0
        pieces.append(pool[at : at + n] + rnd.choice([b"", b"\r"]))
    data = b"\n".join(pieces) + (b"tail" if seed % 2 else b"")
    path = tmp_path / "x.log"
    path.write_bytes(data)
    idx = LineIndex(path)
    pos = 0
    while pos < len(data):
        step = rnd.randint(1, 200000)
        idx.extend(data[pos : pos + step])
        pos += step
    sp = LineSplitter(max_line=1 << 30)
    lines = list(sp.feed(data)) + list(sp.flush())
    assert idx.line_count == len(lines)
    for ln in rnd.sample(lines, 300) + lines[-3:]:
        raw, length, _ = idx.line(ln.number)
        assert length == len(ln.raw)
        assert raw == ln.raw[: len(raw)]
    idx.close()


# -- serial through a pty -----------------------------------------------------------------------------
@posix_only
def test_unplug_mid_line_loses_no_byte(tmp_path: Path, corpus_dir: Path) -> None:
    log_path = tmp_path / "session.log"
    states: list[str] = []
    with DevSim(tmp_path / "ttyESP") as sim, SessionLog(log_path) as log:
        src = SerialSource(str(sim.link), 115200, log, on_status=lambda s, m: states.append(s),
                           retry_delay=0.05)
        src.start()
        try:
            wait_for(lambda: src.state == "connected", what="first connection")
            first = (corpus_dir / "b-esp32c3-abort-then-illegal-instruction.log").read_bytes()
            sim.write(first + b"I (5) half a line cut by the unplu", rate=2_000_000)
            wait_for(lambda: log.device_bytes == len(sim.written), what="bytes before unplug")
            sim.unplug()
            wait_for(lambda: src.state in ("lost", "waiting"), what="loss detected")
            time.sleep(0.2)  # the port stays away for a while: retries must not write anything
            sim.plug()
            wait_for(lambda: src.state == "connected" and src.connects == 2, what="reconnection")
            second = (corpus_dir / "a-esp32-flash-read-err-bootloop.log").read_bytes()
            sim.write(b"g line\n" + second + garbage(big_line=2 * 1024 * 1024))
            wait_for(lambda: log.device_bytes == len(sim.written), what="bytes after replug")
        finally:
            src.stop()
    data = log_path.read_bytes()
    assert strip_host_lines(data) == bytes(sim.written)
    host = [ln for ln in data.split(b"\n") if is_host_line(ln)]
    assert len(host) == 2, host
    assert b"lost" in host[0] and host[0].endswith(b"(line cut) ---")
    assert b"back" in host[1]
    assert "lost" in states and states.count("connected") == 2


@posix_only
def test_missing_port_is_waited_for(tmp_path: Path) -> None:
    link = tmp_path / "ttyLATE"
    states: list[tuple[str, str]] = []
    with SessionLog(tmp_path / "s.log") as log:
        src = SerialSource(str(link), 115200, log, on_status=lambda s, m: states.append((s, m)),
                           retry_delay=0.05)
        src.start()
        try:
            wait_for(lambda: bool(states), what="waiting state")
            assert states[0][0] == "waiting"
            assert "waiting for" in states[0][1]
            with DevSim(link) as sim:
                wait_for(lambda: src.state == "connected", what="late connection")
                sim.write(b"hello\n")
                wait_for(lambda: log.device_bytes == 6, what="data")
                assert src.reset() is False  # a pty has no modem lines: reported, not raised
        finally:
            src.stop()
    assert strip_host_lines((tmp_path / "s.log").read_bytes()) == b"hello\n"
    assert any(s == "info" and "cannot reset" in m for s, m in states)


@posix_only
def test_send_reaches_the_device(tmp_path: Path) -> None:
    with DevSim(tmp_path / "tty") as sim, SessionLog(tmp_path / "s.log") as log:
        src = SerialSource(str(sim.link), 115200, log, retry_delay=0.05)
        src.start()
        try:
            wait_for(lambda: src.state == "connected", what="connection")
            assert src.send(b"help\r\n")
            got = b""
            end = time.monotonic() + 5
            while len(got) < 6 and time.monotonic() < end:
                try:
                    got += os.read(sim.master, 100)
                except BlockingIOError:
                    time.sleep(0.01)
            assert got == b"help\r\n"
        finally:
            src.stop()


def test_socket_url_is_accepted(tmp_path: Path) -> None:
    """`socket://` goes through serial_for_url: a tiny TCP server plays the device."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():  # every connection gets the banner (a retried open is fine)
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.sendall(b"rst:0x1 (POWERON),boot:0x13 (SPI_FAST_FLASH_BOOT)\n")
            stop.wait(0.5)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with SessionLog(tmp_path / "s.log") as log:
        src = SerialSource(f"socket://127.0.0.1:{port}", 115200, log, retry_delay=0.05)
        src.start()
        try:
            wait_for(lambda: log.device_bytes >= 51, what="socket data")
        finally:
            src.stop()
            stop.set()
            t.join(2)
            srv.close()
    # (a dropped connection before the data is retried and marked, like a lost port)
    assert strip_host_lines((tmp_path / "s.log").read_bytes()).startswith(b"rst:0x1 (POWERON)")
