"""The installed import name is `espwatch`; the source folder `monitor/` never shadows or leaks."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {"espwatch" + ("." + ".".join(p.parent.relative_to(ROOT / "monitor").parts)
                           if p.parent != ROOT / "monitor" else "")
             for p in (ROOT / "monitor").rglob("__init__.py")}
    found = {f.rstrip(".") for f in found}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert cfg["package-dir"]["espwatch"] == "monitor"


def test_import_name_and_no_monitor_module(tmp_path: Path) -> None:
    # A user's own monitor.py in the working folder must not be what `python -m espwatch` runs.
    (tmp_path / "monitor.py").write_text("raise SystemExit('user file ran')\n")
    out = subprocess.run([sys.executable, "-m", "espwatch", "--version"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("espwatch "), out.stderr
    probe = subprocess.run([sys.executable, "-c", "import importlib.util as u, espwatch;"
                            "print(u.find_spec('monitor'), espwatch.__name__)"],
                           cwd=ROOT.parent, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["None", "espwatch"], probe.stdout + probe.stderr


def test_patterns_are_package_data() -> None:
    from importlib import resources

    names = {p.name for p in resources.files("espwatch._patterns").iterdir()}
    assert {"boot.toml", "rules.toml", "README.md"} <= names
