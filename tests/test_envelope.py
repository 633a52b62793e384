"""The JSON-lines envelope round-trips any bytes."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpoc.envelope import Record, header_name_bytes, parse_line
from kpoc.errors import UsageError


def test_binary_and_repeated_headers_round_trip():
    r = Record(value=b"\xff\x00\xfe", key=b"\x80k", headers=(("h", b"1"), ("h", b"\xff"),
                                                              ("n", None)),
               topic="t", partition=2, offset=7, timestamp=1, timestamp_type="create")
    line = r.to_json()
    back = parse_line(line, 1)
    assert back == r
    env = r.to_envelope()
    assert env["value_encoding"] == "base64" and env["key_encoding"] == "base64"
    assert [h["encoding"] for h in env["headers"]] == ["utf-8", "base64", "utf-8"]


def test_text_stays_readable():
    env = Record(value="olá".encode(), key=b"k").to_envelope()
    assert env["value"] == "olá" and env["value_encoding"] == "utf-8"


def test_minimal_envelope():
    assert parse_line('{"value": "x"}', 1) == Record(value=b"x")
    assert parse_line('{"value": null}', 1).value is None


@pytest.mark.parametrize("line,msg", [
    ("not json", "line 3 is not valid JSON"),
    ("[1]", "line 3: an envelope must be a JSON object"),
    ('{"key": "k"}', "line 3: envelope has no 'value'"),
    ('{"value": "@@", "value_encoding": "base64"}', "line 3: invalid base64"),
    ('{"value": "x", "headers": [{"value": "v"}]}', "line 3: each header needs"),
    ('{"value": "x", "value_encoding": "rot13"}', "unknown encoding"),
])
def test_bad_envelopes_name_the_line(line, msg):
    with pytest.raises(UsageError, match=msg):
        parse_line(line, 3)


# -- properties (hypothesis) ----------------------------------------------------------------

#: Header names as kpoc holds them: any bytes, those that are not UTF-8 as lone surrogates.
names = st.binary(max_size=16).map(lambda b: b.decode("utf-8", "surrogateescape"))
payloads = st.none() | st.binary(max_size=300) | st.text(max_size=50).map(str.encode)
records = st.builds(
    Record, value=payloads, key=payloads,
    headers=st.lists(st.tuples(names, payloads), max_size=6).map(tuple),
    topic=st.none() | st.text(max_size=20), partition=st.none() | st.integers(0, 10_000),
    offset=st.none() | st.integers(0, 2**62), timestamp=st.none() | st.integers(0, 2**63 - 1),
    timestamp_type=st.sampled_from(["create", "log_append", "none"]))


@given(records)
def test_any_record_is_one_strict_utf8_json_line_and_round_trips(r):
    line = r.to_json()
    line.encode("utf-8")  # no lone surrogate reaches the output
    assert len(line.splitlines()) == 1  # \n, U+2028, U+0085 … all escaped
    assert parse_line(line, 1) == r


odd_text = st.text(st.characters() | st.sampled_from(["\udcff", "\ud800", "\x00", "\u2028"]))
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(odd_text, c, max_size=3), max_leaves=8)
header_docs = st.dictionaries(st.sampled_from(["key", "value", "encoding", "key_encoding"]),
                              json_values | st.sampled_from(["utf-8", "base64", "AP8="]))
envelope_docs = st.fixed_dictionaries({}, optional={
    "value": json_values, "key": json_values, "topic": json_values,
    "value_encoding": json_values | st.sampled_from(["utf-8", "base64"]),
    "key_encoding": json_values | st.sampled_from(["utf-8", "base64"]),
    "headers": st.lists(header_docs | json_values, max_size=3) | json_values,
    "partition": json_values, "timestamp": json_values | st.integers(-2**65, 2**65),
    "offset": json_values, "timestamp_type": json_values,
})


@given(envelope_docs | json_values)
def test_any_json_document_is_a_record_or_a_one_line_error_naming_the_line(doc):
    line = json.dumps(doc)
    try:
        r = parse_line(line, 7)
    except UsageError as exc:
        assert "line 7" in str(exc) and "\n" not in str(exc)
        return
    for name, _ in r.headers:  # every name read stands for bytes kpoc can send
        assert header_name_bytes(name).decode("utf-8", "surrogateescape") == name
    assert r.timestamp is None or 0 <= r.timestamp < 2**63
