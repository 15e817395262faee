"""`espwatch scan FILE...`: events of saved logs, for people or (`--json`) for scripts and CI."""

from __future__ import annotations

import argparse
import sys

from monitor.cli import CliError
from monitor.events import SEVERITIES, severity_at_least
from monitor.patterns import PatternError, load_patterns
from monitor.pipeline import InputError
from monitor.scan import iter_summary, scan_stream, write_jsonl


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan", help="find events in saved logs (summary, or JSON Lines with --json)",
        description="Scan serial logs for boots, resets, crashes, OTA and flash problems. "
                    "Exit status: 0 nothing at error level or above, 1 something was, 2 usage or file error.")
    p.add_argument("files", nargs="+", metavar="FILE", help="log files; - reads standard input")
    p.add_argument("--json", action="store_true", help="JSON Lines, one event per line (see events.md)")
    p.add_argument("--min-severity", choices=SEVERITIES, default="info",
                   help="leave out events below this severity (default: info)")
    p.add_argument("--patterns", action="append", default=[], metavar="DIR",
                   help="also load the pattern files (*.toml) in DIR; may be repeated")
    p.add_argument("--all", action="store_true", help="summary: also list informational boot facts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        patterns = load_patterns(args.patterns)
    except PatternError as exc:
        raise CliError(str(exc)) from None
    stages = build_stages(args, patterns)
    worst_error = False
    out = sys.stdout
    many = len(args.files) > 1
    for path in args.files:
        def emit(ev, _path=path):
            if args.json and severity_at_least(ev.severity, args.min_severity):
                write_jsonl(ev, out, _path if many else None)

        try:
            result = scan_stream(path, patterns, stages=stages(), on_event=emit, keep_events=not args.json)
        except InputError as exc:
            raise CliError(str(exc)) from None
        if any(result.counts[s] for s in ("error", "fatal")):
            worst_error = True
        if not args.json:
            for line in iter_summary(result, patterns, args.min_severity, show_facts=args.all):
                out.write(line + "\n")
    out.flush()
    return 1 if worst_error else 0


def build_stages(args: argparse.Namespace, patterns):
    """A factory of fresh enrichment stages for each file (decoding and diagnosis, when available)."""
    try:
        from monitor.diagnosis import DiagnosisStage, RuleError, load_rules
    except ImportError:  # diagnosis package not installed: scan without findings
        return lambda: []
    try:
        rules = load_rules()
    except RuleError as exc:
        raise CliError(str(exc)) from None
    elf_sha = None
    elf = getattr(args, "elf", None)
    if elf:
        from monitor.diagnosis.checks import file_sha256

        elf_sha = file_sha256(elf)

    def make() -> list:
        return [DiagnosisStage(patterns, rules=rules, elf_sha256=elf_sha)]

    return make
