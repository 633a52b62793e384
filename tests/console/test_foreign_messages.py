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


def test_importing_an_unsendable_header_name_is_refused_whole(client, foreign_corpus,
                                                              make_topic):
    """An export holding a header name librdkafka cannot write is refused with the line named,
    before anything is sent (the process lives on: it used to segfault)."""
    export = client.get(f"/api/topics/{foreign_corpus.topic}/export").content
    target = make_topic(partitions=1)
    r = client.post(f"/api/topics/{target}/import",
                    files={"file": ("corpus.jsonl", export, "application/x-ndjson")})
    assert r.status_code == 400, r.text
    assert "is not valid UTF-8" in r.text and "line" in r.text
    after = client.get(f"/api/topics/{target}/messages", params={"mode": "oldest"})
    assert after.status_code == 200 and after.json()["messages"] == []
