"""The JSON-lines envelope round-trips any bytes."""

import pytest

from kpoc.envelope import Record, parse_line
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
