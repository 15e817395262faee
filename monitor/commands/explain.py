"""`espwatch explain CODE`: the page of a pattern or rule; `--list` lists them all."""

from __future__ import annotations

import argparse

from espwatch.commands import VERBS, add_patterns_option, load_data
from espwatch.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help=VERBS["explain"],
                       description="Print the page of a pattern or rule code (e.g. EW201), "
                                   "or list all codes.",
                       epilog="examples:\n  espwatch explain EW910\n  espwatch explain --list",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("code", nargs="?", help="a code such as EW201")
    p.add_argument("--list", action="store_true", help="list every code with its kind, severity and title")
    add_patterns_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.explain import all_pages, find_page
    from espwatch.render.explain import iter_list, iter_page

    patterns, rules = load_data(args)
    pages = all_pages(patterns, rules)
    if args.list:
        for line in iter_list(pages):
            print(line)
        return 0
    if not args.code:
        raise UsageError("explain needs a CODE (such as EW201) or --list")
    page = find_page(pages, args.code)
    if page is None:
        raise UsageError(f"unknown code {args.code!r} (see `espwatch explain --list`)")
    for line in iter_page(page):
        print(line)
    return 0
