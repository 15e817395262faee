"""Making `finding` events: a rule, the evidence lines it rests on, and the values its templates name."""

from __future__ import annotations

from typing import Any

from espwatch.diagnosis.rules import Rule, render
from espwatch.events import Event

MAX_EVIDENCE = 40
"""Evidence lines kept per finding (the count is still exact)."""


def scalar_fields(fields: dict[str, Any], limit: int = 24) -> dict[str, Any]:
    """The fields worth keeping for templates: strings, numbers, booleans and short lists of strings."""
    out: dict[str, Any] = {}
    for k, v in fields.items():
        if len(out) >= limit:
            break
        if isinstance(v, str | int | float | bool):
            out[k] = v if not isinstance(v, str) else v[:200]
        elif isinstance(v, list) and len(v) <= 8 and all(isinstance(x, str) for x in v):
            out[k] = [x[:100] for x in v]
    return out


class FindingFactory:
    """Builds finding events; holds the log-level facts every template may use (`context`)."""

    def __init__(self) -> None:
        self.context: dict[str, Any] = {
            "psram": "the log does not say whether PSRAM is in use",
            "ota_offset": "OFFSET", "ota_slot_length": "SIZE", "ota_slot": "the slot",
        }
        """Log-level facts (a rule's own values take precedence)."""
        self.seen: set[str] = set()
        self.count = 0

    def make(self, rule: Rule, evidence: list[int], boot: int, values: dict[str, Any],
             kind: str = "finding") -> Event:
        """A finding (or a derived event of `kind`) of `rule` resting on the `evidence` lines."""
        lines = sorted(set(evidence))[:MAX_EVIDENCE] or [0]
        vals = {**self.context, **values}
        for lk in rule.lookups:
            if lk.set not in vals or vals[lk.set] in (None, ""):
                res = lk.resolve(vals.get(lk.field))
                if res is not None:
                    vals[lk.set] = render(res, vals)
        checks = [render(c, vals) for c in rule.checks]
        text = render(rule.summary, vals)
        fields = {k: v for k, v in vals.items()
                  if isinstance(v, str | int | float | bool | list) and k != "text" and k not in self.context}
        fields.update({"rule": rule.code, "checks": checks, "references": list(rule.references)})
        self.count += 1
        return Event(kind=kind, line=lines[0], end_line=lines[-1], severity=rule.severity, code=rule.code,
                     text=text, fields=fields, boot=boot, title=rule.title,
                     hints=[text, " ".join(rule.hint.split()), *checks], evidence=lines)
