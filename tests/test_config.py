"""Settings files: espwatch.toml (project, here or in a parent) over the user file, flags over both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from espwatch.commands.parsing import build_parser, sub_parser
from espwatch.config import apply_config, load_config

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "samples" / "brownout-loop.log"


def espwatch(cwd: Path, user: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"ESPWATCH_CONFIG": str(user), "PATH": "", "ESPWATCH_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run([sys.executable, "-m", "espwatch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, Path]:
    proj = tmp_path / "proj"
    (proj / "sub").mkdir(parents=True)
    user = tmp_path / "user.toml"
    return proj, user


def parse(verb: str, argv: list[str], start: Path, user: Path, monkeypatch) -> object:
    monkeypatch.setenv("ESPWATCH_CONFIG", str(user))
    parser = build_parser(verb)
    apply_config(sub_parser(parser, verb), verb, load_config(start))
    return parser.parse_args([verb, *argv])


def test_precedence(project, monkeypatch) -> None:
    proj, user = project
    user.write_text('[monitor]\nbaud = 460800\ntimestamps = true\n[scan]\nmin_severity = "error"\n')
    (proj / "espwatch.toml").write_text('elf = "build/app.elf"\n[monitor]\nbaud = 921600\n')
    args = parse("monitor", ["--port", "/dev/x"], proj / "sub", user, monkeypatch)
    assert args.baud == 921600 and args.timestamps is True  # project over user; user where project is silent
    assert args.elf == str((proj / "build" / "app.elf").resolve())  # relative to the file that names it
    args = parse("monitor", ["--port", "/dev/x", "-b", "115200", "--elf", "x.elf"], proj, user, monkeypatch)
    assert args.baud == 115200 and args.elf == "x.elf"  # flags win
    assert parse("scan", ["a.log"], proj, user, monkeypatch).min_severity == "error"
    assert parse("scan", ["a.log", "--min-severity", "info"], proj, user, monkeypatch).min_severity == "info"


def test_settings_reach_the_verb(project) -> None:
    proj, user = project
    (proj / "espwatch.toml").write_text('no_elf = true\n[scan]\nmin_severity = "error"\njson = true\n')
    out = espwatch(proj / "sub", user, "scan", str(LOG))
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    assert objs and {o["severity"] for o in objs} <= {"error", "fatal"}, out.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("[scan]\nbogus = 1\n", "[scan] has no setting 'bogus'"),
    ("[scan]\nall = \"yes\"\n", "all = 'yes': expected true or false"),
    ("[monitor]\nbaud = \"fast\"\n", "baud = 'fast': expected an integer"),
    ("[scan]\nmin_severity = \"loud\"\n", "expected one of"),
    ("[scan\n", "not valid TOML"),
])
def test_bad_file_is_one_line_naming_file_and_key(project, text: str, message: str) -> None:
    proj, user = project
    (proj / "espwatch.toml").write_text(text)
    verb = ["config"] if text.startswith("[monitor]") else ["scan", str(LOG)]
    out = espwatch(proj, user, *verb)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "espwatch.toml" in out.stderr and message in out.stderr, out.stderr


def test_config_verb_says_where_each_value_comes_from(project) -> None:
    proj, user = project
    user.write_text("[report]\nredact_wifi = true\n")
    (proj / "espwatch.toml").write_text("[scan]\nall = true\n")
    out = espwatch(proj, user, "config", "scan", "report")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.strip().startswith("all ") and "True" in line and "espwatch.toml" in line for line in lines)
    assert any("redact_wifi" in line and str(user) in line for line in lines)
    assert any(line.strip().startswith("json ") and "(default)" in line for line in lines)
    assert espwatch(proj, user, "config", "image").returncode == 2


def test_espwatch_alone_is_the_monitor(project) -> None:
    """`espwatch` with no verb opens the monitor (as the README says), here on the project's port."""
    proj, user = project
    (proj / "espwatch.toml").write_text('[monitor]\nport = "/dev/espwatch-no-such-port"\nopen_timeout = 0.2\n')
    out = espwatch(proj, user)
    assert out.returncode == 2 and "usage:" not in out.stdout, out.stdout
    assert "/dev/espwatch-no-such-port: no such port (waited 0.2 s)" in out.stderr, out.stderr
