"""The one exception the symbol decoder raises for bad input (printed as one line by the CLI)."""

from __future__ import annotations


class DecodeError(Exception):
    """The ELF cannot be used for decoding: missing, truncated, not an ELF, wrong architecture..."""
