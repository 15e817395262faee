"""The `otadata` partition: which OTA slot the bootloader picks next, and why.

Layout (ESP-IDF `esp_flash_partitions.h`): two 4 KB sectors, each starting with an
`esp_ota_select_entry_t` {uint32 ota_seq; uint8 seq_label[20]; uint32 ota_state; uint32 crc}, where
crc = esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4) (`bootloader_common_ota_select_crc`), which equals
`zlib.crc32(ota_seq_le_bytes, 0xFFFFFFFF)`.

Selection (`bootloader_utility_get_selected_boot_partition`, `bootloader_common_get_active_otadata`):
an entry is *invalid* when ota_seq is 0xFFFFFFFF or its state is INVALID or ABORTED; it is *valid*
when not invalid and the CRC matches. Of the valid entries the one with the highest ota_seq wins and the
slot is (ota_seq - 1) % number_of_ota_app_partitions. With both entries invalid the bootloader boots the
factory app (or tries ota_0 when there is none). With CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE the bootloader
first turns every PENDING_VERIFY entry into ABORTED (the new app did not confirm itself before this reset).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from espwatch.errors import ImageError
from espwatch.image._files import MiB, read_input
from espwatch.image.app_image import Finding
from espwatch.image.partition_table import PartitionTable

SECTOR = 0x1000
ENTRY_FMT = "<I20sII"
ENTRY_LEN = 32
UINT32_MAX = 0xFFFFFFFF

STATES: dict[int, str] = {
    0: "NEW", 1: "PENDING_VERIFY", 2: "VALID", 3: "INVALID", 4: "ABORTED", UINT32_MAX: "UNDEFINED",
}
MAX_OTADATA_FILE = 256 * MiB


def ota_seq_crc(seq: int) -> int:
    """CRC the bootloader stores for an ota_seq value."""
    return zlib.crc32(struct.pack("<I", seq & UINT32_MAX), UINT32_MAX) & UINT32_MAX


@dataclass
class OtaEntry:
    sector: int  # 0 or 1
    ota_seq: int
    seq_label: bytes
    ota_state: int
    crc: int

    @property
    def blank(self) -> bool:
        return self.ota_seq == UINT32_MAX and self.crc == UINT32_MAX and self.ota_state == UINT32_MAX

    @property
    def state_name(self) -> str:
        return STATES.get(self.ota_state, f"unknown 0x{self.ota_state:x}")

    @property
    def crc_ok(self) -> bool:
        return self.crc == ota_seq_crc(self.ota_seq)

    @property
    def invalid(self) -> bool:
        """`bootloader_common_ota_select_invalid`: empty seq, or marked INVALID / ABORTED."""
        return self.ota_seq == UINT32_MAX or self.ota_state in (3, 4)

    @property
    def valid(self) -> bool:
        """`bootloader_common_ota_select_valid`: not invalid and the CRC matches."""
        return not self.invalid and self.crc_ok

    def why_not(self) -> str:
        if self.blank:
            return "blank (erased)"
        if self.ota_seq == UINT32_MAX:
            return "ota_seq is 0xFFFFFFFF"
        if self.ota_state in (3, 4):
            return f"state {self.state_name}"
        if not self.crc_ok:
            return f"CRC mismatch (stored 0x{self.crc:08x}, expected 0x{ota_seq_crc(self.ota_seq):08x})"
        return "valid"

    def to_json(self) -> dict[str, Any]:
        return {"sector": self.sector, "ota_seq": self.ota_seq, "seq_label": self.seq_label.hex(),
                "ota_state": self.ota_state, "state": self.state_name, "crc": self.crc,
                "crc_expected": ota_seq_crc(self.ota_seq), "crc_ok": self.crc_ok, "blank": self.blank,
                "valid": self.valid, "reason": self.why_not()}


@dataclass
class BootChoice:
    """What the bootloader boots: "ota" (slot N), "factory", or "ota_0 (fallback)"."""

    target: str  # "ota_1", "factory", ...
    slot: int | None  # OTA slot index, None for factory
    entry: int | None  # sector of the deciding entry
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class OtaData:
    path: str | None
    entries: list[OtaEntry]
    ota_slots: int | None  # number of OTA app partitions
    has_factory: bool | None
    choice: BootChoice
    choice_with_rollback: BootChoice  # with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    findings: list[Finding] = field(default_factory=list)

    def verdict(self) -> str:
        text = f"next boot: {self.choice.target} ({self.choice.reason})"
        if self.choice_with_rollback.target != self.choice.target:
            text += (f"; with app rollback enabled: {self.choice_with_rollback.target} "
                     f"({self.choice_with_rollback.reason})")
        return text

    @property
    def valid(self) -> bool:
        return not [f for f in self.findings if f.level == "error"]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "ota_slots": self.ota_slots, "has_factory": self.has_factory,
                "entries": [e.to_json() for e in self.entries], "next_boot": self.choice.to_json(),
                "next_boot_with_rollback": self.choice_with_rollback.to_json(), "verdict": self.verdict(),
                "findings": [asdict(f) for f in self.findings]}


def _choose(entries: list[OtaEntry], slots: int | None, has_factory: bool | None) -> BootChoice:
    e0, e1 = entries
    fallback = "factory" if has_factory else (
        "ota_0" if has_factory is False else "factory (or ota_0 if none)")
    if (e0.invalid and e1.invalid) or slots == 0:
        why = "no OTA app partitions" if slots == 0 else "both entries invalid or blank: " \
            f"[0] {e0.why_not()}, [1] {e1.why_not()}"
        return BootChoice(fallback, None if fallback.startswith("factory") else 0, None, why)
    valid = [e for e in entries if e.valid]
    if not valid:
        why = f"no valid entry: [0] {e0.why_not()}, [1] {e1.why_not()}"
        return BootChoice("factory" if has_factory is not False else "factory (none: tries all partitions)",
                          None, None, why)
    best = max(valid, key=lambda e: e.ota_seq)  # ties: entry 0 (max() keeps the first)
    others = [e for e in entries if e is not best]
    other = others[0]
    other_txt = f"[{other.sector}] seq {other.ota_seq}: {other.why_not()}" if not other.valid \
        else f"[{other.sector}] seq {other.ota_seq} is lower"
    if other.valid and other.ota_seq == best.ota_seq:
        other_txt = f"[{other.sector}] has the same seq"
    if slots:
        slot = (best.ota_seq - 1) % slots
        return BootChoice(f"ota_{slot}", slot, best.sector,
                          f"entry [{best.sector}] seq {best.ota_seq} state {best.state_name} wins "
                          f"({other_txt}); ({best.ota_seq} - 1) % {slots} = {slot}")
    return BootChoice(f"seq {best.ota_seq}", None, best.sector,
                      f"entry [{best.sector}] seq {best.ota_seq} wins ({other_txt}); "
                      "slot = (seq - 1) % number of OTA partitions: give --ota-slots or --partitions")


def parse_otadata(data: bytes, *, ota_slots: int | None = None, table: PartitionTable | None = None,
                  path: str | None = None) -> OtaData:
    """Decode the two otadata entries and say which slot boots next.

    `data` is the otadata partition (0x2000 bytes), or a whole-flash dump when `table` has an otadata
    partition inside it. The number of OTA slots comes from `ota_slots` or the table.
    """
    findings: list[Finding] = []
    has_factory: bool | None = None
    if table is not None:
        if ota_slots is None:
            ota_slots = len(table.ota_apps)
        has_factory = table.factory is not None
        od = table.otadata
        if od is not None and len(data) > 2 * SECTOR and len(data) >= od.offset + 2 * SECTOR:
            data = data[od.offset:od.offset + od.size]
            findings.append(Finding("info", "flash-dump", f"otadata read at 0x{od.offset:x} of a flash dump"))
    if len(data) < SECTOR + ENTRY_LEN:
        raise ImageError(f"{len(data)} bytes: otadata needs two 4 KB sectors (0x2000 bytes), "
                         f"the second entry starts at 0x1000")
    if len(data) != 2 * SECTOR:
        findings.append(Finding("warning", "size", f"{len(data)} bytes, otadata is normally 0x2000"))
    entries = []
    for i in (0, 1):
        seq, label, state, crc = struct.unpack_from(ENTRY_FMT, data, i * SECTOR)
        entries.append(OtaEntry(i, seq, label, state, crc))
    for e in entries:
        if not e.blank and not e.crc_ok and e.ota_seq != UINT32_MAX:
            findings.append(Finding("error", "crc", f"entry [{e.sector}] seq {e.ota_seq}: {e.why_not()}"))
        if e.ota_state not in STATES:
            findings.append(Finding("error", "state",
                                    f"entry [{e.sector}] has unknown state 0x{e.ota_state:x}"))
    if all(e.blank for e in entries):
        findings.append(Finding("info", "blank",
                                "both entries are blank (erased otadata: no OTA update yet)"))
    choice = _choose(entries, ota_slots, has_factory)
    rolled = [OtaEntry(e.sector, e.ota_seq, e.seq_label, 4 if e.ota_state == 1 else e.ota_state, e.crc)
              for e in entries]
    choice_rb = _choose(rolled, ota_slots, has_factory)
    if choice_rb.target != choice.target:
        choice_rb.reason = "PENDING_VERIFY is turned into ABORTED at boot; " + choice_rb.reason
    if ota_slots is not None and choice.slot is not None and choice.slot >= max(ota_slots, 1):
        findings.append(Finding("error", "slot",
                                f"slot {choice.slot} does not exist ({ota_slots} OTA slots)"))
    return OtaData(path, entries, ota_slots, has_factory, choice, choice_rb, findings)


def load_otadata(path: str | os.PathLike[str], *, ota_slots: int | None = None,
                 table: PartitionTable | None = None) -> OtaData:
    data = read_input(path, "an otadata partition", MAX_OTADATA_FILE)
    return parse_otadata(data, ota_slots=ota_slots, table=table, path=str(path))


def build_otadata(entries: list[tuple[int, int] | None]) -> bytes:
    """Two sectors with the given (ota_seq, ota_state) entries (None: blank); for tests and tooling."""
    out = b""
    for ent in entries:
        sector = bytearray(b"\xff" * SECTOR)
        if ent is not None:
            seq, state = ent
            sector[:ENTRY_LEN] = struct.pack(ENTRY_FMT, seq, b"\xff" * 20, state, ota_seq_crc(seq))
        out += bytes(sector)
    return out
