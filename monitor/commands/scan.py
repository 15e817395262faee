"""`espwatch scan FILE...`: events of saved logs, for people or (`--json`) for scripts and CI."""

from __future__ import annotations

import argparse
import sys

from espwatch.commands import binlog_decoder, enrichment, load_data
from espwatch.commands.parsing import add_binlog_options, add_elf_options, add_patterns_option, add_verb
from espwatch.errors import UsageError
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
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="scan up to N files at once in worker processes, output in the order given "
                        "(0: one per CPU; default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.scanjobs import ScanOptions, default_jobs, scan_files

    patterns, rules = load_data(args)
    enr = enrichment(args, patterns, rules)
    binlog = binlog_decoder(args, enr)
    if args.jobs < 0:
        raise UsageError(f"-j {args.jobs}: give a number of jobs, or 0 for one per CPU")
    jobs = args.jobs or default_jobs()
    # a long scan on a terminal: bytes, rate and time left on stderr (never on a pipe or with --json)
    opt = ScanOptions(json=args.json, min_severity=args.min_severity, show_facts=args.all,
                      label_files=len(args.files) > 1, progress=True)
    worst_error = scan_files(args.files, patterns, rules, enr, opt, sys.stdout, jobs, binlog)
    sys.stdout.flush()
    return 1 if worst_error else 0
