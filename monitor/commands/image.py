"""`espwatch image`: check an app image, a partition table, OTA data, or a flash read-back.

    espwatch image APP.bin [--elf APP.elf] [--partitions TABLE --slot ota_1] [--chip CHIP] [--json]
    espwatch image diff ORIGINAL.bin READBACK.bin [--json]
    espwatch image partitions TABLE [--bootloader BOOTLOADER.bin] [--table-offset 0x8000] [--json]
    espwatch image otadata OTADATA.bin [--ota-slots N | --partitions TABLE] [--json]

The first word after `image` chooses the mode: `diff`, `partitions` or `otadata`; anything else is an
app image path (write `./diff` for a file really called `diff`). Exit status: 0 valid / identical,
1 invalid / different, 2 usage error (missing file, bad option).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from espwatch.cli import CliError
from espwatch.image import (
    AppImage,
    ImageCheck,
    ImageDiff,
    InputFileError,
    OtaData,
    PartitionTable,
    PartitionTableError,
    check_partition_table,
    diff_images,
    hex_view,
    inspect_image,
    load_app_image,
    load_otadata,
    load_partition_table,
)
from espwatch.image.app_image import AppDescriptor
from espwatch.image.chips import chip_by_name

MODES = ("diff", "partitions", "otadata")
_MODE_OPTIONS = {
    None: {"elf", "partitions", "slot", "chip"},
    "diff": {"max_runs", "hex", "merge_gap"},
    "partitions": {"bootloader", "table_offset", "flash_size", "chip"},
    "otadata": {"ota_slots", "partitions", "table_offset"},
}
_OPTION_FLAGS = {
    "elf": "--elf", "partitions": "--partitions", "slot": "--slot", "chip": "--chip",
    "max_runs": "--max-runs", "hex": "--hex", "merge_gap": "--merge-gap", "bootloader": "--bootloader",
    "table_offset": "--table-offset", "flash_size": "--flash-size", "ota_slots": "--ota-slots",
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "image",
        help="check an app image, partition table, OTA data or flash read-back",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="APP.bin|diff|partitions|otadata",
                   help="an app image, or the mode word followed by its files")
    p.add_argument("files", nargs="*", default=[], metavar="FILE",
                   help="files of the mode (diff: ORIGINAL READBACK)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    g = p.add_argument_group("app image")
    g.add_argument("--elf", metavar="APP.elf", help="check the image was built from this ELF (SHA-256)")
    g.add_argument("--partitions", metavar="TABLE",
                   help="partition table: binary, CSV, or a boot log that prints it (also for otadata)")
    g.add_argument("--slot", metavar="NAME",
                   help="partition label or app subtype (ota_1, factory) to fit into")
    g.add_argument("--chip", metavar="CHIP", help="expected chip (esp32, esp32c3, ...)")
    g = p.add_argument_group("partitions")
    g.add_argument("--bootloader", metavar="BOOTLOADER.bin", help="check the bootloader ends below the table")
    g.add_argument("--table-offset", metavar="OFFSET", help="CONFIG_PARTITION_TABLE_OFFSET (default 0x8000)")
    g.add_argument("--flash-size", metavar="SIZE",
                   help="flash size (4MB, 0x400000) to check partitions against")
    g = p.add_argument_group("otadata")
    g.add_argument("--ota-slots", type=int, metavar="N", help="number of OTA app partitions")
    g = p.add_argument_group("diff")
    g.add_argument("--max-runs", type=int, default=20, metavar="N", help="list at most N runs (default 20)")
    g.add_argument("--hex", type=int, default=5, metavar="N",
                   help="hex views of the first N runs (default 5)")
    g.add_argument("--merge-gap", type=int, default=8, metavar="N",
                   help="join runs separated by at most N equal bytes (default 8)")
    p.set_defaults(func=run)


# ---------------------------------------------------------------- helpers


def _int_arg(text: str | None, flag: str) -> int | None:
    """0x8000, 32768, 32K, 4M, 4MB."""
    if text is None:
        return None
    t = text.strip().upper()
    if t.endswith(("KB", "MB")):
        t = t[:-1]
    mult = 1
    if t.endswith("K"):
        t, mult = t[:-1], 1024
    elif t.endswith("M"):
        t, mult = t[:-1], 1024 * 1024
    try:
        value = int(t, 0) * mult
    except ValueError:
        raise CliError(f"{flag}: {text!r} is not a number (e.g. 0x8000, 32K, 4MB)") from None
    if value < 0:
        raise CliError(f"{flag}: must not be negative")
    return value


def _check_options(args: argparse.Namespace, mode: str | None) -> None:
    allowed = _MODE_OPTIONS[mode]
    defaults = {"max_runs": 20, "hex": 5, "merge_gap": 8}
    for name, flag in _OPTION_FLAGS.items():
        value = getattr(args, name, None)
        if value is None or name in allowed or defaults.get(name) == value:
            continue
        where = f"`image {mode}`" if mode else "`image APP.bin`"
        raise CliError(f"{flag} does not apply to {where}")


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _hex(v: int | None, width: int = 2) -> str:
    return "?" if v is None else f"0x{v:0{width}x}"


# ---------------------------------------------------------------- app image


def _image_lines(img: AppImage) -> list[str]:
    out = [f"{img.path}: {img.file_size} bytes"]
    if not img.is_image:
        return out
    chip = f"{img.chip.name} (chip id {img.chip_id})" if img.chip else f"unknown (chip id {img.chip_id})"
    out.append(f"Chip:        {chip}, chip revision v{img.min_rev_full // 100}.{img.min_rev_full % 100} "
               f"to v{img.max_rev_full // 100}.{img.max_rev_full % 100} (legacy min_rev {img.min_rev})")
    out.append(f"Flash:       mode {img.flash_mode_name or img.flash_mode}, size {img.flash_size or '?'}, "
               f"freq {img.flash_freq or '?'}")
    out.append(f"Entry point: 0x{img.entry_point:08x}")
    out.append(f"Segments:    {img.segment_count}")
    out.append("   #   Length   Load addr   File offs  Memory")
    for s in img.segments:
        cut = f"  (only 0x{s.available:x} in the file)" if s.truncated else ""
        out.append(f"  {s.index:2d}  0x{s.length:05x}  0x{s.load_addr:08x}  0x{s.header_offset:08x} "
                   f" {s.region}{cut}")
    if img.checksum_offset is not None:
        state = "valid" if img.checksum_ok else ("INVALID" if img.checksum_ok is False else "missing")
        out.append(f"Checksum:    stored {_hex(img.checksum_stored)}, "
                   f"calculated {_hex(img.checksum_calculated)} ({state}) at 0x{img.checksum_offset:x}")
    if img.hash_appended:
        if img.sha256_ok is not None:
            out.append(f"SHA-256:     {'valid' if img.sha256_ok else 'INVALID'}")
            out.append(f"  stored     {img.sha256_stored}")
            out.append(f"  calculated {img.sha256_calculated}")
        elif img.sha256_calculated:
            out.append(f"SHA-256:     missing (calculated {img.sha256_calculated})")
    else:
        out.append("SHA-256:     not appended")
    d = img.app_desc
    if d:
        out.append("App:         " + f"{d.project_name} {d.version}")
        out.append(f"  ESP-IDF    {d.idf_version}")
        out.append(f"  compiled   {(d.compile_date + ' ' + d.compile_time).strip() or '(not recorded)'}")
        out.append(f"  ELF SHA256 {d.elf_sha256}")
        out.append(f"  secure version {d.secure_version}, eFuse block rev "
                   f"{AppDescriptor.efuse_rev(d.min_efuse_blk_rev_full)} to "
                   f"{AppDescriptor.efuse_rev(d.max_efuse_blk_rev_full)}"
                   + (f", MMU page {d.mmu_page_size // 1024} KB" if d.mmu_page_size else ""))
    elif img.bootloader_desc:
        b = img.bootloader_desc
        out.append(f"Bootloader:  version {b.version}, ESP-IDF {b.idf_version}, built {b.date_time}")
    elif img.segments:
        out.append("App:         no esp_app_desc_t (magic 0xABCD5432) at the start of the DROM segment")
    if img.signature:
        out.append(f"Signature:   {img.signature.scheme}, {img.signature.blocks} block(s) at "
                   f"0x{img.signature.offset:x}")
    elif img.checksum_stored is not None:
        out.append("Signature:   none")
    if img.trailing_bytes:
        out.append(f"After image: {img.trailing_bytes} bytes"
                   + (" of 0xFF padding" if img.trailing_blank else " (not all 0xFF)"))
    return out


def _run_app(args: argparse.Namespace) -> int:
    _check_options(args, None)
    if args.files:
        raise CliError(f"unexpected argument {args.files[0]!r} (did you mean `image diff A B`?)")
    if args.slot and not args.partitions:
        raise CliError("--slot needs --partitions")
    if args.chip and chip_by_name(args.chip) is None:
        raise CliError(f"--chip: unknown chip {args.chip!r}")
    try:
        check: ImageCheck = inspect_image(args.target, elf=args.elf, partitions=args.partitions,
                                          slot=args.slot, chip=args.chip)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    if args.json:
        _emit(check.to_json())
        return 0 if check.valid else 1
    out = _image_lines(check.image)
    if check.elf:
        out.append(f"ELF:         {check.elf.path}: {check.elf.message()}")
    if check.table is not None:
        out.append(f"Partitions:  {check.table.path} ({check.table.source})")
        for fit in check.fits:
            out.append(f"  {fit.message()}")
    notes = [f for f in check.image.findings + check.findings if f.level != "error"]
    for f in notes:
        out.append(f"{f.level}: {f.message}")
    out.append(check.verdict())
    sys.stdout.write("\n".join(out) + "\n")
    return 0 if check.valid else 1


# ---------------------------------------------------------------- partitions


def _run_partitions(args: argparse.Namespace) -> int:
    _check_options(args, "partitions")
    if len(args.files) != 1:
        raise CliError("usage: espwatch image partitions TABLE (binary, CSV or boot log)")
    table_offset = _int_arg(args.table_offset, "--table-offset") or 0x8000
    flash_size = _int_arg(args.flash_size, "--flash-size")
    try:
        table: PartitionTable = load_partition_table(args.files[0], table_offset)
    except PartitionTableError as exc:
        if args.json:
            _emit({"path": args.files[0], "valid": False, "error": str(exc)})
        else:
            sys.stdout.write(f"{args.files[0]}: {exc}\nINVALID: not a partition table\n")
        return 1
    chip = chip_by_name(args.chip) if args.chip else None
    if args.chip and chip is None:
        raise CliError(f"--chip: unknown chip {args.chip!r}")
    bl_size = bl_off = None
    if args.bootloader:
        bl: AppImage = load_app_image(args.bootloader)
        bl_size = bl.file_size
        chip = chip or bl.chip
        if not bl.is_image:
            table.findings.append(bl.errors[0] if bl.errors else bl.findings[0])
    bl_off = chip.bootloader_offset if chip else 0x1000
    check_partition_table(table, table_offset=table_offset, bootloader_size=bl_size,
                          bootloader_offset=bl_off, flash_size=flash_size)
    if args.json:
        _emit(table.to_json())
        return 0 if table.valid else 1
    out = [f"{table.path}: {table.source} partition table"
           + (f" at 0x{table.table_offset:x}" if table.source != "boot-log" else "")]
    out += table.bootloader_lines()
    if table.md5_present:
        out.append(f"MD5: stored {table.md5_stored}, calculated {table.md5_calculated} "
                   f"({'valid' if table.md5_ok else 'INVALID'})")
    for f in table.findings:
        if f.level != "error":
            out.append(f"{f.level}: {f.message}")
    out.append(table.verdict())
    sys.stdout.write("\n".join(out) + "\n")
    return 0 if table.valid else 1


# ---------------------------------------------------------------- otadata


def _run_otadata(args: argparse.Namespace) -> int:
    _check_options(args, "otadata")
    if len(args.files) != 1:
        raise CliError("usage: espwatch image otadata OTADATA.bin [--ota-slots N | --partitions TABLE]")
    if args.ota_slots is not None and args.partitions:
        raise CliError("give --ota-slots or --partitions, not both")
    if args.ota_slots is not None and not 0 <= args.ota_slots <= 16:
        raise CliError("--ota-slots must be 0..16")
    table = None
    if args.partitions:
        table = load_partition_table(args.partitions, _int_arg(args.table_offset, "--table-offset") or 0x8000)
    try:
        od: OtaData = load_otadata(args.files[0], ota_slots=args.ota_slots, table=table)
    except ValueError as exc:
        if isinstance(exc, PartitionTableError):
            raise
        if args.json:
            _emit({"path": args.files[0], "error": str(exc)})
        else:
            sys.stdout.write(f"{args.files[0]}: {exc}\nINVALID: not an otadata partition\n")
        return 1
    if args.json:
        _emit(od.to_json())
        return 0 if od.valid else 1
    slots = "unknown (give --ota-slots or --partitions)" if od.ota_slots is None else str(od.ota_slots)
    out = [f"{od.path}: otadata, OTA slots: {slots}",
           "  #  ota_seq     state           crc         check"]
    for e in od.entries:
        seq = "0xffffffff" if e.ota_seq == 0xFFFFFFFF else str(e.ota_seq)
        out.append(f"  [{e.sector}] {seq:<11s} {e.state_name:<15s} 0x{e.crc:08x}  {e.why_not()}")
    for f in od.findings:
        out.append(f"{f.level}: {f.message}")
    out.append(od.verdict())
    sys.stdout.write("\n".join(out) + "\n")
    return 0 if od.valid else 1


# ---------------------------------------------------------------- diff


def _diff_lines(d: ImageDiff, max_runs: int, hex_runs: int) -> list[str]:
    img = d.image
    desc = img.verdict() if img.is_image else "not a parsable image: " + img.verdict()
    out = [f"original:  {d.original_path}: {d.original_size} bytes ({desc})"]
    rb = f"read-back: {d.readback_path}: {d.readback_size} bytes"
    if d.extra_bytes:
        rb += (f", {d.extra_bytes} bytes longer than the image (partition-sized read-back?): "
               + ("all 0xFF" if not d.extra_non_ff else f"{d.extra_non_ff} of them not 0xFF (stale data)"))
    out.append(rb)
    if d.truncated:
        if d.readback_size < d.original_size and d.tail_start == d.readback_size:
            out.append(f"written:   only {d.written} of {d.original_size} bytes: "
                       "the read-back file ends there")
        else:
            out.append(f"written:   only {d.written} of {d.original_size} bytes written: "
                       f"from 0x{d.tail_start:x} ({img.describe_offset(d.tail_start or 0)}) on, "
                       "the read-back is 0xFF where the original has data")
    else:
        out.append(f"written:   all {d.original_size} bytes present")
    if d.run_count:
        out.append(f"runs:      {d.run_count} run(s), {d.run_differing} differing byte(s) before "
                   + ("the unwritten tail" if d.truncated else "the image end"))
        for kind, n in d.kinds().most_common():
            out.append(f"  {n:5d} {kind}")
        regions = d.by_region().most_common()
        out.append("by region: " + ", ".join(f"{w}: {n}" for w, n in regions[:12])
                   + (f", {len(regions) - 12} more regions" if len(regions) > 12 else ""))
        for i, r in enumerate(d.runs[:max_runs]):
            out.append(f"  run {i + 1}: 0x{r.offset:06x} +{r.length} ({r.where}): {r.describe()}")
        if d.run_count > min(max_runs, len(d.runs)):
            out.append(f"  ... {d.run_count - min(max_runs, len(d.runs))} more run(s) (--max-runs, --json; "
                       f"--json lists the first {len(d.runs)})")
    rbi = d.readback_image
    if img.is_image and rbi.checksum_stored is not None and rbi.checksum_calculated is not None \
            and not rbi.checksum_ok:
        out.append(f"bootloader would say: \"Checksum failed. Calculated 0x{rbi.checksum_calculated:02x} "
                   f"read 0x{rbi.checksum_stored:02x}\"")
    elif img.is_image and not rbi.valid and not d.truncated:
        out.append(f"read-back as an image: {rbi.verdict()}")
    for i, r in enumerate(d.runs[:hex_runs]):
        out.append(f"-- run {i + 1} at 0x{r.offset:x} ({r.where})")
        out += ["  " + line for line in hex_view(d, r)]
    out.append(d.verdict())
    return out


def _run_diff(args: argparse.Namespace) -> int:
    _check_options(args, "diff")
    if len(args.files) != 2:
        raise CliError("usage: espwatch image diff ORIGINAL.bin READBACK.bin")
    if args.merge_gap < 0 or args.max_runs < 0 or args.hex < 0:
        raise CliError("--merge-gap, --max-runs and --hex must not be negative")
    d = diff_images(args.files[0], args.files[1], merge_gap=args.merge_gap)
    if args.json:
        _emit(d.to_json())
    else:
        sys.stdout.write("\n".join(_diff_lines(d, args.max_runs, args.hex)) + "\n")
    return 0 if d.identical else 1


def run(args: argparse.Namespace) -> int:
    mode = args.target if args.target in MODES else None
    try:
        if mode == "diff":
            return _run_diff(args)
        if mode == "partitions":
            return _run_partitions(args)
        if mode == "otadata":
            return _run_otadata(args)
        return _run_app(args)
    except InputFileError as exc:
        raise CliError(str(exc)) from None
    except PartitionTableError as exc:
        where = args.files[0] if mode == "partitions" and args.files else (args.partitions or "")
        raise CliError(f"{where}: not a usable partition table: {exc}") from None
