"""Score the detector against the corpus labels (tests/data/corpus, a copy of ../shared/corpus): recall per kind, false alarms per file.

Run as a script for a table: `python tests/corpus_score.py [-v]`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from helpers import scan_file

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
LINE_SLACK = 2


@dataclass
class FileScore:
    file: str
    healthy: bool
    labelled: int = 0
    found: int = 0
    missed: list[dict] = field(default_factory=list)
    extra: list[tuple[str, int, str]] = field(default_factory=list)
    error_on_healthy: list[tuple[str, int, str]] = field(default_factory=list)


def load_labels(corpus: Path = CORPUS) -> list[dict]:
    out = []
    for name in sorted(corpus.glob("labels*.jsonl")):
        for line in name.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def score(corpus: Path = CORPUS) -> tuple[list[FileScore], Counter, Counter]:
    """Per-file scores, and per-kind (labelled, found) counters."""
    per_kind_total: Counter = Counter()
    per_kind_found: Counter = Counter()
    results = []
    for lab in load_labels(corpus):
        _, events = scan_file(corpus / lab["file"])
        fs = FileScore(lab["file"], bool(lab["healthy"]))
        used: set[int] = set()
        for want in lab["events"]:
            fs.labelled += 1
            per_kind_total[want["kind"]] += 1
            match = None
            for i, ev in enumerate(events):
                if i not in used and ev.kind == want["kind"] and abs(ev.line - want["line"]) <= LINE_SLACK:
                    match = i
                    break
            if match is None:
                fs.missed.append(want)
            else:
                used.add(match)
                fs.found += 1
                per_kind_found[want["kind"]] += 1
        labelled_kinds = {w["kind"] for w in lab["events"]}
        for i, ev in enumerate(events):
            if i in used:
                continue
            if ev.kind in labelled_kinds or ev.severity in ("warning", "error", "fatal"):
                fs.extra.append((ev.kind, ev.line, ev.severity))
            if fs.healthy and ev.severity in ("warning", "error", "fatal"):
                fs.error_on_healthy.append((ev.kind, ev.line, ev.text[:100]))
        results.append(fs)
    return results, per_kind_total, per_kind_found


def main() -> int:
    verbose = "-v" in sys.argv
    results, total, found = score()
    for fs in results:
        flag = "healthy" if fs.healthy else ""
        print(f"{fs.found:3}/{fs.labelled:<3} extra={len(fs.extra):<3} {fs.file} {flag}")
        if verbose:
            for m in fs.missed:
                print(f"      MISSED {m['kind']} line {m['line']}")
            for e in fs.extra:
                print(f"      extra {e}")
        for e in fs.error_on_healthy:
            print(f"      WARNING OR WORSE ON HEALTHY {e}")
    print()
    for kind in sorted(total):
        print(f"  {kind:24} {found[kind]:3}/{total[kind]:<3} {100 * found[kind] / total[kind]:5.1f}%")
    t, f = sum(total.values()), sum(found.values())
    print(f"recall {f}/{t} = {100 * f / t:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
