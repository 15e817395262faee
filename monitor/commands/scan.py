"""`espwatch scan FILE...`: events of saved logs, for people or (`--json`) for scripts and CI."""

from __future__ import annotations

import argparse
import sys

from espwatch.commands import add_elf_options, add_patterns_option, add_verb, enrichment, load_data
from espwatch.events import SEVERITIES


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "scan",
        "Scan serial logs for boots, resets, crashes, OTA and flash problems. "
        "Exit status: 0 nothing at error level or above, 1 something was, 2 usage or file error. "
        "The JSON Lines contract (kinds, keys, fields) is docs/events.md.",
        ["espwatch scan boot.log",
         "espwatch scan --json --elf build/app.elf boot.log",
         "idf.py monitor | tee boot.log; espwatch scan --min-severity error boot.log"])
    p.add_argument("files", nargs="+", metavar="FILE", help="log files; - reads standard input")
    p.add_argument("--json", action="store_true", help="JSON Lines, one event per line (see docs/events.md)")
    p.add_argument("--min-severity", choices=SEVERITIES, default="info",
                   help="leave out events below this severity (default: info)")
    add_patterns_option(p)
    p.add_argument("--all", action="store_true", help="summary: also list informational boot facts")
    add_elf_options(p, "decode addresses (adds `frames`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.events import severity_at_least
    from espwatch.render.summary import SummaryWriter
    from espwatch.scan import ScanResult, scan_stream, write_jsonl

    patterns, rules = load_data(args)
    enr = enrichment(args, patterns, rules)
    worst_error = False
    out = sys.stdout
    many = len(args.files) > 1
    for path in args.files:
        summary: list[SummaryWriter] = []

        def start(result: ScanResult, _summary: list[SummaryWriter] = summary) -> None:
            if not args.json:
                _summary.append(SummaryWriter(out.write, result.name, patterns, result.pipeline.boots.session,
                                              args.min_severity, show_facts=args.all))

        def emit(ev, _path=path, _summary=summary):
            if args.json:
                if severity_at_least(ev.severity, args.min_severity):
                    write_jsonl(ev, out, _path if many else None)
            else:
                _summary[0].event(ev)

        result = scan_stream(path, patterns, stages=enr.stages(), on_event=emit, keep_events=False,
                             on_start=start)
        if summary:
            summary[0].finish(result)
        if any(result.counts[s] for s in ("error", "fatal")):
            worst_error = True
        printed = [s.facts["elf_sha256"] for s in result.sessions if s.facts.get("elf_sha256")]
        for warning in enr.mismatches(printed):
            print(f"espwatch: WARNING: {warning}", file=sys.stderr)
    out.flush()
    return 1 if worst_error else 0
