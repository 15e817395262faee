"""Every labelled event in ../shared/corpus is found (same kind, start line within 2), and healthy logs
raise nothing at error level. Prints recall per file and per kind."""

from __future__ import annotations

from corpus_score import score

MIN_RECALL = 0.95


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
