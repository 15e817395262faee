"""Choosing the ELFs of a binary log, and decoding whole inputs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from espwatch.binlog.decoder import BinlogDecoder
from espwatch.binlog.elfstrings import ElfStrings, bootloader_beside
from espwatch.binlog.frames import FrameSplitter


def open_decoder(app_elf: str | os.PathLike[str] | None = None,
                 bootloader_elf: str | os.PathLike[str] | None = None, *, discover: bool = True,
                 colors: bool = True, armed: bool | None = None) -> BinlogDecoder:
    """A decoder with the app ELF and the bootloader ELF (given, or `bootloader/bootloader.elf` beside the
    app ELF as ESP-IDF lays out its build folder). Two ELFs given the wrong way round (the bootloader as the
    app) are swapped, and `notes` says so. ElfError (one line) for a missing or unreadable ELF."""
    notes: list[str] = []
    app = ElfStrings(app_elf).load() if app_elf else None
    boot = ElfStrings(bootloader_elf).load() if bootloader_elf else None
    if app is not None and app.role == "bootloader" and (boot is None or boot.role == "app"):
        app, boot = boot, app
        notes.append(f"{boot.path.name} is a bootloader ELF"
                     + (f" and {app.path.name} an app ELF: using them that way round" if app else
                        ": using it for the bootloader's records"))
    if boot is None and app is not None and discover:
        found = bootloader_beside(app.path)
        if found is not None:
            boot = ElfStrings(found).load()
            rel = found.relative_to(app.path.resolve().parent) if found.is_relative_to(
                app.path.resolve().parent) else found
            notes.append(f"bootloader records decoded with {rel} beside the app ELF")
    decoder = BinlogDecoder(app, boot, armed=armed, colors=colors)
    decoder.notes = notes
    return decoder


def decode_stream(chunks: Iterable[bytes], decoder: BinlogDecoder) -> Iterator[bytes]:
    """The decoded text of a stream of byte chunks (nothing is lost: text passes through)."""
    for chunk in chunks:
        out = decoder.feed(chunk)
        if out:
            yield out
    tail = decoder.close()
    if tail:
        yield tail


def decode_bytes(data: bytes, decoder: BinlogDecoder | None = None) -> bytes:
    """The decoded text of a whole input."""
    dec = decoder if decoder is not None else BinlogDecoder()
    return dec.feed(data) + dec.close()


def sniff(data: bytes) -> bool:
    """True when `data` carries binary log frames (two back to back, as a device sends them)."""
    splitter = FrameSplitter(armed=False)
    splitter.feed(data)
    splitter.close()
    return splitter.armed


def sniff_file(path: str | os.PathLike[str], size: int = 1 << 18) -> bool:
    """`sniff` on the first `size` bytes of a file (False when it cannot be read)."""
    try:
        with open(Path(path), "rb") as fh:
            return sniff(fh.read(size))
    except OSError:
        return False
