"""The built-in patterns and rules, parsed once and kept in the cache folder.

Every command that reads a log needs the built-in patterns (patterns/*.toml) and rules (rules.toml).
Parsing and validating them takes longer than the rest of a small `scan`, so the result is pickled into
`<cache>/data/builtin-<hash>.pickle`, keyed by the espwatch and Python versions, the size and CRC-32 of
every built-in file, and the size and modification time of the modules that parse them and define what is
pickled (so an edited data file or parser, a new install or an upgrade parses again). The regexes inside are
`LazyRegex`: pickled as their source, compiled on first use.

Like every cache of espwatch it is only a speed-up: a file that does not load, does not match its key, or
is not private to the user (a pickle from a folder others can write is never loaded) is rebuilt.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from espwatch.diagnosis.rules import Rule
    from espwatch.patterns import Pattern, PatternSet

FORMAT = 1
"""Bump when the pickled classes change shape in a way the version number would not show."""

CODE = ("espwatch.datacache", "espwatch.patterns", "espwatch.lazyregex", "espwatch.events",
        "espwatch.diagnosis.rules", "espwatch.diagnosis.checks")
"""The modules whose code shapes the cached objects (checks: the names rules may use)."""

_pending: dict[str, Any] = {}
"""The parts of the last load not handed out yet: a `scan` asks for patterns, then rules, from one read."""
_lock = allocate_lock()


def _key_and_name() -> tuple[list[Any], str]:
    """The cache key (versions, and each built-in file's name, size and CRC-32) and the cache file's name."""
    import importlib.util
    import zlib

    from espwatch import __version__
    from espwatch.patterns import builtin_dir, pattern_files

    files = [f for f in pattern_files(builtin_dir(), recursive=False) if isinstance(f, Path)]
    key: list[Any] = [FORMAT, __version__, list(sys.version_info[:2]), str(builtin_dir())]
    for name in CODE:  # found without importing: the checks are imported only when rules are parsed
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        st = os.stat(origin) if origin else None
        key.append([name, st.st_size, st.st_mtime_ns] if st else [name])
    crc = zlib.crc32(str(builtin_dir()).encode("utf-8", "surrogateescape"))  # one file per installation
    for f in files:
        data = f.read_bytes()
        key.append([f.name, len(data), zlib.crc32(data)])
        crc = zlib.crc32(data, crc)
    return key, f"builtin-{crc:08x}.pickle"


def _private(path: Path) -> bool:
    """Whether `path` belongs to this user and nobody else can write it (always true where there are no
    POSIX owners)."""
    if os.name != "posix":
        return True
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _load(file: Path, key: list[Any]) -> dict[str, Any] | None:
    import pickle

    try:
        if not (_private(file.parent) and _private(file)):
            return None
        blob = pickle.loads(file.read_bytes())
    except Exception:  # any unreadable or stale cache is rebuilt, never trusted
        return None
    if not isinstance(blob, dict) or blob.get("key") != key:
        return None
    return blob


def _store(file: Path, blob: dict[str, Any]) -> None:
    import contextlib
    import pickle
    import tempfile

    from espwatch.cachedir import private_dir

    try:
        folder = private_dir(file.parent)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(blob, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return  # a cache is only a speed-up


def _parse() -> dict[str, Any]:
    """The built-in data parsed from the files (what the cache holds)."""
    from espwatch.diagnosis.checks import CHECKS
    from espwatch.diagnosis.rules import default_rules_path, load_rule_files
    from espwatch.patterns import builtin_dir, load_file, pattern_files

    patterns: list[Pattern] = []
    for f in pattern_files(builtin_dir(), recursive=False):
        patterns.extend(load_file(f, lazy=True))
    rules = load_rule_files([default_rules_path()], CHECKS, builtin=1)
    return {"patterns": patterns, "rules": rules}


def _fresh() -> dict[str, Any]:
    """The built-in data, from the cache when it is valid, else parsed (and cached)."""
    from espwatch.cachedir import cache_root

    try:
        key, name = _key_and_name()
    except OSError:
        return _parse()  # the files cannot be read: parsing says which, in one line
    file = cache_root() / "data" / name
    blob = _load(file, key)
    if blob is None:
        data = _parse()
        _store(file, {"key": key, **data})
        return data
    return {"patterns": blob["patterns"], "rules": blob["rules"]}


def _part(name: str) -> Any:
    with _lock:  # threads may load at once: each part of one read is handed out once
        if name not in _pending:
            _pending.clear()
            _pending.update(_fresh())
        return _pending.pop(name)


def load_data(extra_dirs: Sequence[os.PathLike[str] | str] = ()) -> tuple[PatternSet, list[Rule]]:
    """The patterns and rules in force: the built-in ones (from the cache) plus those in `extra_dirs`
    (`--patterns DIR`, parsed every time), as `load_patterns` and `load_rules` give them."""
    from espwatch.diagnosis import load_rules
    from espwatch.patterns import load_patterns

    return load_patterns(extra_dirs, base=builtin_patterns()), load_rules(extra_dirs, base=builtin_rules())


def builtin_patterns() -> list[Pattern]:
    """The built-in patterns (new objects on every call: a PatternSet may resolve their blocks)."""
    return _part("patterns")


def builtin_rules() -> list[Rule]:
    """The built-in diagnosis rules (new objects on every call)."""
    return _part("rules")
