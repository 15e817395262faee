"""The `espwatch` command line: a thin shell over the library's verbs.

Each verb lives in `espwatch.commands.<verb>` with `register(subparsers)`; the parser it adds sets
`func(args) -> int`. Without a verb, `espwatch --port PORT` starts the live monitor.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from espwatch import __version__

VERBS = ("monitor", "scan", "explain", "decode", "image", "report", "replay", "ports")
EXIT_USAGE = 2
SCREEN_VERBS = ("monitor", "replay")
"""Verbs that draw the TUI (Textual writes to the terminal itself; their text is sanitised in tui/)."""


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="espwatch",
        description="Monitor, scan and explain the serial output of ESP32-family chips.",
        epilog="Run `espwatch VERB --help` for a verb; `espwatch --port PORT` for the live monitor.",
    )
    parser.add_argument("--version", action="version", version=f"espwatch {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        try:
            module = importlib.import_module(f"espwatch.commands.{verb}")
        except ModuleNotFoundError as exc:  # a verb still being written
            if exc.name != f"espwatch.commands.{verb}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in VERBS and args_list[0] not in ("-h", "--help", "--version"):
        args_list.insert(0, "monitor")  # `espwatch --port X` is the monitor verb
    parser = build_parser()
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    from espwatch.sanitize import cap_message, guard_stdio

    try:
        if args.verb in SCREEN_VERBS:
            return int(func(args) or 0)
        with guard_stdio():  # nothing printed by a headless verb reaches the terminal as a control
            return int(func(args) or 0)
    except CliError as exc:
        print(f"espwatch: {cap_message(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
