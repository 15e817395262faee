"""Panes that change often without laying the whole screen out again.

Textual's `virtual_size` asks for a new layout of the screen on every change, and a new layout repaints
every widget on it: a log that grows on each batch, or a tree that gets lines, then costs a full repaint
per batch (tens of ms on the event loop while a big replay is scanned). The panes here have a size set
by the CSS, so their virtual size matters only to their own scrollbars: `quiet_virtual_size()` updates
those (a scrollbar that appears or goes still lays the screen out, through Textual's own reactive) and
repaints the pane alone. `update_in_place` does the same for a one-line `Static` (the status line,
updated after each batch).
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Static


def quiet_virtual_size() -> Reactive[Size]:
    """For the class body: `virtual_size = quiet_virtual_size()`, with a `watch_virtual_size` that calls
    `scrollbars_follow`."""
    return Reactive(Size(0, 0), layout=False)


def scrollbars_follow(widget: Widget, size: Size) -> None:
    """The pane's scrollbars after a change of its virtual size (call from `watch_virtual_size`)."""
    if widget.is_mounted:
        widget._scroll_update(size)


def update_in_place(widget: Static, content: Any) -> None:
    """`Static.update` for a widget whose size the CSS sets: repaint it, no new layout of the screen."""
    try:
        widget.update(content, layout=False)
    except TypeError:  # a Textual before `layout=` (the size does not change: a layout is only slower)
        widget.update(content)
