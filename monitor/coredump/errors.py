"""The one exception of core dump decoding (printed as one line by the CLI)."""

from __future__ import annotations

from espwatch.pipeline import InputError


class CoreDumpError(InputError):
    """Nothing could be decoded: no core dump in the input, an unknown format, or too little of it left."""
