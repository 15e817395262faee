"""`espwatch scan FILE...`: events of saved logs, for people or (`--json`) for scripts and CI."""

from __future__ import annotations

import argparse
import os
import sys

from espwatch.commands import (
    add_binlog_options,
    add_elf_options,
    add_patterns_option,
    add_verb,
    binlog_decoder,
    binlog_summary,
    enrichment,
    load_data,
)
from espwatch.events import SEVERITIES


def register(sub: argparse._SubParsersAction) -> None:
    from espwatch.contract import contract_path

    p = add_verb(
        sub, "scan",
        "Scan serial logs for boots, resets, crashes, OTA and flash problems. "
        "Exit status: 0 nothing at error level or above, 1 something was, 2 usage or file error. "
        "The JSON Lines contract (kinds, keys, fields): `espwatch explain --contract` prints it "
        f"({contract_path()}), `espwatch explain --schema` its JSON Schema.",
        ["espwatch scan boot.log",
         "espwatch scan --json --elf build/app.elf boot.log",
         "idf.py monitor | tee boot.log; espwatch scan --min-severity error boot.log",
         "espwatch scan --elf build/app.elf capture.bin     # a binary log (CONFIG_LOG_MODE_BINARY)"])
    p.add_argument("files", nargs="+", metavar="FILE", help="log files; - reads standard input")
    p.add_argument("--json", action="store_true",
                   help="JSON Lines, one event per line (see `espwatch explain --contract`)")
    p.add_argument("--min-severity", choices=SEVERITIES, default="info",
                   help="leave out events below this severity (default: info)")
    add_patterns_option(p)
    p.add_argument("--all", action="store_true", help="summary: also list informational boot facts")
    add_elf_options(p, "decode addresses (adds `frames`) and binary log records")
    add_binlog_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.events import severity_at_least
    from espwatch.progress import for_stream as progress_line
    from espwatch.progress import input_size
    from espwatch.render.summary import SummaryWriter
    from espwatch.scan import ScanResult, scan_stream, write_jsonl

    patterns, rules = load_data(args)
    enr = enrichment(args, patterns, rules)
    binlog = binlog_decoder(args, enr)
    worst_error = False
    out = sys.stdout
    many = len(args.files) > 1
    for path in args.files:
        summary: list[SummaryWriter] = []

        # a long scan on a terminal: bytes, rate and time left on stderr (never on a pipe or with --json),
        # wiped before each piece of the summary
        label = "<stdin>" if path == "-" else os.path.basename(path)
        progress = None if args.json else progress_line(sys.stderr, label, input_size(path))

        def write(text: str, _progress=progress) -> None:
            if _progress is not None:
                _progress.clear()
            out.write(text)

        def start(result: ScanResult, _summary: list[SummaryWriter] = summary, _write=write) -> None:
            if not args.json:
                _summary.append(SummaryWriter(_write, result.name, patterns, result.pipeline.boots.session,
                                              args.min_severity, show_facts=args.all))

        def emit(ev, _path=path, _summary=summary):
            if args.json:
                if severity_at_least(ev.severity, args.min_severity):
                    write_jsonl(ev, out, _path if many else None)
            else:
                _summary[0].event(ev)

        decoder = binlog.fresh()
        try:
            result = scan_stream(path, patterns, stages=enr.stages(), on_event=emit, keep_events=False,
                                 on_start=start, binlog=decoder,
                                 on_read=progress.add if progress is not None else None)
        finally:
            if progress is not None:
                progress.clear()
        if summary:
            summary[0].finish(result)
        note = binlog_summary(decoder, result.name)
        if note:
            print(f"espwatch: {note}", file=sys.stderr)
        elif result.note and not any(result.counts.values()):
            # "no events" could hide a log in an encoding it could not read: say so
            print(f"espwatch: {result.name}: {result.note}", file=sys.stderr)
        if any(result.counts[s] for s in ("error", "fatal")):
            worst_error = True
        printed = [s.facts["elf_sha256"] for s in result.sessions if s.facts.get("elf_sha256")]
        for warning in enr.mismatches(printed):
            print(f"espwatch: WARNING: {warning}", file=sys.stderr)
    out.flush()
    return 1 if worst_error else 0
