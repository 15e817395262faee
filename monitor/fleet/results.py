"""What the scan of one log gives a triage: small, picklable, JSON-able.

`LogResult` is the output of the per-log function (`espwatch.fleet.scan_log`): the log's size, boots,
device, firmware, and one `Occurrence` per thing worth grouping — the crash of a boot (by signature), a
finding (by code), a boot loop (by reset reason and what came before), an OTA failure (by error). The first
occurrence of each group key in a log carries an excerpt of the log's lines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

GROUP_KINDS = ("crash", "boot_loop", "finding", "ota")
"""The kinds of group, in the order they are shown."""


def iso_time(t: float | None) -> str | None:
    """Unix seconds as ISO 8601 in UTC with milliseconds (`2024-05-01T10:11:12.345Z`), None as None."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class Occurrence:
    """One thing found in one log, to be grouped with the same thing in other logs."""

    kind: str
    """One of GROUP_KINDS."""
    key: str
    """What groups it: crash signature, finding code, boot loop reason, OTA error."""
    title: str
    code: str | None
    boot: int
    line: int
    end_line: int
    time: float | None = None
    """When the device printed it (Unix seconds): the arrival-time sidecar, or a dated host timestamp."""
    firmware: str | None = None
    elf_sha256: str | None = None
    chip: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    """Kind-specific facts: a crash's cause and frames, a finding's summary, an OTA failure's text."""
    excerpt: list[str] | None = None
    """`NNN: text` lines of the log (first occurrence of its key in the log only)."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["time"] = iso_time(self.time)
        if out["excerpt"] is None:
            del out["excerpt"]
        return out


@dataclass(slots=True)
class LogResult:
    """The result of scanning one log (`error` set, and nothing else, when it could not be read)."""

    file: str
    source: str | None = None
    bytes: int = 0
    lines: int = 0
    boots: int = 0
    device: str | None = None
    device_from: str | None = None
    """Where the device id came from: `path`, `device_id`, `mac` or `hostname`."""
    mtime: float | None = None
    firmware: list[str] = field(default_factory=list)
    elf_sha256: list[str] = field(default_factory=list)
    chips: list[str] = field(default_factory=list)
    decoded_with: dict[str, str] = field(default_factory=dict)
    """Printed ELF SHA256 -> the ELF file whose names the crash signatures use."""
    occurrences: list[Occurrence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Warnings about this log (an unreadable times file, an ELF that could not be used)."""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `--per-file` record."""
        counts: dict[str, dict[str, int]] = {k: {} for k in GROUP_KINDS}
        for o in self.occurrences:
            counts[o.kind][o.key] = counts[o.kind].get(o.key, 0) + 1
        return {
            "record": "file", "file": self.file, "source": self.source, "error": self.error,
            "bytes": self.bytes, "lines": self.lines, "boots": self.boots,
            "device": self.device, "device_from": self.device_from, "file_time": iso_time(self.mtime),
            "firmware": self.firmware, "elf_sha256": self.elf_sha256, "chips": self.chips,
            "decoded_with": self.decoded_with,
            "crashes": [{"signature": o.key, "boot": o.boot, "line": o.line, "time": iso_time(o.time)}
                        for o in self.occurrences if o.kind == "crash"],
            "boot_loops": counts["boot_loop"], "findings": counts["finding"], "ota_failures": counts["ota"],
            "notes": self.notes,
        }
