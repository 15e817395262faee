"""Serial ports of this machine: listing, and which USB bridge (or Espressif USB peripheral) each one is."""

from __future__ import annotations

import os
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
