"""The `espwatch` command line: a thin shell over the library's verbs.

Each verb lives in `espwatch.commands.<verb>` with `register(subparsers)` and `run(args) -> int`; only the
module of the verb being run is imported, and a verb whose command line is simple enough to read without
argparse (`quick_args(argv)`, e.g. `decode` of addresses) starts without it. Without a verb,
`espwatch --port PORT` starts the live monitor.
Every failure meant for the user is an `EspwatchError`, caught here once: one line on stderr, exit 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from espwatch.commands import CONFIGURABLE, VERBS
from espwatch.errors import EspwatchError
from espwatch.sanitize import cap_message, guard_stdio

EXIT_USAGE = 2
SCREEN_VERBS = ("monitor", "replay")
"""Verbs that draw the TUI (Textual writes to the terminal itself; their text is sanitised in tui/)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from espwatch.console import prepare_streams

    prepare_streams()  # any text prints on any console or pipe (Windows: cp1252) without a traceback
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in VERBS and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "monitor")  # `espwatch` and `espwatch --port X` are the monitor verb
    verb = args_list[0] if args_list and args_list[0] in VERBS else None
    try:
        args = None
        if verb is not None:
            module = importlib.import_module(f"espwatch.commands.{verb}")
            args_list = getattr(module, "normalize", lambda a: a)(args_list)
            quick = getattr(module, "quick_args", None)
            args = quick(args_list[1:]) if quick is not None else None
        if args is None:
            args, parser = _parse(args_list, verb)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()  # `espwatch -h` style lines never take the quick path
            return EXIT_USAGE
        if verb in SCREEN_VERBS:
            return int(func(args) or 0)
        with guard_stdio():  # nothing printed by a headless verb reaches the terminal as a control
            return int(func(args) or 0)
    except EspwatchError as exc:
        print(f"espwatch: {cap_message(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _parse(args_list: list[str], verb: str | None):  # type: ignore[no-untyped-def]
    """The argparse namespace of the command line (with the config files' defaults) and its parser."""
    from espwatch.commands.parsing import build_parser, sub_parser

    parser = build_parser(verb)
    if verb in CONFIGURABLE:
        from espwatch.config import apply_config, load_config

        apply_config(sub_parser(parser, verb), verb, load_config())
    return parser.parse_args(args_list), parser


if __name__ == "__main__":
    sys.exit(main())
