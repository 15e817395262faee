"""Fleet crash signatures: frames normalised as ESP-IDF prints them, decoded with the ELF of each firmware."""

from __future__ import annotations

from pathlib import Path

import pytest

from espwatch.diagnosis.signatures import Crash
from espwatch.fleet import LogInput, TriageConfig, scan_log
from espwatch.fleet.signature import chip_code, crash_frames, normal_cause, signature
from espwatch.symbols import SymbolIndex

DATA = Path(__file__).parent / "data"
RV32_O2 = DATA / "fixtures" / "rv32-inline-demo" / "demo.elf"
RV32_O1 = DATA / "fleet" / "rv32-demo-O1.elf"
LX106 = DATA / "fixtures" / "lx106-inline-demo" / "demo.elf"


def crash(pcs: list[str] | None = None, pc: str | None = None, cause: str = "LoadProhibited") -> Crash:
    return Crash(boot=1, line=1, kind="panic", cause=cause, rank=6, pcs=pcs or [], pc=pc)


def test_backtrace_frames_as_esp_idf_prints_them() -> None:
    esp32 = chip_code("esp32")
    # a raw windowed return address (A0 style) is mapped like esp_cpu_process_stack_pc(): top bits, minus 3
    frames = crash_frames(crash(["0x400d1234", "0x800d0c31", "0x400e0001"]), esp32)
    assert [f"0x{f.pc:08x}" for f in frames] == ["0x400d1234", "0x400d0c2e", "0x400e0001"]
    # ESP-IDF stops at the first frame that is not code (|<-CORRUPTED); the first frame always stays
    frames = crash_frames(crash(["0x00000000", "0x400d1f70", "0x7ffffffd", "0x400d2000"]), esp32)
    assert [f.pc for f in frames] == [0, 0x400D1F70]


def test_code_ranges_follow_the_chip() -> None:
    pcs = ["0x40375c3e", "0x42006940", "0x400d0000"]
    assert len(crash_frames(crash(pcs), chip_code("esp32s3"))) == 2  # 0x400d0000 is not code on an S3
    assert len(crash_frames(crash(pcs), chip_code("ESP32-S3"))) == 2  # as the Arduino chip report names it
    assert len(crash_frames(crash(pcs), chip_code(None))) == 3  # unknown chip: any 0x4xxxxxxx


def test_riscv_without_backtrace_uses_mepc_then_ra() -> None:
    c3 = chip_code("esp32c3")
    frames = crash_frames(crash(pc="0x42000076"), c3, ra="0x42000194")
    assert [(f.pc, f.lookup) for f in frames] == [(0x42000076, 0x42000076), (0x42000194, 0x42000193)]
    assert signature(crash(pc="0x42000076"), c3, "0x42000194").key == "LoadProhibited @ 0x42000076 < 0x42000194"
    # an RA that is not code (0 after a jump to nowhere) adds nothing
    assert len(crash_frames(crash(pc="0x42000076"), c3, ra="0x00000000")) == 1


def test_cause_paths_keep_the_file_name() -> None:
    assert normal_cause("assert multi_heap_free /Users/x/esp-idf/components/heap/multi_heap_poisoning.c:205") \
        == "assert multi_heap_free multi_heap_poisoning.c:205"
    assert normal_cause(r"assert f C:\build\main\app.c:12") == "assert f app.c:12"
    assert normal_cause("LoadProhibited") == "LoadProhibited"


def test_decoded_names_are_the_containing_function() -> None:
    index = SymbolIndex.load(RV32_O2, use_cache=False)
    sig = signature(crash(pc="0x42000076", cause="Store access fault"), chip_code("esp32c3"), "0x42000194", index)
    assert sig.decoded and sig.top == ("crash_here", "main")
    # the Xtensa build of the same program, through a backtrace: names, and ROM-like addresses stay hex
    lx = SymbolIndex.load(LX106, use_cache=False)
    sig = signature(crash(["0x40200072", "0x40000400"]), chip_code("esp32"), None, lx)
    assert sig.top == ("crash_here", "0x40000400")


def riscv_crash_log(sha: str, version: str, mepc: int, ra: int, mac: str) -> bytes:
    """An ESP32-C3 boot that crashes in the demo program's `crash_here`, as ESP-IDF prints it."""
    return (
        "ESP-ROM:esp32c3-api1-20210207\n"
        "rst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\n"
        "I (30) cpu_start: Project name:     demo\n"
        f"I (31) cpu_start: App version:      {version}\n"
        f"I (32) cpu_start: ELF file SHA256:  {sha[:16]}...\n"
        f"I (700) wifi:mode : sta ({mac})\n"
        "Guru Meditation Error: Core  0 panic'ed (Store access fault). Exception was unhandled.\n"
        "\n"
        "Core  0 register dump:\n"
        f"MEPC    : 0x{mepc:08x}  RA      : 0x{ra:08x}  SP      : 0x3fc8cdec  GP      : 0x3fc887e0\n"
        "TP      : 0x3fc8d0a0  T0      : 0x4005890e  T1      : 0x3fc8c6dc  T2      : 0x00000000\n"
        "MSTATUS : 0x00001881  MTVEC   : 0x40380001  MCAUSE  : 0x00000007  MTVAL   : 0x00000000\n"
        "MHARTID : 0x00000000\n"
        "\n"
        f"ELF file SHA256: {sha[:16]}\n"
        "\n"
        "Rebooting...\n"
    ).encode()


@pytest.fixture()
def two_builds(tmp_path: Path) -> tuple[list[LogInput], str, str]:
    """The same crash (`crash_here` called from `main`) in two builds whose code addresses differ."""
    from espwatch.symbols.elf_locate import elf_sha256

    sha2, sha1 = elf_sha256(RV32_O2), elf_sha256(RV32_O1)
    a = tmp_path / "dev-a.log"
    b = tmp_path / "dev-b.log"
    a.write_bytes(riscv_crash_log(sha2, "1.0.0", 0x42000076, 0x42000194, "aa:bb:cc:00:00:01"))
    b.write_bytes(riscv_crash_log(sha1, "1.1.0", 0x42000070, 0x42000198, "aa:bb:cc:00:00:02"))
    return [LogInput.from_path(a), LogInput.from_path(b)], sha2, sha1


def crash_keys(logs: list[LogInput], config: TriageConfig) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for log in logs:
        res = scan_log(log, config)
        assert res.error is None
        for o in res.occurrences:
            if o.kind == "crash":
                out.setdefault(o.key, []).append(o.firmware or "")
    return out


def test_one_bug_two_builds_groups_by_name_with_each_builds_elf(two_builds) -> None:
    logs, _, _ = two_builds
    raw = crash_keys(logs, TriageConfig())
    assert raw == {"Store access fault @ 0x42000076 < 0x42000194": ["1.0.0"],
                   "Store access fault @ 0x42000070 < 0x42000198": ["1.1.0"]}
    both = crash_keys(logs, TriageConfig.build(elfs=[str(RV32_O2), str(RV32_O1)]))
    assert both == {"Store access fault @ crash_here < main": ["1.0.0", "1.1.0"]}
    # only one build's ELF: the other firmware's crash keeps its PCs (never decoded with the wrong ELF)
    one = crash_keys(logs, TriageConfig.build(elfs=[str(RV32_O2)]))
    assert one == {"Store access fault @ crash_here < main": ["1.0.0"],
                   "Store access fault @ 0x42000070 < 0x42000198": ["1.1.0"]}


def test_elf_folder_and_decoded_with(two_builds, tmp_path: Path) -> None:
    import shutil

    logs, sha2, sha1 = two_builds
    folder = tmp_path / "elfs" / "nested"
    folder.mkdir(parents=True)
    shutil.copy(RV32_O2, folder / "a.elf")
    shutil.copy(RV32_O1, folder / "b.elf")
    config = TriageConfig.build(elfs=[str(tmp_path / "elfs")])
    assert {s for s, _ in config.elfs} == {sha2, sha1}
    res = scan_log(logs[1], config)
    assert res.decoded_with == {sha1[:16]: "b.elf"}
    assert res.device == "aa:bb:cc:00:00:02" and res.device_from == "mac"
    assert res.firmware == ["1.1.0"] and res.chips == ["esp32c3"]


def test_bad_elf_arguments_are_one_line(tmp_path: Path) -> None:
    from espwatch.errors import ElfError

    not_elf = tmp_path / "x.elf"
    not_elf.write_text("hello")
    with pytest.raises(ElfError, match="not an ELF file"):
        TriageConfig.build(elfs=[str(not_elf)])
    with pytest.raises(ElfError, match="no such ELF file"):
        TriageConfig.build(elfs=[str(tmp_path / "missing.elf")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ElfError, match=r"no \.elf file"):
        TriageConfig.build(elfs=[str(tmp_path / "empty")])
