"""`espwatch decode`: code addresses to `function at file:line`, without a toolchain."""

from __future__ import annotations

import os
import sys

from espwatch.commands import binlog_decoder, binlog_summary
from espwatch.errors import UsageError
from espwatch.sanitize import quote

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    import argparse

QUICK_DEFAULTS = {"version": None, "verb": "decode", "inputs": [], "elf": None, "no_cache": False,
                  "bootloader_elf": None, "no_color": False}
"""What argparse makes of `espwatch decode` with no option (a test compares the two)."""
QUICK_SWITCHES = {"--no-cache": "no_cache", "--no-color": "no_color"}


def register(subparsers: argparse._SubParsersAction) -> None:
    from espwatch.commands.parsing import add_binlog_options, add_verb

    p = add_verb(
        subparsers, "decode",
        "Decode code addresses to `function at file:line` from the app's ELF, with inlined frames and "
        "demangled C++ names, in the format of `addr2line -pfiaC`. Arguments are addresses "
        "(0x400d1234, or PC:SP pairs pasted from a backtrace) or log files; with a log file the log "
        "is printed with decoded lines inserted after each line that carries code addresses. "
        "An ESP-IDF binary log (CONFIG_LOG_MODE_BINARY) is printed as the text lines its records stand "
        "for, with the strings from the app ELF and the bootloader ELF. "
        "Without arguments (or with -), addresses or a log are read from standard input.",
        ["espwatch decode --elf build/app.elf 0x4008535c 0x400d1234",
         "espwatch decode --elf build/app.elf 0x400d1a2b:0x3ffb5e30 0x400d0f8c:0x3ffb5e50  # backtrace pairs",
         "espwatch decode --elf build/app.elf monitor.log      # the log, decoded lines added",
         "espwatch decode < backtrace.txt                      # ELF found in ./build"])
    p.add_argument("inputs", nargs="*", metavar="ADDR|LOG", help="addresses, log files, or - for stdin")
    p.add_argument("--elf", metavar="APP.elf", help="the application ELF (default: found from the current "
                   "folder: ESP-IDF build/, PlatformIO .pio/build/<env>/, Arduino CLI build/<fqbn>/)")
    p.add_argument("--no-cache", action="store_true", help="build the symbol index without the on-disk cache")
    add_binlog_options(p)
    p.add_argument("--no-color", action="store_true",
                   help="leave out colour codes (ANSI SGR) in printed logs (they always are: decode "
                        "prints no escape sequence, see docs/hardening.md)")
    p.set_defaults(func=run)


def quick_args(argv: list[str]):  # type: ignore[no-untyped-def]
    """The namespace argparse would make of `[--elf ELF] [--no-cache] [--no-color] ADDR...` (addresses
    only), read without importing argparse (~3 ms of every decode); None for any other command line, and
    when a config file sets options of decode (argparse applies those)."""
    from espwatch.log_decode import is_address

    values = dict(QUICK_DEFAULTS, inputs=[], func=run)
    closed = False  # argparse takes the addresses as one run: an option between two runs is an error
    tokens = iter(argv)
    for token in tokens:
        if token in QUICK_SWITCHES:
            values[QUICK_SWITCHES[token]] = True
        elif token == "--elf" or token.startswith("--elf="):
            elf = token[6:] if "=" in token else next(tokens, None)
            if not elf or elf.startswith("-"):
                return None  # argparse says what is missing
            values["elf"] = elf
        elif is_address(token) and not closed:
            values["inputs"].append(token)
            continue
        else:
            return None  # a log, stdin, help, another option: argparse reads it
        closed = bool(values["inputs"])
    if not values["inputs"]:
        return None
    from espwatch.config import load_config

    if load_config().for_verb("decode"):
        return None
    from types import SimpleNamespace

    return SimpleNamespace(**values)


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


def run(args: argparse.Namespace) -> int:
    from espwatch import log_decode as ld

    inputs = list(args.inputs) or ["-"]
    # check every argument before the (possibly slow) first index build
    for token in inputs:
        if ld.is_address(token):
            if ld.address_value(token) is None:
                raise UsageError(f"{quote(token)} is wider than 32 bits: ESP32-family code addresses "
                                 "are 32-bit")
        elif token != "-":
            if not os.path.isfile(token):
                raise UsageError(f"not an address and not a file: {quote(token)}")
            from espwatch.pipeline import open_input  # only for logs: addresses alone start faster

            open_input(token)[0].close()  # refuses an ELF, an image, an archive... with one line
    enr, index = _load(args)
    binlog = None  # made for the first log (addresses alone need none of it)
    out = sys.stdout

    def warn(message: str) -> None:
        out.flush()
        print(f"espwatch: warning: {message}", file=sys.stderr)

    decoder = ld.AddressDecoder(index, out.write, warn)
    for token in inputs:
        if ld.is_address(token):
            decoder.add_token(token)
            continue
        from espwatch.pipeline import open_input, read_chunks, sniff_binary

        if binlog is None:
            binlog = binlog_decoder(args, enr)
        stream = binlog.fresh()  # a binary log becomes its text lines; a text log stays as it is
        name = "stdin" if token == "-" else token
        if token == "-":
            chunks = _sniffed(_stdin_chunks(read_chunks), sniff_binary)
            ld.decode_stdin(_text_of(chunks, stream), decoder, enr.mismatches, out.write, warn)
        else:
            decoder.flush()
            fh, _ = open_input(token)
            with fh:
                ld.decode_log(ld.log_lines(_text_of(read_chunks(fh), stream)), index, enr.mismatches, token,
                              out.write, warn)
        summary = binlog_summary(stream, name)
        if summary:
            print(f"espwatch: {summary}", file=sys.stderr)
    decoder.flush()
    out.flush()
    index.store()
    return 0


def _text_of(chunks, stream):
    """The text bytes of a log read in chunks: a binary log's records as lines (the decoder streams)."""
    for chunk in chunks:
        data = stream.feed(chunk)
        if data:
            yield data
    tail = stream.close()
    if tail:
        yield tail


def _sniffed(chunks, sniff):
    """Chunks of standard input, refused (InputError) when the first one shows a binary file."""
    first = True
    for chunk in chunks:
        if first:
            sniff(chunk[:4096], "<stdin>")
            first = False
        yield chunk


def _stdin_chunks(read_chunks):
    """Standard input as byte chunks (a text stream without `buffer`, as tests may install, is encoded)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        yield from read_chunks(buffer)
        return
    while True:
        text = sys.stdin.read(1 << 16)
        if not text:
            return
        yield text.encode("utf-8", "surrogateescape")
