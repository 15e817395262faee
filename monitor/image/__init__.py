"""App images, partition tables, OTA data and flash read-backs: is the file right, does it fit, what differs.

Public API (nothing here prints; every result has `to_json()` and a one-line `verdict()`):

- `load_app_image(path) -> AppImage`, `parse_app_image(data) -> AppImage`
- `inspect_image(path, elf=..., partitions=..., slot=...) -> ImageCheck` (image + ELF match + fit)
- `inspect_partitions(path, table_offset=..., bootloader=..., flash_size=..., chip=...) -> PartitionTable`
- `load_partition_table(path)`, `parse_partition_table(data)`, `parse_partition_csv(text)`,
  `parse_partition_binary(data)`, `parse_partition_boot_log(lines)`, `table_from_rows(rows)`
  -> `PartitionTable`;
  `check_partition_table(table, ...) -> list[Finding]`
- `load_otadata(path, ota_slots=..., table=...)`, `parse_otadata(data, ...)` -> `OtaData`
- `diff_images(original, readback) -> ImageDiff`, `diff_image_bytes(a, b)`, `hex_view(diff, run)`

Unreadable paths raise `espwatch.errors.InputError`; content that is not a partition table or OTA data
raises `espwatch.errors.ImageError`;
damaged image content never raises (see `AppImage.findings`).
"""

from espwatch.image.app_image import (
    AppDescriptor,
    AppImage,
    BootloaderDescriptor,
    Finding,
    Segment,
    SignatureInfo,
    load_app_image,
    parse_app_image,
    xor_checksum,
)
from espwatch.image.check import (
    ElfMatch,
    FitResult,
    ImageCheck,
    check_elf,
    check_fit,
    inspect_image,
    inspect_partitions,
)
from espwatch.image.chips import CHIPS, Chip, chip_by_id, chip_by_name
from espwatch.image.otadata import OtaData, OtaEntry, build_otadata, load_otadata, ota_seq_crc, parse_otadata
from espwatch.image.partition_table import (
    Partition,
    PartitionTable,
    check_partition_table,
    load_partition_table,
    parse_partition_binary,
    parse_partition_boot_log,
    parse_partition_csv,
    parse_partition_table,
    table_from_rows,
    to_binary,
)
from espwatch.image.readback_diff import DiffRun, ImageDiff, diff_image_bytes, diff_images, hex_view

__all__ = [
    "CHIPS",
    "AppDescriptor",
    "AppImage",
    "BootloaderDescriptor",
    "Chip",
    "DiffRun",
    "ElfMatch",
    "Finding",
    "FitResult",
    "ImageCheck",
    "ImageDiff",
    "OtaData",
    "OtaEntry",
    "Partition",
    "PartitionTable",
    "Segment",
    "SignatureInfo",
    "build_otadata",
    "check_elf",
    "check_fit",
    "check_partition_table",
    "chip_by_id",
    "chip_by_name",
    "diff_image_bytes",
    "diff_images",
    "hex_view",
    "inspect_image",
    "inspect_partitions",
    "load_app_image",
    "load_otadata",
    "load_partition_table",
    "ota_seq_crc",
    "parse_app_image",
    "parse_otadata",
    "parse_partition_binary",
    "parse_partition_boot_log",
    "parse_partition_csv",
    "parse_partition_table",
    "table_from_rows",
    "to_binary",
    "xor_checksum",
]
