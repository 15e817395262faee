"""`espwatch --port PORT` (= `espwatch monitor --port PORT`): the live monitor.

Every byte read is appended to a session log first (see `espwatch.sessionlog`); the screen follows that
file. A missing or vanished port is waited for, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from espwatch.commands import (
    add_binlog_options,
    add_elf_options,
    add_patterns_option,
    binlog_decoder,
    binlog_wanted,
    enrichment,
    load_data,
    verb_parser,
)
from espwatch.errors import InputError, UsageError

EOLS = {"CRLF": b"\r\n", "CR": b"\r", "LF": b"\n"}


def register(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(
        sub, "monitor",
        "Watch a device's serial output live: boots and events on a timeline, the selected "
        "event explained, every byte kept in a session log. PORT is a device path (/dev/ttyUSB0, "
        "COM4) or a pyserial URL (rfc2217://host:port, socket://host:port).",
        ["espwatch --port /dev/ttyUSB0",
         "espwatch --port COM4 -b 921600 --elf build/app.elf",
         "espwatch --port rfc2217://192.168.1.20:4000 --no-reset"])
    p.add_argument("--port", "-p", required=True, metavar="PORT", help="serial port or pyserial URL")
    p.add_argument("--baud", "-b", type=int, default=115200, help="baud rate (default: 115200)")
    p.add_argument("--log", metavar="FILE",
                   help="session log to append to (default: a new file in the user log directory)")
    add_elf_options(p, "decode backtraces (its index is built in the background)")
    add_patterns_option(p)
    p.add_argument("--no-reset", action="store_true", help="do not reset the chip when the port opens")
    p.add_argument("--timestamps", action="store_true", help="show the host time of each line")
    p.add_argument("--eol", choices=sorted(EOLS), default="CRLF",
                   help="line ending sent after a line typed in the send box (default: CRLF)")
    add_binlog_options(p, switch=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.baud <= 0:
        raise UsageError(f"--baud {args.baud}: must be a positive number")
    patterns, rules = load_data(args)
    from espwatch.sessionlog import SessionLog, default_log_path
    from espwatch.sources import SerialSource

    enr = enrichment(args, patterns, rules, background=True)
    log_path = Path(args.log) if args.log else default_log_path(args.port)
    try:
        log = SessionLog(log_path)
    except OSError as exc:
        raise InputError(f"cannot write the session log {log_path}: {exc.strerror or exc}") from None
    if "://" not in args.port and not os.path.exists(args.port):
        print(f"espwatch: {args.port} is not there (yet); waiting for the device to connect "
              f"(Ctrl+] quits)", file=sys.stderr)
    source = SerialSource(args.port, args.baud, log, reset_on_open=not args.no_reset)
    shown, binlog = log_path, None
    if binlog_wanted(args, enr):
        # Binary logging: the session log keeps the raw bytes; the screen follows their decoded text.
        from espwatch.binlog.spool import BinlogSpool

        binlog = BinlogSpool(log_path, binlog_decoder(args, enr, armed=True), follow=True)
        log.listeners.append(binlog.wake.set)
        binlog.start()
        shown = binlog.path
    from espwatch.tui.app import MonitorApp

    app = MonitorApp(shown, patterns, enrichment=enr, source=source, name=log_path.name,
                     show_times=args.timestamps, eol=EOLS[args.eol],
                     source_offset=binlog.raw_offset if binlog is not None else None)
    if binlog is not None:
        binlog.log.listeners.append(app.follower.wake.set)
    try:
        app.run()
    finally:
        source.stop()
        if binlog is not None:
            binlog.cleanup()
        log.close()
    print(f"espwatch: session log {log_path} ({log.device_bytes:,} bytes from the device)", file=sys.stderr)
    return 0
