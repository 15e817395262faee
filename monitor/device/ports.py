"""Serial ports of this machine: listing, which USB bridge (or Espressif USB peripheral) each one is, which
ones look like an ESP board, and whether a port that came back is the same board.

The listing comes from pyserial (`serial.tools.list_ports`); everything that needs one takes a provider
(`ListPorts`) so that callers and tests can hand in another listing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


FAMILIES: dict[tuple[int, int | None], str] = {
    (0x303A, 0x1001): "USB-Serial-JTAG",
    (0x303A, None): "ESP native USB",
    (0x10C4, 0xEA60): "CP210x",
    (0x10C4, 0xEA70): "CP210x",
    (0x10C4, 0xEA71): "CP210x",
    (0x1A86, 0x7523): "CH340/CH9102",
    (0x1A86, 0x7522): "CH340/CH9102",
    (0x1A86, 0x55D4): "CH340/CH9102",
    (0x1A86, 0x55D3): "CH340/CH9102",
    (0x0403, 0x6010): "ESP-Prog",
    (0x0403, None): "FTDI",
}
"""The board family a USB serial port looks like: bridges ESP32 dev boards carry, and the chips' own USB."""

NOTES = {
    "USB-Serial-JTAG": "the chip's own USB (ESP32-C3/C5/C6/H2/S3/P4): may re-enumerate when the chip resets",
    "ESP native USB": "the chip's USB-OTG (ESP32-S2/S3 CDC): re-enumerates on reset, silent after a crash",
    "ESP-Prog": "FT2232H: channel A is JTAG, channel B the UART console (ESP-Prog, ESP-WROVER-KIT)",
}


@dataclass
class PortInfo:
    """One serial port and what its USB descriptors say (None for ports that are not USB)."""

    device: str
    vid: int | None
    pid: int | None
    description: str
    serial_number: str | None
    manufacturer: str | None
    location: str | None
    product: str | None = None

    @property
    def bridge(self) -> str | None:
        return guess_bridge(self.vid, self.pid)

    @property
    def vid_pid(self) -> str | None:
        if self.vid is None or self.pid is None:
            return None
        return f"{self.vid:04x}:{self.pid:04x}"

    @property
    def family(self) -> str | None:
        """"USB-Serial-JTAG", "CP210x", "CH340/CH9102", "FTDI", "ESP-Prog"... (None: not a known bridge)."""
        if self.vid is None:
            return None
        return FAMILIES.get((self.vid, self.pid)) or FAMILIES.get((self.vid, None))

    @property
    def interface(self) -> int | None:
        """The USB interface number, from a location such as "1-1.2:1.1" (Linux)."""
        loc = self.location or ""
        if ":" not in loc:
            return None
        tail = loc.rsplit(":", 1)[1]
        try:
            return int(tail.rsplit(".", 1)[-1])
        except ValueError:
            return None

    @property
    def is_jtag_channel(self) -> bool:
        """The first channel of an FT2232H on ESP-Prog / WROVER-KIT: JTAG, not the console."""
        return self.family == "ESP-Prog" and self.interface == 0

    @property
    def likely(self) -> bool:
        """Looks like the console of an ESP board (a known bridge or the chip's USB, not a JTAG channel)."""
        return self.family is not None and not self.is_jtag_channel

    @property
    def note(self) -> str | None:
        if self.is_jtag_channel:
            return "channel A of an FT2232H: JTAG on ESP-Prog / ESP-WROVER-KIT; the console is channel B"
        return NOTES.get(self.family or "")

    def describe(self) -> str:
        """Short identity: "303a:1001 USB-Serial-JTAG serial F4:12:FA:00:11:22"."""
        parts = [self.vid_pid or "no USB ids"]
        if self.family:
            parts.append(self.family)
        if self.serial_number:
            parts.append(f"serial {self.serial_number}")
        elif self.location:
            parts.append(f"at USB {self.location}")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "vid_pid": self.vid_pid, "bridge": self.bridge, "family": self.family,
                "likely": self.likely, "product": self.product, "description": self.description,
                "serial_number": self.serial_number, "manufacturer": self.manufacturer,
                "location": self.location, "note": self.note}


ListPorts = Callable[[], list[PortInfo]]


_CONTROLS = {c: "?" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def clean(text: str | None) -> str | None:
    """A USB descriptor string as the device sent it, minus control characters (no escape sequences from a
    device reach a terminal)."""
    return None if text is None else text.translate(_CONTROLS)


def list_ports() -> list[PortInfo]:
    """Serial ports of this machine, sorted by device name."""
    from serial.tools import list_ports as lp

    out = []
    for p in lp.comports():
        out.append(PortInfo(clean(p.device) or "", p.vid, p.pid, clean(p.description) or "",
                            clean(p.serial_number), clean(p.manufacturer), clean(p.location),
                            clean(getattr(p, "product", None))))
    return sorted(out, key=lambda p: p.device)


def likely_ports(ports: Sequence[PortInfo]) -> list[PortInfo]:
    """The ports that look like an ESP board's console."""
    return [p for p in ports if p.likely]


def _real(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def port_at(ports: Sequence[PortInfo], path: str) -> PortInfo | None:
    """The listed port at `path` (a device path or a symlink to one, such as /dev/serial/by-id/...)."""
    real = _real(path)
    for p in ports:
        if p.device == path or _real(p.device) == real:
            return p
    return None


def identifiable(board: PortInfo | None) -> bool:
    """True when a port can be recognised again: a USB port with VID:PID and a serial number or location."""
    return board is not None and board.vid is not None and board.pid is not None


def same_board(board: PortInfo, other: PortInfo) -> bool:
    """Is `other` the board `board` was? Same VID:PID and the same USB serial number; without a serial
    number (CH340 has none), the same USB location (the same socket)."""
    if not identifiable(board) or (board.vid, board.pid) != (other.vid, other.pid):
        return False
    if board.serial_number:
        return board.serial_number == other.serial_number
    if board.location:
        return board.location == other.location
    return True


def find_board(board: PortInfo, ports: Sequence[PortInfo], prefer: str | None = None) -> list[PortInfo]:
    """The listed ports that are `board` (the one at `prefer` first)."""
    found = [p for p in ports if same_board(board, p)]
    if prefer is not None and len(found) > 1:
        real = _real(prefer)
        found.sort(key=lambda p: _real(p.device) != real)
    return found
