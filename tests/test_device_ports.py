"""Ports and the first five minutes: board families, the port chosen without --port, a port that is not
there (a clear line, no empty session log), against faked port listings and real pseudo-terminals."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.commands.ports import format_ports
from espwatch.device.choose import choose_port
from espwatch.device.connect import wait_for_port
from espwatch.device.ports import PortInfo, clean, find_board, likely_ports, port_at, same_board
from espwatch.errors import PortNotFound

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim

posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")


def port(device: str, vid: int | None, pid: int | None, serial: str | None = None, location: str | None = None,
         product: str | None = None) -> PortInfo:
    return PortInfo(device, vid, pid, product or "n/a", serial, None, location, product)


JTAG = port("/dev/ttyACM0", 0x303A, 0x1001, "F4:12:FA:5B:3C:10", "1-1.2:1.0", "USB JTAG/serial debug unit")
CP2102 = port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001", "1-1.3:1.0", "CP2102 USB to UART Bridge Controller")
CH340 = port("/dev/ttyUSB1", 0x1A86, 0x7523, None, "1-1.4:1.0", "USB Serial")
CH9102 = port("/dev/ttyACM1", 0x1A86, 0x55D4, "5434012345", "1-1.5:1.0", "USB Single Serial")
PROG_A = port("/dev/ttyUSB2", 0x0403, 0x6010, None, "2-1:1.0", "Dual RS232-HS")
PROG_B = port("/dev/ttyUSB3", 0x0403, 0x6010, None, "2-1:1.1", "Dual RS232-HS")
FT232 = port("/dev/ttyUSB4", 0x0403, 0x6001, "A10KZ3", "2-2:1.0", "FT232R USB UART")
LEGACY = port("/dev/ttyS0", None, None)


def test_families_and_likely_ports() -> None:
    assert [p.family for p in (JTAG, CP2102, CH340, CH9102, PROG_A, PROG_B, FT232, LEGACY)] == [
        "USB-Serial-JTAG", "CP210x", "CH340/CH9102", "CH340/CH9102", "ESP-Prog", "ESP-Prog", "FTDI", None]
    assert PROG_A.is_jtag_channel and not PROG_A.likely and "JTAG" in PROG_A.note
    assert PROG_B.likely and not PROG_B.is_jtag_channel
    assert likely_ports([LEGACY, PROG_A, PROG_B, JTAG]) == [PROG_B, JTAG]
    j = JTAG.to_json()
    assert j["vid_pid"] == "303a:1001" and j["family"] == "USB-Serial-JTAG" and j["likely"] is True
    assert j["product"] == "USB JTAG/serial debug unit" and j["serial_number"] == "F4:12:FA:5B:3C:10"
    assert {"device", "bridge", "description", "manufacturer", "location", "note"} <= set(j)


def test_ports_table() -> None:
    text = format_ports([JTAG, PROG_A, PROG_B, LEGACY])
    lines = text.splitlines()
    assert lines[0].split() == ["DEVICE", "VID:PID", "FAMILY", "PRODUCT", "SERIAL"]
    row = next(ln for ln in lines if "/dev/ttyACM0" in ln)
    assert row.startswith("*") and "303a:1001" in row and "USB-Serial-JTAG" in row
    assert "USB JTAG/serial debug unit" in row and "F4:12:FA:5B:3C:10" in row
    assert not next(ln for ln in lines if "/dev/ttyUSB2" in ln).startswith("*")
    assert lines[-1] == "* 2 ports look like ESP boards: choose one with --port"
    assert format_ports([CP2102]).splitlines()[-1].startswith("* looks like an ESP board")
    assert format_ports([]).startswith("no serial ports found")


def test_descriptor_strings_cannot_carry_escape_sequences() -> None:
    assert clean("evil\x1b[2J\x07name\x9b") == "evil?[2J?name?"
    assert clean(None) is None


def test_ports_verb_json(capsys) -> None:
    assert main(["ports", "--json"]) == 0
    for p in json.loads(capsys.readouterr().out):
        assert {"device", "vid_pid", "bridge", "family", "likely", "product", "serial_number"} <= set(p)


def test_same_board() -> None:
    assert same_board(JTAG, port("/dev/ttyACM3", 0x303A, 0x1001, "F4:12:FA:5B:3C:10", "1-1.1:1.0"))
    assert not same_board(JTAG, port("/dev/ttyACM0", 0x303A, 0x1001, "F4:12:FA:00:00:00", "1-1.2:1.0"))
    assert not same_board(JTAG, CP2102)
    assert same_board(CH340, port("/dev/ttyUSB7", 0x1A86, 0x7523, None, "1-1.4:1.0"))  # same socket
    assert not same_board(CH340, port("/dev/ttyUSB1", 0x1A86, 0x7523, None, "1-1.6:1.0"))
    assert not same_board(LEGACY, LEGACY)  # nothing to recognise it by
    twins = [port("/dev/ttyUSB5", 0x1A86, 0x7523), port("/dev/ttyUSB6", 0x1A86, 0x7523)]
    assert find_board(port("x", 0x1A86, 0x7523), twins, prefer="/dev/ttyUSB6")[0].device == "/dev/ttyUSB6"
    assert port_at([JTAG, CP2102], "/dev/ttyUSB0") is CP2102 and port_at([JTAG], "/dev/nope") is None


def test_choose_the_only_likely_port() -> None:
    assert choose_port(lambda: [LEGACY, PROG_A, PROG_B], timeout=0) is PROG_B


def test_several_ports_are_listed_or_asked() -> None:
    with pytest.raises(PortNotFound) as exc:
        choose_port(lambda: [JTAG, CP2102], timeout=0)
    msg = str(exc.value)
    assert "several ports look like ESP boards" in msg and "/dev/ttyACM0" in msg and "/dev/ttyUSB0" in msg
    assert msg.endswith("choose one with --port") and "\n" not in msg
    asked: list[list[PortInfo]] = []
    assert choose_port(lambda: [JTAG, CP2102], timeout=0, ask=lambda c: asked.append(c) or c[1]) is CP2102
    assert asked == [[JTAG, CP2102]]
    with pytest.raises(PortNotFound, match="no port chosen"):
        choose_port(lambda: [JTAG, CP2102], timeout=0, ask=lambda c: None)


def test_no_board_yet_waits_for_one_then_gives_up() -> None:
    calls = []

    def listing() -> list[PortInfo]:
        calls.append(1)
        return [LEGACY] if len(calls) < 4 else [LEGACY, CH9102]  # plugged in during the wait

    told: list[str] = []
    assert choose_port(listing, timeout=10, on_wait=told.append, poll=0.01) is CH9102
    assert told == ["no port looks like an ESP board yet"]
    t0 = time.monotonic()
    with pytest.raises(PortNotFound) as exc:
        choose_port(lambda: [LEGACY], timeout=0.2, poll=0.01)
    assert time.monotonic() - t0 >= 0.2
    assert str(exc.value) == ("no serial port looks like an ESP board (waited 0.2 s); serial ports here: "
                              "/dev/ttyS0 (n/a); give the port with --port")


def test_monitor_without_port_lists_the_candidates(capsys, tmp_path: Path, monkeypatch) -> None:
    import espwatch.device.ports as ports_mod

    monkeypatch.setattr(ports_mod, "list_ports", lambda: [JTAG, CP2102, LEGACY])
    log = tmp_path / "s.log"
    assert main(["monitor", "--log", str(log), "--open-timeout", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "several ports look like ESP boards" in err and "--port" in err
    assert not log.exists()


def test_mistyped_port_gives_up_with_one_line_and_no_log(capsys, tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    t0 = time.monotonic()
    assert main(["--port", str(tmp_path / "ttyUSB9"), "--log", str(log), "--open-timeout", "0.3"]) == 2
    assert time.monotonic() - t0 < 5
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("espwatch: ") and "no such port; waiting up to 0.3 s" in err[0]
    assert err[-1].startswith(f"espwatch: {tmp_path / 'ttyUSB9'}: no such port (waited 0.3 s)")
    assert len(err) == 2
    assert not log.exists() and not Path(str(log) + ".times").exists()
    assert main(["--port", "/dev/x", "--open-timeout", "-1"]) == 2


@posix_only
def test_port_that_appears_during_the_wait_is_opened(tmp_path: Path) -> None:
    link = tmp_path / "ttyACM0"
    told: list[str] = []
    import threading

    def plug_later() -> None:
        time.sleep(0.3)
        holder.append(DevSim(link, banner=b"ESP-ROM:esp32s3-20210327\n"))

    holder: list[DevSim] = []
    t = threading.Thread(target=plug_later)
    t.start()
    try:
        p = wait_for_port(str(link), 115200, timeout=10, retry_delay=0.05, on_wait=told.append)
        t.join()
        try:
            assert p.read(25) == b"ESP-ROM:esp32s3-20210327\n"
        finally:
            p.close()
        assert told == [f"{link}: no such port"]
    finally:
        t.join()
        for sim in holder:
            sim.close()


@posix_only
def test_busy_port_says_so(tmp_path: Path) -> None:
    with DevSim(tmp_path / "ttyUSB0") as sim:
        first = wait_for_port(str(sim.link), 115200, timeout=1)
        try:
            with pytest.raises(PortNotFound, match="in use by another program"):
                wait_for_port(str(sim.link), 115200, timeout=0.1, retry_delay=0.05)
        finally:
            first.close()


def test_the_device_package_knows_no_screen() -> None:
    import subprocess

    code = ("import sys, pkgutil, importlib, espwatch.device as d\n"
            "for m in pkgutil.iter_modules(d.__path__): importlib.import_module('espwatch.device.' + m.name)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
