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
