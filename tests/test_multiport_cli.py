"""Several ports and several logs on the command line: the installed `espwatch` in a real terminal with two
pty simulators, `replay A.log B.log` with a note for a log without a sidecar, `--elf PORT=ELF`, errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.commands.multiport import log_paths, split_elfs
from espwatch.device.sessionlog import SessionLog, strip_host_lines
from espwatch.errors import UsageError
from espwatch.merge import split_label

sys.path.insert(0, str(Path(__file__).parent))
from devsim import DevSim

posix_only = pytest.mark.skipif(os.name == "nt", reason="pty simulator is POSIX only")
ESPWATCH = str(Path(sys.executable).with_name("espwatch.exe" if os.name == "nt" else "espwatch"))
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_elf_for_all_or_per_port() -> None:
    keys = [["/dev/ttyUSB0", "A"], ["/dev/ttyACM0", "B"]]
    assert split_elfs(["app.elf"], keys) == ("app.elf", [None, None])
    assert split_elfs(["B=node.elf", "/dev/ttyUSB0=gw.elf"], keys) == (None, ["gw.elf", "node.elf"])
    assert split_elfs(["all.elf", "B=node.elf"], keys) == ("all.elf", [None, "node.elf"])
    assert split_elfs(["build/a=b.elf"], keys) == ("build/a=b.elf", [None, None])  # "=" in a path
    assert split_elfs(None, keys) == (None, [None, None])
    with pytest.raises(UsageError, match="already has an ELF"):
        split_elfs(["A=x.elf", "A=y.elf"], keys)
    with pytest.raises(UsageError, match="one ELF for all"):
        split_elfs(["x.elf", "y.elf"], keys)


def test_log_paths_beside_the_merged_log(tmp_path: Path) -> None:
    logs, merged = log_paths(["/dev/ttyUSB0", "rfc2217://host:4000"], str(tmp_path / "bench.log"))
    assert merged == tmp_path / "bench.log"
    assert logs == [tmp_path / "bench.ttyUSB0.log", tmp_path / "bench.host_4000.log"]


def test_replay_several_logs_errors_are_one_line(capsys, tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"x\n")
    assert main(["replay", str(tmp_path / "a.log"), str(tmp_path / "missing.log")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.log" in err
    assert main(["replay", "--follow", str(tmp_path / "a.log"), str(tmp_path / "a.log")]) == 2
    assert "one log at a time" in capsys.readouterr().err
    binlog = Path(__file__).parent / "data" / "fixtures" / "esp32-binlog-app" / "binlog"
    assert main(["replay", "--no-elf", str(tmp_path / "a.log"), str(binlog)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "binary log" in err


@posix_only
def test_monitor_two_ports_in_a_terminal(tmp_path: Path) -> None:
    """The installed command on two simulated boards: both session logs exact, the merged log beside them,
    one closing line per port."""
    from ptyrun import PtyRun

    sims = [DevSim(tmp_path / "ttyGW"), DevSim(tmp_path / "ttyNODE")]
    run = PtyRun([ESPWATCH, "--port", str(sims[0].link), "--port", str(sims[1].link), "--no-elf", "--no-reset",
                  "--log", str(tmp_path / "bench.log")], cwd=tmp_path)
    try:
        assert run.wait_for(b"ttyNODE", 60), run.screen[-2000:]
        sims[0].write((SAMPLES / "brownout-loop.log").read_bytes())
        sims[1].write((SAMPLES / "ota-bad-file-same-checksum.log").read_bytes())
        assert run.wait_for(b"Brownout", 30), run.screen[-2000:]
        run.send(b"\x1d")  # Ctrl+]
    finally:
        rc = run.finish(60)
        for s in sims:
            s.close()
    assert rc == 0, run.screen[-2000:]
    for name, sim in (("bench.ttyGW.log", sims[0]), ("bench.ttyNODE.log", sims[1])):
        assert strip_host_lines((tmp_path / name).read_bytes()) == bytes(sim.written)
    merged = (tmp_path / "bench.log").read_bytes()
    labels = {split_label(ln + b"\n")[0] for ln in merged.split(b"\n")[:-1]}
    assert labels == {None, "A", "B"}
    assert (tmp_path / "bench.log.times").exists()
    assert b"A: session log" in run.screen and b"B: session log" in run.screen


@posix_only
def test_replay_two_logs_in_a_terminal_says_which_has_no_sidecar(tmp_path: Path) -> None:
    from ptyrun import PtyRun

    log = SessionLog(tmp_path / "gw.log")
    log.write((SAMPLES / "brownout-loop.log").read_bytes(), 1_780_000_000.0)
    log.close()
    (tmp_path / "node.log").write_bytes((SAMPLES / "ota-bad-file-same-checksum.log").read_bytes())
    run = PtyRun([ESPWATCH, "replay", "gw.log", "node.log", "--no-elf"], cwd=tmp_path,
                 env={"TMPDIR": str(tmp_path)})
    try:
        assert run.wait_for(b"gw.log + node.log", 60), run.screen[-2000:]
        run.send(b"q")
    finally:
        rc = run.finish(60)
    assert rc == 0
    assert b"node.log (B): it has no arrival-time sidecar" in run.screen
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gw.log", "gw.log.times", "node.log"]  # no temp left


def test_several_ports_and_elfs_parse_beside_a_config_value() -> None:
    from espwatch.commands.parsing import build_parser, sub_parser

    parser = build_parser("monitor")
    args = parser.parse_args(["monitor", "-p", "/dev/a", "--port", "/dev/b", "--elf", "A=a.elf", "--elf", "b"])
    assert args.port == ["/dev/a", "/dev/b"] and args.elf == ["A=a.elf", "b"]
    sub = sub_parser(parser, "monitor")
    sub.set_defaults(elf="from-config.elf", port="/dev/config")  # what a config file does
    args = parser.parse_args(["monitor", "--elf", "x.elf"])
    assert args.elf == "x.elf" and args.port == "/dev/config"  # a flag replaces the config's value
    args = parser.parse_args(["monitor", "--elf", "x.elf", "--elf", "B=y.elf"])
    assert args.elf == ["x.elf", "B=y.elf"]
