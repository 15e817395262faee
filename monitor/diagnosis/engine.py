"""The diagnosis stage: rules over the event stream and the boot sessions, producing `finding` events.

`DiagnosisStage(patterns, rules, elf=None)` is a pipeline Stage. `process(ev, boot)` returns `[ev]` plus the
findings that became certain with it (a sequence completed, a boot ended, a wrong ELF); `finish()` returns
the rest (rules over the whole log). Boots are the pipeline's `BootSession`s (sessions.py): the stage adds
only each boot's crash. Rules are indexed by the event kinds their selectors name, so an event meets only
the rules that can use it. Memory stays bounded on huge logs: per rule group only counts, a few distinct
values and a capped list of evidence lines.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from espwatch.diagnosis.checks import CHECKS, Check
from espwatch.diagnosis.findings import MAX_EVIDENCE, FindingFactory, scalar_fields
from espwatch.diagnosis.rules import Rule, Selector
from espwatch.diagnosis.signatures import CrashTracker
from espwatch.events import Event

if TYPE_CHECKING:
    from espwatch.enrich import ElfChoice
    from espwatch.patterns import PatternSet
    from espwatch.sessions import BootSession

MAX_GROUPS = 256
"""Groups per rule; occurrences beyond go into one overflow group."""
MAX_VALUES = 16
"""Distinct values kept per field of a group (enough to tell constant from varying)."""
MAX_PENDING = 16
"""Pending `first` events per sequence rule."""
DIAGNOSIS_KINDS = ("finding", "boot_loop")
"""The kinds this stage produces."""
_NOTED_KINDS = frozenset(("psram_found", "ota_begin"))
"""The kinds `DiagnosisStage._note` takes facts from."""


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


def _kinds(selectors: list[Selector]) -> set[str]:
    return {k for s in selectors for k in s.kinds}


def _index(rules: list[Rule], kinds_of: Any) -> dict[str, list[Rule]]:
    """kind -> the rules (in file order) whose selectors name it."""
    out: dict[str, list[Rule]] = {}
    for rule in rules:
        for kind in sorted(kinds_of(rule)):
            out.setdefault(kind, []).append(rule)
    return out


class DiagnosisStage:
    """Pipeline stage: see every event once, add `finding` (and `boot_loop`) events."""

    def __init__(self, patterns: PatternSet | None = None, rules: list[Rule] | None = None,
                 elf: ElfChoice | None = None, checks: dict[str, type[Check]] | None = None) -> None:
        if rules is None:
            from espwatch.diagnosis import load_rules

            rules = load_rules()
        self.rules = list(rules)
        self.codes = {r.code for r in self.rules}
        self.findings = FindingFactory()
        registry = CHECKS if checks is None else checks
        repeat = [r for r in self.rules if r.when == "repeat"]
        sequence = [r for r in self.rules if r.when == "sequence"]
        self._repeat_log = [r for r in repeat if r.scope == "log"]
        self._repeat_boot = [r for r in repeat if r.scope == "boot"]
        self._repeat_by_kind = _index(repeat, lambda r: _kinds(r.select))
        self._sequence = sequence
        self._absent = [r for r in sequence if r.absent]
        # kind -> (rule, its `then` selectors naming the kind, its `first` selectors naming the kind)
        self._sequence_by_kind = {
            kind: [(r, [s for s in r.then if kind in s.kinds], [s for s in r.first if kind in s.kinds])
                   for r in rules]
            for kind, rules in _index(sequence, lambda r: _kinds(r.first) | _kinds(r.then)).items()}
        self._repeat_selectors = {kind: [(r, [s for s in r.select if kind in s.kinds]) for r in rules]
                                  for kind, rules in self._repeat_by_kind.items()}
        self._checks: list[Check] = [registry[r.check](r, self.findings, elf) for r in self.rules
                                     if r.when == "check" and r.check]
        self._checks_any = [c for c in self._checks if c.kinds is None]
        self._checks_by_kind: dict[str, list[Check]] = {}
        self._checks_of_kind: dict[str, list[Check]] = {}
        """kind -> `_checks_for(kind)`, remembered."""
        for c in self._checks:
            for kind in sorted(c.kinds or ()):
                self._checks_by_kind.setdefault(kind, []).append(c)
        self._groups: dict[str, dict[str, _Group]] = {r.code: {} for r in repeat}
        self._tracked = {r.code: self._tracked_fields(r) for r in repeat}
        self._pending: dict[str, deque[_Pending]] = {r.code: deque(maxlen=MAX_PENDING) for r in sequence}
        self._crashes = CrashTracker(patterns.crash_ranks if patterns is not None else {})
        self.boot: BootSession | None = None

    # -- stage interface ---------------------------------------------------------------------
    def fork(self, memo: dict[int, Any] | None = None) -> DiagnosisStage:
        """A copy to run ahead on (what-if: `finish()` on the copy says what the end of input would add
        now). Rules, patterns and the ELF are shared; `memo` maps objects to their copies (the pipeline
        passes the current boot's copy). Bounded: groups, pending sequences and check state are small."""
        memo = dict(memo or {})
        for rule in self.rules:
            memo[id(rule)] = rule
        memo[id(self._crashes.ranks)] = self._crashes.ranks
        for chk in self._checks:
            if chk.elf is not None:
                memo[id(chk.elf)] = chk.elf
        return copy.deepcopy(self, memo)

    def process(self, ev: Event, boot: BootSession) -> list[Event]:
        if ev.code in self.codes and ev.kind in DIAGNOSIS_KINDS:
            return [ev]  # ours, coming back through the pipeline
        out: list[Event] = [ev]
        if self.boot is None or boot.number != self.boot.number:
            out.extend(self._end_boot())
            self.boot = boot
        kind = ev.kind
        if kind in _NOTED_KINDS:
            self._note(ev, boot)
        self._crashes.feed(ev)
        derived = self._sequence_event(ev) if kind in self._sequence_by_kind else []
        checks = self._checks_of_kind.get(kind)
        if checks is None:
            checks = self._checks_of_kind[kind] = self._checks_for(kind)
        for chk in checks:
            derived.extend(chk.on_event(ev, boot))
        if kind in self._repeat_selectors:
            self._repeat_event(ev)
        if derived:
            out.extend(self._with_derived(derived))
        return out

    def finish(self) -> list[Event]:
        out = self._end_boot()
        derived: list[Event] = []
        for chk in self._checks:
            derived.extend(chk.finish())
        out.extend(self._with_derived(derived))
        for rule in self._repeat_log:
            out.extend(self._evaluate(rule))
        out.sort(key=lambda e: (e.line, e.kind != "boot_loop"))
        return out

    # -- bookkeeping -------------------------------------------------------------------------
    def _checks_for(self, kind: str) -> list[Check]:
        by_kind = self._checks_by_kind.get(kind)
        if not by_kind:
            return self._checks_any
        if not self._checks_any:
            return by_kind
        return [c for c in self._checks if c in by_kind or c.kinds is None]

    def _note(self, ev: Event, boot: BootSession) -> None:
        """Log-level facts the finding templates may use (from the events of _NOTED_KINDS)."""
        f = ev.fields
        ctx = self.findings.context
        if ev.kind == "psram_found" and "psram" not in self.findings.seen:
            self.findings.seen.add("psram")
            ctx["psram"] = f"PSRAM is in use on this device (line {ev.line})"
        elif ev.kind == "ota_begin" and f.get("offset"):
            ctx["ota_offset"] = f["offset"]
            try:
                offset = int(f["offset"], 16)
            except ValueError:
                return
            part = boot.partition_table.at(offset) if boot.partition_table is not None else None
            if part is not None:
                ctx["ota_slot_length"] = f"0x{part.size:x}"
                ctx["ota_slot"] = part.label or "the slot"

    def _end_boot(self) -> list[Event]:
        b = self.boot
        if b is None:
            return []
        b.crash = self._crashes.take()
        derived: list[Event] = []
        for rule in self._absent:
            derived.extend(self._sequence_boot_end(rule, b))
        for chk in self._checks:
            derived.extend(chk.on_boot_end(b))
        self.boot = None
        out = self._with_derived(derived)
        for rule in self._repeat_boot:
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

    # -- repeat rules ------------------------------------------------------------------------
    @staticmethod
    def _tracked_fields(rule: Rule) -> list[str]:
        names = [*rule.varying, *rule.constant]
        if rule.group_by:
            names.append(rule.group_by)
        names.extend(lk.field for lk in rule.lookups)
        return list(dict.fromkeys(names))

    def _repeat_event(self, ev: Event) -> None:
        for rule, selectors in self._repeat_selectors.get(ev.kind, ()):
            if not self._any(selectors, ev):
                continue
            groups = self._groups[rule.code]
            key = _norm(ev.fields.get(rule.group_by, "")) if rule.group_by else ""
            if key not in groups and len(groups) >= MAX_GROUPS:
                key = "\0overflow"
            g = groups.get(key)
            if g is None:
                g = groups[key] = _Group(key)
            g.add(ev, self._tracked[rule.code])

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
            out.append(self.findings.make(rule, g.evidence, g.first_boot, values))
        return out

    @staticmethod
    def _holds(rule: Rule, g: _Group) -> bool:
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
        for s in selectors:  # noqa: SIM110 - a loop costs less than any() over a generator here
            if s.accepts(ev):
                return True
        return False

    def _sequence_event(self, ev: Event) -> list[Event]:
        out: list[Event] = []
        for rule, then, first in self._sequence_by_kind.get(ev.kind, ()):
            pend = self._pending[rule.code]
            while pend and ev.boot - pend[0].boot > rule.within_boots:
                pend.popleft()
            if then and pend and self._any(then, ev):  # (nothing pending: nothing to complete)
                hits = [p for p in pend if p.line < ev.line]
                if hits:
                    for p in hits:
                        pend.remove(p)
                    if not rule.absent:
                        out.append(self._sequence_finding(rule, hits, ev))
            if first and self._any(first, ev):
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
        return self.findings.make(rule, lines, firsts[0].boot, values)

    def _sequence_boot_end(self, rule: Rule, b: BootSession) -> list[Event]:
        pend = self._pending[rule.code]
        mine = [p for p in pend if p.boot == b.number]
        for p in mine:
            pend.remove(p)
        return [self._sequence_finding(rule, mine, None)] if mine else []
