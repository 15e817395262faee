"""Streaming properties of the binary log decoder: any split of the bytes into reads gives the same text;
damage (bytes changed, lost, inserted, a capture cut off) never raises, never loses the text lines around
it, gives marked lines, and decoding resumes at the next intact frame; text-only logs pass unchanged."""

from __future__ import annotations

import random

import pytest
from binlog_build import frame, ref, u32
from conftest import CORPUS, small_fixture

from espwatch.binlog import BinlogDecoder, ElfStrings, decode_bytes, open_decoder, sniff
from espwatch.binlog.decoder import MARKER
from espwatch.binlog.frames import FrameSplitter, Gap

FIX = small_fixture("esp32-binlog-app")
RAW = (FIX / "binlog").read_bytes()


def fixture_frames() -> list[bytes]:
    """The 141 frames of the fixture, as sent."""
    splitter = FrameSplitter(armed=True)
    items = splitter.feed(RAW) + splitter.close()
    out, pos = [], 0
    for it in items:
        if isinstance(it, Gap):
            pos += len(it.data)
        else:
            out.append(RAW[pos:pos + it.size])
            pos += it.size
    assert pos == len(RAW) and len(out) == 141
    return out


FRAMES = fixture_frames()


@pytest.fixture(scope="module")
def elves() -> tuple[ElfStrings, ElfStrings]:
    return ElfStrings(FIX / "log.elf").load(), ElfStrings(FIX / "bootloader.elf").load()


def decode_in_pieces(data: bytes, dec: BinlogDecoder, rng: random.Random, max_piece: int = 64) -> bytes:
    out = bytearray()
    pos = 0
    while pos < len(data):
        n = rng.randint(1, max_piece)
        out += dec.feed(data[pos:pos + n])
        pos += n
    return bytes(out + dec.close())


@pytest.mark.parametrize("seed", range(12))
def test_random_splits_give_the_same_lines(seed: int, elves) -> None:
    rng = random.Random(seed)
    data = RAW + b"Guru Meditation Error: Core  0 panic'ed (LoadProhibited)\r\n" + RAW[: len(RAW) // 2]
    whole = decode_bytes(data, BinlogDecoder(*elves))
    for max_piece in (1, 7, 300, 5000):
        assert decode_in_pieces(data, BinlogDecoder(*elves), rng, max_piece) == whole
    unarmed = BinlogDecoder(*elves, armed=False)
    assert decode_in_pieces(data, unarmed, rng, 50) == whole and unarmed.active


def test_idle_between_frames_changes_nothing(elves) -> None:
    dec = BinlogDecoder(*elves)
    out = bytearray()
    for f in FRAMES[:30]:
        out += dec.feed(f)
        out += dec.idle()
    out += dec.close()
    ref_dec = BinlogDecoder(*elves)
    assert bytes(out) == decode_bytes(b"".join(FRAMES[:30]), ref_dec)


TEXT_LINES = [
    b"ets Jul 29 2019 12:21:46",
    b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
    b"Guru Meditation Error: Core  1 panic'ed (StoreProhibited). Exception was unhandled.",
    b"Backtrace: 0x400d3bcf:0x3ffb5a30 0x40088d2d:0x3ffb5a50",
    b"temperature 23 \xc2\xb0C, \xe2\x9c\x93 ok",
    b"\x1b[0;33mW (123) text: a text-mode line with colour\x1b[0m",
]


def _damage(batch: bytes, rng: random.Random) -> tuple[bytes, int, int]:
    """One kind of damage inside a batch of frames: (damaged bytes, [lo, hi) of the original bytes it
    touched; lo == hi for bytes inserted at lo)."""
    kind = rng.choice(["flip", "lose", "insert", "lose_many", "duplicate"])
    at = rng.randrange(1, len(batch))
    if kind == "flip":
        return batch[:at] + bytes([batch[at] ^ (1 << rng.randrange(8))]) + batch[at + 1:], at, at + 1
    if kind in ("lose", "lose_many"):
        n = rng.randint(1, 12) if kind == "lose" else rng.randint(20, 200)
        return batch[:at] + batch[at + n:], at, at + n
    if kind == "insert":
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40)))
        return batch[:at] + junk + batch[at:], at, at
    n = rng.randint(1, 30)
    return batch[:at] + batch[at:at + n] + batch[at:], at, at


@pytest.mark.parametrize("seed", range(40))
def test_random_damage_keeps_text_and_resumes(seed: int, elves) -> None:
    rng = random.Random(1000 + seed)
    data = bytearray()
    intact: list[bytes] = []  # frames that no damage touched, in order: before and after the damage
    for k in range(6):
        data += TEXT_LINES[(seed + k) % len(TEXT_LINES)] + b"\r\n"
        start = rng.randrange(len(FRAMES) - 12)
        batch_frames = FRAMES[start:start + rng.randint(3, 12)]
        batch = b"".join(batch_frames)
        damaged, lo, hi = _damage(batch, rng)
        pos = 0
        for f in batch_frames:
            end = pos + len(f)
            if end <= lo or pos >= max(hi, lo + 1) or (lo == hi and lo in (pos, end)):
                intact.append(f)
            pos = end
        data += damaged
    cut = rng.random() < 0.3
    if cut:  # the capture ends inside a frame
        data += FRAMES[rng.randrange(len(FRAMES))][:-rng.randint(1, 10)]
    dec = BinlogDecoder(*elves)
    out = decode_in_pieces(bytes(data), dec, rng, rng.choice([3, 64, 4096]))
    lines = [line.rstrip(b"\r") for line in out.split(b"\n")]
    for k in range(6):
        text = TEXT_LINES[(seed + k) % len(TEXT_LINES)]
        assert any(line.endswith(text) for line in lines), (seed, text)
    assert dec.stats.junk_runs + dec.stats.undecoded >= 1
    assert any(line.startswith(MARKER) for line in lines)
    pos = 0
    for f in intact:  # each decodes to the same line(s) as alone, in order: decoding resumed
        want = decode_bytes(f, BinlogDecoder(*elves))
        found = out.find(want, pos)
        assert found >= 0, (seed, want)
        pos = found + len(want)
    assert len(intact) >= 6
    if cut:
        assert out.endswith(b"binary log frame cut off (the input ended inside it)\n")


@pytest.mark.parametrize("seed", range(10))
def test_noise_never_raises(seed: int, elves) -> None:
    rng = random.Random(5000 + seed)
    pieces = []
    for _ in range(60):
        r = rng.random()
        if r < 0.4:
            pieces.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))))
        elif r < 0.7:
            f = bytearray(rng.choice(FRAMES))
            for _ in range(rng.randint(0, 3)):
                f[rng.randrange(len(f))] = rng.getrandbits(8)
            pieces.append(bytes(f))
        elif r < 0.85:
            pieces.append(bytes([rng.choice([1, 2])]) + bytes(rng.getrandbits(8) for _ in range(rng.randint(2, 40))))
        else:
            pieces.append(rng.choice(TEXT_LINES) + b"\n")
    data = b"".join(pieces)
    for dec in (BinlogDecoder(*elves), BinlogDecoder(), BinlogDecoder(armed=True), BinlogDecoder(elves[1], elves[0])):
        out = decode_in_pieces(data, dec, rng, rng.choice([1, 33, 1000]))
        assert isinstance(out, bytes)
        dec2 = dec.fresh()
        assert decode_bytes(data, dec2) == out  # splits never matter, noise or not


def test_text_only_logs_pass_unchanged() -> None:
    logs = sorted(CORPUS.glob("*.log"))
    assert len(logs) >= 50
    for path in logs:
        data = path.read_bytes()
        dec = BinlogDecoder()
        assert decode_bytes(data, dec) == data, path.name
        assert not dec.active and not sniff(data)


def test_lone_frame_in_text_needs_an_elf_to_count() -> None:
    # A lone frame-like run between text lines could be chance bytes: it switches the decoder on only
    # when its format is a string of the given ELF and its arguments fit that format.
    for one in (frame(b"lonely %d", [u32(1)]), FRAMES[-2]):
        data = b"before\r\n" + one + b"after\r\n"
        assert decode_bytes(data, BinlogDecoder()) == data
    with_elf = open_decoder(FIX / "log.elf", FIX / "bootloader.elf", armed=False)
    data = b"before\r\n" + FRAMES[-2] + b"after\r\n"
    assert decode_bytes(data, with_elf) == b"before\r\n\x1b[0;32mI (379) example: Success\x1b[0m\nafter\r\n"
    inline = b"before\r\n" + frame(b"lonely %d", [u32(1)]) + b"after\r\n"
    assert decode_bytes(inline, open_decoder(FIX / "log.elf", armed=False)) == inline


def test_damage_between_text_lines_is_one_marked_line(elves) -> None:
    damaged = FRAMES[40][:9] + FRAMES[41][12:]  # bytes lost across a frame boundary
    data = b"".join(FRAMES[:3]) + b"line before\r\n" + damaged + b"line after\r\n" + FRAMES[50]
    out = decode_bytes(data, BinlogDecoder(*elves)).split(b"\n")
    i = out.index(b"line before\r")
    assert out[i + 1].startswith(MARKER) and b"bytes not decoded: damaged binary log frame" in out[i + 1]
    assert out[i + 2] == b"line after\r"
    assert out[i + 3].startswith(b"\x1b[0;32mI (")


def test_sniff() -> None:
    assert sniff(RAW) and sniff(RAW[300:2000])
    assert not sniff(b"plain text\n" * 100)
    assert not sniff(bytes(random.Random(3).getrandbits(8) for _ in range(20000)))


def test_text_mode_elf_is_not_a_binlog_elf(fixtures_dir) -> None:
    elf = ElfStrings(fixtures_dir / "esp32-coredump-app" / "esp32.elf")
    assert not elf.has_binlog and elf.role == "app"


def test_bad_elf_is_one_line_error(tmp_path) -> None:
    from espwatch.errors import ElfError

    bad = tmp_path / "app.elf"
    bad.write_bytes(b"not an elf at all")
    with pytest.raises(ElfError, match="is not an ELF file"):
        open_decoder(bad)
    with pytest.raises(ElfError, match="no such ELF file"):
        open_decoder(tmp_path / "missing.elf")
    trunc = tmp_path / "trunc.elf"
    trunc.write_bytes((FIX / "log.elf").read_bytes()[:100])
    with pytest.raises(ElfError):
        open_decoder(trunc)


def test_inline_record_helpers_roundtrip() -> None:
    data = frame(b"%s", [ref(b"x" * 600)])
    assert decode_bytes(data, BinlogDecoder(armed=True)).count(b"x") == 600
