"""One sanitiser for every text sink: nothing a device, a log or an image sends reaches a screen as control.

Rules (docs/hardening.md has the table):

- Escape sequences are removed whole, in their 7-bit (`ESC ...`) and 8-bit (C1, U+0080-U+009F) forms:
  CSI (`ESC [` / U+009B) with its parameters and final byte; the string sequences OSC, DCS, SOS, PM and APC
  (`ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _` / U+009D, U+0090, U+0098, U+009E, U+009F) with their whole
  payload up to BEL, ST (`ESC \\` / U+009C) or the end of the line, so no leftover of a title or clipboard
  payload stays visible; every other `ESC` sequence (`ESC c`, `ESC ( B`, ...).
- What is left: for people (`for_terminal`, `for_markdown`) a stray ESC shows as `␛`, other C0 controls and
  DEL as their Control Pictures (`␇`, `␈`, `␡`; a CR before a line break is dropped), C1 controls and the
  bidirectional overrides/isolates (U+202A-U+202E, U+2066-U+2069) as U+FFFD; TAB and LF stay. For the text
  of a device line (`clean_line`, used by `espwatch.lines.clean_text`) controls are dropped instead, and a
  CR or TAB inside the line reads as a space / stays a tab, as the event contract has always said.
- The device's colours (SGR, `ESC [ ... m`) are shown only inside the TUI, by `sgr_text`: a parser that turns
  them into Rich styles (colour, bold, dim, italic, underline, blink, reverse, strike) and can produce
  nothing else; every other sequence is dropped.
- JSON for scripts (`json_line`): `json.dumps` already escapes C0; DEL, C1, U+2028/U+2029 and the bidi
  controls are written as `\\uXXXX` too, so the stream never carries them raw while the decoded strings are
  unchanged.
- Text quoted from input in an error message goes through `quote`: sanitised and cut to a few dozen
  characters.

`guard_stdio()` wraps `sys.stdout` / `sys.stderr` for the verbs that print text, so even a string that
escaped the rules above is passed through `for_terminal` on its way out.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at every start (a few ms)
if TYPE_CHECKING:  # Rich is imported on first use: the headless verbs never pay for it
    from typing import Any, TextIO

    from rich.color import Color
    from rich.style import Style
    from rich.text import Text

# -- the sequences ------------------------------------------------------------------------------------
class _Lazy:
    """A `re` pattern compiled on its first use: most runs only ever test `_UNSAFE` (a clean line)."""

    def __init__(self, src: str) -> None:
        self.src = src

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "src":
            raise AttributeError(name)
        rx = re.compile(self.src)
        for method in ("search", "match", "sub", "finditer"):
            setattr(self, method, getattr(rx, method))
        return getattr(rx, name)


_STRING_START = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"
_STRING_BODY = r"(?:[^\x07\x1b\x9c\n]|\x1b(?!\\))*+"
_STRING_END = r"(?:\x07|\x1b\\|\x9c)?"
_CSI = r"(?:\x1b\[|\x9b)(?P<params>[0-?]*+)(?P<inter>[ -/]*+)(?P<final>[@-~])?"
_OTHER_ESC = r"\x1b[ -/]*+[0-~]"
SEQUENCE = _Lazy(f"{_STRING_START}{_STRING_BODY}{_STRING_END}|{_CSI}|{_OTHER_ESC}")
"""One escape sequence (7-bit or 8-bit form); unterminated string sequences end at the line end."""

_C0 = "\x00-\x08\x0b-\x1f\x7f"  # all C0 controls but TAB and LF, and DEL
_C1 = "\x80-\x9f"
_BIDI = "\u202a-\u202e\u2066-\u2069"
# Anything a sink has to look at: a fast "nothing to do" test for the common clean line.
_UNSAFE = _Lazy(f"[{_C0}{_C1}{_BIDI}]")
_UNSAFE_JSON = _Lazy(f"[\x7f{_C1}\u2028\u2029{_BIDI}]")
_LEFT_FOR_PEOPLE = _Lazy(f"(?P<crlf>\r(?=\n|$))|[{_C0}{_C1}{_BIDI}]")
_LEFT_IN_LINE = _Lazy(f"[{_C0}{_C1}]")
# Escapes made visible by copy-paste ("␛[0;31m", "?[0;31m"): colours that were meant, not text.
_VISIBLE_SGR = _Lazy(r"\u241b\[[0-?]*[ -/]*[@-~]|(?<![\w\]])\?\[[0-9;]*m")
_VISIBLE_ESC = _Lazy(r"\u241b\[|(?<![\w\]])\?\[(?=[0-9;]*m)")

REPLACEMENT = "\ufffd"


def _picture(ch: str) -> str:
    """The visible stand-in of a control character left after the sequences are gone."""
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␀ ... ␟ (␛ for a stray ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT  # C1 and bidi controls


def _for_people(m: re.Match[str]) -> str:
    return "" if m.group("crlf") else _picture(m.group())  # the CR of a CRLF line break goes


def for_terminal(text: str) -> str:
    """Text that is safe to print on a terminal: escape sequences removed, other controls made visible.

    TAB and LF are kept; everything else below U+0020, DEL, C1 and the bidi controls never get through.
    """
    if not _UNSAFE.search(text):
        return text
    text = SEQUENCE.sub("", text)
    return _LEFT_FOR_PEOPLE.sub(_for_people, text)


def for_markdown(text: str) -> str:
    """Text for a Markdown document (a report shared on GitHub/GitLab): the same rules as the terminal,
    so NUL, C1 and bidi controls (which a browser would hide, or use to reorder the text) show as marks.

    Markdown syntax is not escaped here: `espwatch.report.md_text` and `fence` do that on top."""
    return for_terminal(text)


def clean_line(text: str) -> str:
    """The text of a device line for matching and events: sequences and controls removed.

    A CR inside the line reads as a space; TAB stays; copy-pasted visible colour codes ("␛[0;31m") go too.
    """
    if "\u241b" in text or "?[" in text:
        text = _VISIBLE_SGR.sub("", text)
    # (every character of _UNSAFE is a control or a format character: a printable line holds none, and
    # `isprintable` costs less than the regex on the common clean line)
    if text.isprintable() or not _UNSAFE.search(text):
        return text
    text = SEQUENCE.sub("", text)
    return _LEFT_IN_LINE.sub(_in_line, text)


def _in_line(m: re.Match[str]) -> str:
    return " " if m.group() == "\r" else ""


def quote(text: Any, limit: int = 60) -> str:
    """`text` as quoted in a one-line message: sanitised, on one line, at most `limit` characters + a note."""
    s = for_terminal(str(text)).replace("\n", "\u2424").replace("\t", " ")
    if len(s) > limit:
        s = s[:limit] + f"\u2026 ({len(s) - limit:,} more characters)"
    return repr(s)


def cap_message(text: str, limit: int = 500) -> str:
    """A message for one stderr line: sanitised, on one line, at most `limit` characters."""
    s = for_terminal(text).replace("\n", " ")
    if len(s) > limit:
        s = s[:limit] + f"\u2026 ({len(s) - limit:,} more characters)"
    return s


_json_encode: Callable[[Any], str] | None = None


def _json_encoder() -> Callable[[Any], str]:
    """`json.dumps(obj, ensure_ascii=False)`, byte for byte, with the C encoder made once instead of per
    call (json.dumps makes a new encoder per call when ensure_ascii is False). orjson is not used: it cannot
    write the `", "` and `": "` separators the `scan --json` output has always had."""
    import json  # only JSON writers pay for it
    from json import encoder

    if encoder.c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(ensure_ascii=False).encode

    def default(o: Any) -> Any:
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    make = encoder.c_make_encoder(None, default, encoder.encode_basestring, None, ": ", ", ", False, False,
                                  True)
    join = "".join
    return lambda obj: join(make(obj, 0))


def json_line(obj: Any) -> str:
    """`obj` as one line of JSON (UTF-8 text kept), with DEL, C1, U+2028/9 and bidi controls escaped."""
    global _json_encode
    if _json_encode is None:
        _json_encode = _json_encoder()
    s = _json_encode(obj)
    # (ASCII without DEL holds none of them: two C tests spare most lines the regex)
    if (not s.isascii() or "\x7f" in s) and _UNSAFE_JSON.search(s):
        s = _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", s)
    return s


def write_json_line(obj: Any, out: TextIO) -> None:
    """`json_line(obj)` and a line break, written to `out` in one call. The text is safe for a terminal as
    it is (json escapes C0, `json_line` the rest), so a `TerminalWriter` guarding `out` is passed by."""
    stream = out._stream if type(out) is TerminalWriter else out
    stream.write(json_line(obj) + "\n")


# -- the TUI: SGR colours and nothing else ----------------------------------------------------------------
@lru_cache(maxsize=512)
def _style(state: tuple[Any, ...]) -> Style:
    from rich.style import Style

    bold, dim, italic, underline, blink, reverse, strike, fg, bg = state
    return Style(bold=bold or None, dim=dim or None, italic=italic or None, underline=underline or None,
                 blink=blink or None, reverse=reverse or None, strike=strike or None,
                 color=_color(fg), bgcolor=_color(bg))


def _color(spec: tuple[int, ...] | None) -> Color | None:
    from rich.color import Color

    if spec is None:
        return None
    if len(spec) == 1:
        return Color.from_ansi(spec[0])
    return Color.from_rgb(*spec)


def _extended_color(params: list[int], i: int) -> tuple[tuple[int, ...] | None, int]:
    """Parse `5;n` or `2;r;g;b` after a 38/48 at params[i]; returns (colour, index of the next param)."""
    if i + 1 < len(params) and params[i + 1] == 5 and i + 2 < len(params):
        return (min(params[i + 2], 255),), i + 3
    if i + 1 < len(params) and params[i + 1] == 2 and i + 4 < len(params):
        return tuple(min(v, 255) for v in params[i + 2:i + 5]), i + 5
    return None, len(params)  # malformed: ignore the rest of this sequence


class SgrState:
    """The graphic rendition the device asked for so far (what SGR parameters can set, nothing more)."""

    __slots__ = ("bg", "blink", "bold", "dim", "fg", "italic", "reverse", "strike", "underline")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.bold = self.dim = self.italic = self.underline = False
        self.blink = self.reverse = self.strike = False
        self.fg: tuple[int, ...] | None = None
        self.bg: tuple[int, ...] | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.bold, self.dim, self.italic, self.underline, self.blink, self.reverse, self.strike,
                self.fg, self.bg)

    def apply(self, param_text: str) -> None:
        """Apply the parameters of one `ESC [ ... m` (`;` or `:` separated; empty means 0)."""
        try:
            params = [int(p) if p else 0 for p in re.split(r"[;:]", param_text)] if param_text else [0]
        except ValueError:
            return
        i = 0
        while i < len(params):
            p = params[i]
            i += 1
            if p == 0:
                self.reset()
            elif p == 1:
                self.bold = True
            elif p == 2:
                self.dim = True
            elif p == 3:
                self.italic = True
            elif p in (4, 21):
                self.underline = True
            elif p in (5, 6):
                self.blink = True
            elif p == 7:
                self.reverse = True
            elif p == 9:
                self.strike = True
            elif p == 22:
                self.bold = self.dim = False
            elif p == 23:
                self.italic = False
            elif p == 24:
                self.underline = False
            elif p == 25:
                self.blink = False
            elif p == 27:
                self.reverse = False
            elif p == 29:
                self.strike = False
            elif 30 <= p <= 37:
                self.fg = (p - 30,)
            elif 90 <= p <= 97:
                self.fg = (p - 90 + 8,)
            elif 40 <= p <= 47:
                self.bg = (p - 40,)
            elif 100 <= p <= 107:
                self.bg = (p - 100 + 8,)
            elif p == 39:
                self.fg = None
            elif p == 49:
                self.bg = None
            elif p in (38, 48):
                color, i = _extended_color(params, i - 1)
                if color is not None:
                    if p == 38:
                        self.fg = color
                    else:
                        self.bg = color
            # anything else (fonts, frames, conceal...) is ignored


def _plain_piece(s: str) -> str:
    """Text between sequences in the TUI: controls dropped (a CR reads as a space), bidi controls marked."""
    if not _UNSAFE.search(s):
        return s
    return _LEFT_FOR_PEOPLE.sub(_in_tui, s)


def _in_tui(m: re.Match[str]) -> str:
    ch = m.group()
    if ch == "\r":
        return " "
    return REPLACEMENT if ch >= "\u202a" else ""


def sgr_text(text: str, base: Style | str = "") -> Text:
    """A device line as Rich text: its SGR colours as styles, every other sequence and control dropped.

    Copy-pasted visible escapes ("␛[0;31m", "?[0;31m") are read as the colours they meant.
    """
    from rich.text import Text

    if "\u241b[" in text or "?[" in text:
        text = _VISIBLE_ESC.sub("\x1b[", text)
    out = Text(no_wrap=True, end="", style=base)
    state = SgrState()
    pos = 0
    for m in SEQUENCE.finditer(text):
        if m.start() > pos:
            piece = _plain_piece(text[pos:m.start()])
            if piece:
                out.append(piece, _style(state.key()))
        pos = m.end()
        if m.group("final") == "m" and not m.group("inter") and m.group("params") is not None:
            state.apply(m.group("params"))
    if pos < len(text):
        piece = _plain_piece(text[pos:])
        if piece:
            out.append(piece, _style(state.key()))
    return out


def has_sequences(text: str) -> bool:
    """True when the text carries an escape sequence (7- or 8-bit) or a copy-pasted visible one."""
    return bool(SEQUENCE.search(text)) or bool(_VISIBLE_ESC.search(text))


# -- the last guard before the terminal ------------------------------------------------------------------
class TerminalWriter(io.TextIOBase):
    """A text stream that passes everything written through `for_terminal` before the real stream."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def write(self, s: str) -> int:
        self._stream.write(for_terminal(s))
        return len(s)

    def flush(self) -> None:
        self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    @property
    def wrapped(self) -> TextIO:
        return self._stream


@contextmanager
def guard_stdio() -> Iterator[None]:
    """While inside, `sys.stdout` and `sys.stderr` pass everything through `for_terminal`."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = TerminalWriter(out)  # type: ignore[assignment]
    sys.stderr = TerminalWriter(err)  # type: ignore[assignment]
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        sys.stdout, sys.stderr = out, err
