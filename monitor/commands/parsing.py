"""The command line's argparse side: the parser (errors as `UsageError`), `--version`, and the options
several verbs share, so that all of them find patterns, rules and the ELF the same way."""

from __future__ import annotations

import argparse
import importlib
import sys

from espwatch.commands import VERBS
from espwatch.errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from typing import Any, NoReturn


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
