"""One module per CLI verb: argument parsing and printing only; the work is in the library.

Each verb module has `register(subparsers)` and `run(args) -> int`, imports only what parsing needs at the
top, and raises `EspwatchError` subclasses for the CLI to print. The helpers here are the options every
log-reading verb shares, so that all of them find patterns, rules and the ELF the same way.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from espwatch.errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from typing import Any, NoReturn

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


def add_verb(sub: argparse._SubParsersAction, name: str, description: str,
             examples: list[str]) -> argparse.ArgumentParser:
    """The parser of verb `name`: its one-line help from VERBS, a description and examples."""
    return sub.add_parser(name, help=VERBS[name], description=description,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def add_patterns_option(p: argparse.ArgumentParser) -> None:
    """`--patterns DIR`, shared by every verb that reads logs."""
    p.add_argument("--patterns", action="append", default=[], metavar="DIR",
                   help="also load the pattern and rule files (*.toml) in DIR; may be repeated")


class Repeatable(argparse.Action):
    """An option that may be given several times: one value stays a string (as a config file may set it),
    a second one on the command line makes a list of the command line's values (a default from a config
    file is replaced, not extended)."""

    repeatable = True

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        seen = f"_{self.dest}_given"
        cur = getattr(namespace, self.dest, None)
        if not getattr(namespace, seen, False):
            setattr(namespace, seen, True)
            setattr(namespace, self.dest, values)
        else:
            setattr(namespace, self.dest, [*(cur if isinstance(cur, list) else [cur]), values])


def add_elf_options(p: argparse.ArgumentParser, what: str = "decode addresses", per_input: str = "") -> None:
    """`--elf` / `--no-elf`, the same for every verb. `per_input` ("PORT", "LOG"): the verb takes several
    inputs, and `--elf` may be repeated as INPUT=ELF (a list; `espwatch.commands.multiport.split_elfs`)."""
    per = (f"; with several {per_input}s, once for all or repeated as {per_input}=APP.elf ({per_input} or "
           f"its label A, B, ...; the others then have none unless one ELF is also given for all)"
           ) if per_input else ""
    p.add_argument("--elf", metavar="APP.elf", action=Repeatable if per_input else "store",
                   help=f"the application ELF: {what} and check it against the ELF SHA256 the app prints "
                        "(default: found in ./build (ESP-IDF), .pio/build/<env> (PlatformIO) or an Arduino "
                        f"CLI build folder, in this folder or a parent){per}")
    p.add_argument("--no-elf", action="store_true", help="do not look for an ELF in the build folders")


def add_screen_options(p: argparse.ArgumentParser) -> None:
    """Options of the monitor's screen, shared by the live monitor and replay."""
    p.add_argument("--timestamps", action="store_true",
                   help="show the host time of each line (arrival times from the session log's .times file "
                        "when the monitor saved them, else times written in the lines)")
    p.add_argument("--theme", metavar="NAME",
                   help="colour theme of the screen (textual-dark, textual-light, nord, gruvbox, dracula, "
                        "tokyo-night, monokai, solarized-light, ...)")


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


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns` (COLUMNS, else the terminal of stdout, else 80), without
    importing shutil."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Parser(argparse.ArgumentParser):
    """argparse, with errors raised as `UsageError` (one line, with the usage) instead of exiting.

    `foreign_options` maps an option of a sibling subcommand to its name, so that giving it here says
    which subcommand it belongs to (e.g. `--max-runs does not apply to image check`)."""

    foreign_options: dict[str, str]

    def _get_formatter(self) -> argparse.HelpFormatter:
        # the width argparse would take from shutil, which (with bz2 and lzma) costs every start 2 ms
        return self.formatter_class(prog=self.prog, width=terminal_columns() - 2)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        ns, extras = super().parse_known_args(args, namespace)
        if not hasattr(ns, "_parser"):
            ns._parser = self  # the innermost (sub)command parser finishes first
        return ns, extras

    def parse_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        ns, extras = self.parse_known_args(args, namespace)
        innermost = vars(ns).pop("_parser", self)
        if extras:
            innermost.error("unrecognized arguments: " + " ".join(extras))
        return ns

    def error(self, message: str) -> NoReturn:
        foreign = getattr(self, "foreign_options", {})
        if message.startswith("unrecognized arguments:"):
            for token in message.split(":", 1)[1].split():
                owner = foreign.get(token.split("=", 1)[0])
                if owner:
                    flag, here = token.split("=", 1)[0], self.prog.split(" ", 1)[1]
                    raise UsageError(f"{flag} does not apply to `{here}` (it is an option of `{owner}`)")
        raise UsageError(f"{message} (usage: {' '.join(self.format_usage().split()[1:])})")


class _Version(argparse.Action):
    """`--version`: the version and the prefilter engine in use (imported only when asked)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        from espwatch import __version__
        from espwatch.prefilter import describe

        print(f"espwatch {__version__}\n{describe()}")
        parser.exit()


def build_parser(verb: str | None = None) -> Parser:
    """The parser: with `verb`, of that verb alone (its full options); without, every verb listed with its
    help (for `--help`). A parser per verb costs every start about 0.3 ms, so a verb's run makes one."""
    parser = Parser(
        prog="espwatch",
        description="Monitor, scan and explain the serial output of ESP32-family chips.",
        epilog="Run `espwatch VERB --help` for a verb; `espwatch --port PORT` for the live monitor.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and the prefilter engine in use")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    for name, help_text in VERBS.items():
        if name == verb:
            importlib.import_module(f"espwatch.commands.{name}").register(sub)
        elif verb is None:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def sub_parser(parser: argparse.ArgumentParser, verb: str) -> argparse.ArgumentParser:
    """The sub-parser of `verb` inside the top-level parser."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[verb]
