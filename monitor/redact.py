"""Remove secrets from log text before it leaves the machine (used by `espwatch report`).

Always (unless redaction is off):
- private keys (PEM blocks, also when the block spans lines), bearer tokens, JWTs, API keys of known shapes
  (`sk-...`, AWS `AKIA...`, GitHub `ghp_...`/`github_pat_...`, Slack `xox?-...`, Google `AIza...`);
- credentials in URLs (`https://user:pass@host`);
- HTTP `Authorization:` / `Proxy-Authorization:` values (any scheme), `Basic <base64 of user:pass>` anywhere,
  `Cookie:` / `Set-Cookie:` values;
- an AWS secret access key (40 characters of base64 with upper case, lower case and digits) on a line that
  says `aws` or `secret`;
- the value of every key that names a secret, in `KEY=value`, `KEY: value`, `"KEY": "value"` form and also
  `KEY value` / `KEY is value` when the value looks like a credential (six characters or more with a digit or
  a symbol, or sixteen or more). A key names a secret when one of its words (split at `_ - .`, spaces and
  camelCase: `WIFI_PASS`, `mqttPassword`, `x-api-key`, `AWS secret key`) is a secret word (password, pass,
  passwd, pwd, passphrase, psk, secret, token, apikey, credentials...) or a secret pair (`api key`,
  `access key`, `private key`, `auth token`, `client secret`, `wifi key`...); a key whose last word says it
  is about the secret rather than the secret (`password_len`, `token_expiry`, `secret_ok`) or that names
  an error (`ESP_ERR_WIFI_PASSWORD`) is left alone.
On request: Wi-Fi SSIDs (`wifi=True`: `ssid`-named keys such as `WIFI_SSID=...`, ESP-IDF's `connected with
SSID, aid`, `Connecting to SSID`) and MAC addresses (`mac=True`). Each replacement reads `[REDACTED:kind]` and
is counted per kind.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

# -- which keys name a secret ---------------------------------------------------------------------------
SECRET_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "pw", "passphrase", "passcode", "passkey", "psk", "pmk",
    "secret", "secrets", "token", "apikey", "credential", "credentials", "creds", "privkey", "privatekey",
    "secretkey", "accesskey", "authtoken", "accesstoken", "refreshtoken", "sessiontoken", "clientsecret",
})
_GLUED_SUFFIXES = ("password", "passwd", "passphrase", "pass", "pwd", "psk", "secret", "token", "apikey")
_NOT_GLUED = frozenset({"bypass", "compass", "encompass", "overpass", "surpass", "trespass", "underpass",
                        "multipass", "firstpass", "onepass", "impass"})
_KEY_OWNERS = frozenset({
    "api", "access", "secret", "private", "priv", "auth", "app", "client", "shared", "master", "encryption",
    "enc", "signing", "sign", "hmac", "aes", "account", "device", "session", "wifi", "wlan", "wpa", "wep",
    "network", "mqtt", "license", "cloud", "ota",
})
_ABOUT_THE_SECRET = frozenset({
    "len", "length", "size", "count", "set", "ok", "valid", "type", "mode", "timeout", "expiry", "expires",
    "expired", "expiration", "ttl", "age", "min", "max", "enabled", "enable", "disabled", "required",
    "changed", "index", "idx", "id", "policy", "strength", "bits", "format", "source", "status", "state",
    "retry", "retries", "attempts", "name", "file", "path", "hint", "prompt", "field", "label", "reset",
    "check", "checked", "match", "matches", "used", "usage", "provided", "present", "empty", "missing",
    "limit",
})
_ERRORISH = frozenset({"err", "error", "errors", "fail", "failed", "failure", "invalid", "wrong", "bad",
                       "incorrect", "mismatch", "rejected", "denied"})
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_WORD_SPLIT = re.compile(r"[\s_.\-]+")


def key_words(key: str) -> list[str]:
    """The words of a key, lower case: `WIFI_PASS` -> wifi, pass; `mqttPassword` -> mqtt, password."""
    out: list[str] = []
    for part in _WORD_SPLIT.split(key):
        out.extend(w.lower() for w in _CAMEL.findall(part))
    return out


def _secret_word(w: str) -> bool:
    if w in SECRET_WORDS:
        return True
    return w not in _NOT_GLUED and len(w) > 4 and w.endswith(_GLUED_SUFFIXES)


def names_secret(words: list[str]) -> bool:
    """True when a key made of these words holds a secret value (see the module doc)."""
    if not words or words[-1] in _ABOUT_THE_SECRET or _ERRORISH.intersection(words):
        return False
    if any(_secret_word(w) for w in words):
        return True
    return any(b == "key" and a in _KEY_OWNERS for a, b in pairwise(words))


def _secret_kind(words: list[str]) -> str:
    """How a redacted value is labelled: password, token or secret."""
    if any(w.startswith(("pass", "pwd", "pw", "psk", "pmk")) or w.endswith(("pass", "pwd", "psk"))
           for w in words if w not in _NOT_GLUED):
        return "password"
    return "token" if any("token" in w for w in words) else "secret"


def names_ssid(words: list[str]) -> bool:
    return bool(words) and words[-1] not in _ABOUT_THE_SECRET and any("ssid" in w for w in words) \
        and not any(w.startswith("bssid") for w in words)


# -- fixed-shape secrets --------------------------------------------------------------------------------
Rule = tuple[str, re.Pattern[str], "str | Callable[[re.Match[str]], str]"]

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def _basic_repl(m: re.Match[str]) -> str:
    """`Basic <b64>` is redacted when the base64 decodes to `user:password`."""
    try:
        decoded = base64.b64decode(m.group("b64") + "=" * (-len(m.group("b64")) % 4), validate=True)
    except (binascii.Error, ValueError):
        return m.group()
    if b":" not in decoded:
        return m.group()
    return f"{m.group('scheme')}{m.group('sp')}[REDACTED:basic_auth]"


def _aws_repl(m: re.Match[str]) -> str:
    s = m.group()
    if any(c.isdigit() for c in s) and any(c.islower() for c in s) and any(c.isupper() for c in s):
        return "[REDACTED:aws_secret_key]"
    return s


_ALWAYS: list[Rule] = [
    ("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----", re.S),
     "[REDACTED:private_key]"),
    ("url_credentials", re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,15}://)[^\s/:@'\"<>]+:[^\s/@'\"<>]+@"),
     r"\1[REDACTED:url_credentials]@"),
    # the token runs to the next space or quote: a `=` inside it (`Bearer abc=def`) must not end it early
    ("bearer_token", re.compile(r"(?i)\b(Bearer)(\s+)(?=[A-Za-z0-9\-._~+/=]{8})[^\s\"'<>]+"),
     r"\1\2[REDACTED:bearer_token]"),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED:jwt]"),
    ("api_key", re.compile(
        r"\b(?:sk-(?:proj-|ant-|live_|test_)?[A-Za-z0-9_-]{16,}|(?:AKIA|ASIA)[0-9A-Z]{16}|"
        r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|"
        r"AIza[0-9A-Za-z_-]{35})\b"),
     "[REDACTED:api_key]"),
    # any scheme: Basic, Digest, Token, AWS4-HMAC-SHA256 ...; up to the end of the line or a closing quote
    ("authorization", re.compile(
        r"""(?i)\b((?:proxy-)?authorization["']?\s*[:=]\s*(?P<oq>["'])?)(?!\s*(?:bearer\s+)?\[REDACTED)"""
        r"""(?(oq)(?:(?!(?P=oq))[^\r\n])+|[^\s][^\r\n]*)"""),
     r"\1[REDACTED:authorization]"),
    ("basic_auth",
     re.compile(r"(?P<scheme>\bBasic)(?P<sp>\s+)(?P<b64>[A-Za-z0-9+/]{6,}={0,2})(?![\w+/=])"),
     _basic_repl),
    ("cookie",
     re.compile(r"""(?i)\b((?:set-)?cookie["']?\s*:\s*["']?)(?!\[REDACTED)([^\s"'][^"'\r\n]*)"""),
     r"\1[REDACTED:cookie]"),
]
_AWS_CONTEXT = re.compile(r"(?i)aws|secret")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")

_WIFI: list[Rule] = [
    # ESP-IDF: "wifi:connected with MyNet, aid = 3, channel 6, ..."
    ("wifi_ssid", re.compile(r"(connected with )([^,\r\n]+)(, aid)"), r"\1[REDACTED:wifi_ssid]\3"),
    # Arduino / common sketches: "Connecting to MyNet", "Connected to MyNet"
    ("wifi_ssid", re.compile(r"(?i)\b(connecting to |connected to (?:wifi |ap )?)(?!https?://)([^\s.,]+)(\s*\.*\s*)$"),
     r"\1[REDACTED:wifi_ssid]\3"),
]

_MAC: Rule = ("mac",
              re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])"),
              "[REDACTED:mac]")

PEM_NEEDLE = b"KEY-----"
"""Bytes every line that begins or ends a PEM private key block holds (a control byte or escape sequence
inside the marker itself hides it from a byte search)."""


def pem_opens(text: str) -> bool:
    """True when a line outside a PEM private key block begins a multi-line one."""
    return bool(_PEM_BEGIN.search(text)) and not _PEM_END.search(text)


def pem_closes(text: str) -> bool:
    """True when a line inside a PEM private key block ends it."""
    return bool(_PEM_END.search(text))


# -- KEY <sep> value ----------------------------------------------------------------------------------------
# A line is only searched for keys when it holds one of these (cheap test first).
_HINTS = r"pass|pwd|pw|psk|pmk|secret|token|key|cred|ssid"
_KEY_HINT = re.compile(f"(?i){_HINTS}")
# a key is an identifier (dots and dashes allowed) that holds one of the hints (checked here, in C)
_KEY = re.compile(r"""(?P<kq>["']?)(?<![\w.-])(?P<name>(?=[\w.-]{0,63}?(?i:""" + _HINTS + r"""))"""
                  r"""[A-Za-z_][\w.-]{0,63})(?P=kq)(?P<sep>\s*[:=]\s*|\s+is:?\s+|\s+)""")
_QUOTED = re.compile(r"""(?P<q>["'])(?P<v>(?:\\.|(?!(?P=q))[^\\\r\n])*)(?P=q)?""")
_UNQUOTED = re.compile(r"[^\s\"']+")
_NEXT_PAIR = re.compile(r"[&,;][\w.-]+\s*[:=]")
_PREV_WORD = re.compile(r"(?<![\w.-])([A-Za-z][\w.-]*) $")
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _word_before(text: str, end: int) -> list[str]:
    """The words of the word right before `end` (followed by one space), if any."""
    m = _PREV_WORD.search(text[max(0, end - 80):end])
    return key_words(m.group(1)) if m else []


def _looks_like_credential(v: str) -> bool:
    """For `KEY value` with only a space between: a credential, not the next word of a sentence."""
    if len(v) >= 16:
        return True
    return len(v) >= 6 and any(not c.isalpha() for c in v)


def _trim_value(v: str) -> str:
    """An unquoted value ends before `,name=` / `&name=` and loses trailing separators and closers."""
    m = _NEXT_PAIR.search(v)
    if m:
        v = v[:m.start()]
    while v and (v[-1] in ",;" or (v[-1] in _CLOSERS and _CLOSERS[v[-1]] not in v)):
        v = v[:-1]
    return v


@dataclass
class Redactor:
    """Redact strings; `counts` says how many of each kind were removed."""

    enabled: bool = True
    wifi: bool = False
    mac: bool = False
    counts: Counter = field(default_factory=Counter)

    def _rules(self) -> list[Rule]:
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
            if callable(repl):  # the function decides, and may keep the match
                text = self._count(text, kind, rx, repl)
                continue
            text, n = rx.subn(repl, text)
            if n:
                self.counts[kind] += n
        if _AWS_CONTEXT.search(text):
            text = self._count(text, "aws_secret_key", _AWS_SECRET, _aws_repl)
        if _KEY_HINT.search(text):
            text = self._key_values(text)
        return text

    def _count(self, text: str, kind: str, rx: re.Pattern[str], repl: Callable[[re.Match[str]], str]
               ) -> str:
        n = 0

        def sub(m: re.Match[str]) -> str:
            nonlocal n
            out = repl(m)
            n += out != m.group()
            return out

        text = rx.sub(sub, text)
        if n:
            self.counts[kind] += n
        return text

    def _key_values(self, text: str) -> str:
        """Every `KEY sep value` whose key names a secret (or an SSID, with `wifi`): the value replaced."""
        out: list[str] = []
        done = 0  # text[:done] is in out
        pos = 0
        while True:
            m = _KEY.search(text, pos)
            if m is None:
                break
            pos = m.end("name")
            words = key_words(m.group("name"))
            if not m.group("kq") and words[:1] == ["key"]:  # "AWS secret key VALUE", "api key: VALUE"
                before = _word_before(text, m.start())
                if before and before[-1] in _KEY_OWNERS:
                    words = [before[-1], *words]
            if names_secret(words):
                kind = _secret_kind(words)
            elif self.wifi and names_ssid(words):
                kind = "wifi_ssid"
            else:
                continue
            spaced = not re.search(r"[:=]", m.group("sep"))
            start = m.end()
            q = _QUOTED.match(text, start)
            if q is not None:
                v_start, v_end = q.start("v"), q.end("v")
                value = q.group("v")
                if not value:
                    continue
            else:
                u = _UNQUOTED.match(text, start)
                if u is None:
                    continue
                value = _trim_value(u.group())
                if spaced:
                    value = value.rstrip(".!?:")
                if not value or value[0] in ":=":
                    continue
                v_start, v_end = start, start + len(value)
                if spaced and not _looks_like_credential(value):
                    continue
            if value.startswith("[REDACTED"):
                pos = v_end
                continue
            out.append(text[done:v_start])
            out.append(f"[REDACTED:{kind}]")
            self.counts[kind] += 1
            done = pos = v_end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

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
