"""`espwatch decode`: code addresses to `function at file:line`, without a toolchain."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from espwatch.commands import VERBS
from espwatch.errors import InputError, UsageError

ADDR_TOKEN_RE = re.compile(r"^(0[xX][0-9a-fA-F]{1,16}|[0-9a-fA-F]{8})(?::0[xX][0-9a-fA-F]{1,16})?$")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "decode",
        help=VERBS["decode"],
        description=(
            "Decode code addresses to `function at file:line` from the app's ELF, with inlined frames and "
            "demangled C++ names, in the format of `addr2line -pfiaC`. Arguments are addresses "
            "(0x400d1234, or PC:SP pairs pasted from a backtrace) or log files; with a log file the log "
            "is printed with decoded lines inserted after each line that carries code addresses. "
            "Without arguments (or with -), addresses or a log are read from standard input."
        ),
    )
    p.add_argument("inputs", nargs="*", metavar="ADDR|LOG", help="addresses, log files, or - for stdin")
    p.add_argument("--elf", metavar="APP.elf", help="the application ELF (default: found from the current "
                   "folder: ESP-IDF build/, PlatformIO .pio/build/<env>/, Arduino CLI build/<fqbn>/)")
    p.add_argument("--no-cache", action="store_true", help="build the symbol index without the on-disk cache")
    p.set_defaults(func=run)


def _is_address(token: str) -> bool:
    return bool(ADDR_TOKEN_RE.match(token))


def _parse_address(token: str) -> int:
    return int(token.split(":")[0], 16)


def _load(args: argparse.Namespace):
    """The ELF decision every verb makes; decode cannot work without one."""
    from espwatch.enrich import Enrichment

    # lazy: only the compilation units the addresses need are read; `index.store()` keeps them cached
    enr = Enrichment.choose(args.elf, use_cache=not args.no_cache, lazy=True)
    if enr.elf is None:
        raise UsageError("no ELF file: pass --elf APP.elf (none found under build/, .pio/build/ "
                         "or an Arduino build/ folder)")
    index = enr.symbol_index()
    if not index.has_dwarf:
        print(f"espwatch: warning: {enr.elf.path} has no DWARF debug info; function names come from the "
              "symbol table only, without file and line", file=sys.stderr)
    return enr, index


def _warn_sha(lines: list[str], enr, source: str) -> None:
    """Warn (stderr) when the log says it was printed by another build than this ELF."""
    from espwatch.symbols import parse_elf_sha

    printed = [p for p in map(parse_elf_sha, lines) if p]
    for warning in enr.mismatches(printed)[:1]:
        name = "stdin" if source == "-" else source
        print(f"espwatch: warning: {name} was printed by another build: {warning}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from espwatch.symbols import addr2line_lines

    inputs = list(args.inputs) or ["-"]
    # check files before the (possibly slow) first index build
    for token in inputs:
        if token != "-" and not _is_address(token) and not Path(token).is_file():
            raise UsageError(f"not an address and not a file: {token}")
    enr, index = _load(args)
    out = sys.stdout
    pending: list[int] = []

    def flush() -> None:
        for block in addr2line_lines(index, pending):
            out.write(block + "\n")
        pending.clear()

    for token in inputs:
        if _is_address(token):
            pending.append(_parse_address(token))
            continue
        flush()
        if token == "-":
            text = sys.stdin.read()
            tokens = text.split()
            if tokens and all(_is_address(t) for t in tokens):
                pending.extend(_parse_address(t) for t in tokens)
                continue
            lines = text.splitlines()
        else:
            try:
                lines = Path(token).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError as exc:
                raise InputError(f"cannot read {token}: {exc.strerror or exc}") from None
        _warn_sha(lines, enr, token)
        from espwatch.symbols import annotate_log

        for line in annotate_log(lines, index):
            out.write(line + "\n")
    flush()
    out.flush()
    index.store()
    return 0
