"""The decoder's error: the project's `ElfError` (bad ELF input, one clear message for the CLI)."""

from __future__ import annotations

from espwatch.errors import ElfError as DecodeError

__all__ = ["DecodeError"]
