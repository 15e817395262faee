"""`espwatch replay LOG`: the monitor's screen over a saved log of any size (or `-` for a pipe)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from espwatch.cli import CliError
from espwatch.commands import add_patterns_option, patterns_from
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
    p.add_argument("--timestamps", action="store_true",
                   help="start with the host time column shown (arrival times from LOG.times when the "
                        "monitor saved them, else times written in the lines)")
    p.set_defaults(func=run)



def _arrival_times(log: str) -> Callable[[int], float | None] | None:
    """The lookup of the arrival times saved beside a session log (None without a usable sidecar)."""
    from espwatch.device.errors import TimesFileError
    from espwatch.device.times import load_times_for

    try:
        times = load_times_for(log)
    except TimesFileError as exc:
        print(f"espwatch: {exc}; showing the times written in the lines instead", file=sys.stderr)
        return None
    return times.time_at if times is not None and len(times) else None


def run(args: argparse.Namespace) -> int:
    patterns = patterns_from(args)
    if args.elf and not Path(args.elf).is_file():
        raise CliError(f"{args.elf}: no such ELF file")
    spool = None
    until = None
    follow = args.follow
    if args.log == "-":
        from espwatch.device.spool import StdinSpool

        if sys.stdin.isatty():
            raise CliError("replay -: standard input is a terminal; pipe a log into it")
        pipe_fd = StdinSpool.take_stdin()
        spool = StdinSpool(pipe_fd)
        spool.start()
        path, name, follow, until = spool.path, "<stdin>", True, spool.done
        arrival_time = None
    else:
        try:
            fh, _ = open_input(args.log)
        except InputError as exc:
            raise CliError(str(exc)) from None
        fh.close()
        path, name = args.log, os.path.basename(args.log)
        arrival_time = _arrival_times(args.log)
    from espwatch.tui.app import MonitorApp

    app = MonitorApp(path, patterns, stages=scan_cmd.build_stages(args, patterns, background=True),
                     elf_status=scan_cmd.elf_status_text(args), follow=follow, until=until,
                     name=name, elf=args.elf, show_times=args.timestamps,
                     store=spool.log if spool is not None else None, arrival_time=arrival_time)
    if spool is not None:
        spool.log.listeners.append(app.follower.wake.set)
    try:
        app.run()
    finally:
        if spool is not None:
            spool.cleanup()
    return 0
