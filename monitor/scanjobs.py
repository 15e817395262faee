"""The `scan` verb over several files: one after the other, or (`jobs` > 1) in worker processes with the
output still in input order.

`scan_files(files, patterns, rules, enrichment, options, out, jobs)` writes what `espwatch scan` prints for
each file (JSON Lines or the summary) to `out`, the ELF warnings to stderr, and returns True when something
at error level or above was found. With `jobs` > 1 each worker scans whole files into a temporary file,
and the files are copied to `out` in the order given, so the output is the same as with one job; a file
that cannot be read stops the output at its place, as it does with one job. Standard input (`-`) is always
read by the calling process, at its place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from espwatch.errors import EspwatchError

if TYPE_CHECKING:
    from concurrent.futures import Future

    from espwatch.binlog import BinlogDecoder
    from espwatch.diagnosis.rules import Rule
    from espwatch.enrich import ElfChoice, Enrichment
    from espwatch.patterns import PatternSet


@dataclass(frozen=True)
class ScanOptions:
    """How `scan` writes one file's findings."""

    json: bool = False
    min_severity: str = "info"
    show_facts: bool = False
    label_files: bool = False
    """Add `"file"` to each JSON object (when several files are scanned)."""
    progress: bool = False
    """A progress line on stderr when it is a terminal (text summary, one job)."""


@dataclass
class FileOutcome:
    """What scanning one file left for the caller to do: its part of the exit status, the ELF hashes it
    printed (for the warnings), and the binary log note for stderr."""

    error_level: bool
    printed_hashes: list[str]
    binlog_note: str | None = None
    input_note: str | None = None
    """Said when the file gave no event: what reading it found odd (an encoding it could not read)."""


def scan_file(path: str, patterns: PatternSet, enr: Enrichment, opt: ScanOptions, out: TextIO,
              binlog: BinlogDecoder | None = None) -> FileOutcome:
    """Scan one file, writing its JSON Lines or its summary to `out` as the scan goes (raises what
    `scan_stream` raises); `binlog`: the verb's binary log decoder (a fresh copy reads this file)."""
    from espwatch.commands import binlog_summary
    from espwatch.events import SEVERITIES, severity_at_least
    from espwatch.render.summary import SummaryWriter
    from espwatch.scan import KEEP_SESSIONS, ScanResult, scan_stream, write_jsonl

    label = path if opt.label_files else None
    progress = None
    if opt.progress and not opt.json:
        from espwatch.progress import for_stream, input_size

        progress = for_stream(sys.stderr, "<stdin>" if path == "-" else os.path.basename(path),
                              input_size(path))
    summary: list[SummaryWriter] = []

    def write(text: str) -> None:
        if progress is not None:
            progress.clear()  # the progress line is wiped before each piece of the summary
        out.write(text)

    def start(result: ScanResult) -> None:
        if not opt.json:
            summary.append(SummaryWriter(write, result.name, patterns, result.session,
                                         opt.min_severity, show_facts=opt.show_facts))

    shown = frozenset(s for s in SEVERITIES if severity_at_least(s, opt.min_severity))

    def emit(ev):  # type: ignore[no-untyped-def]
        if opt.json:
            if ev.severity in shown:
                write_jsonl(ev, out, label)
        else:
            summary[0].event(ev)

    decoder = binlog.fresh() if binlog is not None else None
    try:
        result = scan_stream(path, patterns, stages=enr.stages(), on_event=emit, keep_events=False,
                             on_start=start, binlog=decoder,
                             on_read=progress.add if progress is not None else None,
                             keep_sessions=KEEP_SESSIONS)
    finally:
        if progress is not None:
            progress.clear()
    if summary:
        summary[0].finish(result)
    printed = result.fact_values("elf_sha256")
    quiet = result.note if result.note and not any(result.counts.values()) else None
    return FileOutcome(any(result.counts[s] for s in ("error", "fatal")), printed,
                       binlog_summary(decoder, result.name), f"{result.name}: {quiet}" if quiet else None)


def scan_files(files: Sequence[str], patterns: PatternSet, rules: list[Rule], enr: Enrichment,
               opt: ScanOptions, out: TextIO, jobs: int = 1, binlog: BinlogDecoder | None = None) -> bool:
    """Scan `files` in order (see the module docstring); True when something at error level was found."""
    jobs = max(1, min(jobs, sum(1 for f in files if f != "-")))
    if jobs == 1:
        worst = False
        for path in files:
            worst |= _finish(scan_file(path, patterns, enr, opt, out, binlog), enr, out)
        return worst
    return _in_workers(files, patterns, rules, enr, replace(opt, progress=False), out, jobs, binlog)


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _finish(outcome: FileOutcome, enr: Enrichment, out: TextIO) -> bool:
    """The binary log note and the ELF warnings; whether the file had something at error level."""
    out.flush()
    if outcome.binlog_note:
        print(f"espwatch: {outcome.binlog_note}", file=sys.stderr)
    elif outcome.input_note:  # "no events" could hide a log in an encoding it could not read: say so
        print(f"espwatch: {outcome.input_note}", file=sys.stderr)
    for warning in enr.mismatches(outcome.printed_hashes):
        print(f"espwatch: WARNING: {warning}", file=sys.stderr)
    return outcome.error_level


# -- worker processes ---------------------------------------------------------------------------------
_worker: tuple[PatternSet, Enrichment, ScanOptions, BinlogDecoder | None] | None = None


def _init(patterns: PatternSet, rules: list[Rule], elf: ElfChoice | None, opt: ScanOptions,
          binlog: BinlogDecoder | None) -> None:
    global _worker
    from espwatch.enrich import Enrichment

    _worker = (patterns, Enrichment(elf, "given", patterns, rules, strict=False), opt, binlog)


def _scan_to_file(path: str, folder: str) -> tuple[FileOutcome | None, str, EspwatchError | None]:
    """In a worker: scan `path` into a new file in `folder`; (outcome, that file, the error if any)."""
    import tempfile

    assert _worker is not None
    patterns, enr, opt, binlog = _worker
    fd, name = tempfile.mkstemp(dir=folder, suffix=".out")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        try:
            return scan_file(path, patterns, enr, opt, fh, binlog), name, None
        except EspwatchError as exc:
            return None, name, exc


def _context():  # type: ignore[no-untyped-def]
    """fork when this process runs one thread (fast: nothing to load again), else spawn."""
    import multiprocessing
    import threading

    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _in_workers(files: Sequence[str], patterns: PatternSet, rules: list[Rule], enr: Enrichment,
                opt: ScanOptions, out: TextIO, jobs: int, binlog: BinlogDecoder | None) -> bool:
    # imported here: one file (the usual case) starts without the process pool's modules
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    worst = False
    out.flush()
    sys.stderr.flush()
    with tempfile.TemporaryDirectory(prefix="espwatch-scan-") as folder, \
            ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_init,
                                initargs=(patterns, rules, enr.elf, opt, binlog)) as pool:
        futures: list[Future | None] = [None if f == "-" else pool.submit(_scan_to_file, f, folder)
                                        for f in files]
        try:
            for path, fut in zip(files, futures, strict=True):
                if fut is None:
                    outcome = scan_file(path, patterns, enr, opt, out, binlog)
                else:
                    done, name, failure = fut.result()
                    with open(name, encoding="utf-8", newline="") as fh:
                        shutil.copyfileobj(fh, out, 1 << 20)
                    os.unlink(name)
                    if failure is not None:
                        raise failure
                    assert done is not None
                    outcome = done
                worst |= _finish(outcome, enr, out)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return worst
