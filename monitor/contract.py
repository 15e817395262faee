"""The `scan --json` contract shipped with espwatch: docs/events.md and docs/events.schema.json.

Both files are package data of `espwatch._docs` (the source tree's `docs/` folder), in wheels and
editable installs alike; `espwatch explain --contract` / `--schema` print them.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = "espwatch._docs"
EVENTS = "events.md"
SCHEMA = "events.schema.json"


def contract_dir() -> Path:
    """The folder holding the installed contract files."""
    import importlib

    return Path(next(iter(importlib.import_module(PACKAGE).__path__)))


def contract_path(name: str = EVENTS) -> Path:
    """The installed copy of `events.md` (or of `events.schema.json` with `name=SCHEMA`)."""
    return contract_dir() / name


def read_contract(name: str = EVENTS) -> str:
    """The text of a contract file; InputError when the installation lacks it."""
    from espwatch.errors import InputError

    path = contract_path(name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the shipped contract: {exc.strerror or exc}") from None
