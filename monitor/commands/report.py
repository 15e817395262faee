"""`espwatch report LOG`: a Markdown report for a GitHub or GitLab issue, with secrets removed."""

from __future__ import annotations

import argparse
import sys

from espwatch.cli import CliError
from espwatch.commands import add_binlog_options, add_patterns_option
from espwatch.patterns import PatternError
from espwatch.pipeline import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a Markdown issue report of a log (environment, diagnosis, boots, events)",
        description="Scan a log and write a Markdown report for an issue: environment, findings with their "
                    "evidence, a table of boots, and the log lines around each notable event. Secrets "
                    "(tokens, keys, passwords, URL credentials) are removed unless --no-redact is given.")
    p.add_argument("log", metavar="LOG", help="the log file; - reads standard input")
    p.add_argument("--elf", metavar="APP.elf", help="the app's ELF: check its hash and decode backtraces")
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
        raise CliError("--no-redact cannot be combined with --redact-wifi or --redact-mac")
    opt = ReportOptions(elf=args.elf, full=args.full, redact=not args.no_redact, redact_wifi=args.redact_wifi,
                        redact_mac=args.redact_mac, patterns_dirs=list(args.patterns),
                        bootloader_elf=args.bootloader_elf)
    try:
        rep = build_report(args.log, opt)
    except (InputError, PatternError) as exc:
        raise CliError(str(exc)) from None
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(rep.markdown)
        except OSError as exc:
            raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
        print(f"espwatch: report written to {args.output} (redacted: {rep.redactor.summary()})",
              file=sys.stderr)
    else:
        sys.stdout.write(rep.markdown)
    return 0
