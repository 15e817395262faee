"""ESP-IDF binary logs (`CONFIG_LOG_MODE_BINARY`): frames in the serial stream back to the text lines.

Public API:
- `BinlogDecoder(app, bootloader)`: streaming bytes -> text bytes (`feed`, `idle`, `close`, `fresh`,
  `active`, `stats`); text between frames passes unchanged, damage becomes one marked line.
- `ElfStrings(path)`: format strings, tags and `%s` arguments by address (`has_binlog`, `role`).
- `open_decoder(app_elf, bootloader_elf)`: a decoder with the ELFs given or found beside the app ELF.
- `LazyDecoder(make)`: passes text through and makes the decoder at the first byte that could start a frame,
  so that a text log never loads it.
- `decode_bytes(data, decoder)`, `decode_stream(chunks, decoder)`: whole inputs.
- `sniff(data)`, `sniff_file(path)`: whether bytes carry binary log frames.
- `BinlogSpool` (`espwatch.binlog.spool`): decodes a (growing) raw file into a text file a viewer follows.

Submodules are imported on first use (start-up time of the verbs that only might meet a binary log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from espwatch.lazyexport import lazy_exports

if TYPE_CHECKING:
    from espwatch.binlog.decoder import MARKER, BinlogDecoder, BinlogStats
    from espwatch.binlog.elfstrings import ElfStrings, bootloader_beside
    from espwatch.binlog.lazy import LazyDecoder
    from espwatch.binlog.setup import decode_bytes, decode_stream, open_decoder, sniff, sniff_file

_WHERE = {
    "MARKER": "decoder", "BinlogDecoder": "decoder", "BinlogStats": "decoder", "ElfStrings": "elfstrings",
    "bootloader_beside": "elfstrings", "LazyDecoder": "lazy", "decode_bytes": "setup",
    "decode_stream": "setup", "open_decoder": "setup", "sniff": "setup", "sniff_file": "setup",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())


__all__ = [
    "MARKER",
    "BinlogDecoder",
    "BinlogStats",
    "ElfStrings",
    "LazyDecoder",
    "bootloader_beside",
    "decode_bytes",
    "decode_stream",
    "open_decoder",
    "sniff",
    "sniff_file",
]
