"""One module per CLI verb: argument parsing and printing only; the work is in the library.

Each verb module has `register(subparsers)` and `run(args) -> int`, imports only what parsing needs at the
top, and raises `EspwatchError` subclasses for the CLI to print. The helpers here are the options every
log-reading verb shares, so that all of them find patterns, rules and the ELF the same way.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from espwatch.binlog import BinlogDecoder
    from espwatch.diagnosis.rules import Rule
    from espwatch.enrich import Enrichment
    from espwatch.patterns import PatternSet

VERBS: dict[str, str] = {
    "monitor": "live serial monitor (also: espwatch --port PORT)",
    "scan": "find events in saved logs (summary, or JSON Lines with --json)",
    "report": "write a Markdown issue report of a log (environment, diagnosis, boots, events)",
    "replay": "browse a saved log in the monitor's screen (timeline, events, search)",
    "decode": "decode code addresses (or a whole log) to function, file and line",
    "image": "check an app image, partition table, OTA data or flash read-back",
    "explain": "what an event or finding code means and what to check",
    "ports": "list serial ports (VID:PID, USB bridge)",
}
"""Every verb with its one-line help (the `--help` listing, without importing the verbs)."""


def verb_parser(sub: argparse._SubParsersAction, name: str, description: str,
                examples: list[str]) -> argparse.ArgumentParser:
    """The parser of verb `name`: its one-line help from VERBS, a description and examples."""
    return sub.add_parser(name, help=VERBS[name], description=description,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def add_patterns_option(p: argparse.ArgumentParser) -> None:
    """`--patterns DIR`, shared by every verb that reads logs."""
    p.add_argument("--patterns", action="append", default=[], metavar="DIR",
                   help="also load the pattern and rule files (*.toml) in DIR; may be repeated")


def add_elf_options(p: argparse.ArgumentParser, what: str = "decode addresses") -> None:
    """`--elf` / `--no-elf`, the same for every verb."""
    p.add_argument("--elf", metavar="APP.elf",
                   help=f"the application ELF: {what} and check it against the ELF SHA256 the app prints "
                        "(default: found in ./build (ESP-IDF), .pio/build/<env> (PlatformIO) or an Arduino "
                        "CLI build folder, in this folder or a parent)")
    p.add_argument("--no-elf", action="store_true", help="do not look for an ELF in the build folders")


def load_data(args: argparse.Namespace) -> tuple[PatternSet, list[Rule]]:
    """The patterns and rules in force: built-in plus `--patterns` folders."""
    from espwatch.diagnosis import load_rules
    from espwatch.patterns import load_patterns

    dirs = getattr(args, "patterns", [])
    return load_patterns(dirs), load_rules(dirs)


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


def add_binlog_options(p: argparse.ArgumentParser, switch: bool = False) -> None:
    """`--bootloader-elf` (and with `switch`, `--binlog`) for the verbs that read ESP-IDF binary logs; the
    app ELF is `--elf`."""
    p.add_argument("--bootloader-elf", metavar="BOOTLOADER.elf",
                   help="binary logs (CONFIG_LOG_MODE_BINARY): the bootloader's ELF for its records "
                        "(default: bootloader/bootloader.elf beside the app ELF)")
    if switch:
        p.add_argument("--binlog", action="store_true",
                       help="the device logs in binary (CONFIG_LOG_MODE_BINARY): show its records as text "
                            "(implied by --bootloader-elf or an app ELF built with binary logging)")


def binlog_decoder(args: argparse.Namespace, enr: Enrichment | None,
                   armed: bool | None = None) -> BinlogDecoder:
    """The binary log decoder of a verb: the app ELF of the enrichment and `--bootloader-elf` (ElfError for
    a bad one). Text logs pass through it unchanged; it switches itself on where frames are (`armed`: from
    the start; default: when the app ELF was built with binary logging)."""
    from espwatch.binlog import open_decoder

    app = enr.elf.path if enr is not None and enr.elf is not None else None
    return open_decoder(app, getattr(args, "bootloader_elf", None), armed=armed)


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
