"""Remove secrets from log text before it leaves the machine (used by `espwatch report`).

Always (unless redaction is off): private keys (PEM blocks, also when the block spans lines), bearer
tokens, JWTs, API keys (`sk-...`, AWS `AKIA...`, GitHub `ghp_...`/`github_pat_...`, Slack `xox?-...`),
credentials in URLs (`https://user:pass@host`), and `password=...` / `"password": "..."` style values
(also token, secret, api_key, psk...). On request: Wi-Fi SSIDs (`wifi=True`) and MAC addresses
(`mac=True`). Each replacement reads `[REDACTED:kind]` and is counted per kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import regex

_SECRET_KEYS = (r"pass(?:word|wd|phrase)?|pwd|psk|secret|client[_-]?secret|api[_-]?key|apikey|"
                r"access[_-]?key|secret[_-]?key|aws_secret_access_key|auth[_-]?token|access[_-]?token|"
                r"refresh[_-]?token|token|private[_-]?key")

# (kind, regex, replacement) in order; replacements may refer to groups.
_ALWAYS: list[tuple[str, regex.Pattern[str], str]] = [
    ("private_key", regex.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----", regex.S),
     "[REDACTED:private_key]"),
    ("url_credentials", regex.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}://)[^\s/:@'\"<>]+:[^\s/@'\"<>]+@"),
     r"\1[REDACTED:url_credentials]@"),
    ("bearer_token", regex.compile(r"(?i)\b(Bearer)(\s+)[A-Za-z0-9\-._~+/]{8,}=*"),
     r"\1\2[REDACTED:bearer_token]"),
    ("jwt", regex.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED:jwt]"),
    ("api_key", regex.compile(
        r"\b(?:sk-(?:proj-|ant-|live_|test_)?[A-Za-z0-9_-]{16,}|(?:AKIA|ASIA)[0-9A-Z]{16}|"
        r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|"
        r"AIza[0-9A-Za-z_-]{35})\b"),
     "[REDACTED:api_key]"),
    ("password", regex.compile(
        r"""(?ix)
        (?P<key>["']?\b(?:""" + _SECRET_KEYS + r""")\b["']?)
        (?P<sep>\s*[:=]\s*)
        (?:(?P<q>["'])(?P<qv>[^"'\r\n]+)(?P=q)|(?P<v>(?!\[REDACTED)[^\s"',;&}]+))
        """),
     None),
]

_WIFI: list[tuple[str, regex.Pattern[str], str]] = [
    # ESP-IDF: "wifi:connected with MyNet, aid = 3, channel 6, ..."
    ("wifi_ssid", regex.compile(r"(connected with )([^,\r\n]+)(, aid)"), r"\1[REDACTED:wifi_ssid]\3"),
    # ssid: "MyNet", SSID=MyNet, ssid:MyNet, "ssid": "MyNet"
    ("wifi_ssid", regex.compile(r"""(?i)(["']?\b(?:ssid|ap_ssid|sta_ssid)\b["']?\s*[:=]\s*)"""
                                r"""(?:"[^"\r\n]*"|'[^'\r\n]*'|[^\s,;]+)"""),
     r"\1[REDACTED:wifi_ssid]"),
    # Arduino / common sketches: "Connecting to MyNet", "Connected to MyNet"
    ("wifi_ssid", regex.compile(r"(?i)\b(connecting to |connected to (?:wifi |ap )?)(?!https?://)([^\s.,]+)(\s*\.*\s*)$"),
     r"\1[REDACTED:wifi_ssid]\3"),
]

_MAC = ("mac", regex.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])"),
        "[REDACTED:mac]")

_PEM_BEGIN = regex.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_END = regex.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----")
PEM_NEEDLE = b"KEY-----"
"""Bytes every line that begins or ends a PEM private key block holds (a control byte or escape sequence
inside the marker itself hides it from a byte search)."""


def pem_opens(text: str) -> bool:
    """True when a line outside a PEM private key block begins a multi-line one."""
    return bool(_PEM_BEGIN.search(text)) and not _PEM_END.search(text)


def pem_closes(text: str) -> bool:
    """True when a line inside a PEM private key block ends it."""
    return bool(_PEM_END.search(text))


@dataclass
class Redactor:
    """Redact strings; `counts` says how many of each kind were removed."""

    enabled: bool = True
    wifi: bool = False
    mac: bool = False
    counts: Counter = field(default_factory=Counter)

    def _rules(self) -> list[tuple[str, regex.Pattern[str], str | None]]:
        rules = list(_ALWAYS)
        if self.wifi:
            rules.extend(_WIFI)
        if self.mac:
            rules.append(_MAC)
        return rules

    def redact(self, text: str) -> str:
        """One string (may hold several lines; a whole PEM block inside it is removed)."""
        if not self.enabled or not text:
            return text
        for kind, rx, repl in self._rules():
            if repl is None:
                text, n = rx.subn(self._password_repl, text)
            else:
                text, n = rx.subn(repl, text)
            if n:
                self.counts[kind] += n
        return text

    @staticmethod
    def _password_repl(m: regex.Match[str]) -> str:
        q = m.group("q") or ""
        return f"{m.group('key')}{m.group('sep')}{q}[REDACTED:password]{q}"

    def redact_lines(self, lines: Iterable[tuple[int, str]], keep: set[int] | None = None,
                     in_pem: bool = False, count_blocks: bool = True) -> Iterator[tuple[int, str]]:
        """(number, text) pairs in file order -> redacted pairs for the numbers in `keep` (all if None).

        Lines inside a PEM private key block are replaced one by one, so a context window that cuts the
        block still shows no key material; the block counts once (unless `count_blocks` is False: the
        caller counted it). `in_pem`: the first line comes inside a block.
        """
        in_pem = in_pem and self.enabled
        for number, text in lines:
            wanted = keep is None or number in keep
            if self.enabled and not in_pem and pem_opens(text):
                in_pem = True
                if count_blocks:
                    self.counts["private_key"] += 1
                if wanted:
                    head = text[: _PEM_BEGIN.search(text).start()]  # type: ignore[union-attr]
                    yield number, self.redact(head) + "[REDACTED:private_key]"
                continue
            if in_pem:
                if pem_closes(text):
                    in_pem = False
                    tail = text[_PEM_END.search(text).end():]  # type: ignore[union-attr]
                    if wanted:
                        yield number, "[REDACTED:private_key]" + self.redact(tail)
                elif wanted:
                    yield number, "[REDACTED:private_key]"
                continue
            if wanted:
                yield number, self.redact(text)

    def summary(self) -> str:
        if not self.enabled:
            return "off (--no-redact): the log text is shown as captured"
        if not self.counts:
            return "nothing matched the secret patterns"
        return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(self.counts.items()))
