"""Build the message catalogue, patterns/catalogue/messages.jsonl, from the public source trees.

    python tools/catalogue/extract.py [--mirrors DIR]     # read the sources, classify, write messages.jsonl
    python tools/catalogue/extract.py --classify-only     # re-apply classify.toml to the committed file

The sources are bare git mirrors under DIR (default: $ESPWATCH_MIRRORS or /work/.mirror), one per
repository as DIR/<owner>+<name>/repo, e.g.
`git clone --mirror https://github.com/espressif/esp-idf DIR/espressif+esp-idf/repo`. Which tags, files and
components are read is in patterns/catalogue/sources.toml; messages that are printed piece by piece (panic
handler, ROM loader, newlib) are in curated.toml with the source text that anchors them; classify.toml says
what each message is (an event kind and the pattern code that must recognise it, or not an event and why).

What is read: every ESP_LOGE/W/I (and the EARLY_, DRAM_, HW_, COREDUMP_ forms, the ESP_RETURN_ON_* /
ESP_GOTO_ON_* checks, a file's own wrappers of ESP_LOGx such as FAIL_LOAD), esp_rom_printf/ets_printf with a
literal format, the panic reasons of the panic handler, and Arduino's log_e/log_w/log_i. Debug and verbose
levels are left out (not printed by default). Nothing of the sources is copied but the message texts.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify import Classifier, load_classifier
from csource import Source, join_format, unquote

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "patterns" / "catalogue"
OUT = CATALOGUE / "messages.jsonl"

# name -> (level, tag argument index or None for the file's TAG, format index, prefix added by the macro)
_LOGGERS: dict[str, tuple[str, int | None, int, str]] = {}
for _lvl in "EWI":
    for _pre in ("ESP_LOG", "ESP_EARLY_LOG", "ESP_DRAM_LOG", "ESP_HW_LOG"):
        _LOGGERS[f"{_pre}{_lvl}"] = (_lvl, 0, 1, "")
    _LOGGERS[f"ESP_COREDUMP_LOG{_lvl}"] = (_lvl, None, 0, "")
_CHECK = "%s(%d): "  # what the ESP_RETURN_ON_* / ESP_GOTO_ON_* macros put before the message
_LOGGERS.update({
    "ESP_RETURN_ON_FALSE": ("E", 2, 3, _CHECK), "ESP_RETURN_ON_FALSE_ISR": ("E", 2, 3, _CHECK),
    "ESP_GOTO_ON_FALSE": ("E", 3, 4, _CHECK), "ESP_GOTO_ON_FALSE_ISR": ("E", 3, 4, _CHECK),
    "ESP_RETURN_ON_ERROR": ("E", 1, 2, _CHECK), "ESP_RETURN_ON_ERROR_ISR": ("E", 1, 2, _CHECK),
    "ESP_GOTO_ON_ERROR": ("E", 2, 3, _CHECK), "ESP_GOTO_ON_ERROR_ISR": ("E", 2, 3, _CHECK),
    "esp_rom_printf": ("print", None, 0, ""), "ets_printf": ("print", None, 0, ""),
    "MULTI_HEAP_STDERR_PRINTF": ("print", None, 0, ""), "MULTI_HEAP_PRINTF": ("print", None, 0, ""),
    "multi_heap_assert": ("print", None, 1, ""), "esp_system_abort": ("print", None, 0, ""),
    "ESP_COREDUMP_PRINT": ("print", None, 0, ""),
})
_ARDUINO = {"log_e": "E", "log_w": "W", "log_i": "I", "isr_log_e": "E", "isr_log_w": "W", "isr_log_i": "I"}
_WRAPPER = re.compile(
    r"#define\s+(?P<name>\w+)\s*\((?P<params>[^)]*)\)(?P<body>(?:[^\n]*\\\n)*[^\n]*)")
_WRAPPED = re.compile(
    r"ESP_(?:EARLY_|DRAM_)?LOG(?P<level>[EWI])\s*\(\s*(?P<tag>\w+)\s*,\s*(?P<fmt>\w+|__VA_ARGS__)")
_CONVERSION = re.compile(r"%[-+ #0-9.*]*[hlzjt]*[a-zA-Z]")
_REASON_ARRAY = re.compile(r"\b\w*(?:reason|edesc|exccause)\w*\s*\[\s*\w*\s*\]\s*=\s*\{(?P<body>.*?)\};",
                           re.DOTALL | re.IGNORECASE)
_REASON_SET = re.compile(r"(?:->|\b)reason\s*=\s*(?P<lit>\"(?:[^\"\\\n]|\\.)*\")")
_LITERAL = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"")
_PANIC_FILES = ("panic_arch.c", "panic_handler.c", "panic.c")


# -- git access ---------------------------------------------------------------------------------------
class Mirror:
    """A bare git mirror read with `git ls-tree` and one `git cat-file --batch` process."""

    def __init__(self, git_dir: Path) -> None:
        if not git_dir.is_dir():
            raise SystemExit(f"{git_dir}: no mirror here (see this script's docstring)")
        self.git_dir = git_dir
        self._batch = subprocess.Popen(["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def files(self, ref: str) -> list[str]:
        out = subprocess.run(["git", f"--git-dir={self.git_dir}", "ls-tree", "-r", "--name-only", ref],
                             capture_output=True, text=True, check=True).stdout
        return out.splitlines()

    def read(self, ref: str, path: str) -> str | None:
        assert self._batch.stdin and self._batch.stdout
        self._batch.stdin.write(f"{ref}:{path}\n".encode())
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().decode().split()
        if len(header) < 3 or header[1] != "blob":
            return None
        data = self._batch.stdout.read(int(header[2]) + 1)[:-1]
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        if self._batch.stdin:
            self._batch.stdin.close()
        self._batch.wait()


def _mirror_dir(root: Path, repo: str) -> Path:
    return root / repo.replace("/", "+") / "repo"


# -- extraction -------------------------------------------------------------------------------------
def component_of(path: str, components: dict[str, list[str]], exclude: list[str]) -> str | None:
    if any(fnmatch.fnmatch(path, x) for x in exclude):
        return None
    for name, globs in components.items():
        if any(fnmatch.fnmatch(path, g) for g in globs):
            return name
    return None


def message_id(source: str, component: str, level: str, tag: str | None, fmt: str) -> str:
    key = "\0".join([source, component, level, tag or "", fmt])
    return "m" + hashlib.sha1(key.encode()).hexdigest()[:10]


def _constants(src: Source) -> dict[str, str]:
    """String constants of a file usable inside formats (`#define ERR_STR1 "..."`)."""
    out = {}
    for m in re.finditer(r"#define\s+(\w+)\s+((?:\"(?:[^\"\\\n]|\\.)*\"\s*)+)$", src.code, re.MULTILINE):
        out[m.group(1)] = "".join(unquote(lit) for lit in _LITERAL.findall(m.group(2)))
    return out


def _wrappers(src: Source) -> dict[str, tuple[str, int | None, int, str]]:
    """A file's own macros that forward to ESP_LOGx(TAG, __VA_ARGS__) or ESP_LOGx(TAG, fmt, ...)."""
    out = {}
    for m in _WRAPPER.finditer(src.code):
        if m["name"] in _LOGGERS:
            continue
        w = _WRAPPED.search(m["body"])
        if not w:
            continue
        params = [p.strip() for p in m["params"].split(",")]
        if w["fmt"] == "__VA_ARGS__":
            fmt_index = params.index("...") if "..." in params else 0
        elif w["fmt"] in params:
            fmt_index = params.index(w["fmt"])
        else:
            continue
        tag_index = params.index(w["tag"]) if w["tag"] in params else None
        out[m["name"]] = (w["level"], tag_index, fmt_index, "")
    return out


def extract_file(text: str, arduino: bool) -> Iterator[dict[str, Any]]:
    """The log messages of one source file, as dicts (without source/version)."""
    src = Source(text)
    consts = _constants(src)
    if arduino:
        for call in src.calls(set(_ARDUINO)):
            if not call.args:
                continue
            fmt = join_format(call.args[0], consts)
            if fmt is None:
                continue
            yield {"level": _ARDUINO[call.name], "tag": None, "format": fmt.rstrip("\r\n") or fmt,
                   "args": call.args[1:], "function": call.function, "macro": call.name, "line": call.line}
        return
    loggers = dict(_LOGGERS)
    loggers.update(_wrappers(src))
    file_tag = src.string_constant("TAG")
    for call in src.calls(set(loggers)):
        level, tag_i, fmt_i, prefix = loggers[call.name]
        if fmt_i >= len(call.args):
            continue
        fmt = join_format(call.args[fmt_i], consts)
        args = call.args[fmt_i + 1:]
        if fmt == "%s" and len(args) == 1:  # ESP_LOGE(TAG, "%s", caption)
            fmt, args = _arg_values(src, args).get("0"), []
        if fmt is None or not re.search(r"[A-Za-z]{2,}", _CONVERSION.sub("", fmt)):
            continue  # no words: a piece of a hex dump or a separator
        if level != "print":
            fmt = fmt.rstrip("\r\n")
        if prefix:
            fmt, args = prefix + fmt, ["__FUNCTION__", "__LINE__", *args]
        if tag_i is None:
            tag = file_tag if level != "print" else None
        else:
            tag_expr = call.args[tag_i]
            tag = unquote(tag_expr) if tag_expr.startswith('"') else src.string_constant(tag_expr)
            if tag is None:
                tag = "<" + tag_expr + ">"  # a tag computed at run time
        if level == "print":
            fmt = fmt.replace("\r\n", "\n")
            if fmt.count("\n") > 1 or fmt.startswith("\n"):
                # several lines in one printf: keep each line that says something
                for piece in fmt.split("\n"):
                    if piece.strip() and "%" not in piece:
                        yield {"level": level, "tag": None, "format": piece, "args": [],
                               "function": call.function, "macro": call.name, "line": call.line}
                continue
            fmt = fmt.rstrip("\n")
        rec = {"level": level, "tag": tag, "format": fmt, "args": args, "function": call.function,
               "macro": call.name, "line": call.line}
        values = _arg_values(src, args)
        if values:
            rec["arg_values"] = values
        yield rec


def _arg_values(src: Source, args: list[str]) -> dict[str, str]:
    """Arguments whose value the source gives: string literals and string constants of the file."""
    out = {}
    for i, a in enumerate(args):
        a = re.sub(r"^(?:DRAM_STR|_T)\s*\((.*)\)$", r"\1", a.strip(), flags=re.DOTALL).strip()
        if a.startswith('"') and a.endswith('"'):
            out[str(i)] = unquote(a)
        elif re.fullmatch(r"[A-Za-z_]\w*", a) and a not in ("TAG", "__func__", "__FUNCTION__"):
            value = src.string_constant(a)
            if value is not None:
                out[str(i)] = value
    return out


def panic_reasons(text: str) -> Iterator[tuple[str, int]]:
    """The exception and panic reason strings of a panic handler file, with their lines."""
    src = Source(text)
    for m in _REASON_ARRAY.finditer(src.code):
        for lit in _LITERAL.finditer(m["body"]):
            yield unquote(lit.group()), src.line_of(m.start("body") + lit.start())
    for m in _REASON_SET.finditer(src.code):
        yield unquote(m["lit"]), src.line_of(m.start("lit"))


_PANIC_FORMAT = "Guru Meditation Error: Core %2d panic'ed ({reason}). Exception was unhandled."


class Catalogue:
    """Messages by id, each with every (version, path, line) it was found at."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}

    def add(self, source: str, component: str, version: str, path: str, rec: dict[str, Any]) -> None:
        mid = message_id(source, component, rec["level"], rec["tag"], rec["format"])
        msg = self.messages.get(mid)
        if msg is None:
            msg = self.messages[mid] = {
                "id": mid, "source": source, "component": component, "level": rec["level"],
                "tag": rec["tag"], "format": rec["format"], "args": rec["args"],
                "function": rec.get("function"), "file": path.rsplit("/", 1)[-1], "macro": rec.get("macro"),
                "locations": [],
            }
        else:  # keep the newest spelling of the arguments
            msg["args"], msg["function"] = rec["args"], rec.get("function") or msg["function"]
        if rec.get("arg_values"):
            msg["arg_values"] = rec["arg_values"]
        loc = {"version": version, "path": path, "line": rec["line"]}
        if not any(x["version"] == version and x["path"] == path for x in msg["locations"]):
            msg["locations"].append(loc)


def read_sources(mirrors: Path, cfg: dict[str, Any], cat: Catalogue) -> None:
    exclude = cfg.get("exclude", [])
    for source, spec in cfg["sources"].items():
        components = spec["components"]
        skip = spec.get("skip", {}).get("paths", [])
        arduino = source == "arduino-esp32"
        for v in spec["versions"]:
            version, repo, ref = (v, spec["repo"], v) if isinstance(v, str) else (
                v["version"], v["mirror"], v["commit"])
            mirror = Mirror(_mirror_dir(mirrors, repo))
            try:
                for path in mirror.files(ref):
                    if not path.endswith((".c", ".cpp", ".h")) or any(fnmatch.fnmatch(path, s) for s in skip):
                        continue
                    comp = component_of(path, components, exclude)
                    if comp is None:
                        continue
                    text = mirror.read(ref, path)
                    if text is None:
                        continue
                    for rec in extract_file(text, arduino):
                        cat.add(source, comp, version, path, rec)
                    if comp == "esp_system" and path.endswith(_PANIC_FILES):
                        for reason, line in panic_reasons(text):
                            if reason in ("res", "Unknown", "") or "%" in reason:
                                continue
                            fmt = _PANIC_FORMAT.format(reason=reason)
                            rec = {"level": "panic", "tag": None, "format": fmt, "args": ["core"],
                                   "function": None, "macro": "panic_print_str", "line": line}
                            cat.add(source, comp, version, path, rec)
            finally:
                mirror.close()


def add_curated(mirrors: Path | None, cfg: dict[str, Any], cat: Catalogue,
                curated: list[dict[str, Any]]) -> None:
    """Curated messages: found in the sources by their `probe` text, or kept with their references."""
    versions = {name: spec["versions"] for name, spec in cfg["sources"].items()}
    repos = {name: spec["repo"] for name, spec in cfg["sources"].items()}
    for entry in curated:
        rec = {"level": entry["level"], "tag": entry.get("tag"), "format": entry["format"],
               "args": entry.get("args", []), "function": entry.get("function"), "macro": "curated"}
        source, comp = entry["source"], entry["component"]
        mid = message_id(source, comp, rec["level"], rec["tag"], rec["format"])
        probe = entry.get("probe")
        found = False
        if probe and mirrors is not None and source in versions:
            for v in versions[source]:
                version, repo, ref = (v, repos[source], v) if isinstance(v, str) else (
                    v["version"], v["mirror"], v["commit"])
                mirror = Mirror(_mirror_dir(mirrors, repo))
                try:
                    for path in mirror.files(ref):
                        if not fnmatch.fnmatch(path, probe["path"]):
                            continue
                        text = mirror.read(ref, path) or ""
                        at = text.find(probe["text"])
                        if at >= 0:
                            cat.add(source, comp, version, path, {**rec, "line": text.count("\n", 0, at) + 1})
                            found = True
                            break
                finally:
                    mirror.close()
            if not found:
                raise SystemExit(f"curated message {entry['format']!r}: probe {probe} found in no version")
        if not found:
            cat.messages[mid] = {"id": mid, "source": source, "component": comp, "level": rec["level"],
                                 "tag": rec["tag"], "format": rec["format"], "args": rec["args"],
                                 "function": rec["function"], "file": entry.get("file"), "macro": "curated",
                                 "locations": []}
        msg = cat.messages[mid]
        msg["curated"] = True
        for key in ("references", "chips", "note", "example_args"):
            if key in entry:
                msg[key] = entry[key]


def finish(messages: list[dict[str, Any]], cfg: dict[str, Any],
           classifier: Classifier) -> list[dict[str, Any]]:
    """Sort, add the versions and public URL of each message, classify."""
    order = {}
    for name, spec in cfg["sources"].items():
        order[name] = [v if isinstance(v, str) else v["version"] for v in spec["versions"]]
    out = []
    for msg in messages:
        vers = order.get(msg["source"], [])
        rank = {v: i for i, v in enumerate(vers)}
        msg["locations"].sort(key=lambda x: (rank.get(x["version"], 99), x["path"]))
        if msg["locations"]:
            msg["versions"] = sorted({x["version"] for x in msg["locations"]}, key=lambda v: rank.get(v, 99))
            newest = msg["locations"][-1]
            blob = cfg["sources"][msg["source"]]["blob"]
            msg["url"] = blob.format(version=newest["version"], path=newest["path"], line=newest["line"])
        msg["classification"] = classifier.classify(msg)
        out.append(msg)
    out.sort(key=lambda m: (m["source"], m["component"], m["tag"] or "", m["format"]))
    return out


def pattern_sources(messages: list[dict[str, Any]], cfg: dict[str, Any]) -> dict[str, list[str]]:
    """For each pattern code, the source files (and version range) of the messages it must recognise."""
    order = {name: [v if isinstance(v, str) else v["version"] for v in spec["versions"]]
             for name, spec in cfg["sources"].items()}
    found: dict[str, dict[tuple[str, str, str], set[str]]] = {}
    for msg in messages:
        cls = msg["classification"]
        if not cls or not cls["event"]:
            continue
        files = found.setdefault(cls["code"], {})
        if msg.get("locations"):
            for loc in msg["locations"]:
                key = (msg["source"], msg["component"], loc["path"].rsplit("/", 1)[-1])
                files.setdefault(key, set()).add(loc["version"])
        else:
            what = ", ".join(msg.get("chips") or []) or "curated"
            files.setdefault((msg["source"], msg["component"], what), set())
    out = {}
    for code, files in found.items():
        lines = []
        for (source, comp, name), versions in sorted(files.items()):
            rank = {v: i for i, v in enumerate(order.get(source, []))}
            vers = sorted(versions, key=lambda v: rank.get(v, 0))
            span = f" {vers[0]}" + (f"-{vers[-1]}" if len(vers) > 1 else "") if vers else ""
            lines.append(f"{source} {comp}: {name}{span}")
        out[code] = lines
    return out


_SOURCES_KEY = re.compile(r"(?m)^sources = \[(?:[^\]\n]*\]|\n(?:  [^\n]*\n)*\])\n")


def sync_patterns(sources: dict[str, list[str]], folder: Path = ROOT / "patterns") -> int:
    """Write each pattern's `sources` key from the catalogue; return how many patterns changed."""
    changed = 0
    for path in sorted(folder.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        parts = re.split(r"(?m)^(?=\[\[(?:pattern|derived|rule)\]\])", text)
        for i, part in enumerate(parts):
            m = re.search(r'(?m)^code = "(EW\d+)"$', part)
            if not m or not part.startswith("[[pattern]]") or m.group(1) not in sources:
                continue
            block = "sources = [\n" + "".join(f'  "{s}",\n' for s in sources[m.group(1)]) + "]\n"
            if _SOURCES_KEY.search(part):
                new = _SOURCES_KEY.sub(lambda _m, b=block: b, part, count=1)
            else:
                new = re.sub(r"(?m)^(references = (?:\[[^\n]*\]|\[\n(?:  [^\n]*\n)*\]))\n",
                             lambda mm, b=block: mm.group(1) + "\n" + b, part, count=1)
            if new != part:
                parts[i] = new
                changed += 1
        path.write_text("".join(parts), encoding="utf-8")
    return changed


def write(messages: list[dict[str, Any]], path: Path = OUT) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for msg in messages:
            fh.write(json.dumps(msg, ensure_ascii=False, sort_keys=False) + "\n")


def read(path: Path = OUT) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", type=Path, default=Path(os.environ.get("ESPWATCH_MIRRORS", "/work/.mirror")))
    ap.add_argument("--classify-only", action="store_true",
                    help="re-apply classify.toml and curated.toml to the committed messages.jsonl")
    ap.add_argument("--sync-patterns", action="store_true",
                    help="also write each pattern's `sources` key from the catalogue")
    args = ap.parse_args(argv)
    cfg = tomllib.loads((CATALOGUE / "sources.toml").read_text(encoding="utf-8"))
    curated = tomllib.loads((CATALOGUE / "curated.toml").read_text(encoding="utf-8")).get("message", [])
    classifier = load_classifier(CATALOGUE / "classify.toml")
    cat = Catalogue()
    if args.classify_only:
        for msg in read():
            if not msg.get("curated"):
                cat.messages[msg["id"]] = msg
        add_curated(None, cfg, cat, [c for c in curated if not c.get("probe")])
        for msg in read():  # curated messages found in the sources keep their locations
            if msg.get("curated") and msg["id"] not in cat.messages:
                cat.messages[msg["id"]] = msg
    else:
        read_sources(args.mirrors, cfg, cat)
        add_curated(args.mirrors, cfg, cat, curated)
    messages = finish(list(cat.messages.values()), cfg, classifier)
    write(messages)
    if args.sync_patterns:
        print(f"{sync_patterns(pattern_sources(messages, cfg))} patterns' sources updated")
    unclassified = [m for m in messages if m["classification"] is None]
    print(f"{len(messages)} messages written to {OUT.relative_to(ROOT)}; {len(unclassified)} unclassified")
    for m in unclassified[:40]:
        print(f"  unclassified: {m['component']} {m['level']} {m['tag']}: {m['format']!r}")
    return 1 if unclassified else 0


if __name__ == "__main__":
    sys.exit(main())
