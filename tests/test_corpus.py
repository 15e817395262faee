"""Every labelled event in the corpus is found (same kind, start line within 2), and healthy logs raise
nothing at warning level or above. Prints recall per file and per kind."""

from __future__ import annotations

from corpus_score import score

MIN_RECALL = 0.99


def test_corpus_recall_and_healthy_logs(corpus_dir, capsys) -> None:
    results, total, found = score(corpus_dir)
    with capsys.disabled():
        print()
        for fs in results:
            print(f"  {fs.found:3}/{fs.labelled:<3} false alarms {len(fs.extra):<2} {fs.file}")
        for kind in sorted(total):
            print(f"  recall {kind:24} {found[kind]:3}/{total[kind]}")
        t, f = sum(total.values()), sum(found.values())
        print(f"  corpus recall {f}/{t} = {100 * f / t:.1f}%")
    assert len(results) == 53
    recall = sum(found.values()) / sum(total.values())
    assert recall >= MIN_RECALL, f"recall {recall:.3f}"
    for kind in total:
        assert found[kind] / total[kind] >= MIN_RECALL or total[kind] - found[kind] <= 1, kind
    errors = [(fs.file, e) for fs in results for e in fs.error_on_healthy]
    assert not errors, errors
    assert sum(fs.healthy for fs in results) == 7


def test_every_corpus_panic_with_a_register_dump_carries_its_pc(corpus_dir, capsys) -> None:
    from helpers import scan_file

    with_dump = with_pc = 0
    missing = []
    for log in sorted(corpus_dir.glob("*.log")):
        _, events = scan_file(log)
        for ev in events:
            if ev.kind not in ("panic", "cache_disabled_access", "int_wdt", "stack_overflow"):
                continue
            if not any("egister dump" in line for line in ev.block):
                continue
            with_dump += 1
            if ev.fields.get("pc"):
                with_pc += 1
                if "mepc" in ev.fields:
                    assert ev.fields["pc"] == ev.fields["mepc"], (log.name, ev.line)
            else:
                missing.append((log.name, ev.line, ev.kind))
    with capsys.disabled():
        print(f"\n  corpus crash events with a register dump: {with_dump}, carrying their PC: {with_pc}")
    assert with_dump >= 15
    assert not missing, missing
