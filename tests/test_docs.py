"""Generated documentation is current: docs/patterns.md says what patterns/ holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tools" / "gen_patterns_doc.py"


def test_the_patterns_reference_is_current() -> None:
    out = subprocess.run([sys.executable, str(GEN), "--check"], capture_output=True, text=True,
                         encoding="utf-8", timeout=120)
    assert out.returncode == 0, out.stderr + "\n(run: python tools/gen_patterns_doc.py)"


def test_the_patterns_reference_has_every_code_with_its_data() -> None:
    from markdown_it import MarkdownIt

    from espwatch.diagnosis import load_rules, rule_pages
    from espwatch.patterns import load_patterns

    text = (ROOT / "docs" / "patterns.md").read_text(encoding="utf-8")
    tokens = MarkdownIt().parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    pages = [*load_patterns().patterns, *rule_pages(load_rules())]
    assert sorted(headings) == sorted(p.code for p in pages)  # each code once
    for p in pages:
        section = text.split(f"\n### {p.code}\n", 1)[1].split("\n### ", 1)[0]
        assert f"kind `{p.kind}`; severity `{p.severity}`" in section, p.code
        for ref in p.references:
            assert f"<{ref}>" in section, (p.code, ref)
        assert (section.count("\n- ") >= len(p.checks) + 1), p.code
        assert f"[{p.code}](#{p.code.lower()})" in text  # linked from the table of all codes


def _helps() -> list[tuple[str, list[str]]]:
    from espwatch.commands import VERBS

    out = [(v, [v]) for v in VERBS]
    out += [(f"image {s}", ["image", s]) for s in ("check", "diff", "partitions", "otadata")]
    return out


def test_every_verb_help_has_an_example(capsys) -> None:
    import pytest

    from espwatch.cli import main

    for name, argv in _helps():
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        assert exc.value.code == 0, name
        text = capsys.readouterr().out
        examples = text.split("\nexample", 1)[1] if "\nexample" in text else ""
        lines = [ln.strip() for ln in examples.splitlines()[1:] if ln.strip()]
        assert any(ln.startswith("espwatch ") for ln in lines), f"`espwatch {name} --help` has no example"
