"""Behaviour as data: decode / crash / timeline keys, shared regex pieces, rules from --patterns folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from espwatch.diagnosis import load_rules
from espwatch.errors import PatternError, RuleError
from espwatch.events import Event
from espwatch.patterns import load_patterns

ROOT = Path(__file__).resolve().parent.parent

USER_PATTERN = '''
[[pattern]]
code = "EW990"
kind = "sensor_fault"
severity = "error"
title = "Sensor fault with the PC"
literals = ["sensor fault"]
regex = 'sensor fault at (?P<pc>0x[0-9a-f]{8})'
decode = true
crash = 2
timeline = false
hint = "h"
references = ["https://example.org/x"]
'''
USER_RULE = ('[[rule]]\ncode = "EW991"\ntitle = "Two sensor faults"\nseverity = "warning"\n'
             'when = "repeat"\nselect = { kind = "sensor_fault" }\nmin_count = 2\n'
             'summary = "{count} sensor faults"\nhint = "h"\nreferences = ["https://example.org/x"]\n')


def test_builtin_behaviour_keys() -> None:
    pats = load_patterns()
    assert pats.get("EW403").decode and pats.get("EW401").crash == 6  # backtrace decoded; panic a crash
    assert min(p.crash for p in pats.patterns if p.kind == "stack_overflow" and p.crash) == 1
    info = Event("app_info", 1, 1, "info", "EW110", "x")
    banner = Event("boot_banner", 1, 1, "info", "EW101", "x")
    assert pats.in_timeline(Event("panic", 1, 1, "fatal", "EW401", "x"))
    assert not pats.in_timeline(banner) and not pats.in_timeline(info)


def test_user_pattern_opts_in(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(USER_PATTERN)
    pats = load_patterns([tmp_path])
    assert "EW990" in pats.decode_codes and pats.crash_ranks["EW990"] == 2
    assert not pats.in_timeline(Event("sensor_fault", 1, 1, "info", "EW990", "x"))


def test_user_rules_are_loaded_and_fire(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(USER_PATTERN + USER_RULE)
    codes = [r.code for r in load_rules([tmp_path])]
    assert codes[-1] == "EW991" and "EW910" in codes
    log = tmp_path / "x.log"
    log.write_text("sensor fault at 0x400d0000\nsensor fault at 0x400d0004\n")
    out = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--json", "--no-elf", "--patterns",
                          str(tmp_path), str(log)], capture_output=True, text=True, cwd=ROOT)
    found = [json.loads(line) for line in out.stdout.splitlines()]
    assert [o["code"] for o in found] == ["EW990", "EW990", "EW991"], out.stderr
    assert found[-1]["text"] == "2 sensor faults"


def test_bad_user_rule_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(USER_RULE.replace('"repeat"', '"often"'))
    with pytest.raises(RuleError, match=r"mine\.toml: rule\[0\] \(EW991\): `when` must be one of"):
        load_rules([tmp_path])
    (tmp_path / "mine.toml").write_text(USER_RULE.replace("EW991", "EW910"))
    with pytest.raises(RuleError, match="EW910 is already defined in"):
        load_rules([tmp_path])
    out = subprocess.run([sys.executable, "-m", "espwatch", "scan", "--patterns", str(tmp_path), "-"],
                         input="", capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "EW910" in out.stderr


def test_pieces(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(USER_PATTERN.replace("'sensor fault at", "'^E%{idf_time}x: sensor fault at"))
    pat = load_patterns([tmp_path]).get("EW990")
    assert pat.rx.search("E (123) x: sensor fault at 0x400d0000")
    assert pat.rx.search("E (12:34:56.789) x: sensor fault at 0x400d0000")
    (tmp_path / "p.toml").write_text(USER_PATTERN.replace("'sensor fault at", "'%{nope}sensor fault at"))
    with pytest.raises(PatternError, match=r"p\.toml.*EW990.*unknown regex piece %\{nope\}"):
        load_patterns([tmp_path])


@pytest.mark.parametrize(("key", "value", "message"), [
    ("decode", '"yes"', "`decode` must be true or false"),
    ("crash", "0.5", "`crash` must be true, false or a rank"),
    ("crash", "100", "`crash` must be true, false or a rank"),
])
def test_bad_behaviour_keys(tmp_path: Path, key: str, value: str, message: str) -> None:
    text = USER_PATTERN.replace(f"\n{key} = ", f"\n_old_{key} = ").replace(f"_old_{key} = ", f"{key} = {value}\n#")
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(PatternError, match=message):
        load_patterns([tmp_path])
