"""Toolchain-free decoding of ESP32-family code addresses (pure Python: own ELF and DWARF readers).

Modules: `elf_file` / `elf_symbols` / `dwarf_info` / `dwarf_lines` read the ELF; `build` turns it into the
index columns (compilation units parsed when first needed); `cache` keeps indexes on disk (validated);
`query` holds `SymbolIndex` and its addr2line-compatible lookups.

Public API:
- `SymbolIndex.load(elf_path)` / `SymbolIndex.load_async(elf_path, on_ready)`: the complete per-ELF index
  (every unit parsed: the monitor's background work), cached by the ELF's SHA-256 in `ESPWATCH_CACHE_DIR`
  or the platform cache folder.
- `SymbolIndex.open(elf_path)` then `index.store()`: for a few lookups (`decode`): the cached index, else one
  that parses only the units its lookups need; `store()` saves what they parsed.
- `SymbolIndex.lookup(addr)` -> `list[LineHit] | None` (innermost first), `SymbolIndex.is_code(addr)`.
- `decode_event(event, index)` -> `list[Frame]`; `decode_addresses(index, addresses)`.
- `addr2line_text(addr, hits)` / `addr2line_lines(index, addrs)`: GNU `addr2line -pfiaC` text.
- `extract_addresses(lines, arch, is_code)` / `extract_line(...)`: which addresses a report carries.
- `annotate_log(lines, index)`: a log with decoded lines inserted after address-carrying lines.
- `find_elf(start)`, `elf_sha256(path)`, `parse_elf_sha(line)`, `sha_matches(elf_hex, printed)`.
- Bad ELF input raises `espwatch.errors.ElfError` (one clear message).
"""

from __future__ import annotations

from espwatch.lazyexport import lazy_exports

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (decode starts fast)
if TYPE_CHECKING:
    from espwatch.symbols.addresses import CodeAddress, extract_addresses, extract_line, xtensa_return_address
    from espwatch.symbols.cache import default_cache_dir
    from espwatch.symbols.demangle import demangle
    from espwatch.symbols.elf_locate import elf_sha256, find_elf, parse_elf_sha, sha_matches
    from espwatch.symbols.format import addr2line_lines, addr2line_text, frames_for
    from espwatch.symbols.frames import annotate_log, decode_addresses, decode_event
    from espwatch.symbols.index import SymbolIndex
    from espwatch.symbols.query import LineHit, Session

_WHERE = {
    "CodeAddress": "addresses", "extract_addresses": "addresses", "extract_line": "addresses",
    "xtensa_return_address": "addresses", "demangle": "demangle", "elf_sha256": "elf_locate",
    "find_elf": "elf_locate", "parse_elf_sha": "elf_locate", "sha_matches": "elf_locate",
    "addr2line_lines": "format", "addr2line_text": "format", "frames_for": "format",
    "annotate_log": "frames", "decode_addresses": "frames", "decode_event": "frames", "LineHit": "query",
    "Session": "query", "SymbolIndex": "index", "default_cache_dir": "cache",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())


__all__ = [
    "CodeAddress",
    "LineHit",
    "Session",
    "SymbolIndex",
    "addr2line_lines",
    "addr2line_text",
    "annotate_log",
    "decode_addresses",
    "decode_event",
    "default_cache_dir",
    "demangle",
    "elf_sha256",
    "extract_addresses",
    "extract_line",
    "find_elf",
    "frames_for",
    "parse_elf_sha",
    "sha_matches",
    "xtensa_return_address",
]
