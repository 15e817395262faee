"""Where bytes come from: a serial port (any pyserial URL), a growing file, standard input.

No UI here. A `SerialSource` runs one reader thread that writes every byte to the session log first and
then tells its listener how many bytes arrived; the monitor's view follows the session log file like
`tail -f`, so a slow screen never slows the reader and nothing read is lost. When the port vanishes (USB
unplug, a chip that re-enumerates when it resets through USB-Serial-JTAG) the reader writes a host line,
reports the state, retries opening the same path, and writes another host line when it is back.

Reset sequences follow esptool's `reset.py` (ClassicReset, UnixTightReset, HardReset, USBJTAGSerialReset).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from espwatch.sessionlog import SessionLog

USB_JTAG_VID_PID = (0x303A, 0x1001)

BRIDGES: dict[tuple[int, int | None], str] = {
    (0x303A, 0x1001): "Espressif USB-Serial-JTAG",
    (0x303A, 0x0002): "Espressif USB-OTG (TinyUSB CDC)",
    (0x303A, None): "Espressif native USB",
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x10C4, 0xEA70): "Silicon Labs CP2105",
    (0x10C4, 0xEA71): "Silicon Labs CP2108",
    (0x10C4, None): "Silicon Labs",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x1A86, 0x55D3): "WCH CH343",
    (0x1A86, None): "WCH CH34x",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232 (ESP-Prog / ESP-WROVER-KIT)",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6015): "FTDI FT-X",
    (0x0403, None): "FTDI",
}


def guess_bridge(vid: int | None, pid: int | None) -> str | None:
    """The USB-serial bridge (or Espressif USB peripheral) a VID:PID belongs to, when known."""
    if vid is None:
        return None
    return BRIDGES.get((vid, pid)) or BRIDGES.get((vid, None))


@dataclass
class PortInfo:
    device: str
    vid: int | None
    pid: int | None
    description: str
    serial_number: str | None
    manufacturer: str | None
    location: str | None

    @property
    def bridge(self) -> str | None:
        return guess_bridge(self.vid, self.pid)

    @property
    def vid_pid(self) -> str | None:
        if self.vid is None or self.pid is None:
            return None
        return f"{self.vid:04x}:{self.pid:04x}"

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "vid_pid": self.vid_pid, "bridge": self.bridge,
                "description": self.description, "serial_number": self.serial_number,
                "manufacturer": self.manufacturer, "location": self.location}


def list_ports() -> list[PortInfo]:
    """Serial ports of this machine, sorted by device name."""
    from serial.tools import list_ports as lp

    out = []
    for p in lp.comports():
        out.append(PortInfo(p.device, p.vid, p.pid, p.description or "", p.serial_number, p.manufacturer,
                            p.location))
    return sorted(out, key=lambda p: p.device)


def port_is_usb_jtag(port: str) -> bool:
    """True when `port` (a path, possibly a symlink) is an Espressif USB-Serial-JTAG device."""
    if "://" in port:
        return False
    try:
        real = os.path.realpath(port)
        return any((p.vid, p.pid) == USB_JTAG_VID_PID and os.path.realpath(p.device) == real
                   for p in list_ports())
    except Exception:
        return False


# -- reset sequences (esptool reset.py) ------------------------------------------------------------
class ResetUnsupported(Exception):
    """The port cannot drive DTR/RTS (a pty, a socket:// URL, some adapters)."""


def _set_rts(port: Any, state: bool) -> None:
    port.rts = state
    # Windows usbser.sys only sends the control-line state on a DTR change (esptool does the same).
    port.dtr = port.dtr


def _set_dtr_rts_tight(port: Any, dtr: bool, rts: bool) -> None:
    """DTR and RTS in one ioctl (esptool UnixTightReset); falls back to two calls off POSIX."""
    fileno = getattr(port, "fileno", None)
    if os.name == "nt" or fileno is None:
        port.dtr = dtr
        _set_rts(port, rts)
        return
    import fcntl
    import struct
    import termios

    tiocmget = getattr(termios, "TIOCMGET", 0x5415)
    tiocmset = getattr(termios, "TIOCMSET", 0x5418)
    tiocm_dtr = getattr(termios, "TIOCM_DTR", 0x002)
    tiocm_rts = getattr(termios, "TIOCM_RTS", 0x004)
    status = struct.unpack("I", fcntl.ioctl(fileno(), tiocmget, struct.pack("I", 0)))[0]
    status = (status | tiocm_dtr) if dtr else (status & ~tiocm_dtr)
    status = (status | tiocm_rts) if rts else (status & ~tiocm_rts)
    fcntl.ioctl(fileno(), tiocmset, struct.pack("I", status))


def hard_reset(port: Any, usb_jtag: bool = False, sleep: Callable[[float], None] = time.sleep) -> None:
    """Restart the app: EN low then high through RTS (esptool HardReset)."""
    _set_rts(port, True)  # EN low: chip in reset
    if usb_jtag:
        sleep(0.2)
        _set_rts(port, False)
        sleep(0.2)
    else:
        sleep(0.1)
        _set_rts(port, False)  # EN high: chip runs


def bootloader_reset(port: Any, usb_jtag: bool = False, tight: bool | None = None,
                     sleep: Callable[[float], None] = time.sleep, delay: float = 0.05) -> None:
    """Reset into the ROM download mode: IO0 low while EN rises (esptool Classic/UnixTight/USB-JTAG)."""
    if usb_jtag:
        _set_rts(port, False)
        port.dtr = False  # idle
        sleep(0.1)
        port.dtr = True  # IO0
        _set_rts(port, False)
        sleep(0.1)
        _set_rts(port, True)  # reset; goes through (1,1) instead of (0,0)
        port.dtr = False
        _set_rts(port, True)
        sleep(0.1)
        port.dtr = False
        _set_rts(port, False)  # chip out of reset
        return
    if tight is None:
        tight = os.name != "nt" and hasattr(port, "fileno")
    if tight:
        _set_dtr_rts_tight(port, False, False)
        _set_dtr_rts_tight(port, True, True)
        _set_dtr_rts_tight(port, False, True)  # IO0 high, EN low: in reset
        sleep(0.1)
        _set_dtr_rts_tight(port, True, False)  # IO0 low, EN high: out of reset into download mode
        sleep(delay)
        _set_dtr_rts_tight(port, False, False)
        port.dtr = False
    else:
        port.dtr = False  # IO0 high
        _set_rts(port, True)  # EN low
        sleep(0.1)
        port.dtr = True  # IO0 low
        _set_rts(port, False)  # EN high
        sleep(delay)
        port.dtr = False  # IO0 high, done


# -- serial ------------------------------------------------------------------------------------------
StatusCallback = Callable[[str, str], None]
"""(state, message): state is one of "connected", "waiting", "lost", "info", "error"."""


class SerialSource:
    """A serial port read by a thread into a session log, with reconnection and device control.

    `on_data(n)` runs in the reader thread after each write to the session log; `on_status(state, msg)`
    too. Both must be cheap and thread-safe (the monitor uses `App.call_from_thread` / an event).
    """

    def __init__(self, url: str, baud: int, log: SessionLog, on_data: Callable[[int], None] | None = None,
                 on_status: StatusCallback | None = None, reset_on_open: bool = False,
                 retry_delay: float = 0.5, read_size: int = 1 << 16) -> None:
        self.url = url
        self.baud = baud
        self.log = log
        self.on_data = on_data or (lambda n: None)
        self.on_status = on_status or (lambda s, m: None)
        self.reset_on_open = reset_on_open
        self.retry_delay = retry_delay
        self.read_size = read_size
        self.state = "waiting"
        self.message = ""
        self.bytes_received = 0
        self.connects = 0
        self.arrivals: list[tuple[int, float]] = []
        """(session-log offset after a read, wall time): the host time of each line, at 1 ms resolution."""
        self._port: Any = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._usb_jtag: bool | None = None

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"espwatch-reader-{self.url}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_port()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _set_state(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        try:
            self.on_status(state, message)
        except Exception:
            pass

    def _open(self) -> Any:
        import serial

        port = serial.serial_for_url(self.url, do_not_open=True, baudrate=self.baud, timeout=0.05,
                                     exclusive=None)
        with contextlib.suppress(Exception):
            port.dtr = False  # like idf.py monitor: opening the port must not reset the chip
            port.rts = False
        if hasattr(port, "exclusive") and "://" not in self.url and os.name != "nt":
            with contextlib.suppress(Exception):
                port.exclusive = True
        port.open()
        return port

    def _close_port(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _run(self) -> None:
        import serial

        announced_wait = False
        while not self._stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                if not announced_wait:
                    why = str(exc).split("\n", 1)[0]
                    self._set_state("waiting", f"waiting for {self.url} to appear ({why})")
                    announced_wait = True
                self._stop.wait(self.retry_delay)
                continue
            with self._lock:
                self._port = port
            self.connects += 1
            if self.connects > 1:
                self.log.mark(f"port {self.url} back")
            announced_wait = False
            self._set_state("connected", f"connected to {self.url} at {self.baud} baud")
            if self.reset_on_open and self.connects == 1:
                self.reset()
            try:
                self._pump(port)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                # TypeError/AttributeError: pyserial's posix read after the fd was closed under it.
                self._close_port()
                if self._stop.is_set():
                    break
                why = str(exc).split("\n", 1)[0]
                self.log.mark(f"port {self.url} lost ({why})")
                self._set_state("lost", f"{self.url} lost: waiting for the device to reconnect")
                announced_wait = True
                self._stop.wait(self.retry_delay)
        self._close_port()

    def _pump(self, port: Any) -> None:
        read_size = self.read_size
        log = self.log
        arrivals = self.arrivals
        last_ms = 0
        while not self._stop.is_set():
            waiting = port.in_waiting
            data = port.read(min(max(waiting, 1), read_size))
            if not data:
                continue
            log.write(data)  # first: the session log
            self.bytes_received += len(data)
            now = time.time()
            ms = int(now * 1000)
            if ms != last_ms:
                arrivals.append((log.size, now))
                last_ms = ms
            try:
                self.on_data(len(data))
            except Exception:
                pass

    # -- device control ----------------------------------------------------------------------------
    def _with_port(self, what: str, fn: Callable[[Any], None]) -> bool:
        with self._lock:
            port = self._port
            if port is None:
                self._set_state("info", f"cannot {what}: {self.url} is not connected")
                return False
            try:
                fn(port)
            except (OSError, ValueError) as exc:
                self._set_state("info", f"cannot {what} through {self.url}: {exc}")
                return False
            except Exception as exc:
                self._set_state("info", f"cannot {what} through {self.url}: {exc}")
                return False
        return True

    def usb_jtag(self) -> bool:
        if self._usb_jtag is None:
            self._usb_jtag = port_is_usb_jtag(self.url)
        return self._usb_jtag

    def reset(self) -> bool:
        """Hard-reset the chip (RTS pulse); a host line marks it in the session log."""
        jtag = self.usb_jtag()
        ok = self._with_port("reset the chip", lambda p: hard_reset(p, jtag))
        if ok:
            self.log.mark(f"reset {self.url} (DTR/RTS{', USB-Serial-JTAG' if jtag else ''})")
        return ok

    def reset_to_bootloader(self) -> bool:
        jtag = self.usb_jtag()
        ok = self._with_port("reset into the bootloader", lambda p: bootloader_reset(p, jtag))
        if ok:
            self.log.mark(f"reset {self.url} into the bootloader")
        return ok

    def send(self, data: bytes) -> bool:
        return self._with_port("send", lambda p: p.write(data))

    def arrival_time(self, offset: int) -> float | None:
        """Host time at which the byte at session-log `offset` had been read (None when unknown)."""
        arr = self.arrivals
        if not arr:
            return None
        i = bisect_right(arr, (offset, float("inf")))
        if i >= len(arr):
            return arr[-1][1]
        return arr[i][1]


# -- files and stdin ---------------------------------------------------------------------------------
def file_size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class StdinSpool:
    """Copies a pipe (standard input) to a temporary file in a thread, like toolong does.

    The viewer follows the spool file; `done` is set at end of input. `take_stdin()` also re-opens the
    terminal as fd 0 so that the UI can read keys while the pipe is read here.
    """

    def __init__(self, fd: int, directory: str | None = None) -> None:
        self.fd = fd
        fd_tmp, self.path = tempfile.mkstemp(prefix="espwatch-stdin-", suffix=".log", dir=directory)
        os.close(fd_tmp)
        self.log = SessionLog(self.path)
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="espwatch-stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                data = os.read(self.fd, 1 << 16)
                if not data:
                    break
                self.log.write(data)
        except OSError:
            pass
        finally:
            self.done.set()
            for cb in self.log.listeners:
                cb()

    def cleanup(self) -> None:
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    @staticmethod
    def take_stdin() -> int:
        """Move the piped stdin to a new fd and put the terminal on fd 0; returns the pipe's fd."""
        pipe_fd = os.dup(0)
        if os.name != "nt":
            try:
                tty = os.open("/dev/tty", os.O_RDWR)
            except OSError:
                return pipe_fd
            os.dup2(tty, 0)
            os.close(tty)
            sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        return pipe_fd
