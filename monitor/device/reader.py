"""The serial reader: a port (any pyserial URL) read by a thread into the session log.

No UI here. A `SerialSource` runs one reader thread that writes every byte to the session log first and
then tells its listener how many bytes arrived; the monitor's view follows the session log file like
`tail -f`, so a slow screen never slows the reader and nothing read is lost. When the port vanishes (USB
unplug, a chip that re-enumerates when it resets through USB-Serial-JTAG) the reader writes a host line,
reports the state, retries opening the same path, and writes another host line when it is back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from espwatch.device.ports import port_is_usb_jtag
from espwatch.device.reset import bootloader_reset, hard_reset
from espwatch.device.sessionlog import SessionLog

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
