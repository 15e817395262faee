"""The `decode` verb as a library: addresses and logs to `function at file:line`, streamed line by line.

Memory does not grow with the input: a log (file or standard input) is read in chunks and split into lines
(`espwatch.lines.LineSplitter`, at most `MAX_LINE` bytes kept of a line), each line is cleaned
(`clean_text`: no escape sequence or control reaches the output) and printed with the decoded lines of the
addresses it carries. Standard input that holds only addresses (`0x400d1234`, PC:SP pairs, whitespace
separated) is answered like `addr2line -pfiaC`; the choice is made on the first `MODE_PROBE_BYTES` bytes:
while every line so far held only addresses they are kept back, and the first other line makes the input a
log (the kept lines are then printed as log lines). Addresses are decoded in batches of `ADDRESS_BATCH`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from espwatch.lines import MAX_LINE, LineSplitter, clean_text

if TYPE_CHECKING:
    from espwatch.symbols import SymbolIndex

ADDR_TOKEN_RE = re.compile(r"^(0[xX][0-9a-fA-F]{1,16}|[0-9a-fA-F]{8})(?::0[xX][0-9a-fA-F]{1,16})?$")
MODE_PROBE_BYTES = 64 * 1024
ADDRESS_BATCH = 4096
ADDRESS_MAX = 0xFFFFFFFF


def is_address(token: str) -> bool:
    """`0x400d1234`, `400d1234` or a `PC:SP` pair from a backtrace."""
    return bool(ADDR_TOKEN_RE.match(token))


def address_value(token: str) -> int | None:
    """The code address of a token (the PC of a pair); None when it is wider than 32 bits."""
    value = int(token.split(":")[0], 16)
    return value if value <= ADDRESS_MAX else None


def _only_addresses(text: str) -> bool:
    return all(is_address(t) for t in text.split())


class AddressDecoder:
    """Collects addresses and writes their `addr2line -pfiaC` blocks in batches, in input order."""

    def __init__(self, index: SymbolIndex, write: Callable[[str], None],
                 warn: Callable[[str], None]) -> None:
        from espwatch.symbols import addr2line_lines

        self._lines = addr2line_lines
        self.index = index
        self.write = write
        self.warn = warn
        self.pending: list[int] = []

    def add_token(self, token: str) -> None:
        value = address_value(token)
        if value is None:
            self.warn(f"{token[:40]} is wider than 32 bits (ESP32-family code addresses are 32-bit): skipped")
            return
        self.pending.append(value)
        if len(self.pending) >= ADDRESS_BATCH:
            self.flush()

    def add_value(self, value: int) -> None:
        self.pending.append(value)
        if len(self.pending) >= ADDRESS_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            for block in self._lines(self.index, self.pending):
                self.write(block + "\n")
            self.pending = []


def log_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE) -> Iterator[str]:
    """Clean text lines of a byte stream; a line cut at `max_line` bytes says so at its end."""
    splitter = LineSplitter(max_line)

    def text(line) -> str:
        t = clean_text(line.raw)
        return t + f" [... line longer than {max_line:,} bytes, cut]" if line.truncated else t

    for chunk in chunks:
        for line in splitter.feed(chunk):
            yield text(line)
    for line in splitter.flush():
        yield text(line)


def sha_watch(lines: Iterable[str], index: SymbolIndex, name: str,
              warn: Callable[[str], None]) -> Iterator[str]:
    """Pass lines through; warn once when one says the log was printed by another build than the ELF."""
    from espwatch.symbols import parse_elf_sha, sha_matches

    warned = False
    for line in lines:
        if not warned and "SHA256" in line:
            printed = parse_elf_sha(line)
            if printed and not sha_matches(index.sha256, printed):
                warn(f"{name} was printed by another build (ELF file SHA256 {printed}, {index.path} is "
                     f"{index.sha256[:16]}): decoded lines may be wrong")
                warned = True
        yield line


def decode_log(lines: Iterable[str], index: SymbolIndex, name: str, write: Callable[[str], None],
               warn: Callable[[str], None]) -> None:
    """Write every line, each followed by the decoded lines of the code addresses it carries."""
    from espwatch.symbols import annotate_log

    for out in annotate_log(sha_watch(lines, index, name, warn), index):
        write(out + "\n")


def decode_stdin(chunks: Iterable[bytes], decoder: AddressDecoder, write: Callable[[str], None],
                 warn: Callable[[str], None]) -> None:
    """Standard input: an address list (addr2line answers) or a log (annotated), chosen on its first lines.

    `decoder` may already hold addresses from the command line; they are decoded first.
    """
    lines = iter(log_lines(chunks))
    kept: list[str] = []
    size = 0
    for line in lines:
        if not _only_addresses(line):
            decoder.flush()
            _chain = _prepend(kept, line, lines)
            decode_log(_chain, decoder.index, "stdin", write, warn)
            return
        kept.append(line)
        size += len(line) + 1
        if size > MODE_PROBE_BYTES:
            break
    # an address list (so far): answer it, then go on line by line
    for line in kept:
        for token in line.split():
            decoder.add_token(token)
    from espwatch.symbols import annotate_log

    for line in lines:
        if _only_addresses(line):
            for token in line.split():
                decoder.add_token(token)
            continue
        decoder.flush()
        for out in annotate_log([line], decoder.index):
            write(out + "\n")
    decoder.flush()


def _prepend(kept: list[str], line: str, rest: Iterator[str]) -> Iterator[str]:
    yield from kept
    kept.clear()
    yield line
    yield from rest
