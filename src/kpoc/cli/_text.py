"""Rendering untrusted message bytes for a terminal, and kcat-style format strings.

Keys, values and headers come from anyone who can write to a topic; printed raw, an escape
sequence could rewrite the user's terminal. Text mode therefore shows control characters and
invalid UTF-8 as backslash escapes.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from ..envelope import Record
from ..errors import UsageError

# Lone surrogates too: a header name that is not UTF-8 holds its bytes as \udc80-\udcff.
_CONTROL = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_text(text: str, keep_newlines: bool = False) -> str:
    def sub(m: re.Match[str]) -> str:
        c = ord(m.group())
        if 0xDC80 <= c <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            return f"\\x{c - 0xDC00:02x}"
        return {"\t": "\\t", "\r": "\\r"}.get(m.group()) or f"\\x{c:02x}" if c < 256 \
            else f"\\u{c:04x}"

    text = _CONTROL.sub(sub, text)
    return text if keep_newlines else text.replace("\n", "\\n")


def escape_bytes(data: bytes | None, null: str = "") -> str:
    if data is None:
        return null
    return escape_text(data.decode("utf-8", "backslashreplace"))


def unescape(text: str) -> str:
    """``\\n``, ``\\t``, ``\\0``… as typed on a command line → the characters."""
    try:
        return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
    except UnicodeDecodeError as exc:
        raise UsageError(f"invalid escape in {text!r}: {exc.reason}", "e.g. '\\n' or ';'") from None


def iso_timestamp(ms: int | None) -> str:
    if ms is None or ms < 0:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


_TOKENS = set("tpokKsSThR%")
_TOKEN = re.compile(r"%[tpokKsSThR%]")


def check_format(fmt: str) -> str:
    bad = [m.group() for m in re.finditer(r"%(.?)", fmt, re.S) if m.group(1) not in _TOKENS]
    if bad:
        raise UsageError(f"unknown --format token {bad[0]!r}",
                         "use %t topic, %p partition, %o offset, %k key, %s value, %T timestamp, "
                         "%h headers, %K/%S key/value length, %% a percent sign")
    return unescape(fmt)


def format_headers(headers: Iterable[tuple[str, bytes | None]]) -> str:
    """Headers on one line, ``name=value`` joined by commas, in order (repeats kept). A null
    value is the bare name, an empty one ``name=``: how kcat's ``-P -H`` reads them back (kcat's
    ``-C`` shows ``name=NULL``, which a value "NULL" also shows)."""
    return ",".join(escape_text(k) if v is None else f"{escape_text(k)}={escape_bytes(v)}"
                    for k, v in headers)


def format_record(fmt: str, r: Record) -> str:
    """kcat's -f: %t %p %o %k %s %T %h %K %S %% (values escaped for the terminal)."""
    def sub(m: re.Match[str]) -> str:
        tok = m.group()[1]
        if tok == "t":
            return r.topic or ""
        if tok == "p":
            return str(r.partition)
        if tok == "o":
            return str(r.offset)
        if tok == "k":
            return escape_bytes(r.key)
        if tok == "s":
            return escape_bytes(r.value)
        if tok == "K":
            return str(-1 if r.key is None else len(r.key))
        if tok == "S":
            return str(-1 if r.value is None else len(r.value))
        if tok == "T":
            return str(r.timestamp if r.timestamp is not None else -1)
        if tok == "h":
            return format_headers(r.headers)
        return "%"

    return _TOKEN.sub(sub, fmt)


def human_record(r: Record) -> str:
    """One message for a person: where it is, when, key, headers, value."""
    parts = [f"{r.topic} [{r.partition}] @ {r.offset}", iso_timestamp(r.timestamp)]
    if r.key is not None:
        parts.append(f"key={escape_bytes(r.key)}")
    if r.headers:
        parts.append("headers=" + format_headers(r.headers))
    value = "(null)" if r.value is None else escape_bytes(r.value)
    return "  ".join(parts) + "\n  " + value
