"""`espwatch report LOG`: a Markdown report for a GitHub or GitLab issue, with secrets removed."""

from __future__ import annotations

import argparse
import sys

from espwatch.commands.parsing import add_binlog_options, add_elf_options, add_patterns_option, add_verb
from espwatch.errors import InputError, UsageError
from espwatch.sanitize import for_terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "report",
        "Scan a log and write a Markdown report for an issue: environment, findings with their "
        "evidence, a table of boots, and the log lines around each notable event. Secrets "
        "(tokens, keys, passwords, URL credentials) are removed unless --no-redact is given.",
        ["espwatch report boot.log > issue.md",
         "espwatch report --elf build/app.elf --redact-wifi -o issue.md boot.log"])
    p.add_argument("log", metavar="LOG", help="the log file; - reads standard input")
    add_elf_options(p, "decode backtraces")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the report to FILE instead of standard output")
    p.add_argument("--full", action="store_true",
                   help="no limits: every event, all evidence lines, whole lines, every boot")
    p.add_argument("--no-redact", action="store_true", help="keep secrets in the report (do not share it)")
    p.add_argument("--redact-wifi", action="store_true", help="also remove Wi-Fi network names (SSIDs)")
    p.add_argument("--redact-mac", action="store_true", help="also remove MAC addresses")
    add_patterns_option(p)
    add_binlog_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.report import ReportOptions, build_report

    if args.no_redact and (args.redact_wifi or args.redact_mac):
        raise UsageError("--no-redact cannot be combined with --redact-wifi or --redact-mac")
    opt = ReportOptions(elf=args.elf, no_elf=args.no_elf, full=args.full, redact=not args.no_redact,
                        redact_wifi=args.redact_wifi, redact_mac=args.redact_mac,
                        patterns_dirs=list(args.patterns), bootloader_elf=args.bootloader_elf)
    rep = build_report(args.log, opt)
    if rep.result.note and not any(rep.result.counts.values()):  # as scan says it
        print(f"espwatch: {for_terminal(rep.result.name)}: {rep.result.note}", file=sys.stderr)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(rep.markdown)
        except OSError as exc:
            raise InputError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
        print(f"espwatch: report written to {args.output} (redacted: {rep.redactor.summary()})",
              file=sys.stderr)
    else:
        sys.stdout.write(rep.markdown)
    return 0
