"""The help screen (every key of the monitor on one page) and the Ctrl+T menu of idf.py monitor."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Moving", [
        ("n / N", "next / previous event (at the live tail: the newest)"),
        ("] / [", "next / previous boot"),
        ("↑ ↓ PgUp PgDn Home End", "move in the focused pane; End follows the live log"),
        ("Tab", "next pane"),
        ("Enter", "the selected event's details (when the side panes are hidden)"),
    ]),
    ("Finding", [
        ("/", "search (regex; lowercase = ignore case); the hit count shows in the status line"),
        ("> / <  (F3)", "next / previous match"),
        ("l", "level filter: all, I+, W+, E"),
        ("f", "tag filter (regex)"),
        ("b", "only the boot under the cursor"),
        ("o", "several ports: all, port A alone, port B alone, ... (reset and send act on the one shown)"),
        ("Esc", "clear filters and search"),
        ("m / '", "toggle a bookmark / next bookmark"),
    ]),
    ("Showing", [
        ("s", "side panes (timeline, details) on / off; off by itself below 120 columns"),
        ("W", "wrap long lines"),
        ("d", "decoded frames under backtraces on / off"),
        ("t", "host timestamps on / off"),
    ]),
    ("Saving", [
        ("c", "copy the event (clipboard)"),
        ("C", "copy the Markdown report"),
        ("w", "write the Markdown report beside the log"),
    ]),
    ("Live monitor", [
        ("F2", "console mode: keys go to the device (esp_console REPL); F2 again leaves"),
        ("i", "send one line to the device"),
        ("Ctrl+R / Ctrl+P", "reset the chip / reset into the bootloader (DTR/RTS)"),
        ("p", "pause / resume the display (recording goes on)"),
        ("Ctrl+T", "menu, as in idf.py monitor: reset, bootloader, pause, timestamps, logging"),
        ("Ctrl+]", "quit (q too in replay)"),
    ]),
]

MENU: list[tuple[str, str, str]] = [
    ("r", "reset", "reset the chip"),
    ("p", "bootloader", "reset into the bootloader"),
    ("y", "pause", "pause / resume the output on screen"),
    ("i", "timestamps", "timestamps on / off"),
    ("l", "logging", "copy the output to a file on / off"),
    ("t", "send_ctrl_t", "send Ctrl+T itself to the device"),
    ("h", "help", "all keys"),
    ("x", "quit", "quit"),
]
"""Ctrl+T then a key (also with Ctrl held, as in idf.py monitor): (key, action, what it does)."""


def keys_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for title, rows in KEYS:
        table.add_row(Text(title, style="bold underline"), "")
        for key, what in rows:
            table.add_row(key, what)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: auto; max-width: 100; height: auto; max-height: 90%;
                                  border: round $accent; padding: 0 2; background: $panel; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("espwatch keys", style="bold"))
            yield Static(keys_table())


class MenuScreen(ModalScreen[str | None]):
    """The Ctrl+T menu: the next key picks an action (dismissed with its name, or None)."""

    DEFAULT_CSS = """
    MenuScreen { align: center bottom; background: $background 0%; }
    MenuScreen > Static { width: auto; border: round $warning; padding: 0 1; background: $panel;
                          margin-bottom: 2; }
    """

    def compose(self) -> ComposeResult:
        t = Text("Ctrl+T  ", style="bold")
        for key, _, what in MENU:
            t.append(key, style="bold yellow")
            t.append(f" {what}   ")
        t.append("Esc", style="bold")
        t.append(" cancels")
        yield Static(t)

    async def _on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        key = event.key.removeprefix("ctrl+")
        if key == "tab":  # Ctrl+I arrives as Tab
            key = "i"
        for k, action, _ in MENU:
            if key == k:
                self.dismiss(action)
                return
        self.dismiss(None)
