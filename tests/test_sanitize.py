"""No escape sequence or control character from a device, a log or an image reaches a screen (issue 12.1).

Each sink is tested end to end on a hostile log: `decode`, `scan`, `scan --json`, `report`, the TUI's log
pane and detail pane, error messages.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from espwatch.cli import main
from espwatch.lines import clean_text
from espwatch.report import build_report
from espwatch.sanitize import cap_message, clean_line, for_markdown, for_terminal, json_line, quote, sgr_text

# What must never be printed raw: C0 controls but TAB/LF, DEL, C1, bidi overrides/isolates.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")

OSC_TITLE = "\x1b]0;PWNED-TITLE\x07"
OSC_CLIP = "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\"  # "echo pwned" to the clipboard, ST-terminated
OSC_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = [
    f"I (10) app: title {OSC_TITLE}after",
    f"I (11) app: clip {OSC_CLIP}after",
    "I (12) app: clear \x1b[2J\x1b[H\x1b[3J screen",
    "I (13) app: 8-bit \x9b2J csi \x9d0;C1-TITLE\x9c osc \x85 nel \x90DCS-PAYLOAD\x9c",  # UTF-8 C1
    "I (14) app: reset \x1bc and charset \x1b(0 and keypad \x1b= done",
    f"I (15) app: {OSC_LINK} link",
    "I (16) app: unterminated \x1b]0;NEVER-ENDING-TITLE and the rest of the line",
    "I (17) app: bell \x07 backspace \x08\x08 del \x7f vt \x0b ff \x0c",
    "I (18) app: bidi \u202edesrever\u202c text",
    "\x1b[0;31mE (19) esp_image: Checksum failed. Calculated 0xb3 read 0xcd\x1b[0m",
    f"Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.{OSC_TITLE}",
    "E (20) esp_image: Checksum failed. Calculated 0xb3 read 0xcd \x9b2J \x9d0;C1-TITLE\x9c \x85 end",
]
PAYLOADS = ["PWNED-TITLE", "ZWNobyBwd25lZA==", "C1-TITLE", "DCS-PAYLOAD", "NEVER-ENDING-TITLE", "evil.example"]


def raw_hostile(tmp_path: Path) -> Path:
    """The hostile lines as a device sends them (C1 codes UTF-8 encoded, as the issue found them)."""
    p = tmp_path / "hostile.log"
    p.write_bytes(("\n".join(HOSTILE) + "\n").encode("utf-8"))
    return p


def assert_clean(text: str) -> None:
    bad = FORBIDDEN.search(text)
    assert bad is None, f"control {bad.group()!r} at {bad.start()}: {text[max(0, bad.start() - 30):bad.end() + 30]!r}"
    for payload in PAYLOADS:
        assert payload not in text, payload


# -- the rules ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, shown", [
    (f"a{OSC_TITLE}b", "ab"),
    (f"a{OSC_CLIP}b", "ab"),
    ("a\x1b]0;t\x9cb", "ab"),  # OSC ended by the 8-bit ST
    ("a\x9d0;title\x07b", "ab"),  # 8-bit OSC
    ("a\x1b[2J\x1b[1;1Hb", "ab"),
    ("a\x9b2Jb", "ab"),  # 8-bit CSI
    ("a\x1bPq#0;2;0;0;0#1!7~\x1b\\b", "ab"),  # DCS (sixel) with payload
    ("a\x1b_APC payload\x1b\\b", "ab"),
    ("a\x1b^PM payload\x1b\\b", "ab"),
    ("a\x1bXSOS payload\x1b\\b", "ab"),
    ("a\x1bcb", "ab"),  # RIS
    ("a\x1b(Bb", "ab"),  # charset
    ("a\x1b]0;unterminated", "a"),  # to the end of the line, no leftover
    ("a\x1b]0;x\nb", "a\nb"),  # ... but never past it
    ("a\x07b\x08c\x7fd", "a\u2407b\u2408c\u2421d"),  # made visible
    ("a\x1b", "a\u241b"),  # a stray ESC is shown
    ("a\x85b", "a\ufffdb"),  # C1 NEL
    ("a\u202eb", "a\ufffdb"),  # bidi override
    ("line\r\n", "line\n"),
    ("a\rb", "a\u240db"),  # a CR that would overwrite the line
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("ünïcödé ✓ 中文", "ünïcödé ✓ 中文"),
])
def test_for_terminal(raw: str, shown: str) -> None:
    assert for_terminal(raw) == shown
    assert for_terminal(shown) == shown  # idempotent
    assert for_markdown(raw) == shown


def test_clean_line_drops_controls_and_keeps_corpus_text(corpus_dir: Path) -> None:
    assert clean_line(f"I (1) x: {OSC_TITLE}after") == "I (1) x: after"  # before: "I (1) x: 0;PWNED-TITLEafter"
    assert clean_line("a\x85b\x9b31mc") == "abc"
    assert clean_line("a\rb\tc\x07") == "a b\tc"
    assert clean_text(b"\x1b[0;32mI (1) ok\x1b[0m\r") == "I (1) ok"
    assert clean_text("\u241b[0;32mI (2) ok\u241b[0m".encode()) == "I (2) ok"  # copy-pasted escapes
    for log in sorted(corpus_dir.glob("*.log"))[:20]:  # plain corpus text is untouched
        for raw in log.read_bytes().split(b"\n")[:200]:
            text = raw.decode("utf-8", "replace").removesuffix("\r")
            if not FORBIDDEN.search(text) and "\x1b" not in text and "?[" not in text:
                assert clean_text(raw) == text


def test_quote_and_cap_message() -> None:
    q = quote("A" * 10_000_000)
    assert len(q) < 120 and "more characters" in q
    assert quote(f"x{OSC_TITLE}y") == "'xy'"
    m = cap_message("bad\x1b[2J\nthing " + "z" * 5000)
    assert len(m) < 600 and "\n" not in m and "\x1b" not in m


def test_json_line_escapes_c1_but_keeps_the_data() -> None:
    obj = {"text": "a\x85b\x9b2J\u2028\u202e\x7f\x1b", "kind": "x"}
    line = json_line(obj)
    assert FORBIDDEN.search(line) is None and "\u2028" not in line
    assert json.loads(line) == obj
    assert json_line({"text": "plain ü"}) == '{"text": "plain ü"}'


def test_the_fast_paths_skip_only_safe_text() -> None:
    """clean_line returns a printable line as it is, json_line skips its escape regex on ASCII without DEL:
    no character the regexes would change is printable, nor ASCII but DEL; and a JSON line needs no guard."""
    from espwatch import sanitize

    unsafe = re.compile(sanitize._UNSAFE.src)
    unsafe_json = re.compile(sanitize._UNSAFE_JSON.src)
    for code in range(0x110000):
        ch = chr(code)
        assert not (ch.isprintable() and unsafe.match(ch)), hex(code)
        assert not (ch.isascii() and ch != "\x7f" and unsafe_json.match(ch)), hex(code)
        if code < 0x3000 and unsafe.match(ch):
            assert for_terminal(json_line({"t": f"a{ch}b"})) == json_line({"t": f"a{ch}b"}), hex(code)


def test_sgr_text_keeps_colours_and_nothing_else() -> None:
    t = sgr_text("\x1b[0;31mE (1) red\x1b[0m plain \x1b[1;38;5;208mbold\x1b[22m \x1b[48;2;1;2;3mbg\x1b[0m")
    assert t.plain == "E (1) red plain bold bg"
    styles = {t.plain[s.start:s.end]: s.style for s in t.spans}
    assert styles["E (1) red"].color.number == 1
    assert styles["bold"].bold and styles["bold"].color.number == 208
    assert styles["bg"].bgcolor.triplet == (1, 2, 3)
    for line in HOSTILE:
        t = sgr_text(line)
        assert_clean(t.plain)
        for span in t.spans:  # a style is colours and attributes: never a link, never raw text
            assert not span.style.link and not span.style.meta
    # an OSC 8 hyperlink is not a link in the TUI
    t = sgr_text(f"see {OSC_LINK}")
    assert t.plain == "see click" and all(not s.style.link for s in t.spans)


# -- every sink, end to end ----------------------------------------------------------------------------------
def test_decode_prints_no_escape(tmp_path: Path, data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    log = raw_hostile(tmp_path)
    elf = data_dir / "rv32-inline-demo" / "demo.elf"
    assert main(["decode", "--elf", str(elf), str(log)]) == 0
    out = capsys.readouterr().out
    assert_clean(out)
    assert "I (10) app: title after" in out and "Checksum failed" in out
    assert len(out.splitlines()) == len(HOSTILE)


def test_decode_refuses_binary_files(tmp_path: Path, data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ESPWATCH_CACHE_DIR", str(tmp_path / "cache"))
    elf = data_dir / "rv32-inline-demo" / "demo.elf"
    z = tmp_path / "logs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.log", "hello\n" * 100)
    for path, what in ((z, "is a zip archive, not a log"), (elf, "is an ELF file, not a log")):
        assert main(["decode", "--elf", str(elf), str(path)]) == 2
        cap = capsys.readouterr()
        assert cap.out == "" and what in cap.err and cap.err.count("\n") == 1


def test_scan_summary_and_json(tmp_path: Path, capsys) -> None:
    log = raw_hostile(tmp_path)
    main(["scan", "--no-elf", "--all", str(log)])
    assert_clean(capsys.readouterr().out)
    main(["scan", "--no-elf", "--json", str(log)])
    out = capsys.readouterr().out
    assert_clean(out)
    events = [json.loads(line) for line in out.splitlines()]
    assert events and all({"kind", "line", "end_line", "severity", "code", "boot", "text", "fields"} <= set(e)
                          for e in events)
    assert any(e["kind"] == "checksum_failed" for e in events)


def test_report_has_no_controls(tmp_path: Path) -> None:
    log = raw_hostile(tmp_path)
    md = build_report(str(log)).markdown
    assert_clean(md)
    assert "Checksum failed" in md


def test_error_messages_are_sanitised(tmp_path: Path, capsys) -> None:
    evil = tmp_path / f"x{OSC_TITLE}.log"
    assert main(["scan", str(evil)]) == 2
    err = capsys.readouterr().err
    assert_clean(err) and err.count("\n") == 1


def test_tui_log_pane_and_detail(tmp_path: Path) -> None:
    from espwatch.events import Event, Frame
    from espwatch.tui.detail import event_plain, render_event
    from espwatch.tui.logview import line_text

    for line in HOSTILE:
        t = line_text(line.encode(), len(line.encode()))
        assert_clean(t.plain)
        assert all(not s.style.link for s in t.spans if not isinstance(s.style, str))
    ev = Event("panic", 1, 1, "fatal", "EW401", f"Guru {OSC_TITLE} \x85 x", fields={"k\x1b[2J": f"v{OSC_CLIP}"},
               frames=[Frame(0x400D1234, function=f"f{OSC_TITLE}", file="a\x07.c", line=3)],
               hints=[f"h{OSC_TITLE}"])
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=False)
    console.print(render_event(ev, None))
    assert_clean(console.export_text())
    assert_clean(event_plain(ev, None))
