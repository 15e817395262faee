"""Console mode: keys typed in the monitor go to the device as a terminal would send them.

For an esp_console REPL (linenoise): printable characters as UTF-8, Enter as the line ending chosen with
`--eol`, Backspace as DEL, Tab, Escape, the arrows and editing keys as VT100/xterm escape sequences, and
Ctrl+letter as the control byte (Ctrl+C is 0x03, the REPL's interrupt). Nothing is echoed locally: the
device echoes what it accepts, as with idf.py monitor and miniterm.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

SEQUENCES: dict[str, bytes] = {
    "tab": b"\t",
    "shift+tab": b"\x1b[Z",
    "backspace": b"\x7f",
    "ctrl+h": b"\x08",
    "escape": b"\x1b",
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "right": b"\x1b[C",
    "left": b"\x1b[D",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
    "insert": b"\x1b[2~",
    "delete": b"\x1b[3~",
    "pageup": b"\x1b[5~",
    "pagedown": b"\x1b[6~",
    "ctrl+left": b"\x1b[1;5D",
    "ctrl+right": b"\x1b[1;5C",
    "ctrl+space": b"\x00",
    "ctrl+@": b"\x00",
    "ctrl+backslash": b"\x1c",
    "ctrl+right_square_bracket": b"\x1d",
    "ctrl+circumflex_accent": b"\x1e",
    "ctrl+underscore": b"\x1f",
}


def key_bytes(key: str, character: str | None, eol: bytes = b"\r\n") -> bytes | None:
    """The bytes a terminal sends for a key (Textual's key name and character); None for keys that
    send nothing (a lone modifier, function keys)."""
    if key == "enter":
        return eol
    seq = SEQUENCES.get(key)
    if seq is not None:
        return seq
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5].lower()) - ord("a") + 1])
    if character and (character.isprintable() or character == " "):
        return character.encode("utf-8")
    return None


class ConsoleKeys(Widget, can_focus=True):
    """Takes every key while console mode is on and posts the bytes to send; F2 leaves."""

    DEFAULT_CSS = """
    ConsoleKeys { height: 1; background: $warning-darken-3; color: $text; }
    """

    class Send(Message):
        def __init__(self, data: bytes) -> None:
            super().__init__()
            self.data = data

    class Leave(Message):
        pass

    def __init__(self, eol: bytes = b"\r\n", id: str | None = None) -> None:
        super().__init__(id=id)
        self.eol = eol
        self.sent = 0

    def render(self) -> Text:
        t = Text.assemble((" CONSOLE ", "bold black on yellow"), " every key goes to the device · ",
                          ("F2", "bold"), " leaves · ", ("Ctrl+T", "bold"), " menu · ", ("Ctrl+]", "bold"),
                          " quits", no_wrap=True, overflow="ellipsis")
        return t

    async def _on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.key == "f2":
            self.post_message(self.Leave())
            return
        data = key_bytes(event.key, event.character, self.eol)
        if data:
            self.sent += len(data)
            self.post_message(self.Send(data))

    async def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        if event.text:
            self.post_message(self.Send(event.text.replace("\n", "\r").encode("utf-8")))
