"""`espwatch image APP.bin --elf --partitions --slot`: the image; does it belong to the ELF; does it fit."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from espwatch.errors import ImageError, InputError, unreadable
from espwatch.image.app_image import AppImage, Finding, load_app_image
from espwatch.image.partition_table import Partition, PartitionTable, load_partition_table


@dataclass
class ElfMatch:
    path: str
    elf_sha256: str  # of the whole ELF file
    desc_sha256: str | None  # from the image's app descriptor
    is_elf: bool

    @property
    def match(self) -> bool | None:
        """True/False; None when the image carries no ELF hash (no descriptor, or all zeros)."""
        if not self.desc_sha256 or self.desc_sha256.strip("0") == "":
            return None
        return self.elf_sha256 == self.desc_sha256

    def message(self) -> str:
        if self.match is None:
            return "the image carries no ELF SHA-256 (no app descriptor, or built without it): cannot tell"
        if self.match:
            return f"ELF SHA-256 matches the app descriptor ({self.elf_sha256[:16]}...)"
        return (f"ELF SHA-256 {self.elf_sha256[:16]}... differs from the image's {self.desc_sha256[:16]}...: "
                "this image was not built from this ELF (addresses decoded with it will be wrong)")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "match": self.match, "message": self.message()}


def check_elf(image: AppImage, elf_path: str | os.PathLike[str]) -> ElfMatch:
    """SHA-256 of the whole ELF file vs the descriptor's `app_elf_sha256`. Raises InputError."""
    p = Path(elf_path)
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected an ELF file")
    h = hashlib.sha256()
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
            h.update(head)
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise unreadable(p, exc) from None
    desc = image.app_desc.elf_sha256 if image.app_desc else None
    return ElfMatch(str(p), h.hexdigest(), desc, head == b"\x7fELF")


@dataclass
class FitResult:
    partition: Partition
    image_size: int  # bytes to write: the whole file

    @property
    def fits(self) -> bool:
        return self.image_size <= self.partition.size

    @property
    def margin(self) -> int:
        return self.partition.size - self.image_size

    def message(self) -> str:
        p = self.partition
        pct = 100.0 * self.image_size / p.size if p.size else float("inf")
        head = (f"'{p.label}' ({p.subtype_name}, 0x{p.offset:x}): image {self.image_size} bytes "
                f"(0x{self.image_size:x}), partition {p.size} bytes (0x{p.size:x}), {pct:.1f}% used")
        if self.fits:
            return f"fits {head}, {self.margin} bytes free"
        return f"DOES NOT FIT {head}, {-self.margin} bytes too large"

    def to_json(self) -> dict[str, Any]:
        return {"partition": self.partition.to_json(), "image_size": self.image_size, "fits": self.fits,
                "margin": self.margin, "message": self.message()}


def check_fit(image: AppImage, table: PartitionTable, slot: str | None = None) -> list[FitResult]:
    """Fit of the image in `slot` (label or "ota_1"/"factory"), or in every app partition when slot is None.

    Raises KeyError (with the available names) when the slot is not in the table.
    """
    if slot is not None:
        part = table.find(slot)
        if part is None:
            names = ", ".join(p.label for p in table.apps) or "none"
            raise ImageError(f"no partition '{slot}' in the table (app partitions: {names})")
        parts = [part]
    else:
        parts = table.apps
    return [FitResult(p, image.file_size) for p in parts]


@dataclass
class ImageCheck:
    image: AppImage
    elf: ElfMatch | None = None
    table: PartitionTable | None = None
    slot: str | None = None
    fits: list[FitResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # beyond the image's own

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def valid(self) -> bool:
        return self.image.valid and not self.errors

    def verdict(self) -> str:
        base = self.image.verdict()
        if not self.errors:
            extra = []
            if self.elf and self.elf.match:
                extra.append("matches the ELF")
            if self.fits:
                ok = [f.partition.label for f in self.fits if f.fits]
                extra.append("fits " + ", ".join(ok))
            return base + ("; " + "; ".join(extra) if extra else "")
        msgs = "; ".join(f.message for f in self.errors)
        if base.startswith("VALID"):
            return "INVALID: " + base[len("VALID: "):] + ": " + msgs
        return base + "; " + msgs

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "verdict": self.verdict(),
            "image": self.image.to_json(),
            "elf": self.elf.to_json() if self.elf else None,
            "partition_table": None if self.table is None else {
                "path": self.table.path, "source": self.table.source, "verdict": self.table.verdict()},
            "slot": self.slot,
            "fit": [f.to_json() for f in self.fits],
            "findings": [asdict(f) for f in self.findings],
        }


def inspect_image(path: str | os.PathLike[str], *, elf: str | os.PathLike[str] | None = None,
                  partitions: str | os.PathLike[str] | PartitionTable | None = None,
                  slot: str | None = None, chip: str | None = None) -> ImageCheck:
    """Everything `espwatch image APP.bin` checks. Raises InputError / ImageError."""
    image = load_app_image(path)
    check = ImageCheck(image, slot=slot)
    if chip and image.is_image and image.chip and image.chip.key != chip.lower().replace("-", ""):
        check.findings.append(Finding(
            "error", "chip", f"the image is for {image.chip.name} (chip id {image.chip_id}), not {chip}: "
            "the bootloader rejects it"))
    if elf is not None:
        check.elf = check_elf(image, elf)
        if not check.elf.is_elf:
            check.findings.append(Finding("warning", "not-elf", f"{elf} does not start with the ELF magic"))
        if check.elf.match is False:
            check.findings.append(Finding("error", "elf-mismatch", check.elf.message()))
    if partitions is not None:
        if isinstance(partitions, PartitionTable):
            table = partitions
        else:
            try:
                table = load_partition_table(partitions)
            except ImageError as exc:
                raise ImageError(f"{partitions}: not a usable partition table: {exc}") from None
        check.table = table
        check.fits = check_fit(image, table, slot)
        if not check.fits:
            check.findings.append(Finding("error", "no-app-partition",
                                          "the partition table has no app partition"))
        elif slot is not None and not check.fits[0].partition.is_app:
            p = check.fits[0].partition
            check.findings.append(Finding("error", "not-app-slot",
                                          f"'{p.label}' is a {p.type_name} partition, not an app slot"))
        if check.fits and not any(f.fits for f in check.fits):
            msg = "; ".join(f.message() for f in check.fits)
            check.findings.append(Finding("error", "does-not-fit", msg))
    return check


def inspect_partitions(path: str | os.PathLike[str], *, table_offset: int = 0x8000,
                       bootloader: str | os.PathLike[str] | None = None, flash_size: int | None = None,
                       chip: str | None = None) -> PartitionTable:
    """Everything `espwatch image partitions TABLE` checks (with the bootloader image, that it ends below
    the table). Raises InputError for unreadable files and ImageError when TABLE is not a partition table."""
    from espwatch.image.chips import chip_by_name
    from espwatch.image.partition_table import check_partition_table

    table = load_partition_table(path, table_offset)
    target = chip_by_name(chip) if chip else None
    bl_size = None
    if bootloader is not None:
        bl = load_app_image(bootloader)
        bl_size = bl.file_size
        target = target or bl.chip
        if not bl.is_image:
            table.findings.append(bl.errors[0] if bl.errors else bl.findings[0])
    check_partition_table(table, table_offset=table_offset, bootloader_size=bl_size,
                          bootloader_offset=target.bootloader_offset if target else 0x1000,
                          flash_size=flash_size)
    return table
