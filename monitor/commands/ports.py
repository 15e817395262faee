"""`espwatch ports`: the serial ports of this machine, with VID:PID, product, serial number and the board
family each one looks like (USB-Serial-JTAG, CP210x, CH340/CH9102, FTDI, ESP-Prog)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from espwatch.commands.parsing import add_verb

if TYPE_CHECKING:
    from espwatch.device.ports import PortInfo


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "ports",
        "List serial ports with their USB VID:PID, product, serial number and the board family they look "
        "like (USB-Serial-JTAG, CP210x, CH340/CH9102, FTDI, ESP-Prog). Ports marked * look like an ESP "
        "board; without --port the monitor uses the only one.",
        ["espwatch ports", "espwatch ports --json"])
    p.add_argument("--json", action="store_true", help="one JSON array for scripts")
    p.set_defaults(func=run)


def format_ports(ports: Sequence[PortInfo]) -> str:
    """The table `espwatch ports` prints."""
    if not ports:
        return "no serial ports found (is the board plugged in, with a data cable?)\n"
    rows = [("", "DEVICE", "VID:PID", "FAMILY", "PRODUCT", "SERIAL")]
    for p in ports:
        product = p.product or (p.description if p.description not in ("", "n/a", p.device) else "")
        rows.append(("*" if p.likely else "", p.device, p.vid_pid or "-", p.family or "-", product or "-",
                     p.serial_number or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        note = ports[n - 1].note if n else None
        if note:
            out.append(" " * (widths[0] + 2) + f"  {note}")
    likely = sum(p.likely for p in ports)
    if likely == 1:
        out.append("* looks like an ESP board: `espwatch monitor` without --port uses it")
    elif likely > 1:
        out.append(f"* {likely} ports look like ESP boards: choose one with --port")
    else:
        out.append("none looks like an ESP board's USB bridge; give the port with --port")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    from espwatch.device.ports import list_ports

    ports = list_ports()
    out = sys.stdout
    if args.json:
        json.dump([p.to_json() for p in ports], out, indent=2)
        out.write("\n")
        return 0
    out.write(format_ports(ports))
    return 0
