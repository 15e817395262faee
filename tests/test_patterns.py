"""Pattern data: the shipped files are valid and documented; bad files give one clear error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from espwatch.detector import Detector
from espwatch.patterns import PatternError, builtin_dir, load_file, load_patterns

CONTRACT_KINDS = {
    "boot_banner", "reset_reason", "partition_loaded", "ota_slot_not_bootable", "rollback", "ota_error",
    "checksum_failed", "hash_failed", "invalid_magic", "cache_disabled_access", "spi_flash_guard",
    "flash_error", "psram_error", "panic", "backtrace", "abort", "assert", "heap_corrupt", "stack_overflow",
    "task_wdt", "int_wdt", "brownout", "coredump",
}


def test_shipped_patterns_load_and_are_documented() -> None:
    ps = load_patterns()
    assert len(ps.matchers) >= 50
    for p in ps.patterns:
        assert re.fullmatch(r"EW\d{3}", p.code), p.code
        assert p.hint, f"{p.code} has no hint"
        assert p.references and all(r.startswith("https://") for r in p.references), p.code
    kinds = {p.kind for p in ps.matchers}
    missing = CONTRACT_KINDS - kinds
    assert not missing, f"no pattern for contract kinds {missing}"


def test_one_file_per_family() -> None:
    names = {f.name.removesuffix(".toml") for f in builtin_dir().iterdir() if f.name.endswith(".toml")}
    assert {"boot", "ota", "flash", "panic", "heap", "watchdog", "power", "coredump"} <= names


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "mine.toml"
    f.write_text(text, encoding="utf-8")
    return f


GOOD = """
[[pattern]]
code = "EW990"
kind = "custom_thing"
severity = "warning"
title = "My sensor lost"
literals = ["sensor lost"]
regex = 'sensor lost on bus (?P<bus>\\d+)'
hint = "The app's own sensor went away."
references = ["https://example.org/sensor"]
"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[pattern]\n", "not valid TOML"),
        (GOOD.replace("regex = 'sensor lost on bus (?P<bus>\\d+)'", "regex = 'sensor (lost'"), "bad regex"),
        (GOOD.replace('literals = ["sensor lost"]\n', ""), "missing `literals`"),
        (GOOD.replace('severity = "warning"', 'severity = "loud"'), "severity must be one of"),
        (GOOD + 'colour = "red"\n', "unknown keys"),
        (GOOD.replace('code = "EW990"\n', ""), "missing `code`"),
        (GOOD + "[pattern.block]\nmax_lines = 3\n", "needs `continue` or `end`"),
    ],
)
def test_malformed_pattern_names_file_and_pattern(tmp_path: Path, text: str, needle: str) -> None:
    f = _write(tmp_path, text)
    with pytest.raises(PatternError) as info:
        load_file(f)
    msg = str(info.value)
    assert str(f) in msg and needle in msg
    assert "\n" not in msg
    if "code =" in text and "not valid TOML" not in needle:
        assert "EW990" in msg


def test_user_pattern_folder_needs_no_code_change(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    ps = load_patterns([tmp_path])
    det = Detector(ps)
    events = det.feed(b"I (1) app: hello\nW (2) app: sensor lost on bus 3\n") + det.close()
    mine = [e for e in events if e.code == "EW990"]
    assert len(mine) == 1 and mine[0].fields == {"bus": "3"} and mine[0].line == 2


def test_duplicate_code_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("EW990", "EW201"))
    with pytest.raises(PatternError, match="EW201 is already used"):
        load_patterns([tmp_path])


def test_missing_pattern_dir(tmp_path: Path) -> None:
    with pytest.raises(PatternError, match="not a directory"):
        load_patterns([tmp_path / "nope"])


def test_every_builtin_regex_compiles() -> None:
    """The built-in regexes compile lazily (on first use); all of them must compile."""
    from espwatch.patterns import LazyRegex

    pats = load_patterns()
    rxs = []
    for p in pats.matchers:
        rxs += [p.rx, *p.lists.values(), *p.flags.values(), *(sw.rx for sw in p.severity_when)]
        if p.block is not None:
            rxs += [r for r in (p.block.cont, p.block.end) if r is not None]
            rxs += [c.rx for c in p.block.collect]
    assert len(rxs) > 100 and all(isinstance(r, LazyRegex) for r in rxs)
    for r in rxs:
        r.compile()
        assert r.search("") is None or True  # callable after compiling


def test_user_pattern_with_bad_regex_fails_at_load(tmp_path) -> None:
    (tmp_path / "bad.toml").write_text('[[pattern]]\ncode = "EW990"\nkind = "x"\nseverity = "info"\n'
                                       'title = "t"\nliterals = ["a"]\nregex = "(unclosed"\n')
    with pytest.raises(PatternError, match=r"bad\.toml.*EW990.*bad regex"):
        load_patterns([tmp_path])


def test_an_empty_patterns_folder_is_refused(tmp_path: Path) -> None:
    """`--patterns DIR` with no *.toml in it would add nothing, silently: most likely a mistyped folder."""
    (tmp_path / "notes.txt").write_text("not a pattern file")
    with pytest.raises(PatternError, match=r"no pattern or rule files \(\*\.toml\)"):
        load_patterns([tmp_path])
