"""Enrichment shared by every verb: which ELF decodes the log, its index, and the stages after detection.

`Enrichment.choose(...)` decides the ELF once, the same way for `scan`, `report`, `decode`, `replay` and the
live monitor: the one given with `--elf`, else one found where ESP-IDF, PlatformIO or Arduino CLI leave it
(unless `--no-elf`), else none — and it says why (`why`). It loads the ELF's symbol index (in the background
for the monitor, so the screen starts at once), compares the ELF with the `ELF file SHA256` the device
printed (the only place that comparison is made), and makes the fresh pipeline stages of each input:
address decoding and diagnosis.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from espwatch.errors import ElfError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:
    from concurrent.futures import Future

    from espwatch.decoding import DecodeStage
    from espwatch.diagnosis.rules import Rule
    from espwatch.patterns import PatternSet
    from espwatch.pipeline import Stage
    from espwatch.symbols import SymbolIndex


def _is_future(obj: object) -> bool:
    """isinstance(obj, concurrent.futures.Future), without importing it (decode starts 15 ms faster):
    nothing is a Future while the module is not loaded."""
    futures = sys.modules.get("concurrent.futures")
    return futures is not None and isinstance(obj, futures.Future)


class ElfChoice:
    """The ELF used for a log: where it came from and its SHA-256 (`sha256`: computed when first asked,
    which decoding addresses never does; None given means that).

    (A plain class: importing `dataclasses` costs `decode` 10 ms.)"""

    __slots__ = ("_sha256", "discovered", "path")

    def __init__(self, path: Path, sha256: str | None = None, discovered: bool = False) -> None:
        self.path = path
        self._sha256 = sha256
        self.discovered = discovered

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            from espwatch.symbols.elf_locate import elf_sha256

            self._sha256 = elf_sha256(self.path)
        return self._sha256

    def know_sha256(self, sha256: str) -> None:
        """Take the digest another reader of the same bytes computed (the symbol index keys on it)."""
        if self._sha256 is None and sha256:
            self._sha256 = sha256

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ElfChoice) and (self.path, self.sha256, self.discovered) == (
            other.path, other.sha256, other.discovered)

    def __hash__(self) -> int:
        return hash((self.path, self.sha256, self.discovered))

    def __repr__(self) -> str:
        return f"ElfChoice(path={self.path!r}, sha256={self.sha256!r}, discovered={self.discovered!r})"

    def matches(self, printed: str | None) -> bool | None:
        """Whether the hash the app printed is this ELF's: None when the log printed none."""
        if not printed:
            return None
        from espwatch.symbols.elf_locate import sha_matches

        return sha_matches(self.sha256, printed)

    def describe(self, printed: str | None) -> str:
        """One sentence: does this ELF belong to the firmware that printed `printed`?"""
        state = self.matches(printed)
        name = self.path.name
        if state is None:
            return f"{name} (the log prints no ELF SHA256 to compare)"
        if state:
            return f"{name} matches the firmware (ELF SHA256 {printed})"
        mine = self.sha256[: max(len(printed or ""), 16)]
        return (f"DOES NOT MATCH: {name} is not the ELF of the firmware that printed this log "
                f"(device {printed}, ELF {mine}); decoded names would be wrong")


def choose_elf(given: str | os.PathLike[str] | None, discover: bool = True,
               start: str | os.PathLike[str] | None = None) -> ElfChoice | None:
    """The ELF given on the command line, else one found in the build folders under `start`."""
    if given:
        path = Path(given)
        if path.is_dir():
            raise ElfError(f"{path} is a directory, not an ELF file")
        discovered = False
    elif discover:
        from espwatch.symbols.elf_locate import find_elf

        found = find_elf(start)
        if found is None:
            return None
        path, discovered = found, True
    else:
        return None
    try:
        with open(path, "rb") as fh:  # readable now (its digest is computed when first needed)
            fh.read(1)
        return ElfChoice(path, None, discovered)
    except FileNotFoundError:
        raise ElfError(f"{path}: no such ELF file") from None
    except OSError as exc:
        raise ElfError(f"{path}: cannot read: {exc.strerror or exc}") from None


class Enrichment:
    """The ELF decision, its symbol index, and the stages after detection, for one command."""

    def __init__(self, elf: ElfChoice | None, why: str, patterns: PatternSet | None = None,
                 rules: list[Rule] | None = None, background: bool = False, use_cache: bool = True,
                 strict: bool = True, lazy: bool = False) -> None:
        self.elf = elf
        self.why = why
        self.patterns = patterns
        self.rules = rules
        self.index: SymbolIndex | Future[SymbolIndex] | None = None
        self.load_error: str | None = None
        """Why the ELF's index could not be loaded (with `strict=False`; `strict` raises ElfError)."""
        self.decoders: list[DecodeStage] = []
        if elf is not None:
            from espwatch.symbols import SymbolIndex

            if background:
                self.index = SymbolIndex.load_async(elf.path)
                return
            try:
                try:
                    # lazy (one-shot decoding): the units are parsed when a lookup needs them
                    load = SymbolIndex.open if lazy else SymbolIndex.load
                    self.index = load(elf.path, use_cache=use_cache)
                    elf.know_sha256(getattr(self.index, "sha256", ""))  # the same bytes: no second hash
                except OSError as exc:
                    raise ElfError(f"{elf.path}: cannot read: {exc.strerror or exc}") from None
            except ElfError as exc:
                if strict:
                    raise
                self.load_error = str(exc)

    @classmethod
    def choose(cls, elf: str | os.PathLike[str] | None = None, no_elf: bool = False,
               patterns: PatternSet | None = None, rules: list[Rule] | None = None, background: bool = False,
               start: str | os.PathLike[str] | None = None, use_cache: bool = True,
               strict: bool = True, lazy: bool = False) -> Enrichment:
        """Decide the ELF (`--elf`, else found in the build folders unless `no_elf`) and load its index.

        An unusable ELF raises ElfError, or with `strict=False` leaves decoding off and says why (`error`)."""
        if elf and no_elf:
            from espwatch.errors import UsageError

            raise UsageError("--elf and --no-elf cannot be combined")
        choice = choose_elf(elf, discover=not no_elf, start=start)
        if choice is None:
            why = "--no-elf" if no_elf else \
                "no ELF given and none found in build/, .pio/build/ or an Arduino build folder"
        elif choice.discovered:
            why = f"found in the build folder: {choice.path}"
        else:
            why = "given with --elf"
        return cls(choice, why, patterns, rules, background, use_cache, strict, lazy)

    # -- what the verbs say -----------------------------------------------------------------------
    def announce(self) -> str | None:
        """A note for stderr when the ELF was found rather than given."""
        if self.elf is not None and self.elf.discovered:
            return f"decoding with {self.elf.path} (found in the build folder; --no-elf to skip)"
        return None

    def mismatches(self, printed: Iterable[str]) -> list[str]:
        """A warning for each hash the device printed that is not this ELF's."""
        if self.elf is None:
            return []
        return [self.elf.describe(p) for p in sorted(set(printed)) if self.elf.matches(p) is False]

    def describe(self, printed: str | None) -> str:
        """The ELF line of a report: none (and why), or whether it matches what the device printed."""
        if self.elf is None:
            return f"none ({self.why})"
        return self.elf.describe(printed)

    @property
    def state(self) -> str | None:
        """"ready", "indexing" or "failed" for the ELF's index; None without an ELF."""
        if self.elf is None:
            return None
        if self.load_error:
            return "failed"
        if self.decoders:
            return self.decoders[0].state
        index = self.index
        if _is_future(index):
            if not index.done():
                return "indexing"
            return "failed" if index.exception() is not None else "ready"
        return "ready"

    @property
    def error(self) -> str | None:
        """Why the ELF cannot decode (None when it can, or while its index is being built)."""
        if self.load_error:
            return self.load_error
        if self.decoders and self.decoders[0].error:
            return self.decoders[0].error
        index = self.index
        if _is_future(index) and index.done() and index.exception() is not None:
            return str(index.exception())
        return None

    def status(self, printed: Iterable[str]) -> str:
        """The monitor's status text for the ELF: name, index state, and whether it matches the device."""
        if self.elf is None:
            return "no ELF"
        name = self.elf.path.name
        if self.state == "failed":
            return f"ELF {name}: unusable ({self.error or ''})"
        printed = list(printed)
        mismatched = [p for p in printed if self.elf.matches(p) is False]
        if mismatched:
            return f"ELF {name} ✗ DOES NOT MATCH the device ({mismatched[-1]})"
        suffix = " (indexing…)" if self.state == "indexing" else ""
        if printed:
            return f"ELF {name} ✓ matches{suffix}"
        return f"ELF {name}{suffix}"

    # -- the pipeline -------------------------------------------------------------------------------
    def symbol_index(self) -> SymbolIndex:
        """The loaded index (waits for a background build); ElfError without an ELF or when unusable."""
        if self.index is None:
            raise ElfError(f"no ELF file: {self.why}")
        if _is_future(self.index):
            try:
                self.index = self.index.result()
            except OSError as exc:
                raise ElfError(f"{self.elf.path if self.elf else ''}: cannot read: {exc.strerror or exc}") \
                    from None
        return self.index

    def stages(self) -> list[Stage]:
        """Fresh stages for one input: address decoding (with an ELF), esp_err_t names, and diagnosis."""
        from espwatch.diagnosis import DiagnosisStage
        from espwatch.errcodes import ErrorNameStage

        out: list[Stage] = []
        if self.index is not None:
            from espwatch.decoding import DecodeStage

            stage = DecodeStage(self.index, self.patterns.decode_codes if self.patterns else ())
            self.decoders.append(stage)
            out.append(stage)
        out.append(ErrorNameStage())
        out.append(DiagnosisStage(self.patterns, rules=self.rules, elf=self.elf))
        return out
