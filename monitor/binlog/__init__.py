"""ESP-IDF binary logs (`CONFIG_LOG_MODE_BINARY`): frames in the serial stream back to the text lines.

Public API:
- `BinlogDecoder(app, bootloader)`: streaming bytes -> text bytes (`feed`, `idle`, `close`, `fresh`,
  `active`, `stats`); text between frames passes unchanged, damage becomes one marked line.
- `ElfStrings(path)`: format strings, tags and `%s` arguments by address (`has_binlog`, `role`).
- `open_decoder(app_elf, bootloader_elf)`: a decoder with the ELFs given or found beside the app ELF.
- `decode_bytes(data, decoder)`, `decode_stream(chunks, decoder)`: whole inputs.
- `sniff(data)`: whether bytes carry binary log frames.
- `BinlogSpool`: decodes a (growing) raw file into a text file a viewer can follow (`spool.py`).
"""

from __future__ import annotations

from espwatch.binlog.decoder import MARKER, BinlogDecoder, BinlogStats
from espwatch.binlog.elfstrings import ElfStrings, bootloader_beside
from espwatch.binlog.setup import decode_bytes, decode_stream, open_decoder, sniff

__all__ = [
    "MARKER",
    "BinlogDecoder",
    "BinlogStats",
    "ElfStrings",
    "bootloader_beside",
    "decode_bytes",
    "decode_stream",
    "open_decoder",
    "sniff",
]
