"""What a report shows of a log of any size: events and findings grouped as the scan goes, and counted.

Events (at the report's severity or above) group by code and signature: for a crash the top decoded
frames (or the PCs of its backtrace, or its PC), for anything else its text with numbers masked
(timestamps, boot and line numbers; hex of 5 digits or more: addresses). Findings group by code and their
text with decimal numbers masked (the same finding in boot 3 and boot 980 is one group; hex values such as
error codes and PCs keep groups apart). Each group keeps its counts, boots and first/last lines, and the
`Event`s the report quotes: the first occurrence of a group (for a finding: the one whose evidence is
shown) and, for events, the last one; room left under the per-kind limit goes to the kind's first events.
A kind with no more events than the limit is quoted whole, as before grouping. The number of groups kept
is capped; later signatures of a code go into one "other signatures" group per code. So memory does not
grow with the number of events, only with the codes of the pattern catalogue and the caps here. `--full`
keeps every event and every finding, as asked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import regex

from espwatch.diagnosis.engine import DIAGNOSIS_KINDS
from espwatch.diagnosis.signatures import TOP_FRAMES, frame_functions, frame_pcs
from espwatch.events import SEVERITY_RANK, Event, severity_at_least

MAX_EVENT_GROUPS = 1000
"""Event groups kept with their own signature; beyond, one overflow group per code."""
MAX_DIAGNOSIS_GROUPS = 500
"""Finding groups kept with their own signature; beyond, one overflow group per code."""
MAX_SIGNATURE = 160
"""Characters of a signature kept (and compared)."""
OTHER = "(other signatures)"

_LONG_HEX = regex.compile(r"0[xX][0-9a-fA-F]{5,}")
_NUMBER = regex.compile(r"(?<![0-9A-Za-z_])\d+(?![0-9A-Za-z_])")
_SPACES = regex.compile(r"\s+")


def text_template(text: str, mask_hex: bool = True) -> str:
    """`text` with decimal numbers as `#` (and, with `mask_hex`, hex of 5 or more digits as `0x…`)."""
    t = _SPACES.sub(" ", text.strip())
    if mask_hex:
        t = _LONG_HEX.sub("0x…", t)
    return _NUMBER.sub("#", t)[:MAX_SIGNATURE]


def event_signature(ev: Event) -> str:
    """What makes two events of one code the same: top frames, PCs, or the masked text."""
    funcs = frame_functions(ev)[:TOP_FRAMES]
    if funcs:
        return ("at " + " < ".join(funcs))[:MAX_SIGNATURE]
    pcs = frame_pcs(ev)[:TOP_FRAMES]
    if pcs:
        return ("PCs " + " < ".join(pcs))[:MAX_SIGNATURE]
    pc = ev.fields.get("pc") or ev.fields.get("mepc")
    if pc:
        return f"PC {pc}"[:MAX_SIGNATURE]
    return text_template(ev.text)


def diagnosis_signature(ev: Event) -> str:
    return text_template(f"{ev.title or ev.kind}: {ev.text}", mask_hex=False)


@dataclass(slots=True)
class Group:
    """Occurrences of one code with one signature."""

    code: str
    kind: str
    severity: str
    signature: str
    first_line: int
    last_line: int
    first_boot: int
    last_boot: int
    first: Event | None = None
    """The first occurrence, when the report may quote it (every finding group; excerpted event groups)."""
    last: Event | None = None
    """The latest occurrence after the first, kept for excerpted event groups."""
    count: int = 1
    boot_count: int = 1
    excerpt: bool = False
    first_seq: int = 0
    last_seq: int = 0
    """Stream positions of `first` and `last` (events of one line keep their order)."""

    @classmethod
    def start(cls, ev: Event, signature: str, keep: bool, seq: int = 0) -> Group:
        return cls(ev.code, ev.kind, ev.severity, signature, ev.line, ev.end_line, ev.boot, ev.boot,
                   ev if keep else None, first_seq=seq)

    def add(self, ev: Event, keep_last: bool, seq: int = 0) -> None:
        self.count += 1
        if ev.boot != self.last_boot:
            self.boot_count += 1
            self.last_boot = ev.boot
        self.last_line = max(self.last_line, ev.end_line)
        if SEVERITY_RANK[ev.severity] > SEVERITY_RANK[self.severity]:
            self.severity = ev.severity
        if keep_last:
            self.last, self.last_seq = ev, seq

    @property
    def boots(self) -> str:
        """`boot 3` or `boots 3-980` (`12 of boots 3-980` when not every boot between had one)."""
        if self.first_boot == self.last_boot:
            return f"boot {self.first_boot}"
        span = self.last_boot - self.first_boot + 1
        prefix = "" if self.boot_count >= span else f"{self.boot_count:,} of "
        return f"{prefix}boots {self.first_boot}-{self.last_boot}"

    def summary(self) -> str:
        """`×1,204 in boots 3-980, first at line 57, last at line 91,020`."""
        return (f"×{self.count:,} in {self.boots}, first at line {self.first_line:,}, "
                f"last at line {self.last_line:,}")


class ReportDigest:
    """Fed every event of a scan (`add`), keeps what a report shows; `finish` once the scan is done.

    After `finish`: `diagnoses` (finding groups, most severe first), `groups` (event groups at the
    report's severity or above, in order of first occurrence), `shown` (the events quoted with log lines,
    in line order), `hidden` (per kind, events at the report's severity not quoted) and the totals.
    """

    def __init__(self, min_severity: str = "warning", max_per_kind: int = 5, full: bool = False,
                 max_excerpts: int | None = None, max_event_groups: int = MAX_EVENT_GROUPS,
                 max_diagnosis_groups: int = MAX_DIAGNOSIS_GROUPS) -> None:
        self.min_severity = min_severity
        self.max_per_kind = max_per_kind
        self.max_excerpts = max_excerpts
        """Events quoted in all (the most severe first); None: only the per-kind limit."""
        self.full = full
        self.max_event_groups = max_event_groups
        self.max_diagnosis_groups = max_diagnosis_groups
        self._events: dict[tuple[str, str], Group] = {}
        self._diagnoses: dict[tuple[str, str], Group] = {}
        self._all: list[tuple[int, Event]] = []
        """--full: every event at the report's severity."""
        self._head: dict[str, list[tuple[int, Event]]] = {}
        """The first `max_per_kind` events of each kind: all of a kind are shown when they are no more."""
        self.per_kind: Counter[str] = Counter()
        """Events at the report's severity or above, per kind."""
        self.excerpts: Counter[str] = Counter()
        self.events_total = 0
        """Events that are not diagnoses (any severity)."""
        self.diagnoses_total = 0
        self.findings_total = 0
        self.diagnoses: list[Group] = []
        self.groups: list[Group] = []
        self.shown: list[Event] = []
        self.hidden: Counter[str] = Counter()

    def add(self, ev: Event) -> None:
        if ev.kind in DIAGNOSIS_KINDS:
            self._add_diagnosis(ev)
            return
        self.events_total += 1
        if not severity_at_least(ev.severity, self.min_severity):
            return
        self.per_kind[ev.kind] += 1
        seq = self.events_total
        if self.full:
            self._all.append((seq, ev))
        else:
            head = self._head.setdefault(ev.kind, [])
            if len(head) < self.max_per_kind:
                head.append((seq, ev))
        sig = event_signature(ev)
        key = (ev.code, sig)
        g = self._events.get(key)
        if g is None and len(self._events) >= self.max_event_groups:
            key = (ev.code, OTHER)
            g = self._events.get(key)
            sig = OTHER
        if g is None:
            excerpt = self.full or self.excerpts[ev.kind] < self.max_per_kind
            g = self._events[key] = Group.start(ev, sig, keep=excerpt, seq=seq)
            if excerpt:
                g.excerpt = True
                self.excerpts[ev.kind] += 1
        else:
            g.add(ev, keep_last=g.excerpt and not self.full, seq=seq)

    def _add_diagnosis(self, ev: Event) -> None:
        self.diagnoses_total += 1
        if ev.kind == "finding":
            self.findings_total += 1
        sig = str(self.diagnoses_total) if self.full else diagnosis_signature(ev)
        key = (ev.code, sig)
        g = self._diagnoses.get(key)
        if g is None and len(self._diagnoses) >= self.max_diagnosis_groups:
            key = (ev.code, OTHER)
            g = self._diagnoses.get(key)
        if g is None:
            self._diagnoses[key] = Group.start(ev, key[1], keep=True)
        else:
            g.add(ev, keep_last=False)

    def finish(self) -> None:
        self.groups = sorted(self._events.values(), key=lambda g: g.first_line)
        self.diagnoses = sorted(self._diagnoses.values(),
                                key=lambda g: (-SEVERITY_RANK[g.severity], g.first_line))
        if self.full:
            self.shown = [e for _, e in self._all]
            self._all = []
        else:
            # a kind with no more events than the limit: all of them; else the first occurrence of each
            # group, then the last occurrence of repeated groups, then the kind's first events, while the
            # kind has room
            few = {k for k, n in self.per_kind.items() if n <= self.max_per_kind}
            shown = [x for k in few for x in self._head[k]]
            shown += [(g.first_seq, g.first) for g in self.groups
                      if g.kind not in few and g.excerpt and g.first is not None]
            for g in self.groups:
                if g.kind not in few and g.last is not None and self.excerpts[g.kind] < self.max_per_kind:
                    shown.append((g.last_seq, g.last))
                    self.excerpts[g.kind] += 1
            taken = {seq for seq, _ in shown}
            for k, head in self._head.items():  # room left: the kind's first events, in order
                for seq, ev in head:
                    if k not in few and seq not in taken and self.excerpts[k] < self.max_per_kind:
                        shown.append((seq, ev))
                        self.excerpts[k] += 1
            if self.max_excerpts is not None and len(shown) > self.max_excerpts:
                shown.sort(key=lambda x: (-SEVERITY_RANK[x[1].severity], x[0]))
                del shown[self.max_excerpts:]
            self.shown = [e for _, e in sorted(shown, key=lambda x: (x[1].line, x[0]))]
            self._head = {}
        quoted = Counter(e.kind for e in self.shown)
        self.hidden = Counter({k: n - quoted[k] for k, n in self.per_kind.items() if n > quoted[k]})

    def group_of(self, ev: Event) -> Group | None:
        """The group of a shown event."""
        return self._events.get((ev.code, event_signature(ev))) or self._events.get((ev.code, OTHER))

    @property
    def repeated(self) -> bool:
        """True when the excerpts leave events out (the table of groups says what they were)."""
        return bool(self.hidden)
