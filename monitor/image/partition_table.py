"""ESP-IDF partition tables: binary, CSV and boot-log forms; checks; bootloader-style printing.

Binary layout (ESP-IDF "Partition Tables" guide): 32-byte little-endian entries: magic AA 50, type u8,
subtype u8, offset u32, size u32, label 16 bytes NUL-padded, flags u32 (bit 0 encrypted, bit 1 readonly).
After the last entry an MD5 entry (EB EB, 14 bytes FF, MD5 of all entry bytes before it); the rest of the
0xC00-byte table is FF. Old tables have no MD5 entry.

CSV syntax (gen_esp32part.py): `name, type, subtype, offset, size, flags`; `#` starts a comment; an
empty offset follows the previous partition, aligned (app 0x10000, others 0x1000); numbers in any base
with K/M suffixes; types and subtypes by name or number.

Boot log: the table the second-stage bootloader prints after `boot: Partition Table:`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

from espwatch.errors import ImageError
from espwatch.image._files import MiB, read_input
from espwatch.image.app_image import ESP_IMAGE_MAGIC, Finding
from espwatch.sanitize import quote

ENTRY_LEN = 32
ENTRY_MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb"
TABLE_MAX_LEN = 0xC00
TABLE_SECTOR = 0x1000
DEFAULT_TABLE_OFFSET = 0x8000
APP_ALIGN = 0x10000
DATA_ALIGN = 0x1000
OTADATA_SIZE = 0x2000
MAX_TABLE_FILE = 256 * MiB  # a whole-flash dump may hold the table at its offset

TYPES: dict[str, int] = {"app": 0x00, "data": 0x01, "bootloader": 0x02, "partition_table": 0x03}
SUBTYPES: dict[int, dict[str, int]] = {
    0x00: {"factory": 0x00, "test": 0x20, **{f"ota_{i}": 0x10 + i for i in range(16)}},
    0x01: {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "nvs_keys": 0x04, "efuse": 0x05,
           "undefined": 0x06, "esphttpd": 0x80, "fat": 0x81, "spiffs": 0x82, "littlefs": 0x83},
    0x02: {"primary": 0x00, "ota": 0x01, "recovery": 0x02},
    0x03: {"primary": 0x00, "ota": 0x01},
}
FLAGS: dict[str, int] = {"encrypted": 1, "readonly": 2}


@dataclass
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int
    flags: int = 0
    index: int = 0
    line: int | None = None  # CSV or log line number

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def type_name(self) -> str:
        for name, value in TYPES.items():
            if value == self.type:
                return name
        return f"0x{self.type:02x}"

    @property
    def subtype_name(self) -> str:
        for name, value in SUBTYPES.get(self.type, {}).items():
            if value == self.subtype:
                return name
        return f"0x{self.subtype:02x}"

    @property
    def is_app(self) -> bool:
        return self.type == 0x00

    @property
    def ota_index(self) -> int | None:
        """N for an ota_N app partition, else None."""
        if self.is_app and 0x10 <= self.subtype <= 0x1F:
            return self.subtype - 0x10
        return None

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 1)

    @property
    def readonly(self) -> bool:
        return bool(self.flags & 2)

    @property
    def flag_names(self) -> list[str]:
        return [name for name, bit in FLAGS.items() if self.flags & bit]

    @property
    def usage(self) -> str:
        """The "Usage" column the second-stage bootloader prints."""
        t, s = self.type, self.subtype
        if t == 0x00:
            if s == 0x00:
                return "factory app"
            if s == 0x20:
                return "test app"
            return "OTA app" if 0x10 <= s <= 0x1F else "Unknown app"
        if t == 0x01:
            return {0x00: "OTA data", 0x01: "RF data", 0x02: "WiFi data", 0x04: "NVS keys",
                    0x05: "efuse"}.get(s, "Unknown data")
        if t == 0x02:
            return {0x00: "primary bootloader", 0x01: "ota bootloader", 0x02: "recovery bootloader"}.get(
                s, "unknown")
        if t == 0x03:
            return {0x00: "primary partition_table", 0x01: "ota partition_table"}.get(s, "unknown")
        return "unknown"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(type_name=self.type_name, subtype_name=self.subtype_name, usage=self.usage,
                 flag_names=self.flag_names, end=self.end)
        return d


@dataclass
class PartitionTable:
    partitions: list[Partition]
    source: str  # "binary", "csv", "boot-log"
    path: str | None = None
    table_offset: int = DEFAULT_TABLE_OFFSET
    md5_present: bool | None = None  # None: form has no MD5 (CSV, boot log)
    md5_stored: str | None = None
    md5_calculated: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def md5_ok(self) -> bool | None:
        if not self.md5_present:
            return None
        return self.md5_stored == self.md5_calculated

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def apps(self) -> list[Partition]:
        return [p for p in self.partitions if p.is_app]

    @property
    def ota_apps(self) -> list[Partition]:
        return sorted((p for p in self.partitions if p.ota_index is not None), key=lambda p: p.subtype)

    @property
    def otadata(self) -> Partition | None:
        return next((p for p in self.partitions if p.type == 0x01 and p.subtype == 0x00), None)

    @property
    def factory(self) -> Partition | None:
        return next((p for p in self.partitions if p.is_app and p.subtype == 0x00), None)

    def at(self, offset: int) -> Partition | None:
        """The partition that starts at `offset` (how the bootloader names the slot it loads from)."""
        return next((p for p in self.partitions if p.offset == offset), None)

    def find(self, name: str) -> Partition | None:
        """A partition by label, else by app subtype name ("ota_1", "factory")."""
        for p in self.partitions:
            if p.label == name:
                return p
        for p in self.apps:
            if p.subtype_name == name:
                return p
        return None

    def bootloader_lines(self) -> list[str]:
        """The table as the second-stage bootloader prints it (without log prefixes)."""
        lines = ["## Label            Usage          Type ST Offset   Length"]
        for i, p in enumerate(self.partitions):
            lines.append(f"{i:2d} {p.label:<16s} {p.usage:<16s} {p.type:02x} {p.subtype:02x} "
                         f"{p.offset:08x} {p.size:08x}")
        return lines

    def verdict(self) -> str:
        n = len(self.partitions)
        md5 = {True: ", MD5 valid", False: ", MD5 INVALID", None: ""}[self.md5_ok]
        if self.source == "binary" and self.md5_present is False:
            md5 = ", no MD5 entry (old format)"
        if self.errors:
            return f"INVALID: {n} partitions{md5}: " + "; ".join(f.message for f in self.errors)
        return f"VALID: {n} partitions{md5}" + (
            f", {len(self.findings)} warning(s)" if self.findings else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "table_offset": self.table_offset,
            "valid": self.valid,
            "verdict": self.verdict(),
            "md5": {"present": self.md5_present, "stored": self.md5_stored,
                    "calculated": self.md5_calculated, "ok": self.md5_ok},
            "partitions": [p.to_json() for p in self.partitions],
            "findings": [asdict(f) for f in self.findings],
        }


# ---------------------------------------------------------------- binary form


def parse_partition_binary(data: bytes, path: str | None = None,
                           table_offset: int = DEFAULT_TABLE_OFFSET) -> PartitionTable:
    """Parse a partition table binary (or a whole-flash dump holding one at `table_offset`)."""
    base = 0
    if data[:2] not in (ENTRY_MAGIC, MD5_MAGIC) and len(data) > table_offset + ENTRY_LEN \
            and data[table_offset:table_offset + 2] == ENTRY_MAGIC:
        base = table_offset
    raw = data[base:base + TABLE_MAX_LEN]
    table = PartitionTable([], "binary", path, table_offset, md5_present=False)
    if base:
        table.findings.append(Finding("info", "flash-dump",
                                      f"table read at offset 0x{base:x} of a flash dump"))
    if not raw:
        raise ImageError("empty file (0 bytes)")
    if raw[:1] == bytes([ESP_IMAGE_MAGIC]):
        raise ImageError("this is an app (or bootloader) image, not a partition table")
    if raw[:2] not in (ENTRY_MAGIC, MD5_MAGIC):
        if raw.count(0xFF) == len(raw):
            raise ImageError("all bytes are 0xFF: erased flash, no partition table")
        raise ImageError(
            f"no partition entry magic (AA 50) at the start: first bytes {raw[:2].hex(' ')}")
    pos = 0
    while pos + ENTRY_LEN <= len(raw):
        ent = raw[pos:pos + ENTRY_LEN]
        if ent[:2] == ENTRY_MAGIC:
            _m, t, s, off, size, label, flags = struct.unpack("<2sBBII16sI", ent)
            name = label.split(b"\0", 1)[0].decode("utf-8", errors="backslashreplace")
            table.partitions.append(Partition(name, t, s, off, size, flags, len(table.partitions)))
        elif ent[:2] == MD5_MAGIC:
            table.md5_present = True
            table.md5_stored = ent[16:32].hex()
            table.md5_calculated = hashlib.md5(raw[:pos]).hexdigest()
            if not table.md5_ok:
                table.findings.append(Finding(
                    "error", "md5",
                    f"MD5 mismatch: stored {table.md5_stored}, calculated {table.md5_calculated}"
                    " (the table was changed or damaged after it was built)"))
            pos += ENTRY_LEN
            break
        elif ent == b"\xff" * ENTRY_LEN:
            break
        else:
            table.findings.append(Finding(
                "error", "entry-magic",
                f"entry {pos // ENTRY_LEN} at table offset 0x{pos:x} has invalid magic {ent[:2].hex(' ')}"))
            break
        pos += ENTRY_LEN
    rest = raw[pos:]
    if rest and rest.count(0xFF) != len(rest):
        table.findings.append(Finding("warning", "after-table", "bytes after the table end are not all 0xFF"))
    if not table.partitions:
        table.findings.append(Finding("error", "empty", "the table has no partitions"))
    return table


# ---------------------------------------------------------------- CSV form


def _parse_int(text: str, what: str, line: int) -> int:
    v = text.strip()
    mult = 1
    if v[-1:].lower() == "k":
        v, mult = v[:-1], 1024
    elif v[-1:].lower() == "m":
        v, mult = v[:-1], 1024 * 1024
    try:
        return int(v, 0) * mult
    except ValueError:
        raise ImageError(f"line {line}: {what} {quote(text.strip())} is not a number") from None


def _parse_type(text: str, line: int) -> int:
    v = text.strip()
    if v in TYPES:
        return TYPES[v]
    if not v:
        raise ImageError(f"line {line}: empty type field")
    try:
        t = int(v, 0)
    except ValueError:
        raise ImageError(f"line {line}: unknown partition type {quote(v)} "
                                  f"(known: {', '.join(TYPES)}, or a number 0x40-0xFE)") from None
    if not 0 <= t <= 0xFE:
        raise ImageError(f"line {line}: partition type 0x{t:x} out of range (0x00-0xFE)")
    return t


def _parse_subtype(text: str, ptype: int, line: int) -> int:
    v = text.strip()
    names = SUBTYPES.get(ptype, {})
    if v in names:
        return names[v]
    if not v:
        if ptype == 0x00:
            raise ImageError(f"line {line}: an app partition cannot have an empty subtype")
        return SUBTYPES[0x01]["undefined"] if ptype == 0x01 else 0
    try:
        s = int(v, 0)
    except ValueError:
        known = ", ".join(names) if names else "a number"
        raise ImageError(
            f"line {line}: unknown subtype {quote(v)} for this type (known: {known})") from None
    if not 0 <= s <= 0xFF:
        raise ImageError(f"line {line}: subtype 0x{s:x} out of range (0x00-0xFF)")
    return s


def parse_partition_csv(text: str, path: str | None = None,
                        table_offset: int = DEFAULT_TABLE_OFFSET) -> PartitionTable:
    """Parse gen_esp32part.py CSV. Raises ImageError (with the line number) on a syntax error."""
    table = PartitionTable([], "csv", path, table_offset)
    last_end = table_offset + TABLE_SECTOR
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in (line + ",,,,,").split(",")]
        name, ptype_s, sub_s, off_s, size_s, flags_s = fields[:6]
        if any(f for f in fields[6:]):
            raise ImageError(f"line {lineno}: more than 6 fields")
        if not name:
            raise ImageError(f"line {lineno}: empty partition name")
        if len(name.encode()) > 16:
            raise ImageError(f"line {lineno}: name {quote(name)} is longer than 16 bytes")
        ptype = _parse_type(ptype_s, lineno)
        sub = _parse_subtype(sub_s, ptype, lineno)
        align = APP_ALIGN if ptype == 0x00 else DATA_ALIGN
        if off_s:
            offset = _parse_int(off_s, "offset", lineno)
        else:
            offset = last_end
            if offset % align:
                offset += align - offset % align
        if not size_s:
            raise ImageError(f"line {lineno}: size field can't be empty")
        size = _parse_int(size_s, "size", lineno)
        if size <= 0:
            raise ImageError(f"line {lineno}: size must be positive")
        flags = 0
        for fl in (f.strip() for f in flags_s.split(":")):
            if not fl:
                continue
            if fl not in FLAGS:
                raise ImageError(f"line {lineno}: unknown flag {quote(fl)} (known: {', '.join(FLAGS)})")
            flags |= FLAGS[fl]
        table.partitions.append(
            Partition(name, ptype, sub, offset, size, flags, len(table.partitions), lineno))
        last_end = offset + size
    if not table.partitions:
        raise ImageError("no partitions in the CSV")
    return table


def to_binary(table: PartitionTable, with_md5: bool = True) -> bytes:
    """The binary form of a table (padded with FF to 0xC00 bytes)."""
    body = b"".join(struct.pack("<2sBBII16sI", ENTRY_MAGIC, p.type, p.subtype, p.offset, p.size,
                                p.label.encode()[:16], p.flags) for p in table.partitions)
    if with_md5:
        body += MD5_MAGIC + b"\xff" * 14 + hashlib.md5(body).digest()
    return body + b"\xff" * (TABLE_MAX_LEN - len(body))


# ---------------------------------------------------------------- boot log form

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOG_ROW = re.compile(
    r"boot:\s+(\d+)\s+(\S+)\s+(.*?)\s+([0-9a-fA-F]{2})\s+([0-9a-fA-F]{2})\s+([0-9a-fA-F]{8})\s+([0-9a-fA-F]{8})\s*$")
MAX_LOG_ROW = 512
_LOG_START = re.compile(r"boot: Partition Table:")
_LOG_END = re.compile(r"boot: End of partition table")


def table_from_rows(rows: list[dict[str, str]], path: str | None = None) -> PartitionTable:
    """A boot-log table from rows already split into fields (label, type, subtype, offset, length in hex),
    as the detector collects them from the bootloader's `Partition Table:` block. Bad rows are skipped."""
    parts = []
    for i, row in enumerate(rows):
        try:
            parts.append(Partition(row["label"], int(row["type"], 16), int(row["subtype"], 16),
                                   int(row["offset"], 16), int(row["length"], 16), 0,
                                   int(row.get("index") or i)))
        except (KeyError, ValueError, TypeError):
            continue
    return PartitionTable(parts, "boot-log", path)


def parse_partition_boot_log(lines: list[str] | str, path: str | None = None) -> PartitionTable:
    """The partition table printed by the bootloader in a boot log (the last one, if it booted several times).

    Accepts the log's lines (or the whole text); ANSI colours and log prefixes (`I (55) `) are ignored.
    Raises ImageError when the log holds no table.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    tables: list[list[Partition]] = []
    current: list[Partition] | None = None
    for lineno, raw in enumerate(lines, 1):
        if len(raw) > MAX_LOG_ROW:  # a table row is short; a long line is something else
            continue
        line = _ANSI.sub("", raw).rstrip("\r\n")
        if _LOG_START.search(line):
            current = []
            tables.append(current)
            continue
        if _LOG_END.search(line):
            current = None
            continue
        if current is None:
            continue
        m = _LOG_ROW.search(line)
        if m:
            idx, label, _usage, t, s, off, size = m.groups()
            current.append(Partition(label, int(t, 16), int(s, 16), int(off, 16), int(size, 16), 0,
                                     int(idx), lineno))
    tables = [t for t in tables if t]
    if not tables:
        raise ImageError("no partition table in this log (looked for 'boot: Partition Table:')")
    table = PartitionTable(tables[-1], "boot-log", path)
    if len(tables) > 1:
        table.findings.append(Finding("info", "several-boots",
                                      f"{len(tables)} tables in the log; the last is used"))
    return table


# ---------------------------------------------------------------- detection and checks


def parse_partition_table(data: bytes, path: str | None = None,
                          table_offset: int = DEFAULT_TABLE_OFFSET) -> PartitionTable:
    """Detect the form (binary, boot log, CSV) and parse it."""
    if data[:2] in (ENTRY_MAGIC, MD5_MAGIC) or not data:
        return parse_partition_binary(data, path, table_offset)
    if data[:1] == bytes([ESP_IMAGE_MAGIC]):
        return parse_partition_binary(data, path, table_offset)  # raises "this is an app image"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return parse_partition_binary(data, path, table_offset)
    if "\0" in text:
        return parse_partition_binary(data, path, table_offset)
    if _LOG_START.search(text):
        return parse_partition_boot_log(text, path)
    return parse_partition_csv(text, path, table_offset)


def load_partition_table(path: str | os.PathLike[str],
                         table_offset: int = DEFAULT_TABLE_OFFSET) -> PartitionTable:
    """Read a partition table file in any form. Raises InputError or ImageError."""
    data = read_input(path, "a partition table (binary, CSV or boot log)", MAX_TABLE_FILE)
    return parse_partition_table(data, str(path), table_offset)


def check_partition_table(table: PartitionTable, *, table_offset: int | None = None,
                          bootloader_size: int | None = None, bootloader_offset: int = 0x1000,
                          flash_size: int | None = None) -> list[Finding]:
    """Layout checks; the findings are added to `table.findings` and returned.

    - partitions overlap each other, or the bootloader / partition table sector;
    - app partitions not on a 64 KB boundary, others not on 4 KB;
    - the table offset is not 4 KB aligned, or the bootloader (at `bootloader_offset`, 0x1000 on ESP32)
      runs into it: bootloader_offset + bootloader_size must be <= table_offset;
    - duplicate labels or app subtypes, OTA apps without (or with a wrong-size) otadata;
    - custom (0x40-0xFE) and reserved (0x04-0x3F) types; unknown flag bits; past the end of the flash.
    """
    found: list[Finding] = []
    add = found.append
    toff = table.table_offset if table_offset is None else table_offset
    if toff % TABLE_SECTOR:
        add(Finding("error", "table-offset",
                    f"partition table offset 0x{toff:x} is not a multiple of 0x1000"))
    if bootloader_size is not None:
        bl_end = bootloader_offset + bootloader_size
        if bl_end > toff:
            add(Finding("error", "bootloader-size",
                        f"the bootloader (0x{bootloader_size:x} bytes at 0x{bootloader_offset:x}, ends at "
                        f"0x{bl_end:x}) overlaps the partition table at 0x{toff:x}: raise "
                        f"CONFIG_PARTITION_TABLE_OFFSET or make the bootloader smaller"))
        else:
            add(Finding("info", "bootloader-size",
                        f"bootloader ends at 0x{bl_end:x}, 0x{toff - bl_end:x} bytes below "
                        f"the table at 0x{toff:x}"))
    seen_labels: dict[str, Partition] = {}
    seen_app_sub: dict[int, Partition] = {}
    for p in table.partitions:
        where = quote(p.label, 40) + (f" (line {p.line})" if p.line and table.source == "csv" else "")
        if p.label in seen_labels:
            add(Finding("warning", "duplicate-label", f"{where}: label used twice"))
        seen_labels[p.label] = p
        if p.is_app:
            if p.subtype in seen_app_sub:
                add(Finding("error", "duplicate-app",
                            f"{where}: two app partitions with subtype {p.subtype_name}"))
            seen_app_sub[p.subtype] = p
            if p.offset % APP_ALIGN:
                add(Finding("error", "app-align",
                            f"{where}: app partition offset 0x{p.offset:x} is not on a 64 KB "
                            "(0x10000) boundary"))
        elif p.offset % DATA_ALIGN:
            add(Finding("error", "align",
                        f"{where}: offset 0x{p.offset:x} is not on a 4 KB (0x1000) boundary"))
        if p.size % DATA_ALIGN:
            add(Finding("warning", "size-align", f"{where}: size 0x{p.size:x} is not a multiple of 4 KB"))
        if p.type >= 0x40:
            add(Finding("info", "custom-type", f"{where}: custom data type 0x{p.type:02x}"))
        elif p.type > 0x03:
            add(Finding("error", "reserved-type",
                        f"{where}: type 0x{p.type:02x} is reserved (custom types are 0x40-0xFE)"))
        if p.flags & ~0x3:
            add(Finding("warning", "flags", f"{where}: unknown flag bits 0x{p.flags & ~0x3:x}"))
        if p.type not in (0x02, 0x03) and p.offset < toff + TABLE_SECTOR:
            add(Finding("error", "below-table",
                        f"{where}: starts at 0x{p.offset:x}, inside the bootloader / partition table area "
                        f"(first free offset 0x{toff + TABLE_SECTOR:x})"))
        if flash_size is not None and p.end > flash_size:
            add(Finding("error", "flash-size",
                        f"{where}: ends at 0x{p.end:x}, past the 0x{flash_size:x}-byte flash"))
    ordered = sorted(table.partitions, key=lambda p: p.offset)
    for a, b in itertools.pairwise(ordered):
        if b.offset < a.end and not (a.type in (0x02, 0x03) or b.type in (0x02, 0x03)):
            add(Finding("error", "overlap",
                        f"'{a.label}' (0x{a.offset:x}-0x{a.end:x}) overlaps "
                        f"'{b.label}' (0x{b.offset:x}-0x{b.end:x})"))
    if table.ota_apps:
        otadatas = [p for p in table.partitions if p.type == 0x01 and p.subtype == 0x00]
        if not otadatas:
            add(Finding("error", "no-otadata",
                        "OTA app partitions but no otadata partition: OTA cannot work"))
        elif len(otadatas) > 1:
            add(Finding("error", "otadata", "more than one otadata partition"))
        elif otadatas[0].size != OTADATA_SIZE:
            add(Finding("error", "otadata-size", f"otadata size is 0x{otadatas[0].size:x}, must be 0x2000"))
    if not table.apps:
        add(Finding("warning", "no-app", "no app partition: nothing to boot"))
    table.findings.extend(found)
    return found
