"""Where each chip's mask ROM lies (code without call frame information in the app ELF)."""

from __future__ import annotations

from functools import cache

_ESP32_ROM = (0x40000000, 0x40070000)  # ESP32's address map calls its mask ROM "IROM" like flash


@cache
def rom_ranges(chip: str | None, arch: str) -> tuple[tuple[int, int], ...]:
    """[start, end) ranges of mask ROM code: the chip's when known, else those of every chip of `arch`."""
    from espwatch.image.chips import CHIPS, chip_by_name

    known = chip_by_name(chip) if chip else None
    chips = [known] if known is not None else [c for c in CHIPS.values() if c.arch == arch]
    spans: set[tuple[int, int]] = set()
    for c in chips:
        if c.key == "esp32":
            spans.add(_ESP32_ROM)
        spans.update((lo, hi) for lo, hi, name in c.memory_map if name == "IROM_MASK")
    return tuple(sorted(spans))


def in_rom(addr: int, chip: str | None, arch: str) -> bool:
    return any(lo <= addr < hi for lo, hi in rom_ranges(chip, arch))
