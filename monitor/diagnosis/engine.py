"""The diagnosis stage: rules over the event stream and the boot sessions, producing `finding` events.

`DiagnosisStage(patterns, rules=None, elf_sha256=None)` is a pipeline Stage. `process(ev)` returns `[ev]`
plus the findings that became certain with it (a sequence completed, a boot ended, a wrong ELF);
`finish()` returns the rest (rules over the whole log). Memory stays bounded on huge logs: per rule group
only counts, a few distinct values and a capped list of evidence lines; per boot a small summary.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from espwatch.diagnosis.checks import CHECKS, Check
from espwatch.diagnosis.rules import Rule, Selector, load_rules, render
from espwatch.diagnosis.signatures import Crash, CrashTracker
from espwatch.events import Event

MAX_GROUPS = 256
"""Groups per rule; occurrences beyond go into one overflow group."""
MAX_EVIDENCE = 40
"""Evidence lines kept per finding (the count is still exact)."""
MAX_VALUES = 16
"""Distinct values kept per field of a group (enough to tell constant from varying)."""
MAX_PENDING = 16
"""Pending `first` events per sequence rule."""
BOOT_HISTORY = 8
"""Boot summaries kept for rules that look back."""

_HOST_TIME = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?")


def host_seconds(host_time: str | None) -> float | None:
    """Seconds since midnight of a host timestamp such as 13:27:59.733 or [08:43:21]."""
    if not host_time:
        return None
    m = _HOST_TIME.search(host_time)
    if m is None:
        return None
    h, mi, s, frac = m.groups()
    return int(h) * 3600 + int(mi) * 60 + int(s) + (float(f"0.{frac}") if frac else 0.0)


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


def _norm(v: Any) -> str:
    """A value as compared by rules: hex numbers by value (0x0 == 0x00), lists joined, case-folded."""
    if isinstance(v, list):
        return ",".join(_norm(x) for x in v)
    s = str(v).strip()
    if s.lower().startswith("0x"):
        try:
            return hex(int(s, 16))
        except ValueError:
            pass
    return s.lower()


@dataclass
class BootInfo:
    """What the rules need to know about one boot (no events kept)."""

    number: int
    start_line: int
    end_line: int
    reset_reason: str | None = None
    reset_line: int | None = None
    host_start: float | None = None
    host_end: float | None = None
    partition_offset: str | None = None
    partition_label: str | None = None
    partition_line: int | None = None
    partitions: list[dict[str, str]] = field(default_factory=list)
    crash: Crash | None = None
    brownout_line: int | None = None
    events: int = 0

    @property
    def lines(self) -> int:
        return self.end_line - self.start_line + 1


@dataclass
class _Group:
    key: str
    count: int = 0
    boots: list[int] = field(default_factory=list)
    boot_count: int = 0
    evidence: list[int] = field(default_factory=list)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    """field -> normalised value -> first spelling seen."""
    overflow: set[str] = field(default_factory=set)
    present: dict[str, int] = field(default_factory=dict)
    first: dict[str, Any] = field(default_factory=dict)
    first_boot: int = 0
    last_line: int = 0

    def add(self, ev: Event, tracked: list[str]) -> None:
        self.count += 1
        if not self.boots or self.boots[-1] != ev.boot:
            self.boot_count += 1
            if len(self.boots) < MAX_EVIDENCE:
                self.boots.append(ev.boot)
        for line in ev.evidence or [ev.line]:
            if len(self.evidence) < MAX_EVIDENCE:
                self.evidence.append(line)
        self.last_line = max(self.last_line, ev.end_line)
        if self.count == 1:
            self.first = scalar_fields(ev.fields)
            self.first_boot = ev.boot
        for name in tracked:
            v = ev.fields.get(name)
            if v is None or v == []:
                continue
            self.present[name] = self.present.get(name, 0) + 1
            seen = self.values.setdefault(name, {})
            n = _norm(v)
            if n not in seen:
                if len(seen) < MAX_VALUES:
                    seen[n] = ", ".join(v) if isinstance(v, list) else str(v)
                else:
                    self.overflow.add(name)


@dataclass
class _Pending:
    boot: int
    line: int
    kind: str
    fields: dict[str, Any]
    text: str = ""


class DiagnosisStage:
    """Pipeline stage: see every event once, add `finding` (and `boot_loop`) events."""

    def __init__(self, patterns: Any = None, rules: list[Rule] | None = None,
                 elf_sha256: str | None = None) -> None:
        self.patterns = patterns
        self.rules = load_rules() if rules is None else list(rules)
        self.elf_sha256 = elf_sha256.strip().lower() if elf_sha256 else None
        self.codes = {r.code for r in self.rules}
        self._repeat = [r for r in self.rules if r.when == "repeat"]
        self._sequence = [r for r in self.rules if r.when == "sequence"]
        self._checks: list[Check] = [CHECKS[r.check](r, self) for r in self.rules
                                     if r.when == "check" and r.check]
        self._groups: dict[str, dict[str, _Group]] = {r.code: {} for r in self._repeat}
        self._pending: dict[str, deque[_Pending]] = {r.code: deque(maxlen=MAX_PENDING)
                                                     for r in self._sequence}
        self._crashes = CrashTracker()
        self.boot: BootInfo | None = None
        self.history: deque[BootInfo] = deque(maxlen=BOOT_HISTORY)
        self._seen: set[str] = set()
        self.findings = 0
        self.context: dict[str, Any] = {
            "psram": "the log does not say whether PSRAM is in use",
            "ota_offset": "OFFSET", "ota_slot_length": "SIZE", "ota_slot": "the slot",
        }
        """Log-level facts every template may use (a rule's own values take precedence)."""

    # -- stage interface ---------------------------------------------------------------------
    def process(self, ev: Event) -> list[Event]:
        if ev.code in self.codes and ev.kind in ("finding", "boot_loop"):
            return [ev]  # ours, coming back through the pipeline
        out: list[Event] = [ev]
        if self.boot is None or ev.boot != self.boot.number:
            out.extend(self._end_boot(next_start=ev.line))
            self.boot = BootInfo(ev.boot, ev.line, ev.end_line)
        self._note(ev)
        self._crashes.feed(ev)
        derived = self._sequence_event(ev)
        for chk in self._checks:
            derived.extend(chk.on_event(ev))
        self._repeat_event(ev)
        out.extend(self._with_derived(derived))
        return out

    def finish(self) -> list[Event]:
        out = self._end_boot()
        derived: list[Event] = []
        for chk in self._checks:
            derived.extend(chk.finish())
        out.extend(self._with_derived(derived))
        for rule in self._repeat:
            if rule.scope == "log":
                out.extend(self._evaluate(rule))
        out.sort(key=lambda e: (e.line, e.kind != "boot_loop"))
        return out

    # -- bookkeeping -------------------------------------------------------------------------
    def _note(self, ev: Event) -> None:
        b = self.boot
        assert b is not None
        b.events += 1
        b.start_line = min(b.start_line, ev.line)
        b.end_line = max(b.end_line, ev.end_line)
        t = host_seconds(ev.host_time)
        if t is not None:
            if b.host_start is None:
                b.host_start = t
            b.host_end = t
        f = ev.fields
        if ev.kind == "reset_reason" and b.reset_reason is None:
            b.reset_reason, b.reset_line = f.get("name"), ev.line
        elif ev.kind == "partition_table" and f.get("partitions"):
            b.partitions = [dict(r) for r in f["partitions"][:64]]
        elif ev.kind == "brownout" and b.brownout_line is None:
            b.brownout_line = ev.line
        elif ev.kind == "psram_found" and "psram" not in self._seen:
            self._seen.add("psram")
            self.context["psram"] = f"PSRAM is in use on this device (line {ev.line})"
        elif ev.kind == "ota_begin" and f.get("offset"):
            self.context["ota_offset"] = f["offset"]
            for row in b.partitions:
                try:
                    if int(row.get("offset", ""), 16) == int(f["offset"], 16):
                        self.context["ota_slot_length"] = "0x" + row.get("length", "").lstrip("0").lower()
                        self.context["ota_slot"] = row.get("label", "the slot")
                except ValueError:
                    continue
        elif ev.kind == "partition_loaded" and "offset" in f:
            b.partition_offset, b.partition_line = f["offset"], ev.line
            b.partition_label = f.get("label")

    def _end_boot(self, next_start: int | None = None) -> list[Event]:
        b = self.boot
        if b is None:
            return []
        if next_start is not None:
            b.end_line = max(b.end_line, next_start - 1)
        b.crash = self._crashes.take()
        derived: list[Event] = []
        for rule in self._sequence:
            derived.extend(self._sequence_boot_end(rule, b))
        for chk in self._checks:
            derived.extend(chk.on_boot_end(b))
        self.history.append(b)
        self.boot = None
        out = self._with_derived(derived)
        for rule in self._repeat:
            if rule.scope == "boot":
                out.extend(self._evaluate(rule))
        return out

    def _with_derived(self, derived: list[Event]) -> list[Event]:
        """Derived events (boot_loop) are events too: rules may select them."""
        out: list[Event] = []
        for d in derived:
            out.append(d)
            if d.kind != "finding":
                self._repeat_event(d)
                out.extend(self._sequence_event(d))
        return out

    # -- findings ----------------------------------------------------------------------------
    def make_finding(self, rule: Rule, evidence: list[int], boot: int, values: dict[str, Any],
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
        self.findings += 1
        return Event(kind=kind, line=lines[0], end_line=lines[-1], severity=rule.severity, code=rule.code,
                     text=text, fields=fields, boot=boot, title=rule.title,
                     hints=[text, " ".join(rule.hint.split()), *checks], evidence=lines)

    # -- repeat rules ------------------------------------------------------------------------
    def _tracked(self, rule: Rule) -> list[str]:
        names = [*rule.varying, *rule.constant]
        if rule.group_by:
            names.append(rule.group_by)
        names.extend(lk.field for lk in rule.lookups)
        return list(dict.fromkeys(names))

    def _repeat_event(self, ev: Event) -> None:
        for rule in self._repeat:
            if not rule.selects(ev):
                continue
            groups = self._groups[rule.code]
            key = _norm(ev.fields.get(rule.group_by, "")) if rule.group_by else ""
            if key not in groups and len(groups) >= MAX_GROUPS:
                key = "\0overflow"
            g = groups.get(key)
            if g is None:
                g = groups[key] = _Group(key)
            g.add(ev, self._tracked(rule))

    def _evaluate(self, rule: Rule) -> list[Event]:
        groups = self._groups[rule.code]
        self._groups[rule.code] = {}
        out = []
        for g in groups.values():
            if not self._holds(rule, g):
                continue
            values: dict[str, Any] = dict(g.first)
            for name, seen in g.values.items():
                spelled = list(seen.values())
                values[f"{name}_values"] = spelled
                if len(spelled) == 1:
                    values[name] = spelled[0]
            values.update(count=g.count, boot_count=g.boot_count, boots=list(g.boots),
                          first_line=g.evidence[0] if g.evidence else 0, last_line=g.last_line,
                          times="once" if g.count == 1 else f"{g.count} times")
            if rule.group_by:
                values["group"] = g.values.get(rule.group_by, {}).get(g.key, g.key) if g.key else ""
            out.append(self.make_finding(rule, g.evidence, g.first_boot, values))
        return out

    def _holds(self, rule: Rule, g: _Group) -> bool:
        if g.count < rule.min_count or (rule.max_count is not None and g.count > rule.max_count):
            return False
        if g.boot_count < rule.min_boots:
            return False
        for name in rule.varying:
            if len(g.values.get(name, {})) < 2:
                return False
        for name in rule.constant:
            if name in g.overflow or g.present.get(name, 0) != g.count or len(g.values.get(name, {})) != 1:
                return False
        return all(set(g.values.get(a, {})) != set(g.values.get(b, {})) for a, b in rule.differ)

    # -- sequence rules ----------------------------------------------------------------------
    @staticmethod
    def _any(selectors: list[Selector], ev: Event) -> bool:
        return any(s.accepts(ev) for s in selectors)

    def _sequence_event(self, ev: Event) -> list[Event]:
        out: list[Event] = []
        for rule in self._sequence:
            pend = self._pending[rule.code]
            while pend and ev.boot - pend[0].boot > rule.within_boots:
                pend.popleft()
            if self._any(rule.then, ev):
                hits = [p for p in pend if p.line < ev.line]
                if hits:
                    for p in hits:
                        pend.remove(p)
                    if not rule.absent:
                        out.append(self._sequence_finding(rule, hits, ev))
            if self._any(rule.first, ev):
                pend.append(_Pending(ev.boot, ev.line, ev.kind, scalar_fields(ev.fields),
                                     ev.text.strip()[:160]))
        return out

    def _sequence_finding(self, rule: Rule, firsts: list[_Pending], then: Event | None) -> Event:
        values: dict[str, Any] = dict(firsts[0].fields)
        values.update(first_kind=firsts[0].kind, first_line=firsts[0].line, first_count=len(firsts),
                      first_boot=firsts[0].boot, first_text=firsts[0].text)
        lines = [p.line for p in firsts]
        if then is not None:
            for k, v in scalar_fields(then.fields).items():
                values[f"then_{k}"] = v
            values.update(then_kind=then.kind, then_line=then.line, then_boot=then.boot,
                          then_text=then.text.strip()[:160])
            lines.append(then.line)
        return self.make_finding(rule, lines, firsts[0].boot, values)

    def _sequence_boot_end(self, rule: Rule, b: BootInfo) -> list[Event]:
        if not rule.absent:
            return []
        pend = self._pending[rule.code]
        mine = [p for p in pend if p.boot == b.number]
        for p in mine:
            pend.remove(p)
        return [self._sequence_finding(rule, mine, None)] if mine else []
