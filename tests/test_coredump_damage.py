"""Damaged core dumps: lines lost or garbled on the UART, truncated partition images, bad checksums, the
wrong ELF, inputs that are no core dump. Each gets one clear statement of what was lost, the rest is
decoded, and no task is ever shown with a backtrace that differs from the intact dump's unless it is
marked damaged."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.coredump import CoreDumpError, decode_coredump, load_elf

CASES = {
    "esp32-elf": ("esp32-coredump-app", "coredump.b64", "esp32.elf"),
    "esp32-binary": ("esp32-coredump-bin-app", "coredump_bin.b64", "esp32_bin.elf"),
    "esp32c3-elf": ("esp32c3-coredump-app", "coredump.b64", "esp32c3.elf"),
    "esp32c6-elf-sha256": ("esp32c6-coredump-app", "coredump.b64", "esp32c6.elf"),
}


@pytest.fixture(scope="module")
def elves(fixtures_dir, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = {}
    for key, (folder, dump, elf) in CASES.items():
        index, program = load_elf(fixtures_dir / folder / elf, cache_dir=cache)
        lines = (fixtures_dir / folder / dump).read_text().splitlines()
        intact = decode_coredump("\n".join(lines).encode(), index=index, program=program)
        out[key] = (index, program, lines, {t.tcb: [f.pc for f in t.frames] for t in intact.tasks})
    return out


def _log(lines: list[str], end: bool = True) -> bytes:
    text = ["I (433) esp_core_dump_uart: Print core dump to uart...",
            "================= CORE DUMP START ================="]
    text += lines
    if end:
        text.append("================= CORE DUMP END =================")
    return ("\n".join(text) + "\n").encode()


def _judge(rep, good) -> tuple[int, list[str]]:
    """(tasks decoded as in the intact dump, tasks that differ but are not marked damaged)."""
    same = sum(1 for t in rep.tasks if good.get(t.tcb) == [f.pc for f in t.frames])
    silent = [t.name or hex(t.tcb) for t in rep.tasks if not t.damaged and good.get(t.tcb) != [f.pc for f in t.frames]]
    return same, silent


@pytest.mark.parametrize("key", list(CASES))
@pytest.mark.parametrize("lost", [1, 2, 5])
def test_lost_lines_are_said_and_never_silently_wrong(elves, key, lost, capsys) -> None:
    index, program, lines, good = elves[key]
    recovered = total = errors = 0
    for cut in range(1, len(lines) - lost):
        data = _log(lines[:cut] + lines[cut + lost:])
        try:
            rep = decode_coredump(data, index=index, program=program)
        except CoreDumpError as exc:  # the ELF header itself was lost: nothing to locate anything with
            assert "ELF header" in str(exc) or "program headers" in str(exc)
            errors += 1
            continue
        assert rep.damage and "missing" in rep.damage[0], (cut, rep.damage)
        same, silent = _judge(rep, good)
        assert not silent, (cut, silent, rep.damage)
        recovered += same
        total += len(good)
    with capsys.disabled():
        print(f"\n  {key}, {lost} line(s) lost at each of {len(lines) - lost - 1} places: "
              f"{recovered}/{total} task backtraces intact ({100 * recovered / total:.0f}%), "
              f"{errors} dumps undecodable")
    assert recovered / total > 0.6
    assert errors <= 1


@pytest.mark.parametrize("key", list(CASES))
def test_garbled_line_is_named_and_its_tasks_marked(elves, key) -> None:
    index, program, lines, good = elves[key]
    for i in range(2, len(lines), 3):
        damaged = list(lines)
        damaged[i] = damaged[i][:10] + "#%&" + damaged[i][13:]
        rep = decode_coredump(_log(damaged), index=index, program=program)
        assert rep.damage[0].startswith("1 line(s) of the dump are not valid base64 (line "), rep.damage
        assert f"line {i + 3}" in rep.damage[0]
        assert not _judge(rep, good)[1], (i, rep.damage)


@pytest.mark.parametrize("key", list(CASES))
def test_truncated_partition_image(elves, key) -> None:
    index, program, lines, good = elves[key]
    raw = b"".join(base64.b64decode(line) for line in lines)
    assert decode_coredump(raw + b"\xff" * 4096, index=index, program=program).damage == []
    for n in range(200, len(raw), 211):
        rep = decode_coredump(raw[:n], index=index, program=program)
        assert rep.damage[0] == (f"the dump has {n} of the {len(raw)} bytes its header announces "
                                 f"({len(raw) - n} missing: the partition image is truncated)")
        assert rep.checksum_ok is None
        assert not _judge(rep, good)[1]


def test_log_cut_before_the_end_marker(elves) -> None:
    index, program, lines, _good = elves["esp32c3-elf"]
    rep = decode_coredump(_log(lines[:40], end=False), index=index, program=program)
    assert "the log ends before `CORE DUMP END`: the end of the dump is missing" in rep.damage


def test_checksum_mismatch_is_reported(elves) -> None:
    index, program, lines, _good = elves["esp32-elf"]
    raw = bytearray(b"".join(base64.b64decode(line) for line in lines))
    rnd = random.Random(7)
    for _ in range(20):
        bad = bytearray(raw)
        bad[rnd.randrange(600, len(raw) - 8)] ^= 0x40
        rep = decode_coredump(bytes(bad), index=index, program=program)
        assert rep.checksum_ok is False
        assert rep.damage[0].startswith("CRC32 checksum mismatch (stored ")


def test_wrong_elf_is_not_used(fixtures_dir, elves) -> None:
    c6_index, c6_program, _l, _g = elves["esp32c6-elf-sha256"]
    dump = (fixtures_dir / "esp32c3-coredump-app" / "coredump.b64").read_bytes()
    rep = decode_coredump(dump, index=c6_index, program=c6_program)
    assert rep.elf_matches is False
    assert rep.elf_note.startswith("WRONG ELF: the dump was written by the app with ELF SHA256 7d946a8e8")
    assert all(f.function is None for t in rep.tasks for f in t.frames)
    assert [t.name for t in rep.tasks] == ["main", "IDLE", "esp_timer"]  # the dump itself still decodes
    forced = decode_coredump(dump, index=c6_index, program=c6_program, force_elf=True)
    assert forced.elf_matches is False and "used anyway" in forced.elf_note
    xt_index, xt_program, _l, _g = elves["esp32-elf"]
    rep = decode_coredump(dump, index=xt_index, program=xt_program)
    assert rep.elf_note == "esp32.elf is a xtensa ELF but the core dump is from a riscv chip: decoded without it"


def test_binary_dump_with_another_elf(fixtures_dir, elves) -> None:
    """The binary format has no SHA-256: an ELF where the crashed task's return addresses do not follow call
    instructions is refused (here: the same test app, another build)."""
    index, program, _l, _g = elves["esp32-elf"]
    dump = (fixtures_dir / "esp32-coredump-bin-app" / "coredump_bin.b64").read_bytes()
    rep = decode_coredump(dump, index=index, program=program)
    assert rep.elf_matches is False
    assert "the crashed task's return addresses do not follow calls in esp32.elf" in rep.elf_note


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff" * 65536, "is erased flash (all 0xFF): no core dump was saved there"),
    (b"", "is empty"),
    (b"hello\nworld\n", "no core dump in"),
    (bytes([0, 1, 2, 3]) * 512, "is binary but does not start with a core dump header"),
    (b"\x7fELF\x01\x01\x01" + bytes(9) + b"\x02\x00\x5e\x00" + bytes(40), "is an application ELF, not a core dump"),
    (b"==== ESP32 CORE DUMP START ====\nCrashed task handle: 0x3ffafba0\n==== ESP32 CORE DUMP END ====\n",
     "no core dump in"),
    (b"\x40\x00\x00\x00\x07\x01\x05\x00" + bytes(60), "unknown core dump format version 1.7"),
], ids=["erased", "empty", "text", "binary", "app-elf", "gdb-report", "future-version"])
def test_no_core_dump_is_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(CoreDumpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_coredump(data, name="in.bin")


def test_cli_exit_status_and_one_line_errors(fixtures_dir, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    folder = fixtures_dir / "esp32c3-coredump-app"
    elf = str(folder / "esp32c3.elf")
    assert main(["coredump", str(folder / "coredump.b64"), "--elf", elf]) == 0
    out = capsys.readouterr().out
    assert "Crashed task: 'main' (TCB 0x3fc8ec30), not in an interrupt" in out
    lines = (folder / "coredump.b64").read_text().splitlines()
    cut = tmp_path / "cut.log"
    cut.write_bytes(_log(lines[:20] + lines[22:]))
    assert main(["coredump", str(cut), "--elf", elf]) == 1
    assert "DAMAGED: the dump has" in capsys.readouterr().out
    erased = tmp_path / "erased.bin"
    erased.write_bytes(b"\xff" * 8192)
    assert main(["coredump", str(erased), "--elf", elf]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "erased flash" in err and "Traceback" not in err
    assert main(["coredump", str(tmp_path / "nope.log"), "--no-elf"]) == 2
    assert capsys.readouterr().err == f"espwatch: {tmp_path / 'nope.log'}: no such file\n"
    assert main(["coredump", str(folder / "coredump.b64"), "--elf", str(fixtures_dir / "esp32c6-coredump-app" /
                                                                          "esp32c6.elf")]) == 1
    assert "WRONG ELF" in capsys.readouterr().out


def test_elf_core_files_and_old_flash_magic(fixtures_dir, elves, tmp_path: Path) -> None:
    """An ELF core file (no header, no checksum) and a v3.x flash image (a magic word first) decode too."""
    index, program, lines, good = elves["esp32-elf"]
    raw = b"".join(base64.b64decode(line) for line in lines)
    body = raw[24:-4]  # the ELF the device wrote between its 24-byte header and its CRC
    rep = decode_coredump(body, index=index, program=program)
    assert rep.source == "elf" and rep.fmt == "elf" and rep.arch == "xtensa"
    assert {t.tcb: [f.pc for f in t.frames] for t in rep.tasks} == good
    assert rep.panic_reason == "abort() was called at PC 0x400d66b9 on core 0"
    magic = decode_coredump(b"\xed\x04\x2c\xe3" + raw + b"\xff" * 512, index=index, program=program)
    assert magic.source == "raw" and not magic.damage and magic.checksum_ok


def test_esp_coredump_saved_core(fixtures_dir, elves, tmp_path: Path) -> None:
    """esp-coredump's `--save-core` output (its converter of a binary dump) decodes like the dump itself."""
    import shutil
    import subprocess
    import sys

    pytest.importorskip("esp_coredump")
    exe = shutil.which("esp-coredump") or str(Path(sys.executable).with_name("esp-coredump"))
    folder = fixtures_dir / "esp32-coredump-bin-app"
    core = tmp_path / "core.elf"
    # without Espressif's GDB esp-coredump stops after writing the core file
    subprocess.run([exe, "info_corefile", "--core", str(folder / "coredump_bin.b64"), "--core-format", "b64",
                    "--save-core", str(core), str(folder / "esp32_bin.elf")], capture_output=True, timeout=120)
    assert core.is_file()
    index, program, _lines, _good = elves["esp32-binary"]
    rep = decode_coredump(core.read_bytes(), index=index, program=program)
    direct = decode_coredump((folder / "coredump_bin.b64").read_bytes(), index=index, program=program)
    assert rep.source == "elf" and not rep.damage
    assert [(t.tcb, t.name, [f.pc for f in t.frames]) for t in rep.tasks] == \
        [(t.tcb, t.name, [f.pc for f in t.frames]) for t in direct.tasks]
    assert rep.crashed_task.name == "main" and rep.exception.name == direct.exception.name
