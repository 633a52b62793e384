"""The console's messages page, API and export read every foreign record (tests/
foreign_records.py) without a 500, escaped in the page and byte-exact in the API and export."""

from __future__ import annotations

import html
import json

from kpoc.envelope import parse_line

MARK = "\x1b[31m"


def _expected(corpus) -> list[tuple]:
    return [(r.key, r.value, r.headers) for r in corpus.records]


def test_the_messages_api_and_export_read_every_foreign_record(client, foreign_corpus):
    topic = foreign_corpus.topic
    r = client.get(f"/api/topics/{topic}/messages", params={"mode": "oldest", "count": 500})
    assert r.status_code == 200, r.text
    got = [parse_line(json.dumps(m), 1) for m in r.json()["messages"]]
    assert [(g.key, g.value, g.headers) for g in got] == _expected(foreign_corpus)

    export = client.get(f"/api/topics/{topic}/export")
    assert export.status_code == 200, export.text
    lines = export.content.decode("utf-8").split("\n")
    got = [parse_line(line, n) for n, line in enumerate(lines, 1) if line]
    assert [(g.key, g.value, g.headers) for g in got] == _expected(foreign_corpus)


def test_the_messages_page_shows_foreign_records_escaped(client, foreign_corpus):
    r = client.get(f"/topics/{foreign_corpus.topic}/messages",
                   params={"mode": "oldest", "count": 500})
    assert r.status_code == 200, r.text[-500:]
    assert MARK not in r.text  # a terminal escape in a value is not passed to the browser raw
    assert "committed-2" in r.text and "aborted-1" not in r.text
    assert html.escape("clé-ü") in r.text or "clé-ü" in r.text
    # Header names with a NUL byte in full, escaped; one that is not UTF-8 as base64, marked.
    assert "<code>nul\\x00name</code>=" in r.text and "\x00" not in r.text
    assert '<code>//5rZXk=</code> <span class="badge">base64 name</span>=' in r.text


def _kept(line: str) -> tuple:
    """What an export/import round trip keeps: key, value, headers, timestamp and partition,
    as exported (the import used to give every record a new timestamp)."""
    doc = json.loads(line)
    return tuple(doc[k] for k in ("key", "key_encoding", "value", "value_encoding", "headers",
                                  "timestamp", "partition"))


def test_export_then_import_reproduces_every_foreign_record_byte_for_byte(client,
                                                                         foreign_corpus,
                                                                         make_topic):
    """Header names that are not UTF-8 or hold a NUL byte included (the console used to
    refuse them, and before that to crash)."""
    export = client.get(f"/api/topics/{foreign_corpus.topic}/export").content
    target = make_topic(partitions=1)
    r = client.post(f"/api/topics/{target}/import", data={"keep_partition": "true"},
                    files={"file": ("corpus.jsonl", export, "application/x-ndjson")})
    assert r.status_code == 200, r.text
    assert r.json()["produced"] == len(foreign_corpus.records)
    again = client.get(f"/api/topics/{target}/export")
    assert again.status_code == 200, again.text
    before = [line for line in export.decode("utf-8").split("\n") if line]
    after = [line for line in again.content.decode("utf-8").split("\n") if line]
    assert list(map(_kept, after)) == list(map(_kept, before))
    got = [parse_line(line, n) for n, line in enumerate(after, 1)]
    assert [(g.key, g.value, g.headers) for g in got] == _expected(foreign_corpus)
