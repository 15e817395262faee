"""One module per CLI verb: argument parsing and printing only; the work is in the library.

Each verb module has `register(subparsers)` and `run(args) -> int`, imports only what parsing needs at the
top, and raises `EspwatchError` subclasses for the CLI to print. The helpers here are the options every
log-reading verb shares, so that all of them find patterns, rules and the ELF the same way. The argparse
side (the parser, the shared options) is in `espwatch.commands.parsing`: a verb that can read its command
line without argparse (`decode` of addresses) starts without importing it.
"""

from __future__ import annotations

import sys

from espwatch.errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    import argparse

    from espwatch.binlog import BinlogDecoder
    from espwatch.diagnosis.rules import Rule
    from espwatch.enrich import Enrichment
    from espwatch.patterns import PatternSet

VERBS: dict[str, str] = {
    "monitor": "live serial monitor (also: espwatch --port PORT)",
    "scan": "find events in saved logs (summary, or JSON Lines with --json)",
    "triage": "group crashes, findings, boot loops and OTA failures across many logs (-j N, --dask)",
    "report": "write a Markdown issue report of a log (environment, diagnosis, boots, events)",
    "replay": "browse a saved log in the monitor's screen (timeline, events, search)",
    "decode": "decode code addresses (or a whole log) to function, file and line",
    "coredump": "decode a core dump: panic reason, crashed task, every task's backtrace (no GDB needed)",
    "image": "check an app image, partition table, OTA data or flash read-back",
    "explain": "what an event or finding code means and what to check",
    "ports": "list serial ports (VID:PID, product, serial number, board family)",
    "config": "show the settings in force (espwatch.toml, user config) and where each comes from",
    "completion": "print a shell completion script (bash, zsh, fish)",
}
"""Every verb with its one-line help (the `--help` listing, without importing the verbs)."""


def apply_theme(app: object, name: str | None) -> None:
    """Set the screen's theme, or a one-line error naming the themes there are."""
    if not name:
        return
    from textual.theme import BUILTIN_THEMES

    if name not in BUILTIN_THEMES:
        raise UsageError(f"--theme {name!r}: no such theme (themes: {', '.join(sorted(BUILTIN_THEMES))})")
    app.theme = name  # type: ignore[attr-defined]


def load_data(args: argparse.Namespace) -> tuple[PatternSet, list[Rule]]:
    """The patterns and rules in force: built-in plus `--patterns` folders."""
    from espwatch.datacache import load_data as load

    return load(getattr(args, "patterns", []))  # the built-in ones parsed once, then from the cache


def enrichment(args: argparse.Namespace, patterns: PatternSet, rules: list[Rule],
               background: bool = False) -> Enrichment:
    """The ELF decision of `--elf` / `--no-elf`, announced on stderr when the ELF was found, not given."""
    from espwatch.enrich import Enrichment

    enr = Enrichment.choose(getattr(args, "elf", None), getattr(args, "no_elf", False), patterns, rules,
                            background=background)
    note = enr.announce()
    if note:
        print(f"espwatch: {note}", file=sys.stderr)
    return enr


def binlog_decoder(args: argparse.Namespace, enr: Enrichment | None,
                   armed: bool | None = None) -> BinlogDecoder:
    """The binary log decoder of a verb: the app ELF of the enrichment and `--bootloader-elf` (ElfError for
    a bad one). Text logs pass through it unchanged; it switches itself on where frames are (`armed`: from
    the start; default: when the app ELF was built with binary logging)."""
    app = enr.elf.path if enr is not None and enr.elf is not None else None
    boot = getattr(args, "bootloader_elf", None)
    if app is None and boot is None and armed is None:
        from espwatch.binlog.lazy import LazyDecoder

        return LazyDecoder(_plain_decoder)  # type: ignore[return-value]  # a text log never loads more
    from espwatch.binlog import open_decoder

    return open_decoder(app, boot, armed=armed)


def _plain_decoder() -> BinlogDecoder:
    from espwatch.binlog import BinlogDecoder

    return BinlogDecoder()


def binlog_wanted(args: argparse.Namespace, enr: Enrichment | None) -> bool:
    """Whether the device logs in binary as far as the options tell: `--binlog`, `--bootloader-elf`, or an
    app ELF built with binary logging."""
    if getattr(args, "binlog", False) or getattr(args, "bootloader_elf", None):
        return True
    if enr is None or enr.elf is None:
        return False
    from espwatch.binlog import ElfStrings

    return ElfStrings(enr.elf.path).has_binlog


def binlog_summary(decoder: BinlogDecoder | None, name: str) -> str | None:
    """One line for stderr after a binary log was read (None when the input had no frames)."""
    if decoder is None or not decoder.active:
        return None
    st = decoder.stats
    parts = [f"{st.records} records decoded"]
    if st.undecoded:
        parts.append(f"{st.undecoded} not decoded")
    if st.junk_bytes:
        parts.append(f"{st.junk_bytes} damaged bytes in {st.junk_runs} places")
    notes = "".join(f"; {n}" for n in decoder.notes)
    return f"{name}: binary log: {', '.join(parts)}{notes}"


CONFIGURABLE = ("monitor", "scan", "report", "replay", "decode")
"""The verbs whose defaults `espwatch.toml` and the user config file may set."""


