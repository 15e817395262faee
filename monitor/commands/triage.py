"""`espwatch triage PATH...`: group crashes, findings, boot loops and OTA failures across many logs."""

from __future__ import annotations

import argparse
import sys
import time

from espwatch.commands.parsing import add_patterns_option, add_verb


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "triage",
        "Scan many logs (files, folders, globs; .gz and .zst too) in parallel and group what they show: "
        "crashes by signature (cause and top frames: function names when the ELF of the firmware that "
        "printed the log is given, else the PCs), findings by code, boot loops, OTA failures by error. For "
        "each group: count, files, devices, firmware versions and ELF hashes, first and last seen, and one "
        "example excerpt. Exit status: 0 every log was read, 1 some could not be, 2 usage error.",
        ["espwatch triage logs/",
         "espwatch triage -j 8 --elf fw/ --device-from '/(?P<device>[^/]+)/[^/]+$' 'field/**/*.log.gz'",
         "espwatch triage --json --per-file logs/ > triage.jsonl",
         "espwatch triage --markdown -o triage.md logs/",
         "espwatch triage --dask tcp://scheduler:8786 /shared/logs/"])
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files, folders (searched recursively for *.log, *.txt, *.out, plain or "
                        ".gz/.zst) or globs (quote them: 'logs/**/*.log')")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="scan on N processes (default: every core this process may use)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="scan on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786), or "
                        "`local` for a local Dask cluster of -j workers; needs pip install "
                        "'espwatch[fleet]'. The workers read the logs and ELF files at the same paths")
    p.add_argument("--elf", action="append", default=[], metavar="ELF",
                   help="an application ELF, or a folder of them; may be repeated. A crash is decoded with "
                        "the ELF whose SHA-256 its firmware printed (`ELF file SHA256`)")
    p.add_argument("--device-from", metavar="REGEX",
                   help="name each log's device from its path: the group `device`, else group 1, else the "
                        "match (default: the MAC address or host name the device prints)")
    add_patterns_option(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help="JSON Lines: one record per group (\"record\": \"group\"), then a totals record")
    out.add_argument("--markdown", action="store_true", help="Markdown for an issue tracker")
    p.add_argument("--per-file", action="store_true",
                   help="also one result per log (JSON: before the groups)")
    p.add_argument("--top", type=int, default=20, metavar="N",
                   help="groups listed per kind in the table and Markdown (default 20; --json lists all)")
    p.add_argument("--examples", type=int, default=3, metavar="N",
                   help="groups per kind shown with their example excerpt (default 3)")
    p.add_argument("--suffix", action="append", metavar=".EXT",
                   help="what a folder contributes: files ending in .EXT (plain or .gz/.zst); may be "
                        "repeated (default: .log .txt .out)")
    p.add_argument("--no-redact", action="store_true",
                   help="keep secrets (tokens, passwords, URL credentials) in the example excerpts")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.errors import InputError, UsageError
    from espwatch.fleet import TriageConfig, expand_paths, triage_dask, triage_local, usable_cores
    from espwatch.fleet.inputs import LOG_SUFFIXES
    from espwatch.render.triage import markdown, text_lines
    from espwatch.sanitize import json_line

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j must be at least 1")
    if args.top < 1 or args.examples < 0:
        raise UsageError("--top must be at least 1 and --examples at least 0")
    suffixes = LOG_SUFFIXES
    if args.suffix:
        suffixes = tuple(s if s.startswith(".") else f".{s}" for s in args.suffix)
    logs = expand_paths(args.paths, suffixes)
    config = TriageConfig.build(args.patterns, args.elf, args.device_from, redact=not args.no_redact)
    jobs = args.jobs or usable_cores()
    per_file: list = []
    want_per_file = args.per_file
    progress = _Progress(len(logs)) if sys.stderr.isatty() and not args.dask else None

    def on_result(r) -> None:  # type: ignore[no-untyped-def]
        if want_per_file:
            per_file.append(r)
        if r.error:
            _warn(f"{r.file}: {r.error}")
        if progress is not None:
            progress.step()

    if args.dask:
        triage, results = triage_dask(logs, config, args.dask, jobs, per_file=want_per_file)
        for r in results or []:
            per_file.append(r)
            if r.error:
                _warn(f"{r.file}: {r.error}")
    else:
        triage = triage_local(logs, config, jobs, on_result=on_result)
    if progress is not None:
        progress.done()

    if args.json:
        lines = [json_line(r.to_json()) for r in per_file]
        lines += [json_line(rec) for rec in triage.to_json()]
        lines.append(json_line(triage.totals_json()))
        text = "\n".join(lines) + "\n"
    elif args.markdown:
        text = markdown(triage, args.top, args.examples, per_file if want_per_file else None)
    else:
        text = "\n".join(text_lines(triage, args.top, args.examples, _width(),
                                    per_file if want_per_file else None)) + "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        except OSError as exc:
            raise InputError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if triage.failed:
        _warn(f"{triage.failed} of {triage.files} logs could not be read")
        return 1
    return 0


def _warn(msg: str) -> None:
    from espwatch.sanitize import cap_message

    print(f"espwatch: {cap_message(msg)}", file=sys.stderr)


def _width() -> int:
    import shutil

    return max(80, shutil.get_terminal_size((120, 24)).columns) if sys.stdout.isatty() else 160


class _Progress:
    """`scanned N/M logs` on a terminal's stderr, at most a few times a second."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.last = total, 0, 0.0

    def step(self) -> None:
        self.n += 1
        now = time.monotonic()
        if now - self.last > 0.25 or self.n == self.total:
            self.last = now
            sys.stderr.write(f"\rscanned {self.n}/{self.total} logs")
            sys.stderr.flush()

    def done(self) -> None:
        if self.n:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
