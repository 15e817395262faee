"""Several ports in the monitor's screen, driven by the Pilot: three pty simulators live (events and boots
per port, `o` shows one port alone, send and reset act on the selected port, a status per port), and
`replay A.log B.log` merged by the sidecars; snapshots of the merged screen and of one port alone."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from espwatch.commands.multiport import MergeSpool
from espwatch.device.multiport import PortGroup
from espwatch.device.sessionlog import SessionLog, strip_host_lines
from espwatch.merge import split_label
from espwatch.patterns import load_patterns
from espwatch.pipeline import Pipeline
from espwatch.tui.app import MonitorApp
from espwatch.tui.ports import PortsSetup

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim
from helpers import until

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SIZE = (120, 40)
posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")
LOGS = ["esp32c3-abort-then-illegal-instruction.log", "brownout-loop.log", "ota-bad-file-same-checksum.log"]


@pytest.fixture(scope="module")
def patterns():
    return load_patterns()



def status(app) -> str:
    return str(app.query_one("#status").content)


def alone(patterns, data: bytes) -> list[tuple[str, str]]:
    return sorted((e.kind, e.code) for e in Pipeline(patterns, []).run([data]))


def shown_ports(app) -> set[str | None]:
    view = app.log_view
    return {split_label(app.index.line(view.row_line(r))[0])[0] for r in range(view.rows)}


@posix_only
def test_three_live_ports_events_filter_send_reset(tmp_path: Path, patterns) -> None:
    sims = [DevSim(tmp_path / f"tty{c}") for c in "ABC"]
    data = [(SAMPLES / n).read_bytes() for n in LOGS]
    group = PortGroup([str(s.link) for s in sims], 115200, [tmp_path / f"{c}.log" for c in "ABC"],
                      tmp_path / "merged.log", retry_delay=0.05)
    setup = PortsSetup(group.labels, [str(s.link) for s in sims], group.sources, [None, None, None])
    app = MonitorApp(group.merged_path, patterns, source=group.sources[0], name="merged.log",
                     store=group.merged, arrival_time=group.merged.times.time_at, ports=setup)
    group.merged.listeners.append(app.follower.wake.set)
    group.merger.start()

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all(s.state == "connected" for s in group.sources))
            # interleaved output of three boards at once
            await asyncio.gather(*(asyncio.to_thread(s.write, d, 20000) for s, d in zip(sims, data, strict=True)))
            total = sum(d.count(b"\n") for d in data) + 3
            await until(pilot, lambda: app.lines >= total and app.store is not None)
            await pilot.pause(0.5)
            # events per port, as when each log is scanned alone
            kinds = sorted((e.kind, e.code) for e in app.events)
            assert kinds == sorted(k for d in data for k in alone(patterns, d))
            boots = list(app.sessions.values())
            assert {b.facts.get("port") for b in boots} == {"A", "B", "C"}
            for k, label in enumerate("ABC"):
                pipe = Pipeline(patterns, [])
                list(pipe.run([data[k]]))
                assert sum(1 for b in boots if b.facts["port"] == label) == len(pipe.sessions)
            text = status(app)
            assert "A" in text and "ttyB" in text and "reset/send → A" in text
            # o: port A alone, then B alone
            await pilot.press("o")
            await until(pilot, lambda: app.filter is not None and app.filter.scanned_to >= app.lines)
            assert shown_ports(app) == {"A"}
            await pilot.press("o")
            await until(pilot, lambda: app.filter is not None and app.filter.spec.port == "B"
                        and app.filter.scanned_to >= app.lines)
            assert shown_ports(app) == {"B"}
            assert "reset/send → B" in status(app) and app.source is group.sources[1]
            # send goes to B only
            await pilot.press("i")
            for ch in "hello":
                await pilot.press(ch)
            await pilot.press("enter", "escape")
            assert sims[1].received(7, timeout=5) == b"hello\r\n"
            assert sims[0].received(1, timeout=0.3) == b"" and sims[2].received(1, timeout=0.3) == b""
            # reset acts on B (a pty has no DTR/RTS: B's reader says it cannot, naming B's port)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.source_text.startswith("B: cannot reset"))
            assert "ttyB" in app.source_text
            # back to all ports; C unplugged: its status says so
            await pilot.press("o", "o")
            assert app.filter_spec.port is None
            sims[2].unplug()
            await until(pilot, lambda: group.sources[2].state == "lost")
            await until(pilot, lambda: "lost" in status(app))

    try:
        asyncio.run(main())
    finally:
        group.stop()
        for s in sims:
            s.close()
    for k in range(3):
        assert strip_host_lines((tmp_path / f"{'ABC'[k]}.log").read_bytes()) == bytes(sims[k].written)


def _session_log(path: Path, data: bytes, t0: float, step: float) -> None:
    log = SessionLog(path)
    for i, line in enumerate(data.splitlines(keepends=True)):
        log.write(line, t0 + i * step)
    log.close()


def replay_app(tmp_path: Path, patterns, monkeypatch) -> tuple[MonitorApp, MergeSpool]:
    monkeypatch.chdir(tmp_path)
    t0 = 1_780_000_000.0
    _session_log(tmp_path / "gw.log", (SAMPLES / LOGS[0]).read_bytes(), t0, 0.2)
    _session_log(tmp_path / "node.log", (SAMPLES / LOGS[1]).read_bytes(), t0 + 0.1, 0.2)
    spool = MergeSpool(["gw.log", "node.log"])
    spool.start()
    app = MonitorApp(spool.path, patterns, follow=True, until=spool.done, name="gw.log + node.log",
                     store=spool.log, arrival_time=spool.log.times.time_at,
                     ports=PortsSetup(["A", "B"], ["gw.log", "node.log"]), report_dir=tmp_path)
    spool.log.listeners.append(app.follower.wake.set)
    return app, spool


async def settle(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.scan_done and (app.filter is None or app.filter.complete))
    app.clear_notifications()
    await pilot.pause()


def test_replay_two_logs_merged_by_sidecars(tmp_path: Path, patterns, monkeypatch) -> None:
    app, spool = replay_app(tmp_path, patterns, monkeypatch)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            data = [(SAMPLES / n).read_bytes() for n in LOGS[:2]]
            assert app.lines == sum(d.count(b"\n") for d in data) + 2
            kinds = sorted((e.kind, e.code) for e in app.events)
            assert kinds == sorted(alone(patterns, data[0]) + alone(patterns, data[1]))
            # the timeline's boots say their port; the detail of an event reads its own port's lines
            assert all(b.facts["port"] in ("A", "B") for b in app.sessions.values())
            panic = next(e for e in app.events if e.kind == "panic")
            app.store._recent.clear()
            app.store._cache.clear()
            row = app.store.row_of(panic)
            again = app.store.get(row) if row is not None else None
            assert again is None or (again.kind, again.code, again.line) == (panic.kind, panic.code, panic.line)
            # lines alternate by arrival: A's line i at t0+0.2i, B's at t0+0.1+0.2i
            labels = [split_label(app.index.line(n)[0])[0] for n in range(3, 13)]
            assert labels == ["A", "B"] * 5
            # b: the boot under the cursor, of the cursor line's port only
            b2 = next(b for b in app.sessions.values() if b.facts["port"] == "B" and b.facts["port_boot"] == 2)
            app.log_view.goto_line(b2.start_line)
            await pilot.press("b")
            await settle(pilot)
            view = app.log_view
            shown = [view.row_line(r) for r in range(view.rows)]
            assert shown and shown_ports(app) == {"B"} and app.filter_spec.port == "B"
            assert shown[0] == b2.start_line and shown[-1] <= b2.end_line
            pipe = Pipeline(patterns, [])
            list(pipe.run([data[1]]))
            own = pipe.sessions[1]
            assert len(shown) == own.end_line - own.start_line + 1  # as many as the boot has in B's log
            await pilot.press("o")  # from B alone back to all; saved logs are called logs, not ports
            assert app.filter_spec.port is None
            await pilot.press("o")
            assert [n.message for n in app._notifications][-2:] == ["all logs", "log A only (gw.log)"]

    try:
        asyncio.run(main())
    finally:
        spool.cleanup()


def test_snapshot_merged_screen(snap_compare, tmp_path: Path, patterns, monkeypatch) -> None:
    app, spool = replay_app(tmp_path, patterns, monkeypatch)

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=before)
    finally:
        spool.cleanup()


def test_snapshot_one_port_alone(snap_compare, tmp_path: Path, patterns, monkeypatch) -> None:
    app, spool = replay_app(tmp_path, patterns, monkeypatch)

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("o")  # A alone
        await settle(pilot)
        await pilot.pause(0.2)
        await pilot.press("o")  # B alone
        await settle(pilot)
        await pilot.pause(0.2)

    try:  # tall enough for all of B's lines: no scrollbar thumb (its rounding varies from run to run)
        assert snap_compare(app, terminal_size=(120, 56), run_before=before)
    finally:
        spool.cleanup()


CRASH = (b"I (31) cpu_start: Pro cpu up.\n"
         b"Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\n"
         b"\n"
         b"Backtrace: 0x40200095:0x3ffb5db0 0x4020011e:0x3ffb5dd0 0x40000400:0x3ffb5df0\n"
         b"\n"
         b"ELF file SHA256: 0123456789abcdef\n"
         b"Rebooting...\n")


def test_an_elf_per_port_decodes_only_its_port(tmp_path: Path, data_dir: Path, patterns, monkeypatch) -> None:
    """The same crash on two ports, the ELF given for A only: A's backtrace is decoded (under its line in
    the merged log), B's is not; each event stays with its port's boot."""
    from espwatch.enrich import Enrichment

    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    t0 = 1_780_000_000.0
    _session_log(tmp_path / "a.log", CRASH, t0, 0.2)
    _session_log(tmp_path / "b.log", CRASH, t0 + 0.1, 0.2)
    enr = Enrichment.choose(data_dir / "lx106-inline-demo" / "demo.elf", patterns=patterns, background=True)
    none = Enrichment.choose(None, no_elf=True, patterns=patterns)
    spool = MergeSpool([str(tmp_path / "a.log"), str(tmp_path / "b.log")])
    spool.start()
    app = MonitorApp(spool.path, patterns, enrichment=enr, follow=True, until=spool.done, name="a + b",
                     store=spool.log, arrival_time=spool.log.times.time_at,
                     ports=PortsSetup(["A", "B"], [str(tmp_path / "a.log"), str(tmp_path / "b.log")], [],
                                      [enr, none]))
    spool.log.listeners.append(app.follower.wake.set)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.scan_done and enr.state == "ready", timeout=60)
            bts = [e for e in app.events if e.kind == "backtrace"]
            assert len(bts) == 2
            by_port = {split_label(app.index.line(e.line)[0])[0]: e for e in bts}
            assert set(by_port) == {"A", "B"}
            await until(pilot, lambda: app._decoded_text(by_port["A"].end_line))
            assert app._decoded_text(by_port["A"].end_line)[0].startswith("0x40200095: ring_full at")
            assert not app._decoded_text(by_port["B"].end_line)
            a_boot = app.sessions.get(by_port["A"].boot)
            assert a_boot is not None and a_boot.facts["port"] == "A"
            # the ELF status per port: A's ELF checked against the hash A's app printed, B has none
            assert app.elf_state.startswith("A: ELF demo.elf ✗ DOES NOT MATCH") and app.elf_state.endswith(
                "B: no ELF"), app.elf_state
            assert app.report_source() == (tmp_path / "a.log", enr)
            await pilot.press("o", "o")
            assert app.report_source() == (tmp_path / "b.log", none)

    try:
        asyncio.run(main())
    finally:
        spool.cleanup()


def test_saved_report_of_two_logs_is_named_after_the_selected_log(tmp_path: Path, patterns, monkeypatch) -> None:
    """`w` in `replay A.log B.log` reports on the selected log: the file is named after it, not after the
    merged name (`gw.log + node.log`, with spaces and a `.log` in the middle)."""
    app, spool = replay_app(tmp_path, patterns, monkeypatch)
    saved: list[Path] = []

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for _ in range(2):
                app.last_report = None
                await pilot.press("w")
                await until(pilot, lambda: app.last_report is not None)
                saved.append(app.last_report)
                await pilot.press("o", "o")  # A alone, then B alone
                await pilot.pause(1.1)  # the file name has the time to the second

    try:
        asyncio.run(main())
    finally:
        spool.cleanup()
    names = [p.name for p in saved]
    assert names[0].startswith("espwatch-report-gw-") and names[1].startswith("espwatch-report-node-"), names
    assert all(" " not in n and ".log" not in n for n in names), names
    assert "brownout" not in saved[0].read_text() and "brownout" in saved[1].read_text().lower()
