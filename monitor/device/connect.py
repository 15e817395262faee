"""Opening a port without losing what the device already sent, and waiting (for a while) for one to appear.

pyserial's `open()` discards the port's input queue (POSIX: `tcflush(TCIFLUSH)`; `socket://`: reads and
drops what is waiting; `rfc2217://`: asks the server to purge). A board on USB-Serial-JTAG or native USB
prints its boot banner the moment its port reappears, before anyone opened it: that flush threw the banner
away. `open_port` opens through a subclass of pyserial's own class for the URL that skips the flush while
opening (everything else is pyserial's code). (On Windows pyserial purges inside `open()` itself; not
avoidable there.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from espwatch.errors import PortNotFound

NETWORK_SCHEMES = ("socket", "rfc2217")


def link_kind(url: str) -> str:
    """"local" for a device path, else the URL scheme ("socket", "rfc2217", "loop", ...)."""
    if "://" not in url:
        return "local"
    return url.split("://", 1)[0].lower()


def network_note(url: str) -> str | None:
    """What to say when connecting over the network (None for a local port)."""
    kind = link_kind(url)
    if kind not in NETWORK_SCHEMES:
        return None
    where = url.split("://", 1)[1].split("?", 1)[0]
    return (f"{kind}:// is an unauthenticated, unencrypted TCP link: anyone who can reach {where} can read "
            f"this device's output and send to it")


def can_reset(url: str) -> str | None:
    """None when DTR/RTS can reach the chip through `url`; else why not (one line)."""
    if link_kind(url) == "socket":
        return ("a raw socket:// link carries no DTR/RTS lines: reset the board by hand, or serve the port "
                "with RFC 2217 (esp_rfc2217_server) and connect with rfc2217://")
    return None


_NO_FLUSH: dict[type, type] = {}


def _no_flush_class(klass: type) -> type:
    """`klass` with the input flush skipped while `open()` runs."""
    cls = _NO_FLUSH.get(klass)
    if cls is not None:
        return cls

    def open(self: Any) -> None:
        self._espwatch_opening = True
        try:
            klass.open(self)
        finally:
            self._espwatch_opening = False

    def _reset_input_buffer(self: Any) -> None:  # POSIX: open() calls this one
        if not getattr(self, "_espwatch_opening", False):
            klass._reset_input_buffer(self)

    def reset_input_buffer(self: Any) -> None:  # socket://, rfc2217://
        if not getattr(self, "_espwatch_opening", False):
            klass.reset_input_buffer(self)

    attrs: dict[str, Any] = {"open": open, "reset_input_buffer": reset_input_buffer,
                             "__doc__": f"{klass.__name__} that keeps what is queued when it opens."}
    if hasattr(klass, "_reset_input_buffer"):
        attrs["_reset_input_buffer"] = _reset_input_buffer
    cls = type(f"NoFlush{klass.__name__}", (klass,), attrs)
    _NO_FLUSH[klass] = cls
    return cls


def open_port(url: str, baud: int, timeout: float = 0.05) -> Any:
    """Open `url` (a device path or pyserial URL) without resetting the chip and without dropping what it
    already sent. Raises pyserial's `SerialException` (or OSError/ValueError) like pyserial does."""
    import serial

    port = serial.serial_for_url(url, do_not_open=True, baudrate=baud, timeout=timeout, exclusive=None)
    if os.name != "nt":
        port.__class__ = _no_flush_class(type(port))
    with contextlib.suppress(Exception):
        port.dtr = False  # like idf.py monitor: opening the port must not reset the chip
        port.rts = False
    if hasattr(port, "exclusive") and link_kind(url) == "local" and os.name != "nt":
        with contextlib.suppress(Exception):
            port.exclusive = True
    port.open()
    return port


def open_error_text(url: str, exc: BaseException, windows: bool = os.name == "nt") -> str:
    """One line saying why `url` could not be opened, with what to do about the common causes."""
    code = getattr(exc, "errno", None)
    text = str(exc).split("\n", 1)[0]
    local = link_kind(url) == "local"
    if windows and local:
        # pyserial on Windows: "could not open port 'COM4': PermissionError(13, 'Access is denied.', ...)"
        # (COM ports are not files: os.path.exists() says nothing; the message text may be translated)
        if "FileNotFoundError" in text or code == errno.ENOENT:
            return f"{url}: no such port"
        if "PermissionError" in text or code == errno.EACCES:
            return f"{url} is in use by another program (another monitor, esptool, a serial terminal?)"
        return f"{url}: {text}"
    if code == errno.ENOENT or (local and not os.path.exists(url)):
        return f"{url}: no such port"
    if code == errno.EACCES:
        return (f"{url}: permission denied (on Linux add yourself to the 'dialout' group, 'uucp' on Arch, "
                f"and log in again)")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
        return f"{url} is in use by another program (another monitor, esptool, ModemManager?)"
    return f"{url}: {text}"


def wait_for_port(url: str, baud: int, timeout: float | None, *, retry_delay: float = 0.25,
                  on_wait: Callable[[str], None] | None = None,
                  stop: threading.Event | None = None) -> Any:
    """Open `url`, retrying until `timeout` seconds have passed (None: forever). `on_wait(why)` is called
    once, at the first failure. Raises `PortNotFound` with one line when the time is up."""
    import serial

    deadline = None if timeout is None else time.monotonic() + timeout
    told = False
    while True:
        try:
            return open_port(url, baud)
        except (serial.SerialException, OSError, ValueError) as exc:
            why = open_error_text(url, exc)
        if not told and on_wait is not None:
            on_wait(why)
            told = True
        if deadline is not None and time.monotonic() >= deadline:
            waited = f" (waited {timeout:g} s)" if timeout else ""
            raise PortNotFound(f"{why}{waited}")
        delay = retry_delay if deadline is None else max(0.0, min(retry_delay, deadline - time.monotonic()))
        if stop is not None:
            if stop.wait(delay):
                raise PortNotFound(f"{why} (gave up)")
        else:
            time.sleep(delay)
