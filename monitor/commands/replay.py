"""`espwatch replay LOG`: the monitor's screen over a saved log of any size (or `-` for a pipe)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from espwatch import console
from espwatch.commands import apply_theme, binlog_decoder, binlog_wanted, enrichment, load_data
from espwatch.commands.parsing import (
    add_binlog_options,
    add_elf_options,
    add_patterns_option,
    add_screen_options,
    add_verb,
)
from espwatch.errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from espwatch.scanproc import ScanProcess


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "replay",
        "Open a saved serial log (any size; - reads a pipe) in the monitor's screen: boots and "
        "events on a timeline, the selected event explained, search, filters, bookmarks.",
        ["espwatch replay boot.log",
         "espwatch replay --follow session.log",
         "cat boot.log | espwatch replay -",
         "espwatch replay --elf build/app.elf capture.bin     # a binary log, shown as text",
         "espwatch replay gw.log node.log     # merged by their arrival times (.times beside each)"])
    p.add_argument("log", metavar="LOG", nargs="+",
                   help="log file, e.g. an espwatch session log; - reads standard input. Several logs are "
                        "shown merged by arrival time (each session log's .times sidecar), labelled A, B, "
                        "...; o shows one alone")
    p.add_argument("--follow", action="store_true", help="keep reading as the file grows (like tail -f)")
    add_patterns_option(p)
    add_elf_options(p, "decode backtraces (its index is built in the background)", per_input="LOG")
    add_screen_options(p)
    add_binlog_options(p, switch=True)
    p.set_defaults(func=run)


def _arrival_times(log: str) -> Callable[[int], float | None] | None:
    """The lookup of the arrival times saved beside a session log (None without a usable sidecar)."""
    from espwatch.device.times import load_times_for
    from espwatch.errors import TimesFileError

    try:
        times = load_times_for(log)
    except TimesFileError as exc:
        print(f"espwatch: {exc}; showing the times written in the lines instead", file=sys.stderr)
        return None
    return times.time_at if times is not None and len(times) else None


def readable_copy(log: str, follow: bool) -> str | None:
    """For a log written in UTF-16 or UTF-32 (Windows PowerShell 5's `>`), the path of a UTF-8 copy for the
    screen (the caller removes it); None for a log the screen reads as it is. Checks the file is readable."""
    from espwatch.pipeline import open_input

    fh, _ = open_input(log)
    try:
        sniffed = getattr(fh, "sniffed", None)
        if sniffed is None or not sniffed.transcode:
            return None
        if follow:
            raise UsageError(f"--follow: a log in {sniffed.encoding.upper()} is replayed whole; "
                             "leave out --follow")
        from espwatch.device.spool import utf8_copy

        return utf8_copy(fh)
    finally:
        fh.close()


def run(args: argparse.Namespace) -> int:
    from espwatch.binlog.setup import sniff_file

    patterns, rules = load_data(args)
    from espwatch.commands.multiport import one_elf, run_replay

    if len(args.log) > 1:
        if args.follow:
            raise UsageError("--follow: one log at a time (several logs are merged as they are)")
        if binlog_wanted(args, None):
            raise UsageError("binary logs are replayed one at a time")
        return run_replay(args, args.log, patterns, rules)
    args.log = args.log[0]
    one_elf(args, args.log)
    spool = None
    utf8 = None
    until = None
    follow = args.follow
    if args.log == "-":
        from espwatch.device.spool import StdinSpool

        console.need_terminal(stdin=False)  # the pipe is read here; keys come from the terminal
        if sys.stdin.isatty():
            raise UsageError("replay -: standard input is a terminal; pipe a log into it")
        pipe_fd = StdinSpool.take_stdin()
        spool = StdinSpool(pipe_fd)
        spool.start()
        path, name, follow, until = spool.path, "<stdin>", True, spool.done
        arrival_time = None
    else:
        path, name = args.log, os.path.basename(args.log)
        utf8 = readable_copy(args.log, follow)
        try:
            console.need_terminal()
        except UsageError:
            if utf8 is not None:
                from espwatch.device.spool import remove_file

                remove_file(utf8)
            raise
        # the sidecar's offsets are those of the file's own bytes: none for a transcoded copy
        arrival_time = _arrival_times(args.log) if utf8 is None else None
        path = utf8 or path
    enr = enrichment(args, patterns, rules, background=True)
    binlog = None
    wanted = binlog_wanted(args, enr)
    if wanted or (spool is None and sniff_file(path)):
        # A binary log: the screen follows its decoded text, written by a thread as the raw bytes are read.
        from espwatch.binlog.spool import BinlogSpool

        binlog = BinlogSpool(path, binlog_decoder(args, enr, armed=True if wanted else None), follow=follow,
                             until=until, store=spool.log if spool is not None else None)
        if spool is not None:
            spool.log.listeners.append(binlog.wake.set)
        binlog.start()
        path, follow, until = binlog.path, True, binlog.done
        arrival_time = binlog.arrival_time(arrival_time) if arrival_time is not None else None
    scan_process: bool | ScanProcess = False
    if binlog is None and spool is None and not follow:
        # A saved text log: its scan starts now, in a worker process, while the screen's modules load.
        from espwatch.scanproc import ScanProcess

        scan_process = ScanProcess(path, patterns, rules, enr.elf)
    from espwatch.tui.app import MonitorApp

    feeder = binlog or spool
    app = MonitorApp(path, patterns, enrichment=enr, follow=follow, until=until, name=name,
                     show_times=args.timestamps, store=feeder.log if feeder is not None else None,
                     arrival_time=arrival_time, scan_in_process=scan_process,
                     # reports beside the log given (a pipe or a decoded binary log is a temporary file)
                     report_dir=os.getcwd() if args.log == "-" else
                     os.path.dirname(os.path.abspath(args.log)))
    if feeder is not None:
        feeder.log.listeners.append(app.follower.wake.set)
    apply_theme(app, args.theme)
    try:
        app.run()
    finally:
        if binlog is not None:
            binlog.cleanup()
        if spool is not None and not spool.cleanup():
            print(f"espwatch: could not remove the spool file {spool.path} (the next `replay -` will)",
                  file=sys.stderr)
        if not isinstance(scan_process, bool):
            scan_process.stop()
        if utf8 is not None:
            from espwatch.device.spool import remove_file

            remove_file(utf8)
    return 0
