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

The names are imported from their modules on first use: a log scan that meets a partition table needs
`partition_table` alone, not the image readers (tens of milliseconds of imports).
"""

from __future__ import annotations

from espwatch.lazyexport import lazy_exports

_HOME = {
    "AppDescriptor": "app_image",
    "AppImage": "app_image",
    "BootloaderDescriptor": "app_image",
    "Finding": "app_image",
    "Segment": "app_image",
    "SignatureInfo": "app_image",
    "load_app_image": "app_image",
    "parse_app_image": "app_image",
    "xor_checksum": "app_image",
    "ElfMatch": "check",
    "FitResult": "check",
    "ImageCheck": "check",
    "check_elf": "check",
    "check_fit": "check",
    "inspect_image": "check",
    "inspect_partitions": "check",
    "CHIPS": "chips",
    "Chip": "chips",
    "chip_by_id": "chips",
    "chip_by_name": "chips",
    "OtaData": "otadata",
    "OtaEntry": "otadata",
    "build_otadata": "otadata",
    "load_otadata": "otadata",
    "ota_seq_crc": "otadata",
    "parse_otadata": "otadata",
    "Partition": "partition_table",
    "PartitionTable": "partition_table",
    "check_partition_table": "partition_table",
    "load_partition_table": "partition_table",
    "parse_partition_binary": "partition_table",
    "parse_partition_boot_log": "partition_table",
    "parse_partition_csv": "partition_table",
    "parse_partition_table": "partition_table",
    "table_from_rows": "partition_table",
    "to_binary": "partition_table",
    "DiffRun": "readback_diff",
    "ImageDiff": "readback_diff",
    "diff_image_bytes": "readback_diff",
    "diff_images": "readback_diff",
    "hex_view": "readback_diff",
}
"""Where each public name lives (its module under espwatch.image)."""

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_exports(__name__, _HOME, globals())
