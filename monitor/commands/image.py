"""`espwatch image`: check an app image, a partition table, OTA data, or a flash read-back.

    espwatch image [check] APP.bin [--elf APP.elf] [--partitions TABLE --slot ota_1] [--chip CHIP] [--json]
    espwatch image diff ORIGINAL.bin READBACK.bin [--json]
    espwatch image partitions TABLE [--bootloader BOOTLOADER.bin] [--table-offset 0x8000] [--json]
    espwatch image otadata OTADATA.bin [--ota-slots N | --partitions TABLE] [--json]

`check` is the default subcommand (`espwatch image APP.bin`; write `./diff` for a file really called
`diff`). Exit status: 0 valid / identical, 1 invalid / different, 2 usage error (missing file, bad option).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from espwatch.commands import VERBS
from espwatch.errors import ImageError, UsageError

SUBCOMMANDS = ("check", "diff", "partitions", "otadata")


def normalize(argv: list[str]) -> list[str]:
    """`image APP.bin ...` means `image check APP.bin ...`."""
    if len(argv) > 1 and argv[1] not in (*SUBCOMMANDS, "-h", "--help"):
        return [argv[0], "check", *argv[1:]]
    return argv


def _size(text: str) -> int:
    """0x8000, 32768, 32K, 4M, 4MB."""
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
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 0x8000, 32K, 4MB)") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "image", help=VERBS["image"], description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  espwatch image build/app.bin --elf build/app.elf\n"
               "  espwatch image diff build/app.bin readback.bin\n"
               "  espwatch image partitions build/partition_table/partition-table.bin")
    sub = p.add_subparsers(dest="mode", metavar="SUBCOMMAND", required=True)

    c = sub.add_parser("check", help="an app image: header, segments, checksum, SHA-256, descriptor "
                                     "(the default subcommand)",
                       epilog="examples:\n  espwatch image build/app.bin\n  espwatch image check app.bin "
                              "--elf build/app.elf --partitions partitions.csv --slot ota_1",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("image", metavar="APP.bin", help="the app (or bootloader) image")
    c.add_argument("--elf", metavar="APP.elf", help="check the image was built from this ELF (SHA-256)")
    c.add_argument("--partitions", metavar="TABLE",
                   help="partition table: binary, CSV, or a boot log that prints it")
    c.add_argument("--slot", metavar="NAME",
                   help="partition label or app subtype (ota_1, factory) to fit into")
    c.add_argument("--chip", metavar="CHIP", help="expected chip (esp32, esp32c3, ...)")
    c.set_defaults(func=run_check)

    d = sub.add_parser("diff", help="compare an image with what was read back from flash",
                       epilog="example:\n  esptool read-flash 0x10000 0x100000 readback.bin\n"
                              "  espwatch image diff build/app.bin readback.bin",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("original", metavar="ORIGINAL.bin")
    d.add_argument("readback", metavar="READBACK.bin")
    d.add_argument("--max-runs", type=_count, default=20, metavar="N",
                   help="list at most N runs (default 20)")
    d.add_argument("--hex", type=_count, default=5, metavar="N",
                   help="hex views of the first N runs (default 5)")
    d.add_argument("--merge-gap", type=_count, default=8, metavar="N",
                   help="join runs separated by at most N equal bytes (default 8)")
    d.set_defaults(func=run_diff)

    t = sub.add_parser("partitions", help="a partition table (binary, CSV or boot log): print and check it",
                       epilog="example:\n  espwatch image partitions "
                              "build/partition_table/partition-table.bin --bootloader "
                              "build/bootloader/bootloader.bin",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("table", metavar="TABLE")
    t.add_argument("--bootloader", metavar="BOOTLOADER.bin", help="check the bootloader ends below the table")
    t.add_argument("--table-offset", type=_size, default=0x8000, metavar="OFFSET",
                   help="CONFIG_PARTITION_TABLE_OFFSET (default 0x8000)")
    t.add_argument("--flash-size", type=_size, metavar="SIZE",
                   help="flash size (4MB, 0x400000) to check partitions against")
    t.add_argument("--chip", metavar="CHIP", help="the chip (for the bootloader offset)")
    t.set_defaults(func=run_partitions)

    o = sub.add_parser("otadata", help="the OTA data partition: which slot boots next, and why",
                       epilog="example:\n  esptool read-flash 0xd000 0x2000 otadata.bin\n"
                              "  espwatch image otadata otadata.bin --partitions partitions.csv",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    o.add_argument("otadata", metavar="OTADATA.bin")
    o.add_argument("--ota-slots", type=int, metavar="N", help="number of OTA app partitions")
    o.add_argument("--partitions", metavar="TABLE", help="the partition table (to count the OTA slots)")
    o.add_argument("--table-offset", type=_size, default=0x8000, metavar="OFFSET",
                   help="CONFIG_PARTITION_TABLE_OFFSET (default 0x8000)")
    o.set_defaults(func=run_otadata)

    parsers = {"check": c, "diff": d, "partitions": t, "otadata": o}
    for name, parser in parsers.items():
        own = {s for a in parser._actions for s in a.option_strings}
        parser.foreign_options = {s: f"image {other}" for other, q in parsers.items() if other != name
                                  for a in q._actions for s in a.option_strings if s not in own}
    for parser in parsers.values():
        parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _print(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n")


def _not_one(args: argparse.Namespace, path: str, exc: ImageError, what: str, key: dict[str, Any]) -> int:
    """A file that is not a partition table / OTA data: the result is INVALID (exit 1), not a usage error."""
    if args.json:
        _emit({"path": path, **key, "error": str(exc)})
    else:
        _print([f"{path}: {exc}", f"INVALID: not {what}"])
    return 1


def run_check(args: argparse.Namespace) -> int:
    from espwatch.image import inspect_image
    from espwatch.image.chips import chip_by_name
    from espwatch.render.image import check_lines

    if args.slot and not args.partitions:
        raise UsageError("--slot needs --partitions")
    if args.chip and chip_by_name(args.chip) is None:
        raise UsageError(f"--chip: unknown chip {args.chip!r}")
    check = inspect_image(args.image, elf=args.elf, partitions=args.partitions, slot=args.slot,
                          chip=args.chip)
    if args.json:
        _emit(check.to_json())
    else:
        _print(check_lines(check))
    return 0 if check.valid else 1


def run_partitions(args: argparse.Namespace) -> int:
    from espwatch.image import inspect_partitions
    from espwatch.image.chips import chip_by_name
    from espwatch.render.image import partition_lines

    if args.chip and chip_by_name(args.chip) is None:
        raise UsageError(f"--chip: unknown chip {args.chip!r}")
    try:
        table = inspect_partitions(args.table, table_offset=args.table_offset, bootloader=args.bootloader,
                                   flash_size=args.flash_size, chip=args.chip)
    except ImageError as exc:
        return _not_one(args, args.table, exc, "a partition table", {"valid": False})
    if args.json:
        _emit(table.to_json())
    else:
        _print(partition_lines(table))
    return 0 if table.valid else 1


def run_otadata(args: argparse.Namespace) -> int:
    from espwatch.image import load_otadata, load_partition_table
    from espwatch.render.image import otadata_lines

    if args.ota_slots is not None and args.partitions:
        raise UsageError("give --ota-slots or --partitions, not both")
    if args.ota_slots is not None and not 0 <= args.ota_slots <= 16:
        raise UsageError("--ota-slots must be 0..16")
    table = None
    if args.partitions:
        try:
            table = load_partition_table(args.partitions, args.table_offset)
        except ImageError as exc:
            raise ImageError(f"{args.partitions}: not a usable partition table: {exc}") from None
    try:
        od = load_otadata(args.otadata, ota_slots=args.ota_slots, table=table)
    except ImageError as exc:
        return _not_one(args, args.otadata, exc, "an otadata partition", {})
    if args.json:
        _emit(od.to_json())
    else:
        _print(otadata_lines(od))
    return 0 if od.valid else 1


def run_diff(args: argparse.Namespace) -> int:
    from espwatch.image import diff_images
    from espwatch.render.image import diff_lines

    d = diff_images(args.original, args.readback, merge_gap=args.merge_gap)
    if args.json:
        _emit(d.to_json())
    else:
        _print(diff_lines(d, args.max_runs, args.hex))
    return 0 if d.identical else 1
