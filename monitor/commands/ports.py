"""`espwatch ports`: the serial ports of this machine, with VID:PID and a guess of the USB bridge."""

from __future__ import annotations

import argparse
import json
import sys

from espwatch.commands import VERBS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ports", help=VERBS["ports"],
                       description="List serial ports with their USB VID:PID and a guess of the bridge "
                                   "(CP210x, CH340, FTDI, Espressif USB-Serial-JTAG...).")
    p.add_argument("--json", action="store_true", help="one JSON array for scripts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.sources import list_ports

    ports = list_ports()
    out = sys.stdout
    if args.json:
        json.dump([p.to_json() for p in ports], out, indent=2)
        out.write("\n")
        return 0
    if not ports:
        out.write("no serial ports found\n")
        return 0
    width = max(len(p.device) for p in ports)
    for p in ports:
        vp = p.vid_pid or "-"
        bridge = p.bridge or ""
        desc = p.description if p.description and p.description != "n/a" else ""
        extra = "  ".join(x for x in (bridge, desc if desc != bridge else "") if x)
        out.write(f"{p.device:<{width}}  {vp:<9}  {extra}\n".rstrip() + "\n")
    return 0
