"""Finding the application ELF of a project, and checking it against the SHA-256 the app printed.

Searched from a start folder and its parents: ESP-IDF (`build/project_description.json`, key
`app_elf` relative to the build folder), PlatformIO (`.pio/build/<env>/firmware.elf`) and Arduino
CLI (`build/<fqbn with dots>/<sketch>.ino.elf`). With several candidates the newest file wins.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SHA_LINE_RE = re.compile(r"ELF file SHA256:\s*([0-9a-fA-F]{6,64})")


def elf_sha256(path: str | os.PathLike[str]) -> str:
    """Lower-case hex SHA-256 of the whole file (what ESP-IDF prints a prefix of)."""
    import hashlib  # here: a command without an ELF starts without it

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_elf_sha(line: str) -> str | None:
    """The hex prefix from an `ELF file SHA256: 3cd6b8c3a2e43895` log line, else None."""
    m = SHA_LINE_RE.search(line)
    return m.group(1).lower() if m else None


def sha_matches(elf_hex: str, printed_prefix: str) -> bool:
    """True when the printed (possibly shortened) digest is a prefix of the ELF's digest."""
    printed = printed_prefix.strip().lower().rstrip(".").rstrip("…")
    if len(printed) < 6 or not re.fullmatch(r"[0-9a-f]+", printed):
        return False
    return elf_hex.strip().lower().startswith(printed)


def _newest(paths: list[Path]) -> Path | None:
    files = [p for p in paths if p.is_file()]
    if not files:
        return None
    return max(files, key=lambda p: p.stat().st_mtime)


def _esp_idf(folder: Path) -> Path | None:
    desc = folder / "build" / "project_description.json"
    if not desc.is_file():
        return None
    import json

    try:
        data = json.loads(desc.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    app_elf = data.get("app_elf")
    if not isinstance(app_elf, str) or not app_elf:
        return None
    build_dir = data.get("build_dir")
    base = Path(build_dir) if isinstance(build_dir, str) and Path(build_dir).is_dir() else desc.parent
    elf = Path(app_elf) if Path(app_elf).is_absolute() else base / app_elf
    if elf.is_file():
        return elf
    fallback = desc.parent / app_elf  # the build folder was moved
    return fallback if fallback.is_file() else None


def _platformio(folder: Path) -> Path | None:
    build = folder / ".pio" / "build"
    if not build.is_dir():
        return None
    return _newest(list(build.glob("*/firmware.elf")))


def _arduino(folder: Path) -> Path | None:
    build = folder / "build"
    if not build.is_dir():
        return None
    return _newest(list(build.glob("*/*.ino.elf")))


def find_elf(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The application ELF for the project at `start` (default: cwd) or one of its parents."""
    folder = Path(start) if start is not None else Path.cwd()
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        for finder in (_esp_idf, _platformio, _arduino):
            elf = finder(candidate)
            if elf is not None:
                return elf
    return None
