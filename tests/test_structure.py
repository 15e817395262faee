"""The shape of the package: no import cycles between espwatch's modules (module level or in functions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_cycles() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "import_cycles.py"), "--all"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
