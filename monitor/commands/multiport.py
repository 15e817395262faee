"""Several ports in the monitor (`espwatch --port A --port B`, `--port all`) and several logs in `replay`:
the command-line side (which ports, which ELF for which port, where the logs go); see `espwatch.merge`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from espwatch import console
from espwatch.errors import InputError, PortNotFound, UsageError

if TYPE_CHECKING:
    from espwatch.enrich import Enrichment
    from espwatch.patterns import PatternSet


def _say(text: str) -> None:
    print(f"espwatch: {text}", file=sys.stderr, flush=True)


def split_elfs(given: Sequence[str] | str | None, keys: Sequence[Sequence[str]]) -> tuple[str | None,
                                                                                         list[str | None]]:
    """`--elf` values: one ELF for every input, or `INPUT=ELF` pairs where INPUT names one of the inputs
    (`keys[i]` are the names input i answers to: its port or log, its label). Returns (the ELF for all,
    the ELF of each input); raises `UsageError` for an ambiguous or unknown pairing."""
    items = [given] if isinstance(given, str) else list(given or [])
    common: str | None = None
    per: list[str | None] = [None] * len(keys)
    for item in items:
        name, sep, elf = item.partition("=")
        hit = [i for i, k in enumerate(keys) if sep and name in k]
        if hit:
            if per[hit[0]] is not None:
                raise UsageError(f"--elf {item}: {name} already has an ELF ({per[hit[0]]})")
            per[hit[0]] = elf
        elif common is None:
            common = item
        else:
            raise UsageError(f"--elf {item}: one ELF for all is given already ({common}); give the others as "
                             f"PORT=ELF")
    return common, per


def one_elf(args: argparse.Namespace, name: str) -> None:
    """One input: `--elf X` or `--elf NAME=X` becomes the plain value the other verbs use."""
    common, per = split_elfs(args.elf, [[name]])
    args.elf = per[0] or common


def enrichments(args: argparse.Namespace, patterns: PatternSet, rules: list[Any],
                keys: Sequence[Sequence[str]]) -> tuple[Enrichment, list[Enrichment]]:
    """(the enrichment of the ELF for all, each input's: its own ELF's, else the one for all)."""
    from espwatch.commands import enrichment

    common, per = split_elfs(args.elf, keys)
    made: dict[str | None, Enrichment] = {}

    def get(elf: str | None) -> Enrichment:
        if elf not in made:
            no_elf = args.no_elf or (elf is None and any(per))
            ns = argparse.Namespace(elf=elf, no_elf=no_elf)
            made[elf] = enrichment(ns, patterns, rules, background=True)
        return made[elf]

    base = get(common)
    return base, [get(e) if e is not None else base for e in per]


def expand_ports(given: Sequence[str]) -> list[str]:
    """`--port` values, with `all` = every port that looks like an ESP board; duplicates once."""
    out: list[str] = []
    for p in given:
        if p == "all":
            from espwatch.device.ports import likely_ports, list_ports

            found = [q.device for q in likely_ports(list_ports())]
            if not found:
                from espwatch.device.choose import ports_summary

                raise PortNotFound(f"--port all: no port looks like an ESP board; "
                                   f"{ports_summary(list_ports())}")
            out.extend(found)
        else:
            out.append(p)
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def log_paths(ports: Sequence[str], log: str | None) -> tuple[list[Path], Path]:
    """(each port's session log, the merged log). With `--log FILE`: FILE is the merged log and each port's
    log goes beside it as FILE's stem + `.PORT.log`; else new files in the user log directory."""
    from espwatch.device.sessionlog import default_log_path, safe_port_name

    if log:
        merged = Path(log)
        stem = merged.name[: -len(merged.suffix)] if merged.suffix else merged.name
        return [merged.with_name(f"{stem}.{safe_port_name(p)}.log") for p in ports], merged
    paths = [default_log_path(p) for p in ports]
    return paths, paths[0].with_name(paths[0].name.replace(safe_port_name(ports[0]), "merged", 1))


def run_ports(args: argparse.Namespace, ports: list[str], patterns: PatternSet, rules: list[Any],
              eol: bytes) -> int:
    """The live monitor on several ports (see `espwatch.commands.monitor`)."""
    from espwatch.commands import apply_theme, binlog_wanted
    from espwatch.device.connect import wait_for_port
    from espwatch.device.multiport import PortGroup
    from espwatch.merge import labels_for

    labels = labels_for(len(ports))
    keys = [[p, label] for p, label in zip(ports, labels, strict=True)]
    base, enrs = enrichments(args, patterns, rules, keys)
    if binlog_wanted(args, base) or any(binlog_wanted(args, e) for e in enrs):
        raise UsageError("binary logs (--binlog, an ELF built with binary logging) are read on one port at a "
                         "time for now: give one --port")
    timeout = args.open_timeout or None
    wait = "for ever" if timeout is None else f"up to {timeout:g} s"
    opened: list[Any] = []
    try:
        for p in ports:
            opened.append(wait_for_port(p, args.baud, timeout,
                                        on_wait=lambda why: _say(f"{why}; waiting {wait} (Ctrl+C gives up)")))
    except BaseException:
        for port in opened:
            with contextlib.suppress(Exception):
                port.close()
        raise
    try:
        console.need_terminal()  # before the session logs are made
    except UsageError:
        for port in opened:
            with contextlib.suppress(Exception):
                port.close()
        raise
    logs, merged = log_paths(ports, args.log)
    try:
        group = PortGroup(ports, args.baud, logs, merged, reset_on_open=not args.no_reset, opened=opened)
    except OSError as exc:
        for port in opened:
            with contextlib.suppress(Exception):
                port.close()
        raise InputError(f"cannot write a session log: {exc.strerror or exc} ({exc.filename})") from None
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from espwatch.tui.app import MonitorApp
    from espwatch.tui.ports import PortsSetup

    setup = PortsSetup(labels, ports, group.sources, list(enrs))
    app = MonitorApp(merged, patterns, enrichment=base, source=group.sources[0], name=merged.name,
                     show_times=args.timestamps, eol=eol, store=group.merged,
                     arrival_time=group.merged.times.time_at, ports=setup)
    group.merged.listeners.append(app.follower.wake.set)
    apply_theme(app, args.theme)
    group.merger.start()
    try:
        app.run()
    finally:
        group.stop()
    complete = True
    for label, summary in zip(labels, group.summaries(), strict=True):
        _say(f"{label}: {summary.text()}")
        complete = complete and summary.complete
    _say(f"merged log {merged} (labels A, B, ... as above; arrival times in {merged.name}.times)")
    return 0 if complete else 1


# -- replay of several logs -------------------------------------------------------------------------------
class MergeSpool:
    """Saved logs merged into a temporary file by a thread, while the screen follows it."""

    def __init__(self, paths: Sequence[str]) -> None:
        from espwatch.device.sessionlog import SessionLog
        from espwatch.merge import plan_logs

        self.plan = plan_logs(paths)
        fd, name = tempfile.mkstemp(prefix="espwatch-merged-", suffix=".log")
        os.close(fd)
        self.path = Path(name)
        self.log = SessionLog(self.path)
        self.done = threading.Event()
        self.stop = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="espwatch-merge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from espwatch.merge import merge_logs

        try:
            merge_logs(self.plan, self.log.write, self.stop)
        except Exception as exc:
            self.error = str(exc)
            self.log.mark(f"merging stopped: {exc}")
        finally:
            self.done.set()
            for cb in self.log.listeners:
                cb()

    def cleanup(self) -> bool:
        from espwatch.device.spool import remove_file
        from espwatch.device.times import times_path

        self.stop.set()
        self._thread.join(5.0)
        self.log.close()
        return remove_file(self.path) and remove_file(times_path(self.path))


def run_replay(args: argparse.Namespace, logs: list[str], patterns: PatternSet, rules: list[Any]) -> int:
    from espwatch.commands import apply_theme
    from espwatch.pipeline import open_input
    from espwatch.tui.app import MonitorApp
    from espwatch.tui.ports import PortsSetup

    if "-" in logs:
        raise UsageError("replay -: a pipe is replayed alone (give several saved logs, or one -)")
    from espwatch.binlog.setup import sniff_file

    for log in logs:
        fh, _ = open_input(log)
        fh.close()
        if sniff_file(log):
            raise UsageError(f"{log}: a binary log (CONFIG_LOG_MODE_BINARY); binary logs are replayed one "
                             f"at a time for now")
    console.need_terminal()
    names = [os.path.basename(p) for p in logs]
    spool = MergeSpool(logs)
    labels = [lane.label for lane in spool.plan]
    base, enrs = enrichments(args, patterns, rules,
                             [[p, n, label] for p, n, label in zip(logs, names, labels, strict=True)])
    for lane in spool.plan:
        if lane.note:
            _say(lane.note)
    spool.start()
    app = MonitorApp(spool.path, patterns, enrichment=base, follow=True, until=spool.done,
                     name=" + ".join(names), show_times=args.timestamps, store=spool.log,
                     arrival_time=spool.log.times.time_at,
                     ports=PortsSetup(labels, list(logs), [], list(enrs)),
                     report_dir=os.path.dirname(os.path.abspath(logs[0])))
    spool.log.listeners.append(app.follower.wake.set)
    apply_theme(app, args.theme)
    try:
        app.run()
    finally:
        if not spool.cleanup():
            _say(f"could not remove the temporary merged log {spool.path}")
    if spool.error:
        _say(f"merging stopped: {spool.error}")
        return 1
    return 0
