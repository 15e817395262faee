"""The `decode` verb as a library: addresses and logs to `function at file:line`, streamed line by line.

Memory does not grow with the input: a log (file or standard input) is read in chunks (UTF-8 decoded
incrementally, bad bytes replaced) and split into lines (at most `MAX_LINE` characters kept of a line), each
line is cleaned (`espwatch.sanitize.clean_line`: no escape sequence or control reaches the output) and
printed with the decoded lines of the addresses it carries, a chunk's worth at a time. Standard input
that holds only addresses (`0x400d1234`, PC:SP pairs, whitespace separated) is answered like
`addr2line -pfiaC`; the choice is made on the first `MODE_PROBE_BYTES` bytes:
while every line so far held only addresses they are kept back, and the first other line makes the input a
log (the kept lines are then printed as log lines). Addresses are decoded in batches of `ADDRESS_BATCH`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator

from espwatch.sanitize import clean_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from espwatch.symbols import SymbolIndex

Mismatches = Callable[[Iterable[str]], list[str]]
"""Given ELF hashes a log printed, a warning for each one that is not the ELF's."""
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


def log_lines(chunks: Iterable[bytes], max_line: int | None = None) -> Iterator[list[str]]:
    """Clean text lines of a byte stream, a list per chunk read (so the output can follow the input);
    a line longer than `max_line` (default `espwatch.lines.MAX_LINE`) characters keeps its start and
    says it was cut."""
    if max_line is None:
        from espwatch.lines import MAX_LINE as max_line
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    carry = ""
    cut = 0  # characters dropped from the line in `carry`
    for chunk in chunks:
        parts = (carry + decoder.decode(chunk)).split("\n")
        carry = parts.pop()
        if len(carry) > max_line:
            cut += len(carry) - max_line
            carry = carry[:max_line]
        if parts:
            if cut:
                parts[0] = _cut_note(parts[0][:max_line], cut + max(0, len(parts[0]) - max_line))
                cut = 0
            yield [_clean(p, max_line) for p in parts]
    carry += decoder.decode(b"", final=True)
    if carry or cut:
        yield [_cut_note(carry[:max_line], cut) if cut else _clean(carry, max_line)]


def _clean(line: str, max_line: int) -> str:
    if len(line) > max_line:
        return _cut_note(line[:max_line], len(line) - max_line)
    return clean_line(line[:-1] if line.endswith("\r") else line)


def _cut_note(kept: str, dropped: int) -> str:
    return clean_line(kept) + f" [... {dropped:,} more characters not shown]"


def decode_log(batches: Iterable[list[str]], index: SymbolIndex, mismatches: Mismatches, name: str,
               write: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Write every line, each followed by the decoded lines of the code addresses it carries, and warn
    once when a line says the log was printed by another build than the ELF (`mismatches`: the ELF
    hash check, e.g. `Enrichment.mismatches`)."""
    from espwatch.symbols import annotate_log, parse_elf_sha

    warned = False
    arch_checked = not getattr(index, "arch", "")
    who = "stdin" if name == "-" else name
    for batch in batches:
        if not warned:
            for line in batch:
                printed = parse_elf_sha(line) if "SHA256" in line else None
                problems = mismatches([printed]) if printed else []
                if problems:
                    warn(f"{who} was printed by another build: {problems[0]}")
                    warned = True
                    break
        if not arch_checked:
            for line in batch:
                seen = log_arch(line)
                if seen is not None:
                    arch_checked = True
                    if seen[0] != index.arch:
                        warn(f"{who} comes from {seen[1]} ({ARCH_NAMES[seen[0]]}) but the ELF is for "
                             f"{ARCH_NAMES[index.arch]}: its addresses cannot be decoded with this ELF")
                    break
        write("\n".join(annotate_log(batch, index)) + "\n")


ARCH_NAMES = {"xtensa": "Xtensa", "riscv": "RISC-V"}
XTENSA_CHIPS = ("esp32", "esp32s2", "esp32s3")
_CHIP_RE = re.compile(r"(?:ESP-ROM:|\bboot\.)(esp32[a-z0-9]*)")
_REGS = (("MEPC    :", "riscv"), ("MCAUSE  :", "riscv"), ("EXCCAUSE:", "xtensa"), ("EXCVADDR:", "xtensa"))


def log_arch(line: str) -> tuple[str, str] | None:
    """The architecture a log line shows, with what showed it: the chip a ROM or bootloader line names
    (`ESP-ROM:esp32c3...`, `boot.esp32s3:`), or the register names of a panic dump (MEPC / EXCCAUSE)."""
    if "esp32" in line:
        m = _CHIP_RE.search(line)
        if m:
            chip = m.group(1)
            shown = chip.upper().replace("ESP32", "ESP32-").rstrip("-")  # esp32c3 -> ESP32-C3
            return ("xtensa" if chip in XTENSA_CHIPS else "riscv"), f"an {shown} chip"
    for reg, arch in _REGS:
        if reg in line:
            return arch, f"a chip whose panic dump shows {reg.split()[0]}"
    return None


def decode_stdin(chunks: Iterable[bytes], decoder: AddressDecoder, mismatches: Mismatches,
                 write: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Standard input: an address list (addr2line answers) or a log (annotated), chosen on its first lines.

    `decoder` may already hold addresses from the command line; they are decoded first.
    """
    from espwatch.symbols import annotate_log

    batches = iter(log_lines(chunks))
    kept: list[str] = []
    size = 0
    for batch in batches:
        for line in batch:
            if not _only_addresses(line):
                decoder.flush()
                decode_log(_chain([*kept, *batch], batches), decoder.index, mismatches, "-", write, warn)
                return
            size += len(line) + 1
        kept.extend(batch)
        if size > MODE_PROBE_BYTES:
            break
    # an address list (so far): answer it, then go on line by line
    for line in kept:
        for token in line.split():
            decoder.add_token(token)
    for batch in batches:
        for line in batch:
            if _only_addresses(line):
                for token in line.split():
                    decoder.add_token(token)
                continue
            decoder.flush()
            write("\n".join(annotate_log([line], decoder.index)) + "\n")
    decoder.flush()


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest
