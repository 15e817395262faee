"""`espwatch --port PORT` (= `espwatch monitor --port PORT`): the live monitor.

Without `--port`, the only port that looks like an ESP board is used (several: the user picks one in a
terminal). The port is opened before anything else, waiting up to `--open-timeout` seconds for it; only
then is the session log created, so a mistyped port leaves no empty log. Every byte read is appended to the
session log first (see `espwatch.device.sessionlog`); the screen follows it. At exit one line says what the
log holds, and whether anything from the device could not be saved (exit status 1 then).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

from espwatch import console
from espwatch.commands import apply_theme, binlog_decoder, binlog_wanted, enrichment, load_data
from espwatch.commands.parsing import (
    Repeatable,
    add_binlog_options,
    add_elf_options,
    add_patterns_option,
    add_screen_options,
    add_verb,
)
from espwatch.errors import InputError, PortNotFound, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from espwatch.device.ports import PortInfo

EOLS = {"CRLF": b"\r\n", "CR": b"\r", "LF": b"\n"}
OPEN_TIMEOUT = 10.0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "monitor",
        "Watch a device's serial output live: boots and events on a timeline, the selected "
        "event explained, every byte kept in a session log. PORT is a device path (/dev/ttyUSB0, "
        "COM4) or a pyserial URL (rfc2217://host:port, socket://host:port). Without --port, the "
        "only port that looks like an ESP board is used (`espwatch ports` lists them).",
        ["espwatch monitor",
         "espwatch --port /dev/ttyUSB0",
         "espwatch --port COM4 -b 921600 --elf build/app.elf",
         "espwatch --port /dev/ttyUSB0 --port /dev/ttyACM0 --elf A=gw.elf --elf B=node.elf",
         "espwatch --port all",
         "espwatch --port rfc2217://192.168.1.20:4000 --no-reset"])
    p.add_argument("--port", "-p", metavar="PORT", action=Repeatable,
                   help="serial port or pyserial URL (default: the only port that looks like an ESP board); "
                        "repeat it to watch several ports in one screen (each keeps its own session log; the "
                        "screen shows their lines merged by arrival time, o shows one port alone); all = "
                        "every port that looks like an ESP board")
    p.add_argument("--baud", "-b", type=int, default=115200, help="baud rate (default: 115200)")
    p.add_argument("--open-timeout", type=float, default=OPEN_TIMEOUT, metavar="SECONDS",
                   help=f"how long to wait for a port (or a board) that is not there yet, or busy, before "
                        f"giving up (default: {OPEN_TIMEOUT:g}; 0 waits for ever)")
    p.add_argument("--log", metavar="FILE",
                   help="session log to append to (default: a new file in the user log directory); arrival "
                        "times go beside it in FILE.times. With several ports FILE is the merged log and "
                        "each port's log goes beside it (FILE's name + .PORT.log)")
    add_elf_options(p, "decode backtraces (its index is built in the background)", per_input="PORT")
    add_patterns_option(p)
    p.add_argument("--no-reset", action="store_true", help="do not reset the chip when the port opens")
    add_screen_options(p)
    p.add_argument("--eol", choices=sorted(EOLS), default="CRLF",
                   help="line ending sent after a line typed in the send box (default: CRLF)")
    add_binlog_options(p, switch=True)
    p.set_defaults(func=run)


def _say(text: str) -> None:
    print(f"espwatch: {text}", file=sys.stderr, flush=True)


def _ask(candidates: list[PortInfo]) -> PortInfo | None:
    """Let the user pick a port in the terminal."""
    from espwatch.device.choose import port_line

    _say("several ports look like ESP boards:")
    for i, p in enumerate(candidates, 1):
        print(f"  {i}  {port_line(p)}", file=sys.stderr)
    while True:
        try:
            answer = input(f"Which one? [1-{len(candidates)}, Enter = 1, q = quit] ").strip()
        except EOFError:
            return None
        if answer.lower() in ("q", "quit"):
            return None
        if not answer:
            return candidates[0]
        if answer.isdigit() and 1 <= int(answer) <= len(candidates):
            return candidates[int(answer) - 1]
        if any(p.device == answer for p in candidates):
            return next(p for p in candidates if p.device == answer)


def pick_port(timeout: float | None, interactive: bool) -> str:
    """The port to use when --port was not given (see `espwatch.device.choose`)."""
    from espwatch.device.choose import choose_port, port_line
    from espwatch.device.ports import list_ports

    wait = "for ever" if timeout is None else f"up to {timeout:g} s"
    chosen = choose_port(list_ports, timeout=timeout, ask=_ask if interactive else None,
                         on_wait=lambda why: _say(f"{why}; waiting {wait} for one to be plugged in "
                                                  f"(Ctrl+C gives up)"))
    _say(f"using {port_line(chosen)}")
    return chosen.device

def run(args: argparse.Namespace) -> int:
    if args.baud <= 0:
        raise UsageError(f"--baud {args.baud}: must be a positive number")
    if args.open_timeout < 0:
        raise UsageError(f"--open-timeout {args.open_timeout:g}: must be 0 (wait for ever) or more seconds")
    patterns, rules = load_data(args)
    from espwatch.commands.multiport import expand_ports, one_elf, run_ports

    ports = expand_ports([args.port] if isinstance(args.port, str) else args.port or [])
    if len(ports) > 1:
        return run_ports(args, ports, patterns, rules, EOLS[args.eol])
    from espwatch.device.choose import ports_summary
    from espwatch.device.connect import wait_for_port
    from espwatch.device.ports import list_ports
    from espwatch.device.reader import SerialSource
    from espwatch.device.sessionlog import SessionLog, default_log_path

    timeout = args.open_timeout or None
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    port_name = ports[0] if ports else pick_port(timeout, interactive)
    one_elf(args, port_name)
    enr = enrichment(args, patterns, rules, background=True)
    wait = "for ever" if timeout is None else f"up to {timeout:g} s"
    try:
        port = wait_for_port(port_name, args.baud, timeout,
                             on_wait=lambda why: _say(f"{why}; waiting {wait} (Ctrl+C gives up)"))
    except PortNotFound as exc:
        hint = ""
        if "://" not in port_name:
            with contextlib.suppress(Exception):
                hint = f"; {ports_summary(list_ports())}"
        raise PortNotFound(f"{exc}{hint}") from None
    try:
        console.need_terminal()  # before a session log is made
    except UsageError:
        with contextlib.suppress(Exception):
            port.close()
        raise
    log_path = Path(args.log) if args.log else default_log_path(port_name)
    try:
        log = SessionLog(log_path)
    except OSError as exc:
        with contextlib.suppress(Exception):
            port.close()
        raise InputError(f"cannot write the session log {log_path}: {exc.strerror or exc}") from None
    if hasattr(signal, "SIGXFSZ"):
        # Beyond a file size limit the kernel would kill the monitor; with this, the write fails with
        # EFBIG and the session log keeps the bytes in memory like for a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    source = SerialSource(port_name, args.baud, log, reset_on_open=not args.no_reset, port=port)
    binlog = None
    if binlog_wanted(args, enr):
        # Binary logging: the session log keeps the raw bytes; the screen follows their decoded text.
        from espwatch.binlog.spool import BinlogSpool

        binlog = BinlogSpool(log_path, binlog_decoder(args, enr, armed=True), follow=True, store=log)
        log.listeners.append(binlog.wake.set)
        binlog.start()
    from espwatch.tui.app import MonitorApp

    app = MonitorApp(binlog.path if binlog is not None else log_path, patterns, enrichment=enr, source=source,
                     name=log_path.name, show_times=args.timestamps, eol=EOLS[args.eol],
                     store=binlog.log if binlog is not None else None,
                     arrival_time=binlog.arrival_time(source.arrival_time) if binlog is not None else None)
    if binlog is not None:
        binlog.log.listeners.append(app.follower.wake.set)
    apply_theme(app, args.theme)
    try:
        app.run()
    finally:
        source.stop()
        if binlog is not None:
            binlog.cleanup()
        log.close()
    summary = log.summary()
    _say(summary.text())
    if summary.times_path is not None and os.path.exists(summary.times_path):
        _say(f"arrival times in {summary.times_path}")
    return 0 if summary.complete else 1
