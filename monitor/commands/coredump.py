"""`espwatch coredump FILE`: where it crashed and what every task was doing, from a core dump."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from espwatch.commands.parsing import add_elf_options, add_verb
from espwatch.errors import InputError, unreadable

EXIT_OK, EXIT_DAMAGED = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers, "coredump",
        "Decode an ESP-IDF core dump without gdb or esp-coredump: the panic reason, the crashed task and "
        "its exception registers, and every task with its state, priority, stack use and decoded "
        "backtrace. FILE is a serial log holding a `CORE DUMP START` ... `CORE DUMP END` block, a base64 "
        "text, the coredump partition read back with `esptool read-flash` (raw binary), or an ELF core "
        "file; ELF and binary dump formats, Xtensa and RISC-V chips. "
        "Exit status: 0 decoded; 1 decoded, but the dump is damaged or the ELF does not match it; "
        "2 nothing could be decoded, or a usage error.",
        ["espwatch coredump monitor.log --elf build/app.elf",
         "espwatch coredump coredump.b64 --json",
         "esptool read-flash 0x3f0000 0x10000 coredump.bin   # your coredump partition's offset and size",
         "espwatch coredump coredump.bin --elf build/app.elf --no-registers"])
    p.add_argument("file", metavar="FILE",
                   help="log, base64 text, raw partition image or ELF core; - for stdin")
    add_elf_options(p, "decode the tasks' backtraces")
    p.add_argument("--force-elf", action="store_true",
                   help="use the ELF even when the dump says it was written by another build")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per core dump (JSON Lines), see docs/coredump.md")
    p.add_argument("--no-registers", action="store_true", help="text: leave out the crashed task's registers")
    p.add_argument("--no-cache", action="store_true",
                   help="build the ELF's indexes without the on-disk cache")
    p.set_defaults(func=run)


def _read(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path} is a directory, not a core dump")
    try:
        return p.read_bytes(), p.name
    except OSError as exc:
        raise unreadable(path, exc) from None


def run(args: argparse.Namespace) -> int:
    from espwatch.coredump import decode_coredumps
    from espwatch.enrich import Enrichment
    from espwatch.render.coredump import render_text
    from espwatch.unwind.program import ProgramInfo

    data, name = _read(args.file)
    enr = Enrichment.choose(args.elf, args.no_elf, use_cache=not args.no_cache)
    index = program = None
    if enr.elf is not None:
        index = enr.symbol_index()
        program = ProgramInfo.load(enr.elf.path, use_cache=not args.no_cache)
        note = enr.announce()
        if note and not args.json:
            print(f"espwatch: {note}", file=sys.stderr)
    reports = decode_coredumps(data, name=name, index=index, program=program, force_elf=args.force_elf)
    out = sys.stdout
    for i, rep in enumerate(reports):
        if args.json:
            out.write(json.dumps(rep.to_json(), ensure_ascii=False) + "\n")
            continue
        if i:
            out.write("\n")
        for line in render_text(rep, registers=not args.no_registers):
            out.write(line + "\n")
    out.flush()
    bad = any(r.damage or r.elf_matches is False for r in reports)
    return EXIT_DAMAGED if bad else EXIT_OK
