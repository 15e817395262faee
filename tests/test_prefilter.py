"""Prefilter engines: hyperscan, ahocorasick-rs (DFA) and re find the same literals and give the same events
on the whole corpus and on generated logs; the engine is chosen by ESPWATCH_PREFILTER and named by --version."""

from __future__ import annotations

import io
import itertools
import random
import threading

import pytest
from loggen import big_log_chunks, crash_dense_chunks

from espwatch.cli import main
from espwatch.detector import Detector
from espwatch.errors import UsageError
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline, read_reusing
from espwatch.prefilter import ENGINES, Prefilter, available_engines, default_engine

PATTERNS = load_patterns()
INSTALLED = available_engines()
LITERALS = sorted({lit for p in PATTERNS.matchers for lit in p.literals})


def events(data: bytes, engine: str, chunk: int = 1 << 20) -> list[dict]:
    det = Detector(PATTERNS, prefilter_engine=engine)
    out = []
    for i in range(0, len(data), chunk):
        out.extend(det.feed(data[i : i + chunk]))
    out.extend(det.close())
    return [e.to_json() for e in out]


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    return {"big": b"".join(itertools.islice(big_log_chunks(2 << 20, filler_per_log=400), 200)),
            "crash_dense": b"".join(itertools.islice(crash_dense_chunks(1 << 20), 100))}


def test_re_is_always_there_and_the_default_is_the_first_installed(monkeypatch) -> None:
    monkeypatch.delenv("ESPWATCH_PREFILTER", raising=False)
    assert INSTALLED[-1] == "re" and set(INSTALLED) <= set(ENGINES)
    assert default_engine() == INSTALLED[0]
    assert "ahocorasick-rs" in INSTALLED  # a dependency


@pytest.mark.parametrize("engine", INSTALLED)
def test_every_occurrence_with_its_start(engine: str) -> None:
    lits = ["panic'ed", "Backtrace:", "abc", "bc", "c", "rst:0x"]
    pf = Prefilter(lits, engine=engine)
    buf = b"xx Backtrace: abc abcbc rst:0x1 Guru panic'ed (x)\nabc"
    expected = sorted((i, s) for i, lit in enumerate(lits) for s in range(len(buf))
                      if buf.startswith(lit.encode(), s))
    hits = pf.find(buf)
    if pf.overlapping:
        assert sorted(hits) == expected
    else:  # one literal per position, the longest, and no overlaps
        assert set(hits) <= set(expected) and (1, buf.index(b"Backtrace:")) in hits
    ends = [s + len(lits[i]) for i, s in hits]
    assert ends == sorted(ends)
    assert pf.find(bytearray(buf)) == hits and pf.find(memoryview(buf)) == hits


@pytest.mark.parametrize("engine", INSTALLED)
def test_the_same_hits_as_a_plain_search_on_real_lines(engine: str, corpus_dir) -> None:
    data = b"".join(p.read_bytes() for p in sorted(corpus_dir.glob("*.log")))
    pf = Prefilter(LITERALS, engine=engine)
    got = {(i, s) for i, s in pf.find(data)}
    want = set()
    for i, lit in enumerate(LITERALS):
        b = lit.encode()
        s = data.find(b)
        while s >= 0:
            want.add((i, s))
            s = data.find(b, s + 1)
    if pf.overlapping:
        assert got == want
    else:
        assert got <= want
        assert {s for _, s in got} <= {s for _, s in want}


def test_all_engines_give_the_same_events_on_the_corpus(corpus_dir) -> None:
    data = b"".join(p.read_bytes() for p in sorted(corpus_dir.glob("*.log")))
    results = {engine: events(data, engine) for engine in INSTALLED}
    first = results[INSTALLED[0]]
    assert len(first) > 250
    for engine, evs in results.items():
        assert evs == first, engine
    assert events(data, INSTALLED[0], chunk=4093) == first


@pytest.mark.parametrize("kind", ["big", "crash_dense"])
def test_all_engines_give_the_same_events_on_generated_logs(generated, kind: str) -> None:
    data = generated[kind]
    results = {engine: events(data, engine, chunk=65521) for engine in INSTALLED}
    first = results[INSTALLED[0]]
    assert len(first) > 100
    for engine, evs in results.items():
        assert evs == first, engine


def test_scan_json_is_byte_identical_with_every_engine(monkeypatch, capsys, corpus_dir) -> None:
    files = [str(p) for p in sorted(corpus_dir.glob("*.log"))[:12]]
    outputs = {}
    for engine in INSTALLED:
        monkeypatch.setenv("ESPWATCH_PREFILTER", engine)
        main(["scan", "--json", "--no-elf", *files])
        outputs[engine] = capsys.readouterr().out
    assert outputs[INSTALLED[0]].count("\n") > 50
    assert len(set(outputs.values())) == 1


def test_engine_choice_by_environment(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ESPWATCH_PREFILTER", "re")
    assert Detector(PATTERNS).prefilter_engine == "re"
    with pytest.raises(SystemExit):
        main(["--version"])
    out = capsys.readouterr().out
    assert out.startswith("espwatch ") and "prefilter engine: re" in out
    monkeypatch.setenv("ESPWATCH_PREFILTER", "grep")
    with pytest.raises(UsageError, match="ESPWATCH_PREFILTER=grep: not an engine"):
        default_engine()
    assert main(["scan", "--json", "/dev/null"]) == 2
    assert "ESPWATCH_PREFILTER=grep" in capsys.readouterr().err


def test_version_names_the_default_engine(monkeypatch, capsys) -> None:
    monkeypatch.delenv("ESPWATCH_PREFILTER", raising=False)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert f"prefilter engine: {INSTALLED[0]}" in capsys.readouterr().out


@pytest.mark.skipif("hyperscan" not in INSTALLED, reason="hyperscan is not installed (the `fast` extra)")
def test_hyperscan_in_several_threads_at_once() -> None:
    """Each thread scans with its own scratch space, so detectors in threads never collide."""
    data = b"x Backtrace: 0x40081b01:0x3ffb1234 y\n" * 20000
    pf = Prefilter(["Backtrace:", "0x"], engine="hyperscan")
    expected = pf.find(data)
    results, errors = [], []

    def run() -> None:
        try:
            for _ in range(5):
                results.append(pf.find(data) == expected)
        except Exception as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(results) and len(results) == 20


def test_reused_read_buffer_gives_the_same_events(generated, tmp_path) -> None:
    data = generated["crash_dense"][: 300_000] + b"Brownout detector was triggered"  # no final break
    path = tmp_path / "x.log"
    path.write_bytes(data)
    whole = Pipeline(PATTERNS)
    expected = [e.to_json() for e in whole.feed(data) + whole.close()]
    rnd = random.Random(5)
    for size in (1, 7, 4096, rnd.randint(100, 5000), 1 << 20):
        pipe = Pipeline(PATTERNS)
        with open(path, "rb") as fh:
            got = [e.to_json() for e in pipe.run(read_reusing(fh, size))]
        assert got == expected, size
        assert pipe.lines == whole.lines
    with io.BytesIO(data) as fh:  # any binary stream with readinto
        assert [e.to_json() for e in Pipeline(PATTERNS).run(read_reusing(fh, 999))] == expected
