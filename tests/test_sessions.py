"""Boot sessions: numbering, facts the device printed, partition labels and switches."""

from __future__ import annotations

import itertools

from helpers import scan_file


def test_ota_success_two_boots_with_labels_and_switch(corpus_dir) -> None:
    pipe, events = scan_file(corpus_dir / "a-esp32s3-https-ota-success-reboot-healthy.log")
    assert [s.number for s in pipe.sessions] == [1, 2]
    b1, b2 = pipe.sessions
    assert b1.facts["reset_reason"] == "POWERON" and b2.facts["reset_reason"] == "RTC_SW_CPU_RST"
    assert (b1.facts["partition"], b2.facts["partition"]) == ("ota_0", "ota_1")
    assert b1.facts["chip"] == "esp32s3" and b1.facts["chip_revision"] == "v0.1"
    assert b1.facts["project"] == "partitions_ota" and b1.facts["app_version"] == "95a1e4cd"
    assert b1.facts["flash_size"] == "4MB" and b1.facts["elf_sha256"].startswith("0810d7fd3")
    assert len(b1.facts["partitions"]) == 8
    loaded = [e for e in events if e.kind == "partition_loaded"]
    assert [(e.fields["label"], e.boot) for e in loaded] == [("ota_0", 1), ("ota_1", 2)]
    (switch,) = [e for e in events if e.kind == "partition_switch"]
    assert switch.fields["from"] == "ota_0" and switch.fields["to"] == "ota_1" and switch.boot == 2
    assert b1.end_line == b2.start_line - 1


def test_rom_banner_and_reset_line_open_one_boot(corpus_dir) -> None:
    pipe, events = scan_file(corpus_dir / "a-esp32c3-sha256-mismatch-rtcwdt-loop.log")
    starts = [e for e in events if e.kind in ("boot_banner", "reset_reason") and e.code in ("EW101", "EW102", "EW103")]
    # every ROM banner is followed by its rst: line in the same boot
    for banner, reset in zip(starts[::2], starts[1::2], strict=False):
        assert banner.boot == reset.boot
    assert len(pipe.sessions) == len([e for e in events if e.code == "EW102"])


def test_events_before_the_first_banner_are_boot_one(corpus_dir) -> None:
    _pipe, events = scan_file(corpus_dir / "b-esp32-arduino-loadprohibited-after-swreset.log")
    first = events[0]
    assert first.boot == 1
    assert all(a.boot <= b.boot for a, b in itertools.pairwise(events))


def test_reset_loop_counts_boots(corpus_dir) -> None:
    pipe, events = scan_file(corpus_dir / "a-esp32-reset-loop-silent-brownout.log")
    resets = [e for e in events if e.kind == "reset_reason"]
    assert len(pipe.sessions) == len(resets) >= 3
    assert [e.boot for e in resets] == list(range(1, len(resets) + 1))
