"""Fleet triage: groups over the corpus, the samples and generated logs; the reduction; inputs; the modes."""

from __future__ import annotations

import gzip
import json
import random
import struct
import sys
from pathlib import Path

import pytest

from espwatch.errors import InputError, UsageError
from espwatch.fleet import (
    LogInput,
    Triage,
    TriageConfig,
    expand_paths,
    merge,
    merge_all,
    partial,
    reduce_results,
    scan_log,
    triage_dask,
    triage_local,
)
from espwatch.fleet.scanlog import dated_time

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
SAMPLES = ROOT / "samples"
CRASH_KINDS = {"panic", "abort", "assert", "stack_overflow", "heap_corrupt", "int_wdt", "cache_disabled_access"}


def labels() -> list[dict]:
    out = []
    for name in sorted(CORPUS.glob("labels*.jsonl")):
        out += [json.loads(line) for line in name.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def corpus_results():
    config = TriageConfig()
    return [scan_log(log, config) for log in expand_paths([str(CORPUS), str(SAMPLES)])]


# -- the corpus and the samples -------------------------------------------------------------------
def test_every_labelled_crash_log_gives_a_crash_and_healthy_logs_none(corpus_results) -> None:
    by_name = {Path(r.file).name: r for r in corpus_results if Path(r.file).parent.name == "corpus"}
    checked = 0
    for lab in labels():
        res = by_name[lab["file"]]
        crashes = [o for o in res.occurrences if o.kind == "crash"]
        if lab["healthy"]:
            assert not res.occurrences, (lab["file"], [o.key for o in res.occurrences])
        elif {e["kind"] for e in lab["events"]} & CRASH_KINDS:
            assert crashes, lab["file"]
            # the crash is where the labels put the first crash event
            first = min(e["line"] for e in lab["events"] if e["kind"] in CRASH_KINDS)
            assert abs(crashes[0].line - first) <= 2, (lab["file"], crashes[0].line, first)
            checked += 1
    assert checked >= 25


def test_known_groups_and_counts(corpus_results) -> None:
    tri = reduce_results(corpus_results)
    assert tri.files == 63 and tri.failed == 0
    g = tri.groups
    # the same real crash in a corpus log and in the sample copied from it: one group, two files
    sp = g[("crash", "StoreProhibited @ 0x400e37f4 < 0x400d0c2e < 0x40087015")]
    assert (sp.count, sp.files) == (2, 2)
    assert sp.firmware == {"v4.2-dev-172-gc9cc694dbb-dirty"} and sp.chips == {"esp32"}
    # ESPHome assert in two boots of one log: count 2 in 1 file, with the boot loop it causes and EW903
    key = "assert do_core_init startup.c:326 @ 0x403779e2 < 0x4037d3e5 < 0x403837dd < 0x42027462"
    assert (g[("crash", key)].count, g[("crash", key)].files) == (2, 1)
    assert g[("boot_loop", "reset RTC_SW_CPU_RST, after a crash: assert do_core_init startup.c:326")].count == 1
    assert g[("finding", "EW903")].count == 1
    # OTA failures by error: the esp_err name the line prints, or the name of the number it prints
    # (`esp_ota_end failed with 'ESP_ERR_OTA_VALIDATE_FAILED (5379)'` and `... failed! err=0x1503`)
    ota = g[("ota", "ota_error: ESP_ERR_OTA_VALIDATE_FAILED")]
    assert (ota.count, ota.files) == (2, 2)
    assert g[("ota", "checksum_failed: App image checksum failed")].files >= 3
    # devices named by the MAC the Wi-Fi driver prints
    assert "30:ae:a4:00:43:84" in tri.devices and "68:b6:b3:4d:91:08" in tri.devices
    ex = sp.example
    assert ex is not None and ex.file == str(SAMPLES / "esp32-storeprohibited-coredump-uart.log")  # min path
    assert ex.excerpt[0].startswith("25: Guru Meditation Error") and ex.excerpt[-1].startswith("34: Backtrace:")


def test_results_are_small_and_json(corpus_results) -> None:
    for r in corpus_results:
        rec = r.to_json()
        assert json.loads(json.dumps(rec)) == rec
        for o in r.occurrences:
            assert json.loads(json.dumps(o.to_json()))["key"] == o.key
    assert max(len(json.dumps(r.to_json())) for r in corpus_results) < 4000


# -- the reduction --------------------------------------------------------------------------------
def canon(t: Triage) -> list:
    return [*t.to_json(), t.totals_json()]


def test_merge_is_associative_and_commutative_on_random_splits(corpus_results) -> None:
    parts = [partial(r) for r in corpus_results]
    whole = canon(merge_all(parts))
    before = [canon(p) for p in parts]
    rnd = random.Random(18)
    for _ in range(25):
        order = parts[:]
        rnd.shuffle(order)
        i, j = sorted(rnd.sample(range(1, len(order)), 2))
        a, b, c = merge_all(order[:i]), merge_all(order[i:j]), merge_all(order[j:])
        assert canon(merge(merge(a, b), c)) == canon(merge(a, merge(b, c))) == whole
        assert canon(merge(c, merge(a, b))) == whole
        # a random binary tree of merges over a random split
        cuts = sorted(rnd.sample(range(1, len(order)), rnd.randint(1, 12)))
        level = [merge_all(order[x:y]) for x, y in zip([0, *cuts], [*cuts, len(order)], strict=True)]
        while len(level) > 1:
            k = rnd.randrange(len(level) - 1)
            level[k:k + 2] = [merge(level[k], level[k + 1])]
        assert canon(level[0]) == whole
    assert [canon(p) for p in parts] == before  # merging never changes its inputs
    empty = Triage()
    assert canon(merge(empty, merge_all(parts))) == whole == canon(merge(merge_all(parts), empty))


# -- inputs ---------------------------------------------------------------------------------------
def test_compressed_logs_give_the_same_result(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    src = CORPUS / "b-esp32s3-esphome-assert-do-core-init-timestamps.log"
    data = src.read_bytes()
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(data))
    (tmp_path / "a.log.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    config = TriageConfig()
    plain = scan_log(LogInput.from_path(src), config)
    for name in ("a.log.gz", "a.log.zst"):
        res = scan_log(LogInput.from_path(tmp_path / name), config)
        assert res.error is None
        assert [o.to_json() for o in res.occurrences] == [o.to_json() for o in plain.occurrences]
        assert (res.bytes, res.lines, res.boots) == (plain.bytes, plain.lines, plain.boots)


def test_damaged_and_wrong_inputs_are_one_line_results(tmp_path: Path, monkeypatch) -> None:
    config = TriageConfig()
    bad_gz = tmp_path / "x.log.gz"
    whole = gzip.compress(b"".join(b"I (%d) boot: hello %d\n" % (i, i * 7919) for i in range(5000)))
    bad_gz.write_bytes(whole[: len(whole) // 2])  # cut in the middle of the stream
    res = scan_log(LogInput.from_path(bad_gz), config)
    assert res.error and "\n" not in res.error and res.error.startswith(str(bad_gz))
    not_gz = tmp_path / "y.log.gz"
    not_gz.write_bytes(b"plain text, not gzip\n")
    assert "cannot read" in scan_log(LogInput.from_path(not_gz), config).error
    elf = ROOT / "tests" / "data" / "fleet" / "rv32-demo-O1.elf"
    assert "is an ELF file" in scan_log(LogInput.from_path(elf), config).error
    assert "no such file" in scan_log(LogInput.from_path(tmp_path / "gone.log"), config).error
    zst = tmp_path / "z.log.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd garbage")
    if "zstandard" in sys.modules or _has("zstandard"):
        assert "not a valid .zst file" in scan_log(LogInput.from_path(zst), config).error
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if the optional package were not installed
    err = scan_log(LogInput.from_path(zst), config).error
    assert "needs the optional package zstandard" in err and "espwatch[fleet]" in err


def _has(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


def test_expand_paths(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.log").write_text("x\n")
    (tmp_path / "a" / "b" / "two.txt.gz").write_bytes(gzip.compress(b"x\n"))
    (tmp_path / "a" / "b" / "skip.elf").write_text("x")
    (tmp_path / "a" / "b" / "one.log.times").write_bytes(b"")
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / ".hidden" / "h.log").write_text("x\n")
    names = [Path(x.name).name for x in expand_paths([str(tmp_path / "a")])]
    assert names == ["two.txt.gz", "one.log"]  # sorted by path: a/b/two.txt.gz, a/one.log
    # a file given twice (directly and through its folder) is scanned once; globs are expanded
    got = expand_paths([str(tmp_path / "a" / "one.log"), str(tmp_path / "a"), str(tmp_path / "a" / "**" / "*.gz")])
    assert [Path(x.name).name for x in got] == ["one.log", "two.txt.gz"]
    assert [Path(x.name).name for x in expand_paths([str(tmp_path / "a")], (".elf",))] == ["skip.elf"]
    with pytest.raises(InputError, match="no such file"):
        expand_paths([str(tmp_path / "missing.log")])
    with pytest.raises(InputError, match="no file matches"):
        expand_paths([str(tmp_path / "*.nothing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no log files"):
        expand_paths([str(tmp_path / "empty")])


def test_device_id_from_the_log_or_the_path(tmp_path: Path) -> None:
    mdf = CORPUS / "a-esp32-mdf-factory-invalid-magic-idf31.log"
    res = scan_log(LogInput.from_path(mdf), TriageConfig())
    assert (res.device, res.device_from) == ("30:ae:a4:00:43:84", "mac")  # the station's, not the softAP's
    folder = tmp_path / "fleet" / "SN-0042"
    folder.mkdir(parents=True)
    log = folder / "boot.log"
    log.write_bytes(mdf.read_bytes())
    for rx, want in ((r"/(?P<device>SN-\d+)/", "SN-0042"), (r"(SN-\d+)", "SN-0042"), (r"SN-\d+", "SN-0042")):
        res = scan_log(LogInput.from_path(log), TriageConfig.build(device_from=rx))
        assert (res.device, res.device_from) == (want, "path")
    # a path pattern that does not match falls back to what the device prints
    res = scan_log(LogInput.from_path(log), TriageConfig.build(device_from=r"/unit-(\d+)/"))
    assert res.device_from == "mac"
    # ESPHome prints a host name; a project's own pattern may set `device_id`, which comes first
    esphome = tmp_path / "esphome.log"
    esphome.write_text("[C][wifi:443]:   Hostname: 'kitchen-node'\n[C][wifi:441]:   Local MAC: 24:0A:C4:11:22:33\n")
    res = scan_log(LogInput.from_path(esphome), TriageConfig())
    assert (res.device, res.device_from) == ("24:0a:c4:11:22:33", "mac")
    pats = tmp_path / "pats"
    pats.mkdir()
    (pats / "serial.toml").write_text(
        '[[pattern]]\ncode = "EW995"\nkind = "device_id"\nseverity = "info"\ntitle = "Serial"\n'
        'literals = ["serial="]\nregex = \'serial=(?P<sn>\\w+)\'\nfact = true\nsets = { device_id = "sn" }\n'
        'hint = "ours"\nreferences = ["https://example.org"]\n', encoding="utf-8")
    esphome.write_text(esphome.read_text() + "I (1) app: serial=AB12\n")
    res = scan_log(LogInput.from_path(esphome), TriageConfig.build(patterns=[str(pats)]))
    assert (res.device, res.device_from) == ("AB12", "device_id")
    with pytest.raises(UsageError, match="not a valid regex"):
        TriageConfig.build(device_from="(unclosed")


def crash_log(stamp: str = "") -> bytes:
    """A log whose boot 2 crashes (real lines from the corpus), with `stamp` before every line."""
    body = (CORPUS / "b-esp32-arduino-loadprohibited-core1-null.log").read_bytes().splitlines(keepends=True)
    head = [b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n", b"I (30) boot: hello\n",
            b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"]
    return b"".join(stamp.encode() + line for line in head + body)


def test_times_from_the_arrival_sidecar_or_dated_timestamps(tmp_path: Path) -> None:
    from espwatch.device.times import header_bytes, pack_records

    data = crash_log()
    log = tmp_path / "port.log"
    log.write_bytes(data)
    crash_at = data.index(b"Guru Meditation")
    side = tmp_path / "port.log.times"
    side.write_bytes(header_bytes() + pack_records([(0, 1714557000.0), (crash_at - 5, 1714557072.5)]))
    res = scan_log(LogInput.from_path(log), TriageConfig())
    (o,) = [o for o in res.occurrences if o.kind == "crash"]
    assert o.time == 1714557072.5 and o.to_json()["time"] == "2024-05-01T09:51:12.500Z"
    # the same log compressed keeps the sidecar of its plain name
    gz = tmp_path / "port.log.gz"
    gz.write_bytes(gzip.compress(data))
    log.unlink()
    (o2,) = [o for o in scan_log(LogInput.from_path(gz), TriageConfig()).occurrences if o.kind == "crash"]
    assert o2.time == 1714557072.5
    # a damaged sidecar is a note, not a failure
    side.write_bytes(b"not times")
    res = scan_log(LogInput.from_path(gz), TriageConfig())
    assert res.error is None and any("arrival times not used" in n for n in res.notes)
    # dated host timestamps (idf.py monitor --timestamps style); a time of day alone places nothing
    dated = scan_log(LogInput.from_bytes("d.log", crash_log("2024-05-01 10:11:12.250 ")), TriageConfig())
    assert [o.time for o in dated.occurrences if o.kind == "crash"] == [dated_time("2024-05-01 10:11:12.250")]
    plain = scan_log(LogInput.from_bytes("t.log", crash_log("10:11:12.250 -> ")), TriageConfig())
    assert [o.time for o in plain.occurrences if o.kind == "crash"] == [None]
    assert dated_time("2024-05-01T10:11:12+02:00") == dated_time("2024-05-01 08:11:12Z")


def test_excerpt_lines_across_read_chunks(tmp_path: Path) -> None:
    """A crash that straddles the 1 MiB read boundary: excerpt lines are the file's lines, numbered right."""
    filler = b"".join(b"I (%d) app: tick %d\n" % (i, i) for i in range(60000))
    cut = filler.rfind(b"\n", 0, (1 << 20) - 300) + 1
    data = filler[:cut] + crash_log() + filler[cut:] + b"E (1) app: last line without a break"
    log = tmp_path / "big.log"
    log.write_bytes(data)
    assert len(data) > (1 << 20) + 100000
    res = scan_log(LogInput.from_path(log), TriageConfig())
    (o,) = [o for o in res.occurrences if o.kind == "crash"]
    lines = data.split(b"\n")
    for text in o.excerpt:
        if text == "...":
            continue
        n, _, body = text.partition(": ")
        assert lines[int(n) - 1].decode() == body
    assert o.excerpt[0].split(": ", 1)[1].startswith("Guru Meditation Error")
    assert res.lines == data.count(b"\n") + 1


def test_escape_sequences_never_reach_the_output(tmp_path: Path) -> None:
    from espwatch.render.triage import markdown, text_lines

    data = crash_log().replace(b"Exception was unhandled.", b"Exception was unhandled.\x1b]0;title\x07\x1b[2J", 1)
    data = data.replace(b"Core 1 register dump:", b"\x1b[31mCore 1 register dump:\x9b1m", 1)
    (tmp_path / "esc\x1b[2J.log").write_bytes(data)
    tri = triage_local(expand_paths([str(tmp_path)]), TriageConfig(), jobs=1)
    text = "\n".join(text_lines(tri))
    assert "\x1b" not in text and "\x07" not in text and "Guru Meditation" in text
    assert "\x1b" not in markdown(tri)


# -- local pool and Dask give the same groups ------------------------------------------------------
def generated_logs(folder: Path, n: int = 24) -> list[LogInput]:
    """Logs of several devices and firmware versions, each with 0-2 crashes from the corpus."""
    blocks = [CORPUS / f for f in ("b-esp32-arduino-loadprohibited-core1-null.log",
                                   "b-esp32s3-arduino-abort-terminate-reboot.log",
                                   "a-esp32-arduino-flash-size-probe-failed.log")]
    rnd = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        parts = [b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n",
                 b"I (236) cpu_start: App version:      %d.0\n" % (i % 3),
                 b"I (722) wifi:mode : sta (24:0a:c4:00:00:%02x)\n" % (i % 7)]
        for _ in range(rnd.randint(0, 2)):
            parts += [b"I (1) app: tick\n" * rnd.randint(1, 50), rnd.choice(blocks).read_bytes(),
                      b"\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"]
        name = folder / f"dev{i:03d}.log"
        data = b"".join(parts)
        if i % 5 == 0:
            name.with_name(name.name + ".gz").write_bytes(gzip.compress(data))
        else:
            name.write_bytes(data)
    return expand_paths([str(folder)])


def test_local_j1_jn_and_dask_local_cluster_give_identical_groups(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="Dask is the optional extra espwatch[fleet]")
    logs = expand_paths([str(CORPUS), str(SAMPLES)]) + generated_logs(tmp_path / "gen")
    config = TriageConfig()
    seen: list[str] = []
    one = triage_local(logs, config, jobs=1, on_result=lambda r: seen.append(r.file))
    assert seen == [log.name for log in logs]
    two = triage_local(logs, config, jobs=2)
    dask, per_file = triage_dask(logs, config, "local", jobs=2, per_file=True)
    assert canon(one) == canon(two) == canon(dask)
    assert [r.file for r in per_file] == [log.name for log in logs]
    assert canon(reduce_results(per_file)) == canon(one)
    assert one.files == len(logs) and len(one.groups) > 40


def test_dask_missing_or_unreachable_is_one_line(monkeypatch) -> None:
    pytest.importorskip("distributed")
    with pytest.raises(UsageError, match="cannot connect"):
        triage_dask([], TriageConfig(), "tcp://127.0.0.1:9", jobs=1)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UsageError, match=r"espwatch\[fleet\]"):
        triage_dask([], TriageConfig(), "local", jobs=1)


def test_logs_as_bytes_with_a_source_label() -> None:
    """What a merged multi-port replay would pass: bytes per port with their arrival times."""
    from espwatch.device.times import header_bytes

    data = crash_log()
    times = header_bytes() + struct.pack("<qd", 0, 1700000000.0)
    res = scan_log(LogInput.from_bytes("port A", data, times=times, source="/dev/ttyUSB0"), TriageConfig())
    assert res.source == "/dev/ttyUSB0" and res.mtime is None
    assert [o.time for o in res.occurrences if o.kind == "crash"] == [1700000000.0]


def test_the_documented_spark_and_ray_shapes_give_the_same_groups() -> None:
    """The recipes in espwatch.fleet's docstring, run with plain Python: bytes in (PySpark's binaryFiles),
    a tree of `merge`; batches reduced with `reduce_results` then `merge_all` (Ray)."""
    import functools

    logs = expand_paths([str(CORPUS), str(SAMPLES)])
    config = TriageConfig()
    local = triage_local(logs, config, jobs=1)
    spark = functools.reduce(merge, [partial(scan_log(LogInput.from_bytes(log.name, Path(log.path).read_bytes()),
                                                      config)) for log in logs])
    batches = [[log.path for log in logs[i:i + 7]] for i in range(0, len(logs), 7)]
    ray = merge_all(reduce_results(scan_log(p, config) for p in batch) for batch in batches)

    def without_file_times(t: Triage) -> list:
        return [{k: v for k, v in g.items() if not k.startswith("file_time")} for g in t.to_json()]

    assert without_file_times(spark) == without_file_times(local)  # bytes carry no file time
    assert canon(ray) == canon(local)
