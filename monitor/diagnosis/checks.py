"""Rules that data cannot say: each `when = "check"` rule names one of these classes in `check`.

- `image_too_big`: an image length against the slot it was meant for (named from the partition table the
  bootloader printed in the same boot).
- `elf_mismatch`: the `ELF file SHA256` the app printed against the SHA-256 of the ELF the user gave.
- `crash_repeat`: the same crash signature (cause + top frames) in several boots, grouped with a count.
- `boot_loop`: several resets in a short time with the same reason or after the same crash; emits the
  derived `boot_loop` event kind (events.md), which data rules then explain (e.g. EW904, EW920).
- `rollback`: a rollback message, or a partition switch back to the slot the device ran before.
- `cache_disabled`: a cache-disabled access (the panic says so), or an SPI flash guard frame in the backtrace
  of the boot's crash when that crash is a CPU exception; a guard frame elsewhere (a watchdog report, a stack
  overflow, a task list) is no evidence of a cache-disabled access.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import regex

from espwatch.diagnosis.signatures import BACKTRACE_LINES
from espwatch.events import Event

if TYPE_CHECKING:
    from espwatch.diagnosis.findings import FindingFactory
    from espwatch.diagnosis.rules import Rule
    from espwatch.enrich import ElfChoice
    from espwatch.sessions import BootSession


class Check:
    """Base: sees the events of its `kinds` (None: every event) and every boot end; returns findings when
    they are certain. It gets its rule, the finding factory and the ELF given to espwatch, nothing else."""

    kinds: frozenset[str] | None = frozenset()
    """Event kinds `on_event` wants; the rule's `select` kinds take precedence when it has any."""

    def __init__(self, rule: Rule, findings: FindingFactory, elf: ElfChoice | None = None) -> None:
        self.rule = rule
        self.findings = findings
        self.elf = elf
        self.params = rule.params
        if rule.select:
            self.kinds = frozenset(k for s in rule.select for k in s.kinds)

    def on_event(self, ev: Event, boot: BootSession) -> list[Event]:
        return []

    def on_boot_end(self, boot: BootSession) -> list[Event]:
        return []

    def finish(self) -> list[Event]:
        return []

    def finding(self, evidence: list[int], boot: int, values: dict[str, Any], kind: str = "finding") -> Event:
        return self.findings.make(self.rule, evidence, boot, values, kind)


def _int(value: Any) -> int | None:
    if value is None:
        return None
    s = str(value).strip()
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    except ValueError:
        return None


class ImageTooBig(Check):
    """`Image length N doesn't fit in partition length M` (and any event with both sizes)."""

    kinds = None

    def on_event(self, ev: Event, boot: BootSession) -> list[Event]:
        if self.rule.select and not self.rule.selects(ev):
            return []
        image, slot_len = _int(ev.fields.get("image_length")), _int(ev.fields.get("partition_length"))
        if image is None or slot_len is None or image <= slot_len:
            return []
        evidence = [ev.line]
        table = boot.partition_table
        slots = [p.label or "?" for p in table.partitions if p.size == slot_len and p.is_app] if table else []
        values = {"image_length": image, "partition_length": slot_len, "over": image - slot_len,
                  "over_pct": f"{100 * (image - slot_len) / slot_len:.1f}",
                  "image_kib": f"{image / 1024:.0f}", "partition_kib": f"{slot_len / 1024:.0f}",
                  "slots": slots or ["(partition table not in the log)"]}
        return [self.finding(evidence, ev.boot, values)]


class ElfMismatch(Check):
    """The app printed `ELF file SHA256: 3cd6b8c3...`; the ELF given to espwatch hashes differently."""

    kinds = frozenset({"app_info"})

    def __init__(self, rule: Rule, findings: FindingFactory, elf: ElfChoice | None = None) -> None:
        super().__init__(rule, findings, elf)
        self.reported: set[str] = set()

    def on_event(self, ev: Event, boot: BootSession) -> list[Event]:
        printed = ev.fields.get("elf_sha256")
        if self.elf is None or not isinstance(printed, str):
            return []
        p = printed.lower()
        if self.elf.matches(p) is not False or p in self.reported or len(self.reported) >= 8:
            return []
        self.reported.add(p)
        given = self.elf.sha256
        values = {"printed": p, "given": given, "given_prefix": given[:len(p)]}
        return [self.finding([ev.line], ev.boot, values)]


class CrashRepeat(Check):
    """One crash signature in several boots."""

    def __init__(self, rule: Rule, findings: FindingFactory, elf: ElfChoice | None = None) -> None:
        super().__init__(rule, findings, elf)
        self.min_boots = int(self.params.get("min_boots", 2))
        self.max_signatures = int(self.params.get("max_signatures", 200))
        self.groups: dict[str, dict[str, Any]] = {}

    def on_boot_end(self, boot: BootSession) -> list[Event]:
        c = boot.crash
        if c is None:
            return []
        key = c.key
        g = self.groups.get(key)
        if g is None:
            if len(self.groups) >= self.max_signatures:
                return []
            g = self.groups[key] = {"crash": c, "count": 0, "boots": [], "evidence": [], "consecutive": True}
        if g["boots"] and g["boots"][-1] != boot.number - 1:
            g["consecutive"] = False
        g["count"] += 1
        if len(g["boots"]) < 40:
            g["boots"].append(boot.number)
            g["evidence"].extend(c.evidence[:4])
        return []

    def finish(self) -> list[Event]:
        out = []
        for g in self.groups.values():
            if g["count"] < self.min_boots:
                continue
            c = g["crash"]
            values = {"cause": c.cause, "top": c.top, "signature": c.key, "count": g["count"],
                      "boots": g["boots"], "kind": c.kind,
                      "pattern": "in consecutive boots" if g["consecutive"] else "in separate boots",
                      "corrupted": c.corrupted}
            out.append(self.finding(g["evidence"], g["boots"][0], values))
        return out


class BootLoop(Check):
    """Several resets in a short time, with the same reset reason or right after the same crash.

    Each boot gets a key: `crash:<signature>` when the boot before it crashed, else `reset:<reason>` (reasons
    matching `ignore_reasons`, e.g. POWERON, break a run). A run of consecutive boots with one key is a loop
    when it has enough resets (`same_crash_min` for crash keys; `min_resets`, or the first matching entry of
    `min_resets_when` by reason) and they came quickly: by host timestamps at most `window_seconds` apart on
    average, or without timestamps each boot shorter than `max_boot_lines` lines.
    """

    def __init__(self, rule: Rule, findings: FindingFactory, elf: ElfChoice | None = None) -> None:
        super().__init__(rule, findings, elf)
        p = self.params
        self.failure_kinds = set(p.get("failure_kinds", []))
        self.kinds = frozenset(self.failure_kinds)
        self.failure_min = int(p.get("failure_min", 3))
        self.failures: dict[int, Event] = {}
        self.frun_key: str | None = None
        self.frun: list[BootSession] = []
        self.frun_count = 0
        self.frun_cause: Any = None
        self.looped: deque[tuple[int, int]] = deque(maxlen=8)
        """First and last boot of recent failure loops: a reset loop over the same boots says nothing more."""
        self.min_resets = int(p.get("min_resets", 3))
        self.same_crash_min = int(p.get("same_crash_min", 2))
        self.when = [(regex.compile(r), int(n)) for r, n in p.get("min_resets_when", [])]
        self.ignore = regex.compile(str(p.get("ignore_reasons", "POWERON|^$")))
        self.window = float(p.get("window_seconds", 120))
        self.max_lines = int(p.get("max_boot_lines", 400))
        self.kind = str(p.get("event_kind", "boot_loop"))
        self.prev: BootSession | None = None
        self.run_key: str | None = None
        self.run: list[BootSession] = []
        self.run_count = 0
        self.run_cause: Any = None

    def on_event(self, ev: Event, boot: BootSession) -> list[Event]:
        if ev.kind in self.failure_kinds and ev.boot not in self.failures:
            self.failures[ev.boot] = ev
            for old in [b for b in self.failures if b < ev.boot - 2]:
                del self.failures[old]
        return []

    def _key(self, boot: BootSession) -> tuple[str | None, Any]:
        reason = boot.reset_reason
        if reason is None or self.ignore.search(reason):
            return None, None
        prev = self.prev
        if prev is not None and prev.number == boot.number - 1:
            if prev.crash is not None:
                return f"crash:{prev.crash.key}", prev.crash
            if prev.brownout_line is not None:
                return "brownout", "brownout"
        return f"reset:{reason}", None

    def _failure_run(self, boot: BootSession) -> list[Event]:
        """Boots that each stop at the same ROM or bootloader error: a loop whatever the reset reason says."""
        fail = self.failures.pop(boot.number, None)
        key = f"failure:{fail.code}:{fail.text.strip()[-60:]}" if fail is not None else None
        if key is not None and key == self.frun_key:
            self.frun_count += 1
            if len(self.frun) < 40:
                self.frun.append(boot)
            else:
                self.frun[-1] = boot
            return []
        out = self._flush_failures()
        if key is not None:
            self.frun_key, self.frun, self.frun_count, self.frun_cause = key, [boot], 1, fail
        return out

    def _flush_failures(self) -> list[Event]:
        run, key, count, fail = self.frun, self.frun_key, self.frun_count, self.frun_cause
        self.frun, self.frun_key, self.frun_count, self.frun_cause = [], None, 0, None
        if not run or key is None or count < self.failure_min or not self._quick(run)[0]:
            return []
        self.looped.append((run[0].number, run[-1].number))
        return self._emit(run, key, count, fail)

    def on_boot_end(self, boot: BootSession) -> list[Event]:
        out: list[Event] = self._failure_run(boot)
        key, crash = self._key(boot)
        if key is None or key != self.run_key:
            out.extend(self._flush())
            if key is not None:
                self.run_key, self.run, self.run_count, self.run_cause = key, [boot], 1, crash
        else:
            self.run_count += 1
            if len(self.run) < 40:
                self.run.append(boot)
            else:
                self.run[-1] = boot
        self.prev = boot
        return out

    def finish(self) -> list[Event]:
        return self._flush_failures() + self._flush()

    def _needed(self, key: str, reason: str | None) -> int:
        if key.startswith("crash:") or key == "brownout":
            return self.same_crash_min
        for rx, n in self.when:
            if reason and rx.search(reason):
                return n
        return self.min_resets

    def _quick(self, run: list[BootSession]) -> tuple[bool, str]:
        starts = [b.host_start for b in run]
        if all(s is not None for s in starts) and len(run) > 1:
            span = starts[-1] - starts[0]  # type: ignore[operator]
            if span < 0:
                span += 86400
            avg = span / (len(run) - 1)
            return avg <= self.window, f"about {avg:.0f} s apart"
        longest = max(b.lines for b in run[:-1]) if len(run) > 1 else run[0].lines
        return longest <= self.max_lines, f"each boot at most {longest} lines long"

    def _flush(self) -> list[Event]:
        run, key, count, crash = self.run, self.run_key, self.run_count, self.run_cause
        self.run, self.run_key, self.run_count, self.run_cause = [], None, 0, None
        if not run or key is None:
            return []
        reason = run[0].reset_reason
        if count < self._needed(key, reason):
            return []
        if not self._quick(run)[0]:
            return []
        spans = list(self.looped)
        if self.frun and self.frun_count >= self.failure_min:
            spans.append((self.frun[0].number, self.frun[-1].number))
        if any(lo <= run[0].number and run[-1].number <= hi for lo, hi in spans):
            return []
        return self._emit(run, key, count, crash)

    def _emit(self, run: list[BootSession], key: str, count: int, crash: Any) -> list[Event]:
        reason = run[0].reset_reason
        _, pace = self._quick(run)
        evidence = [b.reset_line or b.start_line for b in run]
        if key.startswith("failure:"):
            cause, what = "failure", f"{crash.text.strip()} ({crash.kind}, {crash.code})"
            before = f"each boot stops at `{what}`"
            evidence = sorted(set(evidence) | {crash.line})
        elif crash == "brownout":
            cause, what = "brownout", "a brownout"
            evidence = sorted(set(evidence) | {b.brownout_line for b in run if b.brownout_line})
        elif crash is not None:
            cause, what = "crash", crash.key
            evidence = sorted(set(evidence) | set(crash.evidence[:2]))
        else:
            cause, what = "reset", "no crash printed"
        if cause != "failure":
            before = f"before each: {what}"
        values = {"resets": count, "reason": reason or "?", "cause": cause, "pace": pace, "crash": what,
                  "before": before,
                  "boots": [b.number for b in run], "first_boot": run[0].number, "last_boot": run[-1].number}
        return [self.finding(evidence, run[0].number, values, kind=self.kind)]


class Rollback(Check):
    """A rollback message, or a partition switch back to the slot the device ran before."""

    kinds = frozenset({"rollback", "partition_switch"})

    def __init__(self, rule: Rule, findings: FindingFactory, elf: ElfChoice | None = None) -> None:
        super().__init__(rule, findings, elf)
        # (line, boot, from offset, to offset, from label, to label) of recent switches
        self.switches: list[tuple[int, int, str, str, str | None, str | None]] = []
        self.done: set[int] = set()

    def on_event(self, ev: Event, boot: BootSession) -> list[Event]:
        f = ev.fields
        if ev.kind == "rollback":
            evidence = [ev.line]
            last = self.switches[-1] if self.switches else None
            values: dict[str, Any] = {"from": f.get("from") or "the new app", "how": "the device said so"}
            if last is not None and ev.boot - last[1] <= 2:
                evidence.insert(0, last[0])
                values["to"] = last[4] or last[2]
            return [self.finding(evidence, ev.boot, values)]
        if ev.kind != "partition_switch":
            return []
        frm, to = _int(f.get("from_offset")), _int(f.get("to_offset"))
        out = []
        if frm is not None and to is not None:
            for line, boot, a, b, a_label, b_label in reversed(self.switches[-4:]):
                if _int(a) == to and _int(b) == frm and line not in self.done:
                    self.done.update((line, ev.line))  # neither switch can start another rollback
                    how = f"boot {boot} switched {a_label or a} -> {b_label or b}, boot {ev.boot} went back"
                    values = {"from": f.get("from") or f.get("from_offset"),
                              "to": f.get("to") or f.get("to_offset"), "how": how}
                    out.append(self.finding([line, ev.line], boot, values))
                    break
            self.switches.append((ev.line, ev.boot, str(f.get("from_offset")), str(f.get("to_offset")),
                                  f.get("from"), f.get("to")))
            del self.switches[:-8]
        return out


class CacheDisabled(Check):
    """A cache-disabled access: the panic names it, or a flash guard frame is in the crashing backtrace."""

    kinds = frozenset({"cache_disabled_access", "spi_flash_guard"})

    def __init__(self, rule: Rule, findings: FindingFactory, elf: ElfChoice | None = None) -> None:
        super().__init__(rule, findings, elf)
        self.crash_kinds = set(self.params.get("crash_kinds", ["panic", "cache_disabled_access"]))
        self.access: list[int] = []
        self.guards: list[int] = []

    def on_event(self, ev: Event, boot: BootSession) -> list[Event]:
        if ev.kind == "cache_disabled_access" and len(self.access) < 16:
            self.access.append(ev.line)
        elif ev.kind == "spi_flash_guard" and len(self.guards) < 64:
            self.guards.append(ev.line)
        return []

    def on_boot_end(self, boot: BootSession) -> list[Event]:
        access, guards, self.access, self.guards = self.access, self.guards, [], []
        crash = boot.crash
        in_crash = []
        if crash is not None and crash.kind in self.crash_kinds:
            last = (crash.backtrace_line or crash.last_line) + BACKTRACE_LINES
            in_crash = [g for g in guards if crash.line <= g <= last]
        evidence = access + in_crash
        if not evidence:
            return []
        how = []
        if access:
            how.append("the panic names a cache-disabled access")
        if in_crash:
            how.append(f"{len(in_crash)} SPI flash guard frame(s) in the crashing backtrace")
        values = {"boots": [boot.number], "count": len(evidence), "how": " and ".join(how)}
        return [self.finding(evidence, boot.number, values)]


CHECKS: dict[str, type[Check]] = {
    "image_too_big": ImageTooBig,
    "elf_mismatch": ElfMismatch,
    "crash_repeat": CrashRepeat,
    "boot_loop": BootLoop,
    "rollback": Rollback,
    "cache_disabled": CacheDisabled,
}
