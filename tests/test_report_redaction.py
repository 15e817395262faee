"""Secrets are removed before a report leaves the machine; the report says what it removed."""

from __future__ import annotations

from pathlib import Path

from espwatch.redact import Redactor
from espwatch.report import ReportOptions, build_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXZpY2UtNDIiLCJpYXQiOjE1MTYyMzkwMjJ9."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
GHP = "ghp_" + "R8x2kQ9vLmN4pT7wZ1aB3cD5eF6gH0jK2lM4"
SK = "sk-proj-" + "Xy7Qm2Lp9Rt4Vw8Zb1Nc6Hd3Kf5Jg0Sa"
AWS = "AKIAIOSFODNN7EXAMPLE"
PEM = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEAuS2xbX6Zr0yJwJ5oQkq3pQ8t1vQ4H3gK9m2x7cD8eFgHiJkL",
    "mNoPqRsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwX",
    "-----END RSA PRIVATE KEY-----",
]

SECRET_LINES = [
    f"I (5123) http_client: header Authorization: Bearer {JWT}",
    f"I (5124) cloud: token {GHP}",
    f"I (5125) llm: api_key={SK}",
    f"I (5126) s3: uploading with {AWS}",
    "I (5127) mqtt: connecting to mqtts://device42:s3cr3t-Pa55@broker.example.com:8883",
    '[D][config.cpp:41] load(): {"ssid": "HomeNet-5G", "password": "hunter2-hunter2"}',
    "I (5128) prov: wifi password=CorrectHorse9 saved",
    *PEM,
    "I (5129) wifi: connected with HomeNet-5G, aid = 3, channel 6, BW20, bssid = 30:b5:c2:8e:11:4a",
]
SECRETS = [JWT, GHP, SK, AWS, "s3cr3t-Pa55", "hunter2-hunter2", "CorrectHorse9", PEM[1][:20], PEM[2][:20]]


def test_redactor_kinds_and_counts() -> None:
    r = Redactor()
    out = [t for _, t in r.redact_lines(enumerate(SECRET_LINES, 1))]
    text = "\n".join(out)
    for s in SECRETS:
        assert s not in text, s
    assert "HomeNet-5G" in text and "30:b5:c2:8e:11:4a" in text  # only on request
    assert len(out) == len(SECRET_LINES)  # line numbers stay right
    assert r.counts == {"bearer_token": 1, "api_key": 3, "url_credentials": 1, "password": 2, "private_key": 1}
    assert "device42" not in text and "broker.example.com" in text
    assert '"password": "[REDACTED:password]"' in text and "password=[REDACTED:password]" in text

    w = Redactor(wifi=True, mac=True)
    text = "\n".join(t for _, t in w.redact_lines(enumerate(SECRET_LINES, 1)))
    assert "HomeNet-5G" not in text and "30:b5:c2:8e:11:4a" not in text
    assert w.counts["wifi_ssid"] == 2 and w.counts["mac"] == 1

    off = Redactor(enabled=False)
    assert off.redact(SECRET_LINES[0]) == SECRET_LINES[0] and not off.counts


def test_register_dumps_are_not_redacted() -> None:
    r = Redactor(wifi=True, mac=True)
    lines = ["PC      : 0x400d1234  PS      : 0x00060530  A0      : 0x800d5678  A1      : 0x3ffb1230",
             "Backtrace: 0x400d1234:0x3ffb1230 0x400d5678:0x3ffb1250 |<-CORRUPTED",
             "I (3105) event: sta ip: 192.168.1.48, mask: 255.255.255.0, gw: 192.168.1.1",
             "E (30192) esp_image: Checksum failed. Calculated 0xb3 read 0xcd",
             "I (1034) heap_init: At 3FFC6F98 len 00019068 (100 KiB): DRAM"]
    assert [r.redact(x) for x in lines] == lines and not r.counts


def test_pem_cut_by_context_window_leaks_nothing() -> None:
    r = Redactor()
    pairs = list(enumerate(["x", *PEM, "y"], 1))
    kept = dict(r.redact_lines(pairs, keep={3, 4, 5, 6}))  # the window starts inside the block
    assert set(kept) == {3, 4, 5, 6}
    assert all("MII" not in v and "mNo" not in v for v in kept.values())
    assert r.counts["private_key"] == 1


def write_log(tmp_path: Path) -> Path:
    src = (SAMPLES / "ota-checksum-psram-4120.log").read_text(encoding="utf-8").splitlines()
    # put the secrets right after the first checksum failure (line 74), inside its context window
    out = src[:74] + SECRET_LINES + src[74:]
    p = tmp_path / "secrets.log"
    p.write_text("\n".join(out) + "\n", encoding="utf-8")
    return p


def test_report_redacts_and_says_so(tmp_path: Path) -> None:
    log = write_log(tmp_path)
    rep = build_report(str(log), ReportOptions(after=20))
    md = rep.markdown
    for s in SECRETS:
        assert s not in md, s
    assert "[REDACTED:bearer_token]" in md and "[REDACTED:private_key]" in md
    line = next(ln for ln in md.splitlines() if ln.startswith("Redacted before sharing:"))
    assert "1 bearer token" in line and "1 private key" in line and "2 password" in line
    assert "HomeNet" in md  # SSIDs only on request

    wifi = build_report(str(log), ReportOptions(after=20, redact_wifi=True, redact_mac=True)).markdown
    assert "HomeNet" not in wifi and "30:b5:c2" not in wifi and "wifi ssid" in wifi

    raw = build_report(str(log), ReportOptions(after=20, redact=False)).markdown
    assert JWT in raw and "Redacted before sharing: off (--no-redact)" in raw
