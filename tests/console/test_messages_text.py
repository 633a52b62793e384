"""The console's text handling, no broker: JSON re-indented without changing a literal, import
lines split on LF only, form fields that carry bytes back exactly."""

from __future__ import annotations

import json

import pytest

from kpoc.console._messages import (
    form_field,
    form_text,
    headers_field,
    parse_headers,
    read_import,
    reindent_json,
)
from kpoc.envelope import Record


def test_reindent_keeps_every_literal_and_repeated_key():
    stored = '{"dup":1,"dup":2,"price":1.10,"big":1e400,"s":"a\\"b,{[","e":[],"o":{}}'
    pretty = reindent_json(stored)
    assert pretty is not None and "\n" in pretty
    assert '"dup": 1' in pretty and '"dup": 2' in pretty and "1.10" in pretty
    assert "1e400" in pretty and '"a\\"b,{["' in pretty and '"e": []' in pretty
    assert json.loads(pretty) == json.loads(stored)


@pytest.mark.parametrize("text", ["[NaN]", '{"a": Infinity}', "{", '"text"', "42", "plain"])
def test_reindent_leaves_non_json_and_non_standard_json_alone(text):
    assert reindent_json(text) is None


def test_import_splits_lines_on_lf_only():
    values = ["a\u2028b", "c\u2029d", "e\u0085f", "g\rh"]
    data = "".join(Record(v.encode()).to_json() + "\n" for v in values).encode()
    assert [r.value for r in read_import(data)] == [v.encode() for v in values]


def test_form_fields_carry_bytes_back_exactly():
    for data, single in [(b"\nlead", False), (b"a\x00b", False), (b"\xff\xfe", False),
                         (b"two\nlines", True), (b"", True), (b"cr\r\nlf", False)]:
        text, enc = form_field(data, single_line=single)
        assert (text.encode() if enc == "utf-8" else __import__("base64").b64decode(text)) == data
    assert form_field(b"\nlead")[1] == "utf-8"  # text stays text when a form can hold it
    assert form_text("a\r\nb\r\n") == "a\nb\n"


@pytest.mark.parametrize("headers", [
    [("a", b"1 "), ("b", b" two  ")],
    [("h", b"x"), ("h", b"dup"), ("none", None), ("bin", b"\x00\xff"), ("k=v", b"\n")],
    [(" spaced", b"v")],
    [("\udcff\udcfename", b"v"), ("nul\x00name", b"w"), ("ok", b"x")],  # names as any bytes
])
def test_headers_field_round_trips_through_parse_headers(headers):
    assert parse_headers(headers_field(headers)) == headers


def test_a_header_name_alone_is_a_null_value():
    assert parse_headers("gone\nblank=\nx=1") == [("gone", None), ("blank", b""), ("x", b"1")]
    assert headers_field([("gone", None), ("blank", b"")]) == "gone\nblank="
