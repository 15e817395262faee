"""The per-log work of a triage: one log in, one small `LogResult` out.

`scan_log(log, config)` is a pure function of its arguments (a `LogInput`: a path or bytes, and a
`TriageConfig`): the same input gives the same result on any machine, in any process, in any order. It
runs the pipeline every verb uses (detector, boots, diagnosis) over the log, then turns what it found into
occurrences: the crash of each boot with its fleet signature (decoded with the ELF of the firmware that
printed it, when that ELF was given), the findings, the boot loops and the OTA failures; each with the boot's
firmware facts and, where the log allows, the time it happened. The loaded patterns, rules and ELF indexes
are kept per process for the next log with the same configuration (a cache, not state: results never
depend on it).
"""

from __future__ import annotations

import functools
import os
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex

from espwatch.errors import ElfError, EspwatchError, UsageError
from espwatch.fleet.inputs import LogInput, read_chunks
from espwatch.fleet.results import LogResult, Occurrence
from espwatch.fleet.signature import ChipCode, chip_code, normal_cause, signature
from espwatch.lines import clean_text

if TYPE_CHECKING:
    from espwatch.events import Event
    from espwatch.sessions import BootSession
    from espwatch.symbols import SymbolIndex

OTA_KINDS = frozenset({"ota_error", "checksum_failed", "hash_failed", "invalid_magic",
                       "ota_slot_not_bootable", "rollback"})
"""Event kinds (events.md) that are OTA and image failures, grouped by their error."""
DEVICE_FACTS = ("device_id", "mac", "hostname")
"""Boot facts that name the device, in order of preference (set by patterns, see patterns/identity.toml)."""
EXCERPT_LINES = 16
LINE_CHARS = 240
"""Characters of a log line kept in an excerpt."""
MAX_EVIDENCE_LINES = 6
JOIN_GAP = 2
"""Two excerpt ranges at most this many lines apart are shown as one (no `...` for a blank line or two)."""
"""Evidence lines of a finding or boot loop shown in its excerpt."""

MAX_HOST_TIMES = 100_000
"""Host timestamps kept per log (of the lines occurrences can start at), so memory stays bounded."""
HOST_TIME_KINDS = frozenset({"reset_reason", "boot_banner", "partition_loaded", "partition_switch"})
"""Informational kinds whose lines a finding or boot loop may start at (warnings and above always count)."""

_DATED = regex.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?")
_NUMBERS = regex.compile(r"0x[0-9a-fA-F]+|\b\d{3,}\b")


@dataclass(frozen=True)
class TriageConfig:
    """What every log of a triage is scanned with. Frozen and picklable: it travels to each worker."""

    patterns: tuple[str, ...] = ()
    """`--patterns` folders (built-in patterns and rules are always loaded)."""
    elfs: tuple[tuple[str, str], ...] = ()
    """(SHA-256, path) of each ELF given: a crash is decoded with the one whose hash the firmware printed."""
    device_from: str | None = None
    """A regex over the log's path naming the device (group `device`, else group 1, else the match)."""
    excerpt_lines: int = EXCERPT_LINES
    redact: bool = True
    """Remove secrets (tokens, passwords, URL credentials) from excerpts, as `espwatch report` does."""

    @classmethod
    def build(cls, patterns: tuple[str, ...] | list[str] = (), elfs: tuple[str, ...] | list[str] = (),
              device_from: str | None = None, excerpt_lines: int = EXCERPT_LINES,
              redact: bool = True) -> TriageConfig:
        """Check the options and hash the ELF files (`elfs`: files, or folders searched for `*.elf`)."""
        if device_from:
            try:
                regex.compile(device_from)
            except regex.error as exc:
                raise UsageError(f"--device-from {device_from!r}: not a valid regex ({exc})") from None
        if excerpt_lines < 1:
            raise UsageError("the excerpt needs at least one line")
        dirs = tuple(str(Path(p).absolute()) for p in patterns)
        if dirs:  # a bad pattern or rule file is said once, here, not by every worker
            from espwatch.diagnosis import load_rules
            from espwatch.patterns import load_patterns

            load_patterns(dirs)
            load_rules(dirs)
        return cls(dirs, hash_elfs(elfs), device_from or None, excerpt_lines, redact)


def hash_elfs(given: tuple[str, ...] | list[str]) -> tuple[tuple[str, str], ...]:
    """(SHA-256, absolute path) of each ELF file given, folders searched recursively for `*.elf`."""
    from espwatch.symbols.elf_locate import elf_sha256

    files: list[Path] = []
    for g in given:
        p = Path(g)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.elf") if f.is_file())
            if not found:
                raise ElfError(f"{g}: no .elf file in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise ElfError(f"{g}: no such ELF file")
    out: dict[str, str] = {}
    for f in files:
        try:
            with open(f, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    raise ElfError(f"{f}: not an ELF file")
            sha = elf_sha256(f)
        except OSError as exc:
            raise ElfError(f"{f}: cannot read: {exc.strerror or exc}") from None
        out.setdefault(sha, str(f.absolute()))
    return tuple(sorted(out.items()))


def dated_time(host_time: str | None) -> float | None:
    """Unix seconds of a host timestamp that carries a date (`2024-05-01 10:11:12.345`); a time without a
    zone is read as UTC. None for a time of day alone (it cannot be placed across files)."""
    if not host_time:
        return None
    m = _DATED.search(host_time)
    if m is None:
        return None
    day, clock, frac, zone = m.groups()
    text = f"{day}T{clock}" + (f".{(frac or '0')[:6]}") + (
        "+00:00" if zone in (None, "Z") else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.astimezone(UTC).timestamp()


def _first_fact(sessions: list[BootSession], names: tuple[str, ...]) -> tuple[str | None, str | None]:
    for name in names:
        for s in sessions:
            v = s.facts.get(name)
            if v:
                return str(v), name
    return None, None


def _boot_facts(sessions: list[BootSession], name: str) -> list[str | None]:
    """Per boot: its own fact, else the last one printed before it, else the first printed after it."""
    own = [str(s.facts[name]) if s.facts.get(name) else None for s in sessions]
    out: list[str | None] = []
    last: str | None = None
    for v in own:
        last = v or last
        out.append(last)
    nxt: str | None = None
    for i in range(len(out) - 1, -1, -1):
        if own[i]:
            nxt = own[i]
        if out[i] is None:
            out[i] = nxt
    return out


def _unique(values: list[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


class _Collector:
    """What the scan keeps of the event stream: only what occurrences and their times need."""

    def __init__(self) -> None:
        self.host: dict[int, str] = {}
        self.ra: dict[int, str] = {}
        self.block_end: dict[int, int] = {}
        self.findings: list[Event] = []
        self.loops: list[Event] = []
        self.ota: list[Event] = []

    def event(self, ev: Event) -> None:
        if ev.host_time is not None and len(self.host) < MAX_HOST_TIMES and (
                ev.severity != "info" or ev.kind in HOST_TIME_KINDS):
            self.host.setdefault(ev.line, ev.host_time)
        kind = ev.kind
        if kind == "panic" and ev.fields.get("ra"):
            self.ra[ev.line] = str(ev.fields["ra"])
        elif kind == "backtrace":
            self.block_end[ev.line] = ev.end_line
        elif kind == "finding":
            self.findings.append(ev)
        elif kind == "boot_loop":
            self.loops.append(ev)
        elif kind in OTA_KINDS and ev.severity != "info":
            self.ota.append(ev)


class Scanner:
    """Patterns, rules and ELF indexes loaded once for a configuration; `scan(log)` for each log."""

    def __init__(self, config: TriageConfig) -> None:
        from espwatch.datacache import load_data

        self.config = config
        self.patterns, self.rules = load_data(config.patterns)  # the built-in ones from the cache folder
        self.device_rx = regex.compile(config.device_from) if config.device_from else None
        self._indexes: dict[str, SymbolIndex | str] = {}
        self._redactor: Any = None
        if config.redact:
            from espwatch.redact import Redactor

            self._redactor = Redactor()

    # -- the per-log function ------------------------------------------------------------------
    def scan(self, log: LogInput) -> LogResult:
        """Scan one log; a log that cannot be read gives a result with `error` (one line), never raises."""
        try:
            return self._scan(log)
        except EspwatchError as exc:
            return LogResult(log.name, log.source, mtime=log.mtime, error=str(exc))

    def _scan(self, log: LogInput) -> LogResult:
        from espwatch.diagnosis import DiagnosisStage
        from espwatch.errcodes import ErrorNameStage
        from espwatch.pipeline import Pipeline

        stages = [ErrorNameStage(), DiagnosisStage(self.patterns, rules=self.rules)]
        pipe = Pipeline(self.patterns, stages, keep_events=False)
        col = _Collector()
        cp_off, cp_nl = array("q"), array("q")
        size = newlines = 0
        fh = log.open()
        try:
            for chunk in read_chunks(fh, log.name):
                cp_off.append(size)
                cp_nl.append(newlines)
                size += len(chunk)
                newlines += chunk.count(b"\n")
                for ev in pipe.feed(chunk):
                    col.event(ev)
        finally:
            fh.close()
        for ev in pipe.close():
            col.event(ev)
        sessions = pipe.sessions
        res = LogResult(log.name, log.source, bytes=size, lines=pipe.lines, boots=len(sessions),
                        mtime=log.mtime)
        res.device, res.device_from = self._device(log, sessions)
        firmware = _boot_facts(sessions, "app_version")
        shas = _boot_facts(sessions, "elf_sha256")
        chips = _boot_facts(sessions, "chip")
        res.firmware, res.elf_sha256 = _unique(firmware), _unique(shas)
        res.chips = _unique([c.lower().replace("-", "") if c else None for c in chips])

        def facts(boot: int) -> dict[str, Any]:
            i = min(max(boot, 1), len(sessions)) - 1
            chip = chips[i].lower().replace("-", "") if chips[i] else None
            return {"firmware": firmware[i], "elf_sha256": shas[i].lower() if shas[i] else None, "chip": chip}

        occ: list[tuple[Occurrence, list[tuple[int, int]]]] = []
        for s in sessions:
            if s.crash is not None:
                occ.append(self._crash(s, facts(s.number), col, res))
        for ev in col.findings:
            occ.append(self._finding(ev, facts(ev.boot)))
        for ev in col.loops:
            occ.append(self._loop(ev, facts(ev.boot)))
        for ev in col.ota:
            occ.append(self._ota(ev, facts(ev.boot)))
        occ.sort(key=lambda x: (x[0].line, x[0].kind, x[0].key))
        self._finish(log, res, occ, col, cp_off, cp_nl)
        return res

    # -- who and what -----------------------------------------------------------------------------
    def _device(self, log: LogInput, sessions: list[BootSession]) -> tuple[str | None, str | None]:
        if self.device_rx is not None:
            m = self.device_rx.search(log.name)
            if m is not None:
                gd = m.groupdict()
                value = gd.get("device") if "device" in gd else (m.group(1) if m.re.groups else m.group(0))
                if value:
                    return str(value), "path"
        value, fact = _first_fact(sessions, DEVICE_FACTS)
        if value and fact == "mac":
            value = value.lower()
        return value, fact

    def _index_for(self, printed: str | None, log_prints_sha: bool, res: LogResult) -> SymbolIndex | None:
        """The index of the ELF whose SHA-256 starts with the printed one (or the only ELF given, when
        the log prints no hash at all); None without a match or when the ELF cannot be used."""
        from espwatch.symbols.elf_locate import sha_matches

        elfs = self.config.elfs
        if not elfs:
            return None
        sha: str | None = None
        path: str | None = None
        if printed:
            for full, p in elfs:
                if sha_matches(full, printed):
                    sha, path = full, p
                    break
        elif not log_prints_sha and len(elfs) == 1:
            sha, path = elfs[0]
            note = f"the log prints no ELF SHA256: decoded with the only ELF given, {Path(path).name}"
            if note not in res.notes:
                res.notes.append(note)
        if sha is None or path is None:
            return None
        cached = self._indexes.get(sha)
        if cached is None:
            from espwatch.symbols import SymbolIndex

            try:
                cached = SymbolIndex.load(path)
            except (ElfError, OSError) as exc:
                cached = f"{Path(path).name}: {exc}"
            self._indexes[sha] = cached
        if isinstance(cached, str):
            note = f"ELF not usable: {cached}"
            if note not in res.notes:
                res.notes.append(note)
            return None
        res.decoded_with[(printed or "").lower() or "(none printed)"] = Path(path).name
        return cached

    def _crash(self, boot: BootSession, facts: dict[str, Any], col: _Collector,
               res: LogResult) -> tuple[Occurrence, list[tuple[int, int]]]:
        c = boot.crash
        code: ChipCode = chip_code(facts["chip"])
        ra = next((col.ra[ln] for ln in c.lines if ln in col.ra), None)
        index = self._index_for(facts["elf_sha256"], bool(res.elf_sha256), res)
        sig = signature(c, code, ra, index)
        end = c.last_line
        ranges = [(c.line, c.last_line)]
        if c.backtrace_line is not None:
            bt_end = col.block_end.get(c.backtrace_line, c.backtrace_line)
            ranges.append((c.backtrace_line, bt_end))
            end = max(end, bt_end)
        o = Occurrence("crash", sig.key, sig.cause, None, boot.number, c.line, end, **facts,
                       detail={"cause": sig.cause, "frames": list(sig.top), "decoded": sig.decoded,
                               "crash_kind": c.kind, "corrupted": c.corrupted})
        return o, ranges

    def _finding(self, ev: Event, facts: dict[str, Any]) -> tuple[Occurrence, list[tuple[int, int]]]:
        lines = sorted(set(ev.evidence or [ev.line]))
        o = Occurrence("finding", ev.code, ev.title or ev.code, ev.code, ev.boot, lines[0], lines[-1],
                       **facts, detail={"summary": ev.text})
        return o, [(n, n) for n in lines[:MAX_EVIDENCE_LINES]]

    def _loop(self, ev: Event, facts: dict[str, Any]) -> tuple[Occurrence, list[tuple[int, int]]]:
        f = ev.fields
        reason = str(f.get("reason") or "?")
        cause = str(f.get("cause") or "reset")
        if cause == "crash":
            before = "after a crash: " + normal_cause(str(f.get("crash") or "").split(" @ ", 1)[0])
        elif cause == "brownout":
            before = "after a brownout"
        elif cause == "failure":
            before = "each stopping at " + normal_cause(str(f.get("crash") or "").split(" (", 1)[0])
        else:
            before = "no crash message"
        lines = sorted(set(ev.evidence or [ev.line]))
        o = Occurrence("boot_loop", f"reset {reason}, {before}", ev.title or "Boot loop", ev.code, ev.boot,
                       lines[0], lines[-1], **facts,
                       detail={"summary": ev.text, "resets": f.get("resets"), "reason": reason,
                               "cause": cause})
        return o, [(n, n) for n in lines[:MAX_EVIDENCE_LINES]]

    def _ota(self, ev: Event, facts: dict[str, Any]) -> tuple[Occurrence, list[tuple[int, int]]]:
        pat = self.patterns.get(ev.code)
        title = pat.title if pat is not None else ev.kind
        f = ev.fields
        if f.get("err"):
            error = str(f["err"])
        elif f.get("esp_err"):  # the esp_err_t name of a number the line printed
            error = ", ".join(f["esp_err"]) if isinstance(f["esp_err"], list) else str(f["esp_err"])
        elif f.get("message"):
            error = _NUMBERS.sub(lambda m: "0x…" if m.group().startswith("0x") else "N",
                                 " ".join(str(f["message"]).split()))[:160]
        elif f.get("code"):
            error = f"err={f['code']}"
        else:
            error = title
        key = f"{ev.kind}: {error}"
        o = Occurrence("ota", key, title, ev.code, ev.boot, ev.line, ev.end_line, **facts,
                       detail={"error": error, "text": ev.text.strip()[:LINE_CHARS]})
        return o, [(ev.line, ev.end_line)]

    # -- times and excerpts --------------------------------------------------------------------------
    def _finish(self, log: LogInput, res: LogResult, occ: list[tuple[Occurrence, list[tuple[int, int]]]],
                col: _Collector, cp_off: array, cp_nl: array) -> None:
        times = None
        try:
            side = log.times_sidecar()
            if side is not None:
                from espwatch.device.times import ArrivalTimes

                times = ArrivalTimes.from_bytes(side, f"{log.name} times file")
        except EspwatchError as exc:
            res.notes.append(f"arrival times not used: {exc}")
        wanted: set[int] = set()
        first_of_key: set[tuple[str, str]] = set()
        excerpt_ranges: dict[int, list[tuple[int, int]]] = {}
        for i, (o, ranges) in enumerate(occ):
            if (o.kind, o.key) not in first_of_key:
                first_of_key.add((o.kind, o.key))
                capped = _cap(ranges, self.config.excerpt_lines)
                excerpt_ranges[i] = capped
                for a, b in capped:
                    wanted.update(range(a, b + 1))
            if times is not None:
                wanted.add(o.line)
        got = _fetch_lines(log, cp_off, cp_nl, sorted(wanted)) if wanted else {}
        for i, (o, _) in enumerate(occ):
            if times is not None and o.line in got:
                o.time = times.time_at(got[o.line][0])
            if o.time is None:
                o.time = dated_time(col.host.get(o.line))
            if i in excerpt_ranges:
                o.excerpt = self._excerpt(excerpt_ranges[i], got)
            res.occurrences.append(o)

    def _excerpt(self, ranges: list[tuple[int, int]], got: dict[int, tuple[int, bytes]]) -> list[str]:
        out: list[str] = []
        for j, (a, b) in enumerate(ranges):
            if j:
                out.append("...")
            for n in range(a, b + 1):
                if n not in got:
                    continue
                text = clean_text(got[n][1])
                if self._redactor is not None:
                    text = self._redactor.redact(text)
                if len(text) > LINE_CHARS:
                    text = text[: LINE_CHARS - 1] + "…"
                out.append(f"{n}: {text}")
        return out


def _cap(ranges: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Sorted, merged ranges of at most `limit` lines in all: the first ones are cut short first (a crash's
    backtrace, the last range, is kept whole when it fits)."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1 + JOIN_GAP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    total = sum(b - a + 1 for a, b in merged)
    while total > limit and merged:
        over = total - limit
        for i, (a, b) in enumerate(merged):
            n = b - a + 1
            keep_min = 1 if i == len(merged) - 1 else min(n, 3)
            cut = min(over, n - keep_min)
            if cut > 0 and (i < len(merged) - 1 or over > 0):
                merged[i] = (a, b - cut)
                total -= cut
                over -= cut
            if over <= 0:
                break
        if over > 0:  # still too long: drop ranges from the end
            a, b = merged.pop()
            total -= b - a + 1
    return merged


def _fetch_lines(log: LogInput, cp_off: array, cp_nl: array, wanted: list[int],
                 keep: int = 4096) -> dict[int, tuple[int, bytes]]:
    """Line number -> (byte offset of its start, its first `keep` bytes), for the `wanted` lines (sorted),
    read again from the log starting at the last chunk boundary before the first of them."""
    last = wanted[-1]
    i = max(0, bisect_right(cp_nl, wanted[0] - 2) - 1)
    start, nl_before = (cp_off[i], cp_nl[i]) if len(cp_off) else (0, 0)
    out: dict[int, tuple[int, bytes]] = {}
    # From `start` > 0, the bytes up to the first break end line nl_before + 1, which is not wanted.
    number = nl_before + 1
    skip_first = start > 0
    carry, carry_start, pos = b"", start, start
    fh = log.open_at(start)
    try:
        for chunk in read_chunks(fh, log.name):
            parts = chunk.split(b"\n")
            if len(parts) > 1:
                ends = list(accumulate(len(p) + 1 for p in parts[:-1]))
                lo = bisect_left(wanted, number + (1 if skip_first else 0))
                hi = bisect_left(wanted, number + len(parts) - 1)
                for w in wanted[lo:hi]:
                    j = w - number
                    if j == 0:
                        out[w] = (carry_start, (carry + parts[0])[:keep])
                    else:
                        out[w] = (pos + ends[j - 1], parts[j][:keep])
                number += len(parts) - 1
                skip_first = False
                carry, carry_start = b"", pos + ends[-1]
                if number > last:
                    return out
            if len(carry) < keep:
                carry += parts[-1][: keep - len(carry)]
            pos += len(chunk)
        if carry_start < pos and not skip_first and number in wanted:
            out[number] = (carry_start, carry)  # a last line without a break
    finally:
        fh.close()
    return out


@functools.lru_cache(maxsize=4)
def scanner_for(config: TriageConfig) -> Scanner:
    """The scanner of `config` in this process (loaded once per process and configuration)."""
    return Scanner(config)


def scan_log(log: LogInput | str | os.PathLike[str], config: TriageConfig | None = None) -> LogResult:
    """The per-log function: scan one log (a `LogInput`, or a path) and return its `LogResult`.

    Pure: the result depends only on the arguments (and the log's bytes); it never raises for a log that
    cannot be read (the result's `error` says why)."""
    if not isinstance(log, LogInput):
        log = LogInput.from_path(log)
    return scanner_for(config or TriageConfig()).scan(log)
