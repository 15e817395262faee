"""LineIndex.line_start / line: the same offsets whatever the order of the questions (a screenful asks for
consecutive lines and continues from the line before; a jump goes back to the block index)."""

from __future__ import annotations

import random
from pathlib import Path

from espwatch.tui.document import BLOCK, LineIndex


def test_line_starts_in_any_order(tmp_path: Path) -> None:
    rnd = random.Random(5)
    parts = []
    for i in range(40_000):
        body = b"x" * rnd.choice([0, 1, 7, 80, 300, BLOCK // 3])
        parts.append(b"%d %s%s" % (i, body, b"\r\n" if i % 3 == 0 else b"\n"))
    data = b"".join(parts) + b"last line without a break"
    path = tmp_path / "lines.log"
    path.write_bytes(data)
    starts = [0] + [i + 1 for i, c in enumerate(data) if c == 0x0A]
    index = LineIndex(path)
    for k in range(0, len(data), 1 << 20):
        index.extend(data[k:k + (1 << 20)])
    assert index.line_count == len(starts)
    order = list(range(1, len(starts) + 1, 97))  # forward pages
    order += [n for s in rnd.sample(range(1, len(starts) - 50), 200) for n in range(s, s + 40)]  # screenfuls
    order += rnd.sample(range(1, len(starts) + 1), 2000)  # jumps back and forth
    order += list(range(len(starts), 0, -211))  # backwards
    for n in order:
        assert index.line_start(n) == starts[n - 1], n
    for n in rnd.sample(range(1, len(starts) + 1), 500):
        raw, length, start = index.line(n)
        end = starts[n] - 1 if n < len(starts) else len(data)
        full = data[starts[n - 1]:end].removesuffix(b"\r")
        assert start == starts[n - 1] and length == len(full) and raw == full[:len(raw)], n
    index.close()
