"""The timeline pane: one node per boot, one leaf per notable event, in line order.

`Timeline` is a Textual `Tree` that also keeps the events it lists sorted by line (`events`, `lines`), so
that "next / previous event" is a bisection. Expanded boots cost the tree a rebuild per batch: live, the
last two boots stay open; in replay the first `EXPANDED_BOOTS`; the others are one line each.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from espwatch.events import SEVERITY_RANK, Event
from espwatch.patterns import PatternSet
from espwatch.tui.detail import SEVERITY_MARK, SEVERITY_STYLE, boot_label, event_title
from espwatch.tui.document import SessionInfo

MAX_TIMELINE = 20_000
EXPANDED_BOOTS = 30


def boot_text(s: SessionInfo) -> Text:
    worst = max(s.counts, key=SEVERITY_RANK.__getitem__) if s.counts else None
    mark_style = {"fatal": "bold red", "error": "red", "warning": "yellow"}.get(worst or "", "green")
    t = Text.assemble(("■ ", mark_style), (boot_label(s), "bold"))
    if s.start_line:
        t.append(f"  {s.start_line}-{s.end_line}", style="dim")
    return t


def event_label(ev: Event, patterns: PatternSet | None) -> Text:
    return Text.assemble((SEVERITY_MARK.get(ev.severity, "·"), SEVERITY_STYLE.get(ev.severity, "")),
                         (f" {ev.line:>5} ", "dim"), event_title(ev, patterns))


class Timeline(Tree[Any]):
    """Boots and their notable events; node data is ("boot", number) or ("event", Event)."""

    def __init__(self, patterns: PatternSet, live: bool, id: str | None = None) -> None:
        super().__init__("boots", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.patterns = patterns
        self.live = live
        self.events: list[Event] = []
        """The listed events, sorted by line."""
        self.lines: list[int] = []
        self._boot_nodes: dict[int, TreeNode[Any]] = {}
        self._event_nodes: dict[int, TreeNode[Any]] = {}

    @property
    def capped(self) -> bool:
        return len(self.events) >= MAX_TIMELINE

    def boot_node(self, number: int, sessions: dict[int, SessionInfo]) -> TreeNode[Any]:
        node = self._boot_nodes.get(number)
        if node is None:
            s = sessions.get(number) or SessionInfo(number, 0, 0, {}, {})
            expand = self.live or len(self._boot_nodes) < EXPANDED_BOOTS
            node = self.root.add(boot_text(s), data=("boot", number), expand=expand)
            self._boot_nodes[number] = node
            old = self._boot_nodes.get(number - 2)
            if self.live and old is not None and old.is_expanded:
                old.collapse()
        return node

    def add(self, sessions: list[SessionInfo], events: list[Event], known: dict[int, SessionInfo]) -> None:
        """New or changed boot sessions and new events (in any order)."""
        for s in sessions:
            self.boot_node(s.number, known).set_label(boot_text(s))
        for ev in events:
            if self.capped or not self.patterns.in_timeline(ev):
                continue
            parent = self.boot_node(ev.boot, known)
            node = parent.add_leaf(event_label(ev, self.patterns), data=("event", ev))
            self._event_nodes[id(ev)] = node
            i = bisect_right(self.lines, ev.line)
            self.lines.insert(i, ev.line)
            self.events.insert(i, ev)

    def reveal(self, ev: Event) -> bool:
        """Move the cursor to `ev`'s leaf (opening its boot); False when it is not listed."""
        node = self._event_nodes.get(id(ev))
        if node is None:
            return False
        if node.parent is not None and not node.parent.is_expanded:
            node.parent.expand()
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)
        return True

    def reveal_boot(self, number: int, sessions: dict[int, SessionInfo]) -> None:
        node = self.boot_node(number, sessions)
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)

    def neighbour(self, selected: Event | None, current_line: int, direction: int) -> Event | None:
        """The listed event after (direction 1) or before (-1) the selection / the line at the cursor."""
        if selected is not None and selected.line == current_line:
            # several events on one line: step through them in order
            same = [i for i, e in enumerate(self.events) if e is selected]
            if same:
                pos = same[0] + direction
            elif direction > 0:
                pos = bisect_right(self.lines, current_line)
            else:
                pos = bisect_left(self.lines, current_line) - 1
        elif direction > 0:
            pos = bisect_right(self.lines, current_line) if current_line else 0
        else:
            pos = bisect_left(self.lines, current_line) - 1
        if 0 <= pos < len(self.events):
            return self.events[pos]
        return None
