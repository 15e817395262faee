"""The serial reader: a port (any pyserial URL) read by a thread into the session log.

No UI here. A `SerialSource` runs one reader thread that writes every byte to the session log first and
then tells its listener how many bytes arrived; the monitor's view follows the session log like `tail -f`,
so a slow screen never slows the reader and nothing read is lost. Ports are opened without the input flush
pyserial does (`espwatch.device.connect`), so what a board says the moment its port appears is kept.

When the port vanishes (USB unplug, a chip that re-enumerates when it resets through USB-Serial-JTAG) the
reader writes a host line, reports the state and waits for the board to come back. A USB board is
recognised by what the port listing says about it (VID:PID and USB serial number, or USB location): it is
followed to a new path when it re-enumerates under another name, and a different device that appears at
the old path is refused. Ports the listing does not know (a pty, a URL) are simply reopened.

When the session log cannot be written, the reader goes on reading: the log keeps the bytes in memory and
retries (`espwatch.device.sessionlog`), and its state changes come out of `on_status` as "log_failing",
"log_dropping" and "log_ok".
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from espwatch.device.connect import can_reset, link_kind, network_note, open_error_text, open_port
from espwatch.device.ports import (
    USB_JTAG_VID_PID,
    ListPorts,
    PortInfo,
    find_board,
    identifiable,
    list_ports,
    port_at,
)
from espwatch.device.reset import bootloader_reset, hard_reset
from espwatch.device.sessionlog import SessionLog

StatusCallback = Callable[[str, str], None]
"""(state, message). Port states ("connected", "waiting", "lost") also set `SerialSource.state`; the others
are notes: "info", "error", and the session log's "log_failing", "log_dropping", "log_ok"."""

PORT_STATES = ("connected", "waiting", "lost")


class SerialSource:
    """A serial port read by a thread into a session log, with reconnection and device control.

    `port`: an already open port (from `connect.wait_for_port`) to start with. `ports`: the port listing
    used to recognise the board (default: pyserial's). `on_data(n)` runs in the reader thread after each
    write to the session log; `on_status(state, msg)` too. Both must be cheap and thread-safe.
    """

    def __init__(self, url: str, baud: int, log: SessionLog, on_data: Callable[[int], None] | None = None,
                 on_status: StatusCallback | None = None, reset_on_open: bool = False,
                 retry_delay: float = 0.5, read_size: int = 1 << 16, port: Any = None,
                 ports: ListPorts | None = None) -> None:
        self.url = url
        """The path or URL read now (a board that re-enumerates is followed to its new path)."""
        self.requested = url
        self.kind = link_kind(url)
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
        self.board: PortInfo | None = None
        """What the port listing said about the port at the first connection (None: not a known USB port)."""
        self._list_ports = ports or list_ports
        self._first_port = port
        self._port: Any = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        log.problem_listeners.append(self._say)

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"espwatch-reader-{self.url}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_port()
        if self._first_port is not None:
            with contextlib.suppress(Exception):
                self._first_port.close()
            self._first_port = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _say(self, state: str, message: str) -> None:
        if state in PORT_STATES:
            self.state = state
        self.message = message
        try:
            self.on_status(state, message)
        except Exception:
            pass

    def _close_port(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    # -- which board, at which path ------------------------------------------------------------------
    def _listing(self) -> list[PortInfo] | None:
        try:
            return list(self._list_ports())
        except Exception:
            return None

    def _identify(self) -> None:
        if self.kind != "local":
            return
        listing = self._listing()
        found = port_at(listing, self.url) if listing else None
        self.board = found if identifiable(found) else None

    def _target(self) -> tuple[str | None, str]:
        """(path to open, why not when None). Only the same board is opened once it is known."""
        if self.board is None:
            return self.url, ""
        listing = self._listing()
        if listing is None:
            return self.url, ""
        found = find_board(self.board, listing, prefer=self.url)
        if found:
            path = found[0].device
            if os.path.realpath(path) == os.path.realpath(self.requested):
                path = self.requested  # keep the name the user gave (e.g. /dev/serial/by-id/...)
            return path, ""
        other = port_at(listing, self.url)
        if other is not None:
            return None, (f"{self.url} is now another device ({other.describe()}): not opened; waiting for "
                          f"the board ({self.board.describe()})")
        return None, f"waiting for the board ({self.board.describe()}) to come back"

    # -- the reader thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        import serial

        said = ""
        while not self._stop.is_set():
            port, self._first_port = self._first_port, None
            previous = self.url
            if port is None:
                target, why = self._target()
                if target is not None:
                    try:
                        port = open_port(target, self.baud)
                    except (serial.SerialException, OSError, ValueError) as exc:
                        why = f"waiting for {target}: {open_error_text(target, exc)}"
                if port is None:
                    if why != said:
                        self._say("waiting" if self.state != "lost" else "lost", why)
                        said = why
                    self.log.retry()
                    self._stop.wait(self.retry_delay)
                    continue
                self.url = target
            said = ""
            with self._lock:
                self._port = port
            self.connects += 1
            try:
                self._connected(previous)
                self._pump(port)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                # TypeError/AttributeError: pyserial's posix read after the fd was closed under it.
                self._close_port()
                if self._stop.is_set():
                    break
                why = str(exc).split("\n", 1)[0]
                self.log.mark(f"port {self.url} lost ({why})")
                self._say("lost", f"{self.url} lost: waiting for the device to reconnect")
                said = ""
                self._stop.wait(self.retry_delay)
            except Exception as exc:  # a bug must not end the reading silently
                self._close_port()
                self.log.mark(f"reader error on {self.url}: {exc!r}")
                self._say("error", f"reader error on {self.url}: {exc!r}; reopening the port")
                self._stop.wait(self.retry_delay)
        self._close_port()

    def _connected(self, previous: str) -> None:
        if self.connects == 1:
            self._identify()
            self._say("connected", f"connected to {self.url} at {self.baud} baud")
            note = network_note(self.url)
            if note is not None:
                self.log.mark(note)
                self._say("info", note)
            if self.reset_on_open:
                self.reset()
            return
        if self.url != previous:
            self.log.mark(f"port {previous} back as {self.url} (same board: {self.board.describe()})"
                          if self.board is not None else f"port {previous} back as {self.url}")
            self._say("connected", f"{previous} came back as {self.url}; connected at {self.baud} baud")
        else:
            self.log.mark(f"port {self.url} back")
            self._say("connected", f"connected to {self.url} at {self.baud} baud")

    def _pump(self, port: Any) -> None:
        read_size = self.read_size
        log = self.log
        while not self._stop.is_set():
            waiting = port.in_waiting
            data = port.read(min(max(waiting, 1), read_size))
            if not data:
                log.retry()  # nothing to read: a moment to retry a failing session log
                continue
            log.write(data, time.time())  # first: the session log
            self.bytes_received += len(data)
            try:
                self.on_data(len(data))
            except Exception:
                pass

    # -- device control ----------------------------------------------------------------------------
    def _with_port(self, what: str, fn: Callable[[Any], None]) -> bool:
        with self._lock:
            port = self._port
            if port is None:
                self._say("info", f"cannot {what}: {self.url} is not connected")
                return False
            try:
                fn(port)
            except Exception as exc:
                self._say("info", f"cannot {what} through {self.url}: {exc}")
                return False
        return True

    def usb_jtag(self) -> bool:
        """True when the port is an Espressif USB-Serial-JTAG (its reset sequences differ)."""
        return self.board is not None and (self.board.vid, self.board.pid) == USB_JTAG_VID_PID

    def _reset(self, what: str, fn: Callable[[Any, bool], None], note: str) -> bool:
        why = can_reset(self.url)
        if why is not None:
            self._say("info", f"cannot {what} over {self.url}: {why}")
            return False
        jtag = self.usb_jtag()
        ok = self._with_port(what, lambda p: fn(p, jtag))
        if ok:
            self.log.mark(note + (" (USB-Serial-JTAG)" if jtag else ""))
        return ok

    def reset(self) -> bool:
        """Hard-reset the chip (RTS pulse); a host line marks it in the session log."""
        return self._reset("reset the chip", hard_reset, f"reset {self.url} (DTR/RTS)")

    def reset_to_bootloader(self) -> bool:
        return self._reset("reset into the bootloader", bootloader_reset,
                           f"reset {self.url} into the bootloader")

    def send(self, data: bytes) -> bool:
        return self._with_port("send", lambda p: p.write(data))

    def arrival_time(self, offset: int) -> float | None:
        """Host time at which the byte at session-log `offset` arrived (None when unknown)."""
        return self.log.times.time_at(offset)
