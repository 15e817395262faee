"""Pattern and hint data: loading and validating the TOML files under `patterns/`.

One file per family. Each `[[pattern]]` has a stable `code`, a `kind` (events.md), a `severity`, the
`literals` that must occur in a line before its `regex` is tried, and hint text and references.
Optional: `fields` (constants), `lists` (regexes whose matches become list fields), `flags`
(regexes whose presence sets a boolean field), `severity_when`, `sets` (boot facts taken from fields),
`starts_boot`, and a `[pattern.block]` saying which following lines belong to the event.
`[[derived]]` entries describe events made by code from other events (no regex; they exist so that
every code has a page for `espwatch explain`). See patterns/README.md for the full schema.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from espwatch.errors import PatternError
from espwatch.events import SEVERITIES, Event
from espwatch.lazyregex import LazyRegex

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import regex


@dataclass(slots=True)
class Collect:
    """A rule applied to each block line: named groups become fields."""

    rx: regex.Pattern[str]
    mode: str = "first"  # "first": set once; "list": append each group; "record": append a dict
    name: str | None = None  # the list field for mode "record"
    normalize: str | None = None  # "hex": a value printed without `0x` gets it (early register dumps)


@dataclass(slots=True)
class Block:
    """Which lines after the first belong to the event, and where it ends."""

    cont: regex.Pattern[str] | None
    end: regex.Pattern[str] | None
    max_lines: int = 40
    max_blank: int = 1
    collect: list[Collect] = field(default_factory=list)
    end_inclusive: bool = True
    join: bool = False
    """`lists` and `flags` are taken again over the first line and the block's lines joined, at the end:
    a backtrace wrapped by a terminal over several lines gives all its frames, even one cut mid-address."""
    same_as: str | None = None
    """Use the block of the pattern with this code (resolved by PatternSet)."""


@dataclass(slots=True)
class SeverityWhen:
    field: str
    rx: regex.Pattern[str]
    severity: str


@dataclass(slots=True)
class Pattern:
    """One detector: literal prefilter, regex, and what to make of a match."""

    code: str
    kind: str
    severity: str
    title: str
    literals: list[str]
    rx: regex.Pattern[str] | None
    hint: str = ""
    checks: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, regex.Pattern[str]] = field(default_factory=dict)
    flags: dict[str, regex.Pattern[str]] = field(default_factory=dict)
    severity_when: list[SeverityWhen] = field(default_factory=list)
    sets: dict[str, str] = field(default_factory=dict)
    starts_boot: bool = False
    fact: bool = False
    fallback: bool = False
    decode: bool = False
    """Its events carry code addresses: the decoding stage adds `frames`."""
    crash: int = 0
    """Its events are crashes (0: not a crash); the number orders causes, 1 the most specific."""
    timeline: bool = True
    """Info-level events of it appear in the monitor's timeline (warnings and above always do)."""
    block: Block | None = None
    sources: list[str] = field(default_factory=list)
    """Which printed messages this pattern covers: components and files of ESP-IDF, Arduino-ESP32, the ROM
    (kept in step with patterns/catalogue by tools/catalogue/extract.py --sync-patterns)."""
    family: str = ""
    source: str = ""

    @property
    def derived(self) -> bool:
        return self.rx is None


_PATTERN_KEYS = {
    "code", "kind", "severity", "title", "literals", "regex", "hint", "checks", "references", "fields",
    "lists", "flags", "severity_when", "sets", "starts_boot", "fact", "block", "ignore_case", "fallback",
    "decode", "crash", "timeline", "sources",
}
CRASH_LEAST_SPECIFIC = 99
"""The rank of `crash = true`: a crash whose cause any other crash event of the same crash names better."""
_DERIVED_KEYS = {"code", "kind", "severity", "title", "hint", "checks", "references"}
_BLOCK_KEYS = {"continue", "end", "max_lines", "max_blank", "collect", "end_inclusive", "join", "same_as"}


PIECES_FILE = "pieces.toml"
_PIECE = LazyRegex(r"%\{(\w+)\}", 0, "pieces")
_pieces: dict[str, str] | None = None


def builtin_pieces() -> dict[str, str]:
    """The shared regex pieces of patterns/pieces.toml (`%{name}` in any pattern or rule regex)."""
    global _pieces
    if _pieces is None:
        data = read_toml(builtin_dir() / PIECES_FILE)
        table = data.get("pieces", {})
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise PatternError(f"{PIECES_FILE}: `pieces` must be a table of name = 'regex'")
        _pieces = dict(table)
    return _pieces


def expand_pieces(src: str, where: str, error: type[PatternError] = PatternError, depth: int = 0) -> str:
    """`src` with every `%{name}` replaced by its shared piece (pieces may use pieces); an unknown name is
    an error."""
    if "%{" not in src:
        return src
    pieces = builtin_pieces()

    def piece(m: regex.Match[str]) -> str:
        if m.group(1) not in pieces:
            known = ", ".join(sorted(pieces))
            raise error(f"{where}: unknown regex piece %{{{m.group(1)}}} (known: {known})")
        if depth > 8:
            raise error(f"{where}: regex pieces nested too deep at %{{{m.group(1)}}}")
        return expand_pieces(pieces[m.group(1)], where, error, depth + 1)

    return _PIECE.sub(piece, src)


def _compile(src: Any, where: str, flags: int = 0, lazy: bool = False) -> regex.Pattern[str]:
    """A pattern file's regex (with its `%{pieces}`); PatternError naming `where` when it is bad. `lazy`
    (the built-in files, whose regexes the tests compile) defers the compile to the first use."""
    if not isinstance(src, str) or not src:
        raise PatternError(f"{where}: expected a non-empty regex string")
    src = expand_pieces(src, where)
    rx = LazyRegex(src, flags, where)
    if not lazy:
        rx.compile()
    return rx  # type: ignore[return-value]


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PatternError(f"{where}: expected a list of non-empty strings")
    return list(value)


def _parse_block(raw: Any, where: str, flags: int, lazy: bool = False) -> Block:
    if not isinstance(raw, dict):
        raise PatternError(f"{where}: block must be a table")
    unknown = set(raw) - _BLOCK_KEYS
    if unknown:
        raise PatternError(f"{where}: unknown block keys {sorted(unknown)}")
    if "same_as" in raw:
        if set(raw) != {"same_as"} or not isinstance(raw["same_as"], str):
            raise PatternError(f"{where}: `same_as` names another pattern's code and stands alone")
        return Block(None, None, same_as=raw["same_as"])
    cont = _compile(raw["continue"], f"{where}.continue", flags, lazy) if "continue" in raw else None
    end = _compile(raw["end"], f"{where}.end", flags, lazy) if "end" in raw else None
    if cont is None and end is None:
        raise PatternError(f"{where}: a block needs `continue` or `end`")
    collect = []
    for i, c in enumerate(raw.get("collect", [])):
        cw = f"{where}.collect[{i}]"
        if not isinstance(c, dict) or "regex" not in c:
            raise PatternError(f"{cw}: expected a table with `regex`")
        mode = c.get("mode", "first")
        if mode not in ("first", "list", "record"):
            raise PatternError(f"{cw}: mode must be first, list or record")
        if mode == "record" and not c.get("name"):
            raise PatternError(f"{cw}: mode record needs `name`")
        if c.get("normalize") not in (None, "hex"):
            raise PatternError(f"{cw}: normalize must be \"hex\"")
        rx = _compile(c["regex"], cw, flags, lazy)
        collect.append(Collect(rx, mode, c.get("name"), c.get("normalize")))
    max_lines = raw.get("max_lines", 40)
    max_blank = raw.get("max_blank", 1)
    if not isinstance(max_lines, int) or not isinstance(max_blank, int) or max_lines < 1 or max_blank < 0:
        raise PatternError(f"{where}: max_lines must be >= 1 and max_blank >= 0")
    return Block(cont, end, max_lines, max_blank, collect, bool(raw.get("end_inclusive", True)),
                 bool(raw.get("join", False)))


def _parse_entry(raw: Any, where: str, derived: bool, lazy: bool = False) -> Pattern:
    if not isinstance(raw, dict):
        raise PatternError(f"{where}: expected a table")
    code = raw.get("code")
    if not isinstance(code, str) or not code:
        raise PatternError(f"{where}: missing `code`")
    where = f"{where} ({code})"
    allowed = _DERIVED_KEYS if derived else _PATTERN_KEYS
    unknown = set(raw) - allowed
    if unknown:
        raise PatternError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("kind", "severity", "title"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise PatternError(f"{where}: missing `{key}`")
    if raw["severity"] not in SEVERITIES:
        raise PatternError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    refs = _str_list(raw.get("references", []), f"{where}.references") if raw.get("references") else []
    checks = _str_list(raw.get("checks", []), f"{where}.checks") if raw.get("checks") else []
    hint = raw.get("hint", "")
    if not isinstance(hint, str):
        raise PatternError(f"{where}: hint must be a string")
    pat = Pattern(code=code, kind=raw["kind"], severity=raw["severity"], title=raw["title"], literals=[],
                  rx=None, hint=hint.strip(), checks=checks, references=refs)
    if derived:
        return pat
    import regex

    flags = regex.IGNORECASE if raw.get("ignore_case") else 0
    if "regex" not in raw:
        raise PatternError(f"{where}: missing `regex`")
    pat.rx = _compile(raw["regex"], f"{where}.regex", flags, lazy)
    pat.literals = _str_list(raw.get("literals"), f"{where}.literals") if "literals" in raw else []
    if not pat.literals:
        raise PatternError(f"{where}: missing `literals` (text that must occur in the line)")
    if any("\n" in lit or "\r" in lit for lit in pat.literals):
        raise PatternError(f"{where}: a literal cannot contain a line break")
    for name, value in (("fields", raw.get("fields", {})), ("sets", raw.get("sets", {}))):
        if not isinstance(value, dict):
            raise PatternError(f"{where}: `{name}` must be a table")
    pat.fields = dict(raw.get("fields", {}))
    pat.sets = {str(k): str(v) for k, v in raw.get("sets", {}).items()}
    for name, src in raw.get("lists", {}).items():
        pat.lists[name] = _compile(src, f"{where}.lists.{name}", flags, lazy)
    for name, src in raw.get("flags", {}).items():
        pat.flags[name] = _compile(src, f"{where}.flags.{name}", flags, lazy)
    for i, sw in enumerate(raw.get("severity_when", [])):
        sww = f"{where}.severity_when[{i}]"
        if not isinstance(sw, dict) or not {"field", "regex", "severity"} <= set(sw):
            raise PatternError(f"{sww}: needs field, regex and severity")
        if sw["severity"] not in SEVERITIES:
            raise PatternError(f"{sww}: bad severity {sw['severity']!r}")
        rx = _compile(sw["regex"], sww, 0, lazy)
        pat.severity_when.append(SeverityWhen(sw["field"], rx, sw["severity"]))
    pat.sources = _str_list(raw["sources"], f"{where}.sources") if raw.get("sources") else []
    for key in ("starts_boot", "fact", "fallback", "decode", "timeline"):
        if key in raw and not isinstance(raw[key], bool):
            raise PatternError(f"{where}: `{key}` must be true or false")
    pat.starts_boot = raw.get("starts_boot", False)
    pat.fact = raw.get("fact", False)
    pat.fallback = raw.get("fallback", False)
    pat.decode = raw.get("decode", False)
    pat.timeline = raw.get("timeline", not (pat.fact or pat.starts_boot))
    crash = raw.get("crash", 0)
    if crash is True:
        crash = CRASH_LEAST_SPECIFIC
    if crash is False:
        crash = 0
    if not isinstance(crash, int) or not 0 <= crash <= CRASH_LEAST_SPECIFIC:
        raise PatternError(f"{where}: `crash` must be true, false or a rank from 1 (most specific cause) "
                           f"to {CRASH_LEAST_SPECIFIC}")
    pat.crash = crash
    if "block" in raw:
        pat.block = _parse_block(raw["block"], f"{where}.block", flags, lazy)
    return pat


def read_toml(path: Path | Traversable, error: type[PatternError] = PatternError) -> dict[str, Any]:
    """A data file as a dict; `error` with one line naming the file when it cannot be read or parsed.

    Files on disk are parsed once and kept as JSON in the cache folder (keyed by path, size and mtime, and
    checked on load), which spares every start the TOML parse of the pattern files."""
    cached = _cached_toml(path)
    if cached is not None:
        return cached
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    _store_toml(path, data)
    return data


def _toml_cache_entry(path: Path | Traversable) -> tuple[Path, list[Any]] | None:
    if not isinstance(path, Path):
        return None
    try:
        st = path.stat()
        import zlib

        from espwatch import __version__
        from espwatch.cachedir import cache_root

        real = str(path.resolve())
        name = f"{zlib.crc32(real.encode('utf-8', 'surrogateescape')):08x}-{path.name}"  # key checked on load
        return cache_root() / "toml" / f"{name}.json", [__version__, real, st.st_size, st.st_mtime_ns]
    except (OSError, RuntimeError, ImportError):
        return None


def _cached_toml(path: Path | Traversable) -> dict[str, Any] | None:
    entry = _toml_cache_entry(path)
    if entry is None:
        return None
    file, key = entry
    try:
        import json

        blob = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(blob, dict) or blob.get("key") != key or not isinstance(blob.get("data"), dict):
        return None
    return blob["data"]


def _store_toml(path: Path | Traversable, data: dict[str, Any]) -> None:
    entry = _toml_cache_entry(path)
    if entry is None:
        return
    file, key = entry
    try:
        import json
        import os
        import tempfile

        from espwatch.cachedir import private_dir

        folder = private_dir(file.parent)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "data": data}, fh)
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError):
        return  # a cache is only a speed-up


def load_file(path: Path | Traversable, lazy: bool = False) -> list[Pattern]:
    """Read one pattern file; raise PatternError naming the file and the pattern on any problem (with
    `lazy`, a bad regex only when it is first used: for the built-in files, which the tests check)."""
    data = read_toml(path)
    unknown = set(data) - {"family", "pattern", "derived", "rule", "description", "pieces"}
    if unknown:
        raise PatternError(f"{path}: unknown top-level keys {sorted(unknown)}")
    family = str(data.get("family", path.name.removesuffix(".toml")))
    out: list[Pattern] = []
    for section, derived in (("pattern", False), ("derived", True)):
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise PatternError(f"{path}: `{section}` must be an array of tables ([[{section}]])")
        for i, raw in enumerate(entries):
            pat = _parse_entry(raw, f"{path}: {section}[{i}]", derived, lazy)
            pat.family, pat.source = family, str(path)
            out.append(pat)
    return out


BUILTIN_PACKAGE = "espwatch._patterns"
"""The built-in pattern files: `patterns/` in the source tree, installed as this package (pyproject.toml)."""


def builtin_dir() -> Path:
    """The folder of the patterns shipped with espwatch: the `espwatch._patterns` package's own folder
    (what importlib.resources gives for a package on disk, wheel and editable alike, without importing
    importlib.resources on every start)."""
    import importlib

    return Path(next(iter(importlib.import_module(BUILTIN_PACKAGE).__path__)))


def pattern_files(directory: Path | Traversable, recursive: bool = True) -> list[Path | Traversable]:
    """The `*.toml` files of a pattern folder, sorted by name: a user folder with its subfolders; the
    built-in one without (its `data/` and `catalogue/` hold catalogues, not patterns)."""
    if recursive and isinstance(directory, Path):
        return sorted(p for p in directory.rglob("*.toml") if p.is_file())
    return sorted((p for p in directory.iterdir() if p.name.endswith(".toml") and p.is_file()),
                  key=lambda p: p.name)


@dataclass
class PatternSet:
    """All patterns in force, by code, with the literal table the prefilter is built from."""

    patterns: list[Pattern]

    def __post_init__(self) -> None:
        self.by_code: dict[str, Pattern] = {}
        for p in self.patterns:
            if p.code in self.by_code:
                other = self.by_code[p.code]
                raise PatternError(f"{p.source}: code {p.code} is already used in {other.source}")
            self.by_code[p.code] = p
        for p in self.patterns:
            if p.block is not None and p.block.same_as is not None:
                other = self.by_code.get(p.block.same_as)
                if other is None or other.block is None or other.block.same_as is not None:
                    raise PatternError(f"{p.source}: {p.code}: block same_as {p.block.same_as} names no "
                                       f"pattern with a block of its own")
                p.block = other.block
        self.matchers = [p for p in self.patterns if not p.derived]
        self.decode_codes = frozenset(p.code for p in self.patterns if p.decode)
        self.crash_ranks = {p.code: p.crash for p in self.patterns if p.crash}

    def get(self, code: str) -> Pattern | None:
        return self.by_code.get(code.upper()) or self.by_code.get(code)

    def in_timeline(self, ev: Event) -> bool:
        """Whether the monitor's timeline lists `ev`: every warning and above, info per the pattern's data."""
        if ev.severity != "info":
            return True
        pat = self.by_code.get(ev.code)
        return pat.timeline if pat is not None else True

    def derived_code(self, kind: str) -> Pattern | None:
        for p in self.patterns:
            if p.derived and p.kind == kind:
                return p
        return None


def load_patterns(extra_dirs: Sequence[os.PathLike[str] | str] = (), builtin: bool = True,
                  base: Sequence[Pattern] | None = None) -> PatternSet:
    """The built-in patterns plus every `*.toml` in `extra_dirs` (`--patterns DIR`). `base`: the built-in
    patterns already parsed (espwatch.datacache keeps them), instead of reading the files."""
    pats: list[Pattern] = []
    if base is not None:
        pats.extend(base)
    elif builtin:
        for f in pattern_files(builtin_dir(), recursive=False):
            pats.extend(load_file(f, lazy=True))
    for d in extra_dirs:
        p = Path(d)
        if not p.is_dir():
            raise PatternError(f"{p}: not a directory of pattern files")
        files = pattern_files(p)
        if not files:  # most likely a mistyped folder: it would add nothing, silently
            raise PatternError(f"{p}: no pattern or rule files (*.toml) in this folder or below")
        for f in files:
            pats.extend(load_file(f))
    return PatternSet(pats)
