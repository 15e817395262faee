"""The help screen: every key of the monitor on one page."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]espwatch keys[/b]

  [b]n[/b] / [b]N[/b]        next / previous event        [b]][/b] / [b][[/b]   next / previous boot
  [b]/[/b]            search (regex, smart case)   [b]>[/b] / [b]<[/b]   next / previous match (also F3)
  [b]l[/b]            level filter: all, I+, W+, E  [b]f[/b]       tag filter (regex)
  [b]b[/b]            only the boot under the cursor  [b]Esc[/b]  clear filters and search
  [b]m[/b]            toggle bookmark              [b]'[/b]       next bookmark
  [b]t[/b]            host timestamps on/off       [b]Tab[/b]     next pane
  [b]c[/b]            copy event (OSC 52)          [b]C[/b]       copy report      [b]w[/b]  save report
  [b]↑ ↓ PgUp PgDn Home End[/b]  move in the focused pane; End follows the live log

Live monitor:
  [b]Ctrl+R[/b]       reset the chip (DTR/RTS)     [b]Ctrl+P[/b]  reset into the bootloader
  [b]p[/b]            pause / resume the display (recording goes on)
  [b]i[/b]            send a line to the device    [b]Ctrl+][/b] quit ([b]q[/b] too in replay)
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: auto; max-width: 100; border: round $accent; padding: 1 2;
                          background: $panel; }
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP)
