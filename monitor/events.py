"""The event model shared by every stage: detectors produce events, sinks render them.

The JSON form follows ../shared/docs/events.md (the `scan --json` contract): never rename kinds or keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from typing import Any

SEVERITIES: tuple[str, ...] = ("info", "warning", "error", "fatal")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_at_least(severity: str, minimum: str) -> bool:
    """True when `severity` is as severe as `minimum` or more."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[minimum]


@dataclass(slots=True)
class Frame:
    """One decoded code address. Unknown parts stay None (ROM, outside the ELF)."""

    addr: int
    function: str | None = None
    file: str | None = None
    line: int | None = None
    inlined: bool = False
    discriminator: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "addr": f"0x{self.addr:08x}",
            "function": self.function,
            "file": self.file,
            "line": self.line,
            "inlined": self.inlined,
        }


@dataclass(slots=True)
class Event:
    """Something the device said (or a diagnosis derived from it), anchored to input lines."""

    kind: str
    line: int
    end_line: int
    severity: str
    code: str
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    boot: int = 1
    frames: list[Frame] | None = None
    block: list[str] = field(default_factory=list)
    """Text of the lines after `line` that belong to the event (register dump, task list...)."""
    host_time: str | None = None
    title: str | None = None
    hints: list[str] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The `scan --json` object (events.md)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "line": self.line,
            "end_line": self.end_line,
            "severity": self.severity,
            "code": self.code,
            "boot": self.boot,
            "text": self.text,
            "fields": self.fields,
        }
        if self.host_time is not None:
            out["host_time"] = self.host_time
        if self.frames is not None:
            out["frames"] = [f.to_json() for f in self.frames]
        if self.kind == "finding":
            out["title"] = self.title
            out["hints"] = self.hints
            out["evidence"] = self.evidence
        return out
