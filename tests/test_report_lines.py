"""`report` reads only the lines it shows: from the offsets the scan recorded, the same text, numbers and
redactions (PEM blocks across lines included) as reading every line of the file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from espwatch.lineoffsets import LineOffsets, LineReader, lines_holding
from espwatch.lines import LineSplitter
from espwatch.patterns import load_patterns
from espwatch.redact import PEM_NEEDLE, Redactor
from espwatch.report import ReportOptions, collect, read_lines
from espwatch.scan import scan_stream

PATTERNS = load_patterns()
KEY = ["-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7bq1wEXAMPLEKEYbase64data0123456789abcdef",
       "xK9lQm3EXAMPLEKEYmorebase64data==", "-----END RSA PRIVATE KEY-----"]


def hostile_log(corpus_dir: Path, seed: int) -> bytes:
    """Corpus lines with multi-line private keys (whole, cut by a prefix, unterminated), CRLF, ANSI colour,
    long lines with a marker past the cut, a key on one line, and no break at the end."""
    rnd = random.Random(seed)
    lines = []
    for p in sorted(corpus_dir.glob("*.log"))[:20]:
        lines.extend(p.read_bytes().split(b"\n"))
    out = []
    for i, ln in enumerate(lines):
        out.append(ln)
        r = rnd.random()
        if r < 0.01:
            out.extend(k.encode() for k in KEY)
        elif r < 0.015:
            out.append(b"I (12) tls: key: " + KEY[0].encode())
            out.extend(k.encode() for k in KEY[1:3])
            out.append(KEY[3].encode() + b" done password=hunter2")
        elif r < 0.02:
            out.append(b"\x1b[0;31m" + KEY[0].encode() + b"\x1b[0m\r")
            out.append(b"\x1b[0;31m" + KEY[1].encode() + b"\x1b[0m\r")
            out.append(b"\x1b[0;31m" + KEY[3].encode() + b"\x1b[0m\r")
        elif r < 0.025:
            out.append(b"x" * 2000 + KEY[0].encode())  # the marker is past what is kept of the line
        elif r < 0.03:
            out.append(b" ".join(k.encode() for k in KEY))  # a whole key on one line
        elif r < 0.04:
            out.append(b"W (1) wifi: token=abcdef123456 \xff\xfe" + b"y" * rnd.randint(0, 3000) + b"\r")
        if i == len(lines) - 40:
            out.append(KEY[0].encode())  # never ends: every later line is key material
    return b"\n".join(out).rstrip(b"\n")


def offsets_of(path: Path) -> LineOffsets:
    offsets = LineOffsets(stride=512)
    scan_stream(str(path), PATTERNS, offsets=offsets)
    return offsets


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("max_chars", [400, None])
def test_the_same_lines_as_reading_everything(corpus_dir: Path, tmp_path: Path, seed: int,
                                              max_chars: int | None) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(hostile_log(corpus_dir, seed))
    offsets = offsets_of(path)
    total = sum(1 for _ in LineSplitter().feed(path.read_bytes())) + 1
    assert len(offsets) > 20
    rnd = random.Random(seed)
    for _ in range(12):
        wanted = set()
        for _ in range(rnd.randint(1, 30)):
            a = rnd.randint(1, total + 5)
            wanted.update(range(a, a + rnd.randint(0, 60)))
        old, new = Redactor(), Redactor()
        expected = read_lines(str(path), wanted, old, max_chars)
        assert read_lines(str(path), wanted, new, max_chars, offsets=offsets) == expected
        assert new.counts == old.counts
    assert any("[REDACTED:private_key]" in t for t in expected.values())


def test_without_recorded_offsets_and_without_redaction(corpus_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(hostile_log(corpus_dir, 3))
    wanted = set(range(1, 50)) | set(range(700, 760)) | {2000}
    for red in (Redactor(enabled=False), Redactor()):
        expected = read_lines(str(path), wanted, Redactor(enabled=red.enabled), 400)
        assert read_lines(str(path), wanted, red, 400, offsets=LineOffsets()) == expected


def test_lines_read_back_by_number(corpus_dir: Path, tmp_path: Path) -> None:
    data = hostile_log(corpus_dir, 4)
    path = tmp_path / "x.log"
    path.write_bytes(data)
    offsets = offsets_of(path)
    splitter = LineSplitter(max_line=1600)
    every = [(ln.number, ln.text) for ln in [*splitter.feed(data), *splitter.flush()]]
    with LineReader(str(path), offsets, 1600) as reader:
        for first, last in [(1, 1), (1, 30), (500, 540), (len(every) - 3, len(every) + 10)]:
            got = [(n, t) for n, _, t in reader.lines(first, last)]
            assert got == every[first - 1 : last]
        starts = [at for _, at, _ in reader.lines(1, len(every))]
    assert starts[0] == 0 and all(data[s - 1 : s] == b"\n" for s in starts[1:])


def test_recorded_offsets_stay_bounded(tmp_path: Path) -> None:
    offsets = LineOffsets(stride=4096)
    for n in range(1, 100_000):
        offsets.note(n, n * 40)
    assert len(offsets) <= 100_000 * 40 // 4096 + 1
    assert offsets.before(1) == (1, 40) and offsets.before(0) == (1, 0)


def test_marker_lines_by_byte_search(tmp_path: Path) -> None:
    path = tmp_path / "k.log"
    body = b"a\n" * 100_000 + b"x " + KEY[0].encode() + b"\nb\n" + KEY[3].encode() + b"\r\n"
    path.write_bytes(body)
    found = list(lines_holding(str(path), PEM_NEEDLE, 1000, size=4099))
    assert [t for _, t in found] == ["x " + KEY[0], KEY[3]]
    assert [body[s : s + 2] for s, _ in found] == [b"x ", b"--"]


@pytest.mark.parametrize("size", [7, 8, 9, 64, 4099])
def test_marker_lines_same_with_every_search(tmp_path: Path, size: int) -> None:
    """StringZilla's find and the prefilter's engine give the same lines, needles straddling chunks too."""
    from espwatch.linecount import _stringzilla

    if _stringzilla() is None:
        pytest.skip("StringZilla is not installed (the test extra has it)")
    path = tmp_path / "k.log"
    body = b"".join(b"line %d %s\n" % (i, b"KEY-----" * (i % 3) if i % 7 == 0 else b"") for i in range(400))
    path.write_bytes(body + b"KEY----- no newline at the end")
    a = list(lines_holding(str(path), PEM_NEEDLE, 1000, size=size, use_stringzilla=True))
    b = list(lines_holding(str(path), PEM_NEEDLE, 1000, size=size, use_stringzilla=False))
    assert a == b and len(a) == sum(1 for i in range(400) if i % 21 and i % 7 == 0) + 1


def test_report_reads_only_what_it_shows(corpus_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(hostile_log(corpus_dir, 5))
    content = collect(str(path), ReportOptions(no_elf=True), PATTERNS)
    assert content.lines
    assert "private key" in content.redactor.summary()
