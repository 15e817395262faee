"""The `espwatch` command line: a thin shell over the library's verbs.

Each verb lives in `espwatch.commands.<verb>` with `register(subparsers)` and `run(args) -> int`; only the
module of the verb being run is imported. Without a verb, `espwatch --port PORT` starts the live monitor.
Every failure meant for the user is an `EspwatchError`, caught here once: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from espwatch import __version__
from espwatch.commands import VERBS
from espwatch.errors import EspwatchError, UsageError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, with errors raised as `UsageError` (one line, with the usage) instead of exiting.

    `foreign_options` maps an option of a sibling subcommand to its name, so that giving it here says
    which subcommand it belongs to (e.g. `--max-runs does not apply to image check`)."""

    foreign_options: dict[str, str]

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


def build_parser(verb: str | None = None) -> Parser:
    """The parser; the full options of `verb` only (the other verbs are listed with their help)."""
    parser = Parser(
        prog="espwatch",
        description="Monitor, scan and explain the serial output of ESP32-family chips.",
        epilog="Run `espwatch VERB --help` for a verb; `espwatch --port PORT` for the live monitor.",
    )
    parser.add_argument("--version", action="version", version=f"espwatch {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    for name, help_text in VERBS.items():
        if name == verb:
            importlib.import_module(f"espwatch.commands.{name}").register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in VERBS and args_list[0] not in ("-h", "--help", "--version"):
        args_list.insert(0, "monitor")  # `espwatch --port X` is the monitor verb
    verb = args_list[0] if args_list and args_list[0] in VERBS else None
    try:
        if verb is not None:
            module = importlib.import_module(f"espwatch.commands.{verb}")
            args_list = getattr(module, "normalize", lambda a: a)(args_list)
        parser = build_parser(verb)
        args = parser.parse_args(args_list)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()
            return EXIT_USAGE
        return int(func(args) or 0)
    except EspwatchError as exc:
        print(f"espwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
