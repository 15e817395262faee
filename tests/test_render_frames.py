"""Every renderer prints decoded frames exactly as GNU addr2line -pfiaC prints the same addresses."""

from __future__ import annotations

from pathlib import Path

from espwatch.events import Event
from espwatch.render.frames import frame_chains, frame_lines
from espwatch.symbols import SymbolIndex, addr2line_lines, decode_addresses, extract_addresses
from espwatch.tui.detail import event_plain


def _code_addresses(folder: Path, index: SymbolIndex) -> list[int]:
    return [a for a in (int(t, 16) for t in (folder / "addrs.txt").read_text().split()) if index.is_code(a)]


def test_frame_text_equals_addr2line_text(data_dir: Path, tmp_path: Path) -> None:
    folder = data_dir / "rv32-inline-demo"
    index = SymbolIndex.load(folder / "demo.elf", cache_dir=tmp_path)
    addrs = _code_addresses(folder, index)
    assert len(addrs) > 50
    expected = "\n".join(addr2line_lines(index, addrs)).split("\n")
    cas = extract_addresses([" ".join(f"0x{a:08x}" for a in addrs)], index.arch, index.is_code)
    frames = decode_addresses(index, cas)
    assert [c[0].addr for c in frame_chains(frames)] == [ca.lookup for ca in cas]
    wanted = [ca.lookup for ca in cas]
    assert frame_lines(frames) == "\n".join(addr2line_lines(index, wanted)).split("\n")
    assert any(line.startswith(" (inlined by) ") for line in expected)


def test_monitor_copy_text_uses_addr2line_form(data_dir: Path, tmp_path: Path) -> None:
    index = SymbolIndex.load(data_dir / "rv32-inline-demo" / "demo.elf", cache_dir=tmp_path)
    ev = Event("backtrace", 1, 1, "error", "EW301", "Backtrace: 0x420000ad:0x3fc80000")
    ev.frames = decode_addresses(index, extract_addresses([ev.text], index.arch, index.is_code))
    text = event_plain(ev, None)
    chain = addr2line_lines(index, [ev.frames[0].addr])[0]
    assert chain in text and "(inlined by) pump at" in text
