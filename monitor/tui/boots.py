"""The boots of a log in the monitor, in bounded memory: a row of numbers per boot, facts on demand.

Every boot keeps its first and last line and its event counts by severity in arrays (28 bytes). Its facts
(reset reason, partition, app version...) are kept for the boots the timeline lists and a few recent
ones; any other boot's facts are read again from its first `FACT_LINES` lines when asked for (the same
detector and boot tracker, so the same facts, as long as the boot printed them there: the bootloader and
the app print them at start-up).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator

from espwatch.events import SEVERITIES
from espwatch.tui.document import SessionInfo

FACT_LINES = 4000
CACHE = 200

Reread = Callable[[int, int, int], SessionInfo | None]
"""(boot number, first line, last line) -> the boot read again from the log."""


class BootIndex:
    """Boots by number (1, 2, ...), as a read-only mapping to `SessionInfo`."""

    def __init__(self, reread: Reread | None = None, keep: Callable[[int], bool] | None = None) -> None:
        self.reread = reread
        self.keep = keep or (lambda number: True)
        """Whether a boot's facts stay in memory (the app: the boots its timeline lists)."""
        self.start = array("I")
        self.end = array("I")
        self.counts = [array("I") for _ in SEVERITIES]
        self._full: dict[int, SessionInfo] = {}
        self._cache: OrderedDict[int, SessionInfo] = OrderedDict()
        self.recent = 8
        self.printed_hashes: set[str] = set()
        """Every `ELF file SHA256` the device printed (for the ELF status), at most 16 kept."""

    def __len__(self) -> int:
        return len(self.start)

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and 1 <= number <= len(self.start)

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, len(self.start) + 1))

    def update(self, s: SessionInfo) -> None:
        """A boot that is new or changed (numbers come in order; the last boot changes until the next)."""
        n = s.number
        while len(self.start) < n:
            self.start.append(0)
            self.end.append(0)
            for c in self.counts:
                c.append(0)
        i = n - 1
        self.start[i], self.end[i] = s.start_line, s.end_line
        for rank, name in enumerate(SEVERITIES):
            self.counts[rank][i] = s.counts.get(name, 0)
        sha = s.facts.get("elf_sha256")
        if isinstance(sha, str) and len(self.printed_hashes) < 16:
            self.printed_hashes.add(sha)
        self._cache.pop(n, None)
        if self.keep(n) or n > len(self.start) - self.recent:
            self._full[n] = s
        else:
            self._full.pop(n, None)
        # let go of the facts of boots that are no longer recent nor listed
        old = n - self.recent
        if old >= 1 and old in self._full and not self.keep(old):
            del self._full[old]

    def worst(self, number: int) -> str | None:
        for rank in range(len(SEVERITIES) - 1, -1, -1):
            if self.counts[rank][number - 1]:
                return SEVERITIES[rank]
        return None

    def get(self, number: int, default: SessionInfo | None = None) -> SessionInfo | None:
        if number not in self:
            return default
        s = self._full.get(number) or self._cache.get(number)
        if s is not None:
            return s
        i = number - 1
        if self.reread is not None:
            s = self.reread(number, self.start[i], self.end[i])
        if s is None:
            counts = {name: self.counts[r][i] for r, name in enumerate(SEVERITIES) if self.counts[r][i]}
            s = SessionInfo(number, self.start[i], self.end[i], {}, counts)
        self._cache[number] = s
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        return s

    def __getitem__(self, number: int) -> SessionInfo:
        s = self.get(number)
        if s is None:
            raise KeyError(number)
        return s

    def values(self) -> Iterator[SessionInfo]:
        """Every boot (facts read again for those not in memory: small logs, tests)."""
        for n in self:
            s = self.get(n)
            if s is not None:
                yield s

    def boot_at(self, line: int) -> int | None:
        """The number of the boot that line `line` belongs to (the last boot starting at or before it)."""
        from bisect import bisect_right

        i = bisect_right(self.start, line)
        return i if i >= 1 else (1 if len(self.start) else None)

    @property
    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.start, self.end, *self.counts))
