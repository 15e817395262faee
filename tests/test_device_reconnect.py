"""Ports that come back: the banner a board prints the instant its port reappears is kept, the same board is
followed to a new path, a different device at the old path is refused; network links say what they are."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from espwatch.device.connect import can_reset, network_note, open_port
from espwatch.device.ports import PortInfo
from espwatch.device.reader import SerialSource
from espwatch.device.sessionlog import SessionLog, is_host_line, strip_host_lines

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim
from helpers import wait_for

posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")

BANNER = (b"ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
          b"rst:0x15 (USB_UART_CHIP_RESET),boot:0xd (SPI_FAST_FLASH_BOOT)\r\n"
          b"Saved PC:0x40380d9e\r\nSPIWP:0xee\r\nmode:DIO, clock div:1\r\n")



@posix_only
def test_pyserial_open_flushes_what_is_queued_open_port_keeps_it(tmp_path: Path) -> None:
    """The defect and the fix on the same simulated board: a plain pyserial open throws the banner away."""
    with DevSim(tmp_path / "ttyACM0", banner=BANNER) as sim:
        plain = serial.Serial(str(sim.link), 115200, timeout=0.3)
        try:
            assert plain.read(len(BANNER)) == b""  # tcflush(TCIFLUSH) in pyserial's open()
        finally:
            plain.close()
        sim.replug(banner=BANNER)
        port = open_port(str(sim.link), 115200, timeout=0.3)
        try:
            assert port.read(len(BANNER)) == BANNER
        finally:
            port.close()


@posix_only
def test_banner_at_each_replug_is_kept_20_of_20(tmp_path: Path) -> None:
    with DevSim(tmp_path / "ttyACM0") as sim, SessionLog(tmp_path / "s.log") as log:
        src = SerialSource(str(sim.link), 115200, log, retry_delay=0.02)
        src.start()
        try:
            wait_for(lambda: src.state == "connected", what="connection")
            for i in range(20):
                sim.replug(banner=BANNER + b"I (%d) main: boot %d\n" % (i, i))
                wait_for(lambda i=i: src.connects == i + 2, what=f"reconnection {i + 1}")
                wait_for(lambda: log.device_bytes == len(sim.written), timeout=5, what=f"banner {i + 1}")
        finally:
            src.stop()
    data = (tmp_path / "s.log").read_bytes()
    assert strip_host_lines(data) == bytes(sim.written)
    assert strip_host_lines(data).count(b"ESP-ROM:esp32c3") == 20


def board(link: Path, serial_number: str | None = "F4:12:FA:00:00:01", location: str = "1-1.2:1.0",
          vid: int = 0x303A, pid: int = 0x1001) -> PortInfo:
    return PortInfo(str(link), vid, pid, "USB JTAG/serial debug unit", serial_number, "Espressif", location,
                    "USB JTAG/serial debug unit")


@posix_only
def test_same_board_is_followed_to_a_new_path_and_a_stranger_is_refused(tmp_path: Path) -> None:
    listing: list[PortInfo] = []
    states: list[tuple[str, str]] = []
    acm0, acm1 = tmp_path / "ttyACM0", tmp_path / "ttyACM1"
    with DevSim(acm0) as sim, SessionLog(tmp_path / "s.log") as log:
        listing[:] = [board(acm0)]
        src = SerialSource(str(acm0), 115200, log, retry_delay=0.02, ports=lambda: list(listing),
                           on_status=lambda s, m: states.append((s, m)))
        src.start()
        try:
            wait_for(lambda: src.state == "connected", what="connection")
            assert src.board is not None and src.usb_jtag()
            sim.write(b"I (10) main: before the reset\n")
            wait_for(lambda: log.device_bytes == len(sim.written), what="first bytes")
            # the chip resets: its port goes away; meanwhile another device takes the old name
            sim.unplug()
            listing[:] = []
            wait_for(lambda: src.state == "lost", what="loss")
            with DevSim(acm0, banner=b"STRANGER says hello\n") as stranger:
                listing[:] = [board(stranger.link, serial_number="0001", vid=0x10C4, pid=0xEA60,
                                    location="1-1.3:1.0")]
                wait_for(lambda: any("another device" in m for _, m in states), what="refusal")
                time.sleep(0.2)
                assert src.state == "lost" and src.connects == 1
                # the board re-enumerates as ttyACM1, talking at once
                sim.plug(link=acm1, banner=BANNER)
                listing.append(board(acm1))
                wait_for(lambda: src.state == "connected" and src.connects == 2, what="the board back")
                assert src.url == str(acm1)
                sim.write(b"I (20) main: after the reset\n")
                wait_for(lambda: log.device_bytes == len(sim.written), what="bytes after the reset")
        finally:
            src.stop()
    data = (tmp_path / "s.log").read_bytes()
    assert b"STRANGER" not in data
    assert strip_host_lines(data) == bytes(sim.written)
    host = [ln.decode() for ln in data.split(b"\n") if is_host_line(ln)]
    assert any(f"port {acm0} back as {acm1} (same board: 303a:1001 USB-Serial-JTAG serial "
               f"F4:12:FA:00:00:01)" in h for h in host), host


@posix_only
def test_board_without_serial_number_is_known_by_its_usb_location(tmp_path: Path) -> None:
    """A CH340 has no serial number: the same USB socket means the same board; another socket is refused."""
    listing: list[PortInfo] = []
    usb0, usb1 = tmp_path / "ttyUSB0", tmp_path / "ttyUSB1"
    ch340 = {"serial_number": None, "vid": 0x1A86, "pid": 0x7523}
    with DevSim(usb0) as sim, SessionLog(tmp_path / "s.log") as log:
        listing[:] = [board(usb0, location="3-2:1.0", **ch340)]
        src = SerialSource(str(usb0), 115200, log, retry_delay=0.02, ports=lambda: list(listing))
        src.start()
        try:
            wait_for(lambda: src.state == "connected", what="connection")
            sim.unplug()
            listing[:] = []
            wait_for(lambda: src.state == "lost", what="loss")
            # an identical CH340 board on another socket appears as ttyUSB0: not ours
            sim.plug(link=usb0, banner=b"OTHER BOARD\n")
            listing[:] = [board(usb0, location="3-1:1.0", **ch340)]
            wait_for(lambda: "another device" in src.message, what="refusal")
            sim.unplug()
            sim.written.clear()
            # ours comes back in its socket as ttyUSB1
            sim.plug(link=usb1, banner=BANNER)
            listing[:] = [board(usb1, location="3-2:1.0", **ch340)]
            wait_for(lambda: src.state == "connected" and src.url == str(usb1), what="our board")
            wait_for(lambda: log.device_bytes == len(BANNER), what="banner")
        finally:
            src.stop()
    data = (tmp_path / "s.log").read_bytes()
    assert b"OTHER BOARD" not in data and strip_host_lines(data) == BANNER


def _tcp_device(banner: bytes) -> tuple[socket.socket, threading.Event, threading.Thread]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.sendall(banner)  # at once: what pyserial's socket open() used to read away
            stop.wait(5)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, stop, t


def test_socket_link_is_said_unauthenticated_and_cannot_reset(tmp_path: Path) -> None:
    srv, stop, t = _tcp_device(BANNER)
    url = f"socket://127.0.0.1:{srv.getsockname()[1]}"
    notes: list[tuple[str, str]] = []
    try:
        with SessionLog(tmp_path / "s.log") as log:
            src = SerialSource(url, 115200, log, retry_delay=0.05, reset_on_open=True,
                               on_status=lambda s, m: notes.append((s, m)))
            src.start()
            try:
                wait_for(lambda: log.device_bytes >= len(BANNER), what="banner over TCP")
                assert src.reset() is False
                assert src.reset_to_bootloader() is False
            finally:
                src.stop()
    finally:
        stop.set()
        t.join(2)
        srv.close()
    data = (tmp_path / "s.log").read_bytes()
    host = [ln for ln in data.split(b"\n") if is_host_line(ln)]
    assert len(host) == 1 and b"unauthenticated, unencrypted TCP link" in host[0]
    assert b"reset" not in data.lower().replace(b"usb_uart_chip_reset", b"")
    assert strip_host_lines(data).startswith(BANNER)
    info = [m for s, m in notes if s == "info"]
    assert any("unauthenticated" in m for m in info)
    assert sum("cannot reset the chip over socket://" in m for m in info) == 2  # on open, and asked
    assert any("cannot reset into the bootloader over socket://" in m for m in info)


def test_network_notes() -> None:
    assert "unauthenticated" in network_note("rfc2217://10.0.0.5:4000")
    assert "10.0.0.5:4000" in network_note("rfc2217://10.0.0.5:4000?logging=debug")
    assert network_note("/dev/ttyUSB0") is None and network_note("loop://") is None
    assert can_reset("rfc2217://host:4000") is None and can_reset("/dev/ttyUSB0") is None
    assert "no DTR/RTS" in can_reset("socket://host:4000")
