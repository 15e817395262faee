"""`espwatch explain CODE`: the page of a pattern or rule; `--list` lists them all."""

from __future__ import annotations

import argparse
import sys

from espwatch.commands import load_data
from espwatch.commands.parsing import add_patterns_option, add_verb
from espwatch.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "explain",
        "Print what a code means and what to check: a pattern or rule code (EW201), an esp_err_t number or "
        "name from ESP-IDF's error table (0x1503, 5379, ESP_ERR_OTA_VALIDATE_FAILED), or an event kind "
        "(the codes that produce it); --list lists every pattern and rule code; --contract prints the "
        "`scan --json` contract (event kinds, JSON keys, fields) and --schema its JSON Schema.",
        ["espwatch explain EW910", "espwatch explain 0x1503", "espwatch explain checksum_failed",
         "espwatch explain --list", "espwatch explain --contract | less"])
    p.add_argument("code", nargs="?", metavar="CODE",
                   help="a pattern or rule code (EW201), an esp_err_t number or name (0x1503, "
                        "ESP_ERR_OTA_VALIDATE_FAILED), or an event kind (checksum_failed)")
    p.add_argument("--list", action="store_true", help="list every code with its kind, severity and title")
    p.add_argument("--contract", action="store_true",
                   help="print the `scan --json` contract (events.md: event kinds, JSON keys, fields) "
                        "shipped with espwatch")
    p.add_argument("--schema", action="store_true",
                   help="print the JSON Schema of one `scan --json` line (events.schema.json)")
    add_patterns_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from espwatch.errcodes import lookup
    from espwatch.explain import all_pages, find_page
    from espwatch.render.explain import iter_error_code, iter_kind, iter_list, iter_page

    if args.contract or args.schema:
        from espwatch.contract import EVENTS, SCHEMA, read_contract

        if args.code or args.list or (args.contract and args.schema):
            raise UsageError("--contract and --schema print a file: give one of them alone")
        sys.stdout.write(read_contract(EVENTS if args.contract else SCHEMA))
        return 0
    patterns, rules = load_data(args)
    pages = all_pages(patterns, rules)
    if args.list:
        for line in iter_list(pages):
            print(line)
        return 0
    if not args.code:
        raise UsageError("explain needs a CODE (such as EW201), an esp_err_t (0x1503, ESP_ERR_NO_MEM) "
                         "or an event kind, or --list")
    page = find_page(pages, args.code)
    if page is not None:
        lines = list(iter_page(page))
    elif codes := lookup(args.code):
        lines = []
        for code in codes:
            related = [p for p in pages
                       if code.name in p.hint or (p.rx is not None and code.name in p.rx.pattern)]
            lines += [*([""] if lines else []), *iter_error_code(code, related)]
    elif kind_pages := [p for p in pages if p.kind == args.code.strip().lower()]:
        lines = list(iter_kind(args.code.strip().lower(), kind_pages))
    else:
        raise UsageError(f"unknown code {args.code!r}: not a pattern or rule code, an esp_err_t number or "
                         "name, or an event kind (see `espwatch explain --list`)")
    for line in lines:
        print(line)
    return 0
