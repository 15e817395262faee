"""Fuzz the ELF reader and the symbol index: `python fuzz/fuzz_elf.py [--examples N]`.

Bytes of the demo ELF are replaced in its ELF header, section headers, symbol table and DWARF sections.
Building must give a ElfError or an index; lookups must answer without an exception; and the lazy
index (units parsed when a lookup needs them) must answer exactly like the full index.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SEED_ELF, examples_from_argv, seed_addresses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espwatch.errors import ElfError
from espwatch.symbols import addr2line_lines
from espwatch.symbols.build import build_index, open_index
from espwatch.symbols.elf_file import read_elf

DATA = SEED_ELF.read_bytes()
ADDRS = seed_addresses()


def _regions() -> list[tuple[int, int]]:
    elf = read_elf(str(SEED_ELF), DATA)
    shoff = int.from_bytes(DATA[32:36], "little")
    out = [(0, 52), (shoff, 40 * len(elf.sections))]  # the ELF header and the section headers
    for name in (".symtab", ".strtab", ".debug_info", ".debug_abbrev", ".debug_line", ".debug_str",
                 ".debug_rnglists", ".debug_line_str", ".debug_aranges"):
        sec = elf.section(name)
        if sec is not None and sec.size:
            out.append((sec.offset, sec.size))
    return out


REGIONS = _regions()


def check_elf(data: bytes, folder: Path) -> None:
    """The property, for one damaged ELF."""
    path = folder / "fuzzed.elf"
    path.write_bytes(data)
    try:
        full = build_index(path)
    except ElfError as exc:
        assert str(exc) and "\n" not in str(exc)
        try:  # the lazy reader must refuse it too, or at least not crash
            open_index(path)
        except ElfError:
            pass
        return
    lazy = open_index(path)
    assert addr2line_lines(lazy, ADDRS) == addr2line_lines(full, ADDRS)


@st.composite
def damaged_elves(draw) -> bytes:
    buf = bytearray(DATA)
    for _ in range(draw(st.integers(1, 8))):
        start, size = draw(st.sampled_from(REGIONS))
        buf[start + draw(st.integers(0, size - 1))] = draw(st.integers(0, 255))
    return bytes(buf)


def run(examples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="espwatch-fuzz-") as tmp:
        folder = Path(tmp)

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(damaged_elves())
        def target(data: bytes) -> None:
            check_elf(data, folder)

        target()


if __name__ == "__main__":
    run(examples_from_argv())
    print("fuzz_elf: no failure")
