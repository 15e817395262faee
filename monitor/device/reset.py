"""Reset sequences through DTR/RTS, after esptool's `reset.py` (ClassicReset, UnixTightReset, HardReset,
USBJTAGSerialReset)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any


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
