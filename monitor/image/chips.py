"""Chip ids, flash header encodings and memory maps of the ESP32 family.

The numbers are the documented hardware facts (ESP-IDF `esp_chip_id_t`, the technical reference
manuals' address maps) in the form esptool uses to name a segment's memory type, so that our segment
table says the same as `esptool image-info`. Region names follow esptool: a segment is listed under
every region whose range holds its load address, in the order of the table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Flash mode byte (header offset 2).
FLASH_MODES: dict[int, str] = {0: "QIO", 1: "QOUT", 2: "DIO", 3: "DOUT"}

# High nibble of header byte 3: flash size (same on every ESP32-family chip).
FLASH_SIZES: dict[int, str] = {
    0x00: "1MB", 0x10: "2MB", 0x20: "4MB", 0x30: "8MB",
    0x40: "16MB", 0x50: "32MB", 0x60: "64MB", 0x70: "128MB",
}

# Low nibble of header byte 3: flash frequency; the encoding depends on the chip's flash clock.
_FREQ_DEFAULT = {0xF: "80m", 0x0: "40m", 0x1: "26m", 0x2: "20m"}
_FREQ_C2 = {0xF: "60m", 0x0: "30m", 0x1: "20m", 0x2: "15m"}
_FREQ_H2 = {0xF: "48m", 0x0: "24m", 0x1: "16m", 0x2: "12m"}
_FREQ_C6 = {0x0: "80m", 0x2: "20m"}  # C6 flash clock: 0 means 80m (esptool lists 80m first)
_FREQ_80_40_20 = {0xF: "80m", 0x0: "40m", 0x2: "20m"}
_FREQ_48_24 = {0xF: "48m", 0x0: "24m"}

Region = tuple[int, int, str]  # [start, end) and name


@dataclass(frozen=True)
class Chip:
    """One chip: image chip id, names, flash frequency encoding and address map."""

    chip_id: int
    name: str  # "ESP32-C3"
    key: str  # "esp32c3"
    flash_freqs: dict[int, str]
    memory_map: tuple[Region, ...]
    # Offset of the second-stage bootloader in flash (0x1000 on ESP32/S2, 0x2000 on C5/P4, else 0).
    bootloader_offset: int = 0
    arch: str = field(default="riscv")

    def regions(self, addr: int) -> list[str]:
        """Names of the memory regions holding `addr`, in map order (as esptool lists them)."""
        return [name for start, end, name in self.memory_map if start <= addr < end]


_PAD: Region = (0x0, 0x10000, "PADDING")

CHIPS: dict[int, Chip] = {
    c.chip_id: c
    for c in (
        Chip(0, "ESP32", "esp32", _FREQ_DEFAULT, (
            _PAD,
            (0x3F400000, 0x3F800000, "DROM"),
            (0x3F800000, 0x3FC00000, "EXTRAM_DATA"),
            (0x3FF80000, 0x3FF82000, "RTC_DRAM"),
            (0x3FF90000, 0x40000000, "BYTE_ACCESSIBLE"),
            (0x3FFAE000, 0x40000000, "DRAM"),
            (0x3FFE0000, 0x3FFFFFFC, "DIRAM_DRAM"),
            (0x40000000, 0x40070000, "IROM"),
            (0x40070000, 0x40078000, "CACHE_PRO"),
            (0x40078000, 0x40080000, "CACHE_APP"),
            (0x40080000, 0x400A0000, "IRAM"),
            (0x400A0000, 0x400BFFFC, "DIRAM_IRAM"),
            (0x400C0000, 0x400C2000, "RTC_IRAM"),
            (0x400D0000, 0x40400000, "IROM"),
            (0x50000000, 0x50002000, "RTC_DATA"),
        ), bootloader_offset=0x1000, arch="xtensa"),
        Chip(2, "ESP32-S2", "esp32s2", _FREQ_DEFAULT, (
            _PAD,
            (0x3F000000, 0x3FF80000, "DROM"),
            (0x3F500000, 0x3FF80000, "EXTRAM_DATA"),
            (0x3FF9E000, 0x3FFA0000, "RTC_DRAM"),
            (0x3FF9E000, 0x40000000, "BYTE_ACCESSIBLE"),
            (0x3FF9E000, 0x40072000, "MEM_INTERNAL"),
            (0x3FFB0000, 0x40000000, "DRAM"),
            (0x40000000, 0x4001A100, "IROM_MASK"),
            (0x40020000, 0x40070000, "IRAM"),
            (0x40070000, 0x40072000, "RTC_IRAM"),
            (0x40080000, 0x40800000, "IROM"),
            (0x50000000, 0x50002000, "RTC_DATA"),
        ), bootloader_offset=0x1000, arch="xtensa"),
        Chip(9, "ESP32-S3", "esp32s3", _FREQ_DEFAULT, (
            _PAD,
            (0x3C000000, 0x3D000000, "DROM"),
            (0x3D000000, 0x3E000000, "EXTRAM_DATA"),
            (0x600FE000, 0x60100000, "RTC_DRAM"),
            (0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"),
            (0x3FC88000, 0x403E2000, "MEM_INTERNAL"),
            (0x3FC88000, 0x3FD00000, "DRAM"),
            (0x40000000, 0x4001A100, "IROM_MASK"),
            (0x40370000, 0x403E0000, "IRAM"),
            (0x600FE000, 0x60100000, "RTC_IRAM"),
            (0x42000000, 0x42800000, "IROM"),
            (0x50000000, 0x50002000, "RTC_DATA"),
        ), arch="xtensa"),
        Chip(5, "ESP32-C3", "esp32c3", _FREQ_DEFAULT, (
            _PAD,
            (0x3C000000, 0x3C800000, "DROM"),
            (0x3FC80000, 0x3FCE0000, "DRAM"),
            (0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"),
            (0x3FF00000, 0x3FF20000, "DROM_MASK"),
            (0x40000000, 0x40060000, "IROM_MASK"),
            (0x42000000, 0x42800000, "IROM"),
            (0x4037C000, 0x403E0000, "IRAM"),
            (0x50000000, 0x50002000, "RTC_IRAM"),
            (0x50000000, 0x50002000, "RTC_DRAM"),
            (0x600FE000, 0x60100000, "MEM_INTERNAL2"),
        )),
        Chip(12, "ESP32-C2", "esp32c2", _FREQ_C2, (
            _PAD,
            (0x3C000000, 0x3C400000, "DROM"),
            (0x3FCA0000, 0x3FCE0000, "DRAM"),
            (0x3FC88000, 0x3FD00000, "BYTE_ACCESSIBLE"),
            (0x3FF00000, 0x3FF50000, "DROM_MASK"),
            (0x40000000, 0x40090000, "IROM_MASK"),
            (0x42000000, 0x42400000, "IROM"),
            (0x4037C000, 0x403C0000, "IRAM"),
        )),
        Chip(13, "ESP32-C6", "esp32c6", _FREQ_C6, (
            _PAD,
            (0x42000000, 0x43000000, "DROM"),
            (0x40800000, 0x40880000, "DRAM"),
            (0x40800000, 0x40880000, "BYTE_ACCESSIBLE"),
            (0x4004AC00, 0x40050000, "DROM_MASK"),
            (0x40000000, 0x4004AC00, "IROM_MASK"),
            (0x42000000, 0x43000000, "IROM"),
            (0x40800000, 0x40880000, "IRAM"),
            (0x50000000, 0x50004000, "RTC_IRAM"),
            (0x50000000, 0x50004000, "RTC_DRAM"),
            (0x600FE000, 0x60100000, "MEM_INTERNAL2"),
        )),
        Chip(20, "ESP32-C61", "esp32c61", _FREQ_80_40_20, (
            _PAD,
            (0x42000000, 0x44000000, "DROM"),
            (0x40800000, 0x40860000, "DRAM"),
            (0x40800000, 0x40860000, "BYTE_ACCESSIBLE"),
            (0x4004AC00, 0x40050000, "DROM_MASK"),
            (0x40000000, 0x4004AC00, "IROM_MASK"),
            (0x42000000, 0x44000000, "IROM"),
            (0x40800000, 0x40860000, "IRAM"),
            (0x50000000, 0x50004000, "RTC_IRAM"),
            (0x50000000, 0x50004000, "RTC_DRAM"),
            (0x600FE000, 0x60100000, "MEM_INTERNAL2"),
        )),
        Chip(23, "ESP32-C5", "esp32c5", _FREQ_80_40_20, (
            _PAD,
            (0x42000000, 0x44000000, "DROM"),
            (0x40800000, 0x40860000, "DRAM"),
            (0x40800000, 0x40860000, "BYTE_ACCESSIBLE"),
            (0x4003A000, 0x40040000, "DROM_MASK"),
            (0x40000000, 0x4003A000, "IROM_MASK"),
            (0x42000000, 0x44000000, "IROM"),
            (0x40800000, 0x40860000, "IRAM"),
            (0x50000000, 0x50004000, "RTC_IRAM"),
            (0x50000000, 0x50004000, "RTC_DRAM"),
            (0x600FE000, 0x60100000, "MEM_INTERNAL2"),
        ), bootloader_offset=0x2000),
        Chip(16, "ESP32-H2", "esp32h2", _FREQ_H2, (
            _PAD,
            (0x42000000, 0x43000000, "DROM"),
            (0x40800000, 0x40880000, "DRAM"),
            (0x40800000, 0x40880000, "BYTE_ACCESSIBLE"),
            (0x4004AC00, 0x40050000, "DROM_MASK"),
            (0x40000000, 0x4004AC00, "IROM_MASK"),
            (0x42000000, 0x43000000, "IROM"),
            (0x40800000, 0x40880000, "IRAM"),
            (0x50000000, 0x50004000, "RTC_IRAM"),
            (0x50000000, 0x50004000, "RTC_DRAM"),
            (0x600FE000, 0x60100000, "MEM_INTERNAL2"),
        )),
        Chip(25, "ESP32-H21", "esp32h21", _FREQ_48_24, (
            _PAD,
            (0x42000000, 0x43000000, "DROM"),
            (0x40800000, 0x40850000, "DRAM"),
            (0x40800000, 0x40850000, "BYTE_ACCESSIBLE"),
            (0x40000000, 0x40020000, "DROM_MASK"),
            (0x40000000, 0x40020000, "IROM_MASK"),
            (0x42000000, 0x43000000, "IROM"),
            (0x40800000, 0x40850000, "IRAM"),
            (0x50000000, 0x50001000, "RTC_IRAM"),
            (0x50000000, 0x50001000, "RTC_DRAM"),
            (0x40800000, 0x40850000, "MEM_INTERNAL"),
        )),
        Chip(18, "ESP32-P4", "esp32p4", _FREQ_DEFAULT, (
            _PAD,
            (0x40000000, 0x4C000000, "DROM"),
            (0x4FF00000, 0x4FFA0000, "DRAM"),
            (0x4FF00000, 0x4FFA0000, "BYTE_ACCESSIBLE"),
            (0x4FC00000, 0x4FC20000, "DROM_MASK"),
            (0x4FC00000, 0x4FC20000, "IROM_MASK"),
            (0x40000000, 0x4C000000, "IROM"),
            (0x4FF00000, 0x4FFA0000, "IRAM"),
            (0x50108000, 0x50110000, "RTC_IRAM"),
            (0x50108000, 0x50110000, "RTC_DRAM"),
            (0x600FE000, 0x60100000, "MEM_INTERNAL2"),
        ), bootloader_offset=0x2000),
        Chip(28, "ESP32-H4", "esp32h4", _FREQ_48_24, (
            _PAD,
            (0x42000000, 0x44000000, "DROM"),
            (0x40810000, 0x40860000, "DRAM"),
            (0x40810000, 0x40860000, "BYTE_ACCESSIBLE"),
            (0x40000000, 0x40020000, "DROM_MASK"),
            (0x40000000, 0x40020000, "IROM_MASK"),
            (0x42000000, 0x44000000, "IROM"),
            (0x40810000, 0x40860000, "IRAM"),
            (0x40810000, 0x40860000, "MEM_INTERNAL"),
        ), bootloader_offset=0x2000),
    )
}

CHIPS_BY_KEY: dict[str, Chip] = {c.key: c for c in CHIPS.values()}


def chip_by_id(chip_id: int) -> Chip | None:
    """The chip whose image chip id is `chip_id`, or None."""
    return CHIPS.get(chip_id)


def chip_by_name(name: str) -> Chip | None:
    """Look a chip up by "esp32c3", "ESP32-C3" or "esp32-c3"."""
    key = name.lower().replace("-", "").replace("_", "")
    return CHIPS_BY_KEY.get(key)
