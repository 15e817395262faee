"""Redaction that holds (issue 12.7): realistic secret lines, each secret asserted absent from the report.

The lines are the shapes firmware and its libraries print: ESP-IDF examples (`connected to ap SSID:%s
password:%s`), Kconfig dumps (`CONFIG_ESP_WIFI_PASSWORD=...`), env-style keys with prefixes, HTTP client
headers, JSON configs, URLs with credentials and tokens in the query, AWS credentials.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from espwatch.redact import Redactor, key_words, names_secret
from espwatch.report import ReportOptions, build_report

ROOT = Path(__file__).resolve().parent.parent

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# (line, the secrets in it)
SECRET_LINES: list[tuple[str, list[str]]] = [
    ("I (5593) wifi station: connected to ap SSID:HomeNet password:Tr0ub4dor&3", ["Tr0ub4dor&3"]),
    ("I (5593) wifi station: Failed to connect to SSID:HomeNet, password:Tr0ub4dor&3", ["Tr0ub4dor&3"]),
    ("WIFI_PASS=hunter2hunter2", ["hunter2hunter2"]),
    ('CONFIG_ESP_WIFI_PASSWORD="s3cr3t pass phrase"', ["s3cr3t pass phrase", "pass phrase"]),
    ("MQTT_PASSWORD=mqtt-Pa55", ["mqtt-Pa55"]),
    ("mqtt_pass: 'ab,cd;ef'", ["ab,cd;ef", "cd;ef"]),
    ("[D][mqtt.cpp:88] connect(): user=dev42 mqttPassword=Zx9!Zx9!", ["Zx9!Zx9!"]),
    ("I (812) HTTP_CLIENT: Authorization: Basic dXNlcjpwYXNzd29yZA==", ["dXNlcjpwYXNzd29yZA=="]),
    ('I (813) HTTP_CLIENT: Authorization: Digest username="admin", response="6629fae49393a05397450978507c4ef1"',
     ["6629fae49393a05397450978507c4ef1"]),
    ("curl -H 'Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b'",
     ["9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"]),
    ("W (900) proxy: sending Basic YWRtaW46aHVudGVyMg== upstream", ["YWRtaW46aHVudGVyMg=="]),
    (f"aws_secret_access_key = {AWS_SECRET}", [AWS_SECRET]),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", [AWS_SECRET]),
    (f"I (77) s3: AWS secret key {AWS_SECRET}", [AWS_SECRET]),
    ("I (78) s3: using secret je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY for upload",
     ["je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"]),
    ("I (80) cloud: apikey 6f1d9a0c2b7e4f3a8d5c", ["6f1d9a0c2b7e4f3a8d5c"]),
    ("I (81) cloud: api_key 6f1d9a0c2b7e4f3a8d5c", ["6f1d9a0c2b7e4f3a8d5c"]),
    ("I (82) cloud: X-API-Key: 6f1d9a0c2b7e4f3a8d5c", ["6f1d9a0c2b7e4f3a8d5c"]),
    ("I (83) ota: GET /update?device=42&token=a1b2c3d4e5&v=2", ["a1b2c3d4e5"]),
    ('[I][config.cpp:12] {"wifi":{"ssid":"Cafe","pass":"latte#42"}}', ["latte#42"]),
    ('{"sta": {"password": "pa\\"ss\'word1"}}', ["ss'word1", 'pa\\"ss']),
    ("I (84) prov: password is hunter22", ["hunter22"]),
    ("I (85) http: Cookie: session=9f8e7d6c5b4a; theme=dark", ["9f8e7d6c5b4a"]),
    ("I (86) http: Set-Cookie: sid=0a1b2c3d4e5f; Path=/; HttpOnly", ["0a1b2c3d4e5f"]),
    ("wpa_psk=0123456789abcdef0123456789abcdef", ["0123456789abcdef0123456789abcdef"]),
    ("client_secret: 'GOCSPX-abcdefghijklmnop'", ["GOCSPX-abcdefghijklmnop"]),
    ("I (87) ota: url=https://admin:OtaPass99@ota.example.com/fw.bin", ["OtaPass99"]),
    ("I (88) mqtt: uri mqtts://dev42:s3cr3t-Pa55@broker.example.com:8883", ["s3cr3t-Pa55"]),
    ("I (89) ble: passkey 123456", ["123456"]),
    ("I (90) prov: pop=abcd1234 wifi_key=MyWifiKey!", ["MyWifiKey!"]),
    ("I (91) app: device_key=Zm9vYmFyYmF6cXV4", ["Zm9vYmFyYmF6cXV4"]),
    ("W (92) app: adminpwd=root1234", ["root1234"]),
    ("I (93) app: WIFI_PASSWORD = correct-horse-battery", ["correct-horse-battery"]),
    ("I (94) app: sta.password=Xyzzy_42", ["Xyzzy_42"]),
    ("I (95) llm: x-api-key: sk-ant-api03-abcdefghijklmnopqrstuvwxyz", ["sk-ant-api03-abcdefghijklmnopqrstuvwxyz"]),
    ("I (96) app: refresh_token=1//0gabcdefghijklmnopq", ["1//0gabcdefghijklmnopq"]),
    ("I (97) app: auth_token: 'tok_live_9f8e7d'", ["tok_live_9f8e7d"]),
    ("I (98) app: Proxy-Authorization: Basic cHJveHk6cHJveHlwYXNz", ["cHJveHk6cHJveHlwYXNz"]),
    ("E (99) app: login failed for password hunter2!", ["hunter2!"]),
    # found by fuzz/ (redaction target): a `password=` right after `Bearer ` was cut at its `=`
    ("configsip:Bearer  password=Zq9xK2mW7pL4  0, SPIWP:0xee", ["Zq9xK2mW7pL4"]),
]
# only with --redact-wifi
WIFI_LINES: list[tuple[str, list[str]]] = [
    ("WIFI_SSID=HomeNet-5G", ["HomeNet-5G"]),
    ("CONFIG_ESP_WIFI_SSID=\"Guest Net\"", ["Guest Net"]),
    ("I (100) cfg: wifiSsid: 'Office-2'", ["Office-2"]),
    ("I (5593) wifi station: connected to ap SSID:HomeNet password:x1y2z3w4", ["HomeNet", "x1y2z3w4"]),
    ("I (5129) wifi:connected with Cafe-Guest, aid = 3, channel 6, BW20, bssid = 30:b5:c2:8e:11:4a",
     ["Cafe-Guest"]),
]
# diagnostic text that must survive redaction unchanged
KEEP_LINES = [
    "PC      : 0x400d1234  PS      : 0x00060530  A0      : 0x800d5678  A1      : 0x3ffb1230",
    "Backtrace: 0x400d1234:0x3ffb1230 0x400d5678:0x3ffb1250 |<-CORRUPTED",
    "E (30192) esp_image: Checksum failed. Calculated 0xb3 read 0xcd",
    "W (1234) wifi:password len 8, too short",
    "E (2000) wifi: ESP_ERR_WIFI_PASSWORD: invalid password",
    "I (45) nvs: key=wifi_cfg namespace=storage",
    "I (300) app: token expired, refreshing",
    "E (5) secure_boot: Secure boot key digest mismatch",
    "W (9) flash_encryption: Flash encryption key not burned",
    "I (1) app: compass=271 bypass=1 tokens_used=5",
    "I (5) app: password_len=12 token_expiry=3600 secret_ok=1",
    "I (8) wifi: Set password to a new value",
    "I (5129) wifi:connected with HomeNet-5G, aid = 3, channel 6, BW20, bssid = 30:b5:c2:8e:11:4a",
    "abort() was called at PC 0x400d1234 on core 0",
    "I (3105) event: sta ip: 192.168.1.48, mask: 255.255.255.0, gw: 192.168.1.1",
    "I (0) cpu_start: App version:      v1.2.3-4-g3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b",
    "I (10) esp_image: segment 0: paddr=00010020 vaddr=3f400020 size=0a3c4h ( 41924) map",
]


@pytest.mark.parametrize("line, secrets", SECRET_LINES, ids=[s[0][:40] for s in SECRET_LINES])
def test_secret_line(line: str, secrets: list[str]) -> None:
    out = Redactor().redact(line)
    assert "[REDACTED:" in out
    for s in secrets:
        assert s not in out, out


@pytest.mark.parametrize("line, secrets", WIFI_LINES, ids=[s[0][:40] for s in WIFI_LINES])
def test_wifi_line(line: str, secrets: list[str]) -> None:
    out = Redactor(wifi=True).redact(line)
    for s in secrets:
        assert s not in out, out


def test_diagnostic_text_is_kept() -> None:
    r = Redactor()
    assert [r.redact(x) for x in KEEP_LINES] == KEEP_LINES and not r.counts


@pytest.mark.parametrize("key, secret", [
    ("WIFI_PASS", True), ("mqttPassword", True), ("x-api-key", True), ("APIKey", True), ("wifipass", True),
    ("client_secret", True), ("AWS_SECRET_ACCESS_KEY", True), ("password_len", False), ("bypass", False),
    ("nvs_key", False), ("ESP_ERR_WIFI_PASSWORD", False), ("tokens_used", False), ("key", False),
])
def test_key_names(key: str, secret: bool) -> None:
    assert names_secret(key_words(key)) is secret


def test_every_secret_absent_from_the_report(tmp_path: Path) -> None:
    src = (ROOT / "samples" / "ota-checksum-psram-4120.log").read_text(encoding="utf-8").splitlines()
    lines = [x for x, _ in SECRET_LINES + WIFI_LINES]
    # right after the first checksum failure (line 74), inside its context window
    log = tmp_path / "secrets.log"
    log.write_text("\n".join(src[:74] + lines + src[74:]) + "\n", encoding="utf-8")
    md = build_report(str(log), ReportOptions(after=len(lines) + 2, redact_wifi=True)).markdown
    for line in lines:
        assert line.split(": ", 1)[-1][:12] in md or "[REDACTED" in md  # the lines are in the report
    for _, secrets in SECRET_LINES + WIFI_LINES:
        for s in secrets:
            assert s not in md, s
    summary = next(ln for ln in md.splitlines() if ln.startswith("Redacted before sharing:"))
    for kind in ("authorization", "aws secret key", "basic auth", "cookie", "password", "wifi ssid"):
        assert kind in summary, summary
