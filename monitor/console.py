"""Standard output and error that can print any text on every OS, without a traceback.

- A stream that is not a terminal (a pipe, a file) carries UTF-8 on every OS. Windows would otherwise use
  the ANSI code page (cp1252) and fail on the first `✓` or on device text such as `温度`. An explicit
  `PYTHONIOENCODING` or Python's UTF-8 mode is left as it is.
- A terminal keeps its encoding (Windows consoles are Unicode through Python's console I/O; a Linux terminal
  may be Latin-1). Characters it cannot show become ASCII look-alikes (`✓` -> `OK`, `…` -> `...`) or `?`,
  never an exception.
"""

from __future__ import annotations

import codecs
import os
import sys

TYPE_CHECKING = False  # no `typing` import at start-up for the annotations alone
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

ERRORS = "espwatch-substitute"
"""The codec error handler registered by `prepare_streams` (ASCII look-alikes, else `?`)."""

SUBSTITUTES = {
    "✓": "OK", "✗": "X", "…": "...", "→": "->", "←": "<-", "↑": "^", "↓": "v", "—": "-", "–": "-",
    "‘": "'", "’": "'", "“": '"', "”": '"', "•": "*", "·": ".", "µ": "u", "°": " deg", "×": "x",
    "≤": "<=", "≥": ">=", "≠": "!=", "±": "+/-", "█": "#", "▏": "|",
}

_UNICODE = {"utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-8-sig"}


def _substitute(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(SUBSTITUTES.get(ch, "?") for ch in bad), exc.end


def register() -> None:
    """Register the `espwatch-substitute` error handler (idempotent)."""
    try:
        codecs.lookup_error(ERRORS)
    except LookupError:
        codecs.register_error(ERRORS, _substitute)


def prepare(stream: TextIO, environ: Mapping[str, str] | None = None) -> None:
    """Make `stream` able to write any str (see the module docstring); a stream that cannot be
    reconfigured (a test's capture, a closed stream) is left alone."""
    env = os.environ if environ is None else environ
    reconfigure = getattr(stream, "reconfigure", None)
    encoding = getattr(stream, "encoding", None)
    if reconfigure is None or not encoding:
        return
    register()
    try:
        name = codecs.lookup(encoding).name
        tty = stream.isatty()
        if not tty and name not in _UNICODE and not env.get("PYTHONIOENCODING") and not sys.flags.utf8_mode:
            reconfigure(encoding="utf-8", errors="replace")
        elif stream.errors == "strict":
            # In a Unicode encoding only lone surrogates can fail; elsewhere: look-alikes.
            reconfigure(errors="replace" if name in _UNICODE else ERRORS)
    except (AttributeError, LookupError, OSError, ValueError):
        return


def prepare_streams() -> None:
    """`prepare` standard output and standard error (the command line calls this first)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            prepare(stream)


def need_terminal(stdin: bool = True) -> None:
    """Refuse (UsageError, one line) to start the screen without a terminal to draw on and read keys from
    (output piped, no console): its escape codes would go to a file. Called before a port or a log is
    opened."""
    if not (sys.stdout.isatty() and (sys.stdin.isatty() or not stdin)):
        from espwatch.errors import UsageError

        which = "output" if not sys.stdout.isatty() else "input"
        raise UsageError(f"the screen needs a terminal and the standard {which} is not one; "
                         "for text output use `espwatch scan LOG` or `espwatch report LOG`")
