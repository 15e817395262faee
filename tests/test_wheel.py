"""The package as users get it: the wheel built from this checkout, installed into a fresh virtual
environment (its dependencies from the package index), and `pipx install .`; then the first commands a
new user runs. Slow (a build and installs: about a minute each), on purpose: it is what `pip install`
and `pipx install` really do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "ota-checksum-psram-4120.log"
IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "build", "dist", "*.egg-info", ".pytest_cache",
                                ".ruff_cache", "snapshot_report.html")


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def _run(args: list, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=timeout, env=dict(os.environ, **(env or {})))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout (so that building leaves nothing in it)."""
    dest = tmp_path_factory.mktemp("src") / "espwatch"
    shutil.copytree(ROOT, dest, ignore=IGNORE)
    return dest


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    res = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, source], cwd=out)
    assert res.returncode == 0, res.stderr[-3000:]
    (whl,) = out.glob("espwatch-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its dependencies; the path of its `espwatch`."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    res = _run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    assert res.returncode == 0, res.stderr
    res = _run([_bin(venv, "python"), "-m", "pip", "install", "-q", "--no-compile", wheel], cwd=venv.parent)
    assert res.returncode == 0, res.stderr[-3000:]
    return _bin(venv, "espwatch")


def test_the_wheel_ships_the_data_and_nothing_else(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for toml in (ROOT / "patterns").glob("*.toml"):
        assert f"espwatch/_patterns/{toml.name}" in names
    assert {"espwatch/_patterns/data/esp_err.toml", "espwatch/_patterns/README.md",
            "espwatch/_docs/events.md", "espwatch/_docs/events.schema.json", "espwatch/cli.py"} <= names
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"espwatch"}  # no `monitor`, no tests
    print(f"\nwheel {wheel.name}: {wheel.stat().st_size} bytes, {len(names)} files")


def test_a_fresh_install_runs_the_first_commands(installed: Path, tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[monitor]\nbaud = 921600\n", encoding="utf-8")
    env = {"ESPWATCH_CONFIG": str(user)}

    res = _run([installed, "--help"], tmp_path, env)
    assert res.returncode == 0 and "scan" in res.stdout and "explain" in res.stdout, res.stderr

    res = _run([installed, "scan", SAMPLE], tmp_path, env)
    assert res.returncode == 1, res.stderr  # an error-level finding
    assert "EW910" in res.stdout and "Image damaged on its way to flash" in res.stdout

    res = _run([installed, "explain", "0x1503"], tmp_path, env)
    assert res.returncode == 0 and res.stdout.startswith("ESP_ERR_OTA_VALIDATE_FAILED: esp_err_t 0x1503")

    res = _run([installed, "config"], tmp_path, env)
    assert res.returncode == 0, res.stderr
    baud = next(ln for ln in res.stdout.splitlines() if ln.split()[:1] == ["baud"])
    assert "921600" in baud and str(user) in baud

    res = _run([installed, "explain", "--contract"], tmp_path, env)
    assert res.returncode == 0 and res.stdout == (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    res = _run([installed, "scan", "--help"], tmp_path, env)
    shipped = installed.parent.parent  # the venv: the contract named in the help is the installed copy
    assert res.returncode == 0 and "espwatch explain --contract" in res.stdout
    assert str(shipped) in res.stdout and str(Path("_docs") / "events.md") in res.stdout

    res = _run([installed, "completion", "bash"], tmp_path, env)
    assert res.returncode == 0 and "complete -F _espwatch espwatch" in res.stdout


def test_pipx_install_of_the_checkout(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("pipx", reason="pipx is not installed (it is in the test extra)")
    home, bin_dir = tmp_path / "pipx-home", tmp_path / "pipx-bin"
    env = {"PIPX_HOME": str(home), "PIPX_BIN_DIR": str(bin_dir), "PIPX_MAN_DIR": str(tmp_path / "man"),
           "PIPX_DEFAULT_PYTHON": sys.executable, "USE_EMOJI": "0"}
    res = _run([sys.executable, "-m", "pipx", "install", "--pip-args=--no-compile", "."], source, env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    espwatch = bin_dir / ("espwatch.exe" if os.name == "nt" else "espwatch")
    res = _run([espwatch, "explain", "0x1503"], tmp_path, env)
    assert res.returncode == 0 and "ESP_ERR_OTA_VALIDATE_FAILED" in res.stdout, res.stderr
    res = _run([espwatch, "scan", SAMPLE], tmp_path, env)
    assert res.returncode == 1 and "EW910" in res.stdout
