"""`espwatch replay LOG`: the monitor's screen over a saved log of any size (or `-` for a pipe)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from espwatch.binlog.setup import sniff_file
from espwatch.cli import CliError
from espwatch.commands import (
    add_binlog_options,
    add_patterns_option,
    binlog_from,
    binlog_wanted,
    patterns_from,
)
from espwatch.commands import scan as scan_cmd
from espwatch.pipeline import InputError, open_input


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay", help="browse a saved log in the monitor's screen (timeline, events, search)",
        description="Open a saved serial log (any size; - reads a pipe) in the monitor's screen: boots and "
                    "events on a timeline, the selected event explained, search, filters, bookmarks.")
    p.add_argument("log", metavar="LOG",
                   help="log file, e.g. an espwatch session log; - reads standard input")
    p.add_argument("--follow", action="store_true", help="keep reading as the file grows (like tail -f)")
    add_patterns_option(p)
    p.add_argument("--elf", metavar="ELF",
                   help="the application ELF: decode backtraces (its index is built in the background) and "
                        "check it against the ELF SHA256 the app prints")
    p.add_argument("--timestamps", action="store_true", help="start with the host time column shown")
    add_binlog_options(p, switch=True)
    p.set_defaults(func=run)



def run(args: argparse.Namespace) -> int:
    patterns = patterns_from(args)
    if args.elf and not Path(args.elf).is_file():
        raise CliError(f"{args.elf}: no such ELF file")
    spool = None
    until = None
    follow = args.follow
    if args.log == "-":
        from espwatch.sources import StdinSpool

        if sys.stdin.isatty():
            raise CliError("replay -: standard input is a terminal; pipe a log into it")
        pipe_fd = StdinSpool.take_stdin()
        spool = StdinSpool(pipe_fd)
        spool.start()
        path, name, follow, until = spool.path, "<stdin>", True, spool.done
    else:
        try:
            fh, _ = open_input(args.log)
        except InputError as exc:
            raise CliError(str(exc)) from None
        fh.close()
        path, name = args.log, os.path.basename(args.log)
    binlog = None
    if binlog_wanted(args) or (spool is None and sniff_file(path)):
        # A binary log: the screen follows its decoded text, written by a thread as the raw file is read.
        from espwatch.binlog.spool import BinlogSpool

        binlog = BinlogSpool(path, binlog_from(args, args.elf), follow=follow, until=until)
        if spool is not None:
            spool.log.listeners.append(binlog.wake.set)
        binlog.start()
        path, follow, until = binlog.path, True, binlog.done
    from espwatch.tui.app import MonitorApp

    app = MonitorApp(path, patterns, stages=scan_cmd.build_stages(args, patterns, background=True),
                     elf_status=scan_cmd.elf_status_text(args), follow=follow, until=until,
                     name=name, elf=args.elf, show_times=args.timestamps)
    feeder = binlog or spool
    if feeder is not None:
        feeder.log.listeners.append(app.follower.wake.set)
    try:
        app.run()
    finally:
        if binlog is not None:
            binlog.cleanup()
        if spool is not None:
            spool.cleanup()
    return 0
