"""`espwatch scan FILE...`: events of saved logs, for people or (`--json`) for scripts and CI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from espwatch.cli import CliError
from espwatch.commands import add_patterns_option, patterns_from
from espwatch.decoding import DecodeStage, ElfError, choose_elf, elf_status, load_index
from espwatch.diagnosis import DiagnosisStage, RuleError, load_rules
from espwatch.events import SEVERITIES, severity_at_least
from espwatch.patterns import PatternSet
from espwatch.pipeline import InputError, Stage
from espwatch.scan import iter_summary, scan_stream, write_jsonl
from espwatch.symbols import SymbolIndex


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan", help="find events in saved logs (summary, or JSON Lines with --json)",
        description="Scan serial logs for boots, resets, crashes, OTA and flash problems. "
                    "Exit status: 0 nothing at error level or above, 1 something was, 2 usage or file error.")
    p.add_argument("files", nargs="+", metavar="FILE", help="log files; - reads standard input")
    p.add_argument("--json", action="store_true", help="JSON Lines, one event per line (see events.md)")
    p.add_argument("--min-severity", choices=SEVERITIES, default="info",
                   help="leave out events below this severity (default: info)")
    add_patterns_option(p)
    p.add_argument("--all", action="store_true", help="summary: also list informational boot facts")
    p.add_argument("--elf", metavar="APP.elf",
                   help="decode addresses with this ELF (adds `frames`) and check it against the log's "
                        "ELF SHA256; without it, an ELF found in ./build, .pio/build or an Arduino build "
                        "folder is used")
    p.add_argument("--no-elf", action="store_true", help="do not look for an ELF in the build folders")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    patterns = patterns_from(args)
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
        warn_elf_mismatch(args.elf_choice, result)
        if result.note and args.json:
            print(f"espwatch: {result.name}: {result.note}", file=sys.stderr)
        if not args.json:
            for line in iter_summary(result, patterns, args.min_severity, show_facts=args.all):
                out.write(line + "\n")
    out.flush()
    return 1 if worst_error else 0


def warn_elf_mismatch(elf, result) -> None:
    """Say loudly on stderr when the ELF is not the one the device runs."""
    if elf is None:
        return
    printed = {s.facts["elf_sha256"] for s in result.sessions if s.facts.get("elf_sha256")}
    for p in sorted(printed):
        if elf.matches(p) is False:
            print(f"espwatch: WARNING: {elf.describe(p)}", file=sys.stderr)


def elf_status_text(args: argparse.Namespace) -> Callable[[list[dict]], str]:
    """For the monitor's status line: the ELF, its index state and whether it matches the boots seen."""

    def text(facts: list[dict]) -> str:
        stage = args.decode_stages[0] if getattr(args, "decode_stages", None) else None
        printed = [f["elf_sha256"] for f in facts if f.get("elf_sha256")]
        return elf_status(getattr(args, "elf_choice", None), stage, printed)

    return text


def build_stages(args: argparse.Namespace, patterns: PatternSet,
                 background: bool = False) -> Callable[[], list[Stage]]:
    """A factory of fresh enrichment stages for each file: address decoding (when an ELF is known)
    and diagnosis. Announces the ELF it uses on stderr. With `background`, the ELF's index is built in a
    thread (the monitor starts at once; events are decoded when the index is ready)."""
    try:
        rules = load_rules()
    except RuleError as exc:
        raise CliError(str(exc)) from None
    try:
        elf = choose_elf(getattr(args, "elf", None), discover=not getattr(args, "no_elf", True))
        if elf is None:
            index = None
        elif background:
            index = SymbolIndex.load_async(elf.path)
        else:
            index = load_index(elf)
    except ElfError as exc:
        raise CliError(str(exc)) from None
    if elf is not None and elf.discovered:
        print(f"espwatch: decoding with {elf.path} (found in the build folder; --no-elf to skip)",
              file=sys.stderr)
    args.elf_choice = elf
    args.decode_stages = []

    def make() -> list[Stage]:
        stages: list[Stage] = []
        if index is not None:
            stage = DecodeStage(index)
            args.decode_stages.append(stage)
            stages.append(stage)
        stages.append(DiagnosisStage(patterns, rules=rules, elf_sha256=elf.sha256 if elf else None))
        return stages

    return make
