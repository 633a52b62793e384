"""Untrusted bytes rendered for a terminal, and kcat-style format strings (no broker needed)."""

from __future__ import annotations

import pytest

from kpoc.cli._text import (
    check_format,
    escape_bytes,
    format_headers,
    format_record,
    human_record,
    unescape,
)
from kpoc.envelope import Record
from kpoc.errors import UsageError


@pytest.mark.parametrize("raw,shown", [
    (b"plain", "plain"),
    (b"\x1b[31mred", "\\x1b[31mred"),          # no terminal escape sequences get through
    (b"a\nb\tc\rd", "a\\nb\\tc\\rd"),
    (b"\xff\xfe", "\\xff\\xfe"),                # invalid UTF-8 shown as escapes
    ("ünï ✓".encode(), "ünï ✓"),
    ("rtl\u202eevil".encode(), "rtl\\u202eevil"),  # bidi override cannot reorder the line
])
def test_escape_bytes(raw, shown):
    assert escape_bytes(raw) == shown


def test_unescape():
    assert unescape("\\n") == "\n" and unescape("\\t") == "\t" and unescape(";") == ";"
    assert unescape("\\0") == "\0"


def test_format_record():
    r = Record(value=b"v\x1b", key=b"k", headers=(("h", b"1"), ("h", b"2")), topic="t",
               partition=2, offset=7, timestamp=1000)
    fmt = check_format("%t [%p] @%o: %k %s %h %K %S %T %%\\n")
    assert format_record(fmt, r) == "t [2] @7: k v\\x1b h=1,h=2 1 2 1000 %\n"


def test_format_rejects_unknown_tokens():
    with pytest.raises(UsageError, match="unknown --format token"):
        check_format("%q")


def test_human_record_shows_null_value_and_headers():
    r = Record(value=None, key=None, headers=(("x", b"<b>"),), topic="t", partition=0, offset=1)
    text = human_record(r)
    assert "(null)" in text and "headers=x=<b>" in text and "t [0] @ 1" in text


def test_headers_tell_null_from_empty_and_stay_escaped():
    headers = (("gone", None), ("blank", b""), ("h", b"1"), ("h\x1b", b"\x1b"))
    assert format_headers(headers) == "gone,blank=,h=1,h\\x1b=\\x1b"
    r = Record(value=b"v", headers=headers, topic="t", partition=0, offset=0)
    assert format_record("%h", r) == format_headers(headers)
    assert "headers=" + format_headers(headers) in human_record(r)
