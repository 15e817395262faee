"""The `espwatch` command line: a thin shell over the library's verbs.

Each verb lives in `espwatch.commands.<verb>` with `register(subparsers)` and `run(args) -> int`; only the
module of the verb being run is imported. Without a verb, `espwatch --port PORT` starts the live monitor.
Every failure meant for the user is an `EspwatchError`, caught here once: one line on stderr, exit 2.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from espwatch.commands import CONFIGURABLE, VERBS, build_parser, sub_parser
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
        if verb is not None:
            module = importlib.import_module(f"espwatch.commands.{verb}")
            args_list = getattr(module, "normalize", lambda a: a)(args_list)
        parser = build_parser(verb)
        if verb in CONFIGURABLE:
            from espwatch.config import apply_config, load_config

            apply_config(sub_parser(parser, verb), verb, load_config())
        args = parser.parse_args(args_list)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help()
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


if __name__ == "__main__":
    sys.exit(main())
