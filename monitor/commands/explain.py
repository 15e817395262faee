"""`espwatch explain CODE`: the page of a pattern or rule; `--list` lists them all."""

from __future__ import annotations

import argparse

from espwatch.cli import CliError
from espwatch.commands import add_patterns_option
from espwatch.explain import find_page, iter_list, iter_page
from espwatch.patterns import PatternError, load_patterns


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="what an event or finding code means and what to check",
                       description="Print the page of a pattern or rule code (e.g. EW201), "
                                   "or list all codes.")
    p.add_argument("code", nargs="?", help="a code such as EW201")
    p.add_argument("--list", action="store_true", help="list every code with its kind, severity and title")
    add_patterns_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        patterns = load_patterns(args.patterns)
        if args.list:
            for line in iter_list(patterns):
                print(line)
            return 0
        if not args.code:
            raise CliError("explain needs a CODE (such as EW201) or --list")
        page = find_page(patterns, args.code)
    except PatternError as exc:
        raise CliError(str(exc)) from None
    if page is None:
        raise CliError(f"unknown code {args.code!r} (see `espwatch explain --list`)")
    for line in iter_page(page):
        print(line)
    return 0
