"""The timeline pane: one node per boot, one leaf per notable event, in line order.

`Timeline` is a Textual `Tree` that also keeps the events it lists sorted by line (`events`, `lines`), so
that "next / previous event" is a bisection. Expanded boots cost the tree a rebuild per batch: live, the
last two boots stay open; in replay the first `EXPANDED_BOOTS`; the others are one line each. Changes
made inside `with timeline.changes():` cost one rebuild at the end (Textual's Tree rebuilds its lines
after each node added), and a rebuild does not lay the screen out again unless the number of lines
changed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from espwatch.events import SEVERITY_RANK, Event
from espwatch.patterns import PatternSet
from espwatch.tui.detail import SEVERITY_MARK, SEVERITY_STYLE, boot_label, event_title
from espwatch.tui.document import SessionInfo
from espwatch.tui.quietsize import quiet_virtual_size, scrollbars_follow

MAX_TIMELINE = 20_000
MAX_BOOTS = 1000
EXPANDED_BOOTS = 30


def boot_text(s: SessionInfo) -> Text:
    worst = max(s.counts, key=SEVERITY_RANK.__getitem__) if s.counts else None
    mark_style = {"fatal": "bold red", "error": "red", "warning": "yellow"}.get(worst or "", "green")
    t = Text.assemble(("■ ", mark_style), (boot_label(s), "bold"))
    if s.start_line:
        t.append(f"  {s.start_line}-{s.end_line}", style="dim")
    return t


def event_label(ev: Event, patterns: PatternSet | None, provisional: bool = False) -> Text:
    """A timeline leaf: severity mark, line, title; a provisional event (its input may still change it)
    is marked with `…` and shown in italics."""
    return _leaf_label(_leaf(ev, patterns, provisional))


Leaf = tuple[str, int, str, bool]
"""What a leaf shows (severity, line, title, provisional): kept for the events of a closed boot until it
is opened, instead of a tree node and its label."""


def _leaf(ev: Event, patterns: PatternSet | None, provisional: bool) -> Leaf:
    return ev.severity, ev.line, event_title(ev, patterns), provisional


def _leaf_label(leaf: Leaf) -> Text:
    severity, line, title, provisional = leaf
    t = Text.assemble((SEVERITY_MARK.get(severity, "·"), SEVERITY_STYLE.get(severity, "")),
                      (f" {line:>5} ", "dim"), title)
    if provisional:
        t.stylize("italic")
        t.append(" …", style="dim")
    return t


class Timeline(Tree[Any]):
    """Boots and their notable events; node data is ("boot", number) or ("event", row in the EventStore).

    It lists at most `MAX_BOOTS` boots (replay: the first ones, and a last line saying how many more there
    are; live: the latest ones) and `MAX_TIMELINE` events: "next / previous event" and "next / previous
    boot" go through every one of them anyway (the app keeps them in `LineOrder` and `BootIndex`)."""

    virtual_size = quiet_virtual_size()  # lines added in a batch: no new layout of the screen each time

    def __init__(self, patterns: PatternSet, live: bool, id: str | None = None) -> None:
        self._holding = 0
        self._stale = False
        self._waiting: dict[int, dict[int, Leaf]] = {}
        """Boot -> its events (row -> leaf) not made into nodes yet: the boot is closed (most boots of a
        big replay: thousands of nodes and labels less to make, and to walk for the collector)."""
        super().__init__("boots", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.patterns = patterns
        self.live = live
        self.rows: list[int] = []
        """The listed events (EventStore rows), sorted by line."""
        self.lines: list[int] = []
        self._boot_nodes: dict[int, TreeNode[Any]] = {}
        self._event_nodes: dict[int, TreeNode[Any]] = {}
        self._boot_of_row: dict[int, int] = {}
        """Boot of each listed event (a node in `_event_nodes`, or waiting in `_waiting`)."""
        self._more: TreeNode[Any] | None = None
        self.unlisted_boots = 0
        self._last_listed = 0
        self._more_shown = 0

    # -- fewer rebuilds ------------------------------------------------------------------------------
    @contextmanager
    def changes(self) -> Iterator[None]:
        """Nodes added, relabelled or removed inside cost the tree one rebuild, at the end."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            if not self._holding and self._stale:
                self._stale = False
                self._invalidate()

    def _invalidate(self) -> None:
        """Textual's Tree calls this after each change: its lines are rebuilt on the next draw. Held back
        inside `changes()`; and a repaint, not a new layout of the screen (the pane's size is fixed by
        the CSS; when the number of lines changes, the new virtual size lays it out)."""
        self._open_waiting()
        if self._holding:
            self._stale = True
            return
        self._clear_line_cache()
        self._updates += 1
        self.root._reset()
        self.refresh()

    def _open_waiting(self) -> None:
        """Make the nodes of the waiting events of boots that are open now (a boot opens through
        `TreeNode.expand`, which calls `_invalidate`)."""
        if not self._waiting:
            return
        opened = [n for n in self._waiting if self._boot_nodes[n].is_expanded]
        if not opened:
            return
        self._holding += 1
        try:
            for number in opened:
                parent = self._boot_nodes[number]
                for row, leaf in self._waiting.pop(number).items():
                    self._event_nodes[row] = parent.add_leaf(_leaf_label(leaf), data=("event", row))
        finally:
            self._holding -= 1
        self._stale = True

    def watch_virtual_size(self, size: Size) -> None:
        scrollbars_follow(self, size)

    def process_label(self, label: Any) -> Text:
        """Tree keeps the first line of a label; ours are one line already (Text.split costs more than the
        rest of adding a node)."""
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def get_label_width(self, node: TreeNode[Any]) -> int:
        """As Tree.render_label draws it (toggle icon, label), without drawing it (once per line and
        rebuild)."""
        icon = (self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE) if node.allow_expand else ""
        label = node.label
        return cell_len(icon) + (label.cell_len if isinstance(label, Text) else cell_len(label))

    @property
    def capped(self) -> bool:
        return len(self.rows) >= MAX_TIMELINE

    def lists_boot(self, number: int) -> bool:
        return number in self._boot_nodes

    def boot_node(self, number: int, sessions: Any, info: SessionInfo | None = None) -> TreeNode[Any] | None:
        """The node of a boot, made when needed; None when the timeline does not list it (full)."""
        node = self._boot_nodes.get(number)
        if node is not None:
            return node
        if not self.live and len(self._boot_nodes) >= MAX_BOOTS:
            self.unlisted_boots = max(self.unlisted_boots, number - self._last_listed)
            return None
        s = info or sessions.get(number) or SessionInfo(number, 0, 0, {}, {})
        expand = self.live or len(self._boot_nodes) < EXPANDED_BOOTS
        node = self.root.add(boot_text(s), data=("boot", number), expand=expand)
        self._boot_nodes[number] = node
        self._last_listed = max(self._last_listed, number)
        old = self._boot_nodes.get(number - 2)
        if self.live and old is not None and old.is_expanded:
            old.collapse()
        if self.live and len(self._boot_nodes) > MAX_BOOTS:
            self._drop_boot(min(self._boot_nodes))
        return node

    def _drop_boot(self, number: int) -> None:
        node = self._boot_nodes.pop(number)
        gone = [row for row, b in self._boot_of_row.items() if b == number]
        for row in gone:
            self._unlist(row)
        self._waiting.pop(number, None)
        node.remove()

    def update_boots(self, sessions: list[SessionInfo]) -> None:
        """Boots that are new or changed (their events come after)."""
        for s in sessions:
            known = s.number in self._boot_nodes
            node = self.boot_node(s.number, {}, s)
            if node is not None and known:
                label = boot_text(s)
                if label != node.label:  # each set_label costs the tree a pass over its visible lines
                    node.set_label(label)
        if self.unlisted_boots != self._more_shown:  # once per batch: a tree change costs a refresh
            self._more_shown = self.unlisted_boots
            label = Text(f"… {self.unlisted_boots:,} more boots not listed: ] / [ and n / N still go to them",
                         style="dim italic")
            if self._more is None:
                self._more = self.root.add_leaf(label, data=None)
            else:
                self._more.set_label(label)

    def add(self, row: int, ev: Event, known: Any, provisional: bool = False) -> None:
        """List an event (when the timeline shows its kind, lists its boot and is not full)."""
        if self.capped or not self.patterns.in_timeline(ev):
            return
        parent = self.boot_node(ev.boot, known)
        if parent is None:
            return
        leaf = _leaf(ev, self.patterns, provisional)
        if parent.is_expanded:
            self._event_nodes[row] = parent.add_leaf(_leaf_label(leaf), data=("event", row))
        else:
            self._waiting.setdefault(ev.boot, {})[row] = leaf
        self._boot_of_row[row] = ev.boot
        i = bisect_right(self.lines, ev.line)
        self.lines.insert(i, ev.line)
        self.rows.insert(i, row)

    def has(self, row: int) -> bool:
        return row in self._boot_of_row

    def relabel(self, row: int, ev: Event, provisional: bool = False) -> None:
        node = self._event_nodes.get(row)
        if node is not None:
            node.set_label(event_label(ev, self.patterns, provisional))
            return
        closed = self._waiting.get(self._boot_of_row.get(row, -1))
        if closed is not None and row in closed:
            closed[row] = _leaf(ev, self.patterns, provisional)

    def _unlist(self, row: int) -> TreeNode[Any] | None:
        boot = self._boot_of_row.pop(row, None)
        if boot is None:
            return None
        closed = self._waiting.get(boot)
        if closed is not None:
            closed.pop(row, None)
        i = self.rows.index(row)
        del self.rows[i]
        del self.lines[i]
        return self._event_nodes.pop(row, None)

    def remove(self, row: int) -> None:
        node = self._unlist(row)
        if node is not None:
            node.remove()

    def reveal(self, row: int) -> bool:
        """Move the cursor to the event's leaf (opening its boot); False when it is not listed."""
        boot = self._boot_of_row.get(row)
        if boot is None:
            return False
        parent = self._boot_nodes[boot]
        if not parent.is_expanded:
            parent.expand()
        self._open_waiting()
        node = self._event_nodes[row]
        _ = self.last_line  # the lines rebuilt now: the node opened has no line number before
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)
        return True

    def reveal_boot(self, number: int) -> bool:
        node = self._boot_nodes.get(number)
        if node is None:
            return False
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)
        return True
