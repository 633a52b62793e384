"""Every kpoc reader takes every record other clients write (tests/foreign_records.py): the
library's Consumer, ``kpoc consume`` in text, ``-f`` and ``-o json`` modes, the chaos reader; and
``consume -o json | produce --input json`` reproduces the records byte for byte."""

from __future__ import annotations

import json
import time

from foreign_records import Foreign
from kpoc._rawheaders import UnreadableRecord, message_headers
from kpoc.chaos._reader import Reader
from kpoc.cli._text import escape_bytes, format_record
from kpoc.config import ClientConfig
from kpoc.consumer import Consumer, StartPosition
from kpoc.envelope import Record, parse_line


def _triples(records: list[Record]) -> list[tuple]:
    return [(r.key, r.value, tuple(r.headers)) for r in records]


def _expected(corpus: list[Foreign]) -> list[tuple]:
    return [(r.key, r.value, r.headers) for r in corpus]


def _read_all(bootstrap: str, topic: str, group: str) -> list[Record]:
    with Consumer(ClientConfig(bootstrap, timeout=30), [topic], group,
                  StartPosition("beginning"), [0]) as c:
        return list(c.records(exit_at_end=True))


def test_the_library_consumer_reads_every_foreign_record(foreign_corpus, cluster, unique_name):
    got = _read_all(cluster.bootstrap_servers, foreign_corpus.topic, unique_name("g"))
    assert _triples(got) == _expected(foreign_corpus.records)
    # The aborted transaction's records are not among them, and its offsets are skipped.
    assert not any(r.value and r.value.startswith(b"aborted") for r in got)


def test_consume_json_is_faithful_and_replays_byte_for_byte(foreign_corpus, run_kpoc,
                                                            make_topic, cluster, unique_name):
    r = run_kpoc("consume", foreign_corpus.topic, "-g", unique_name("g"), "-e", "-q",
                 "-o", "json", timeout=180)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    envelopes = [parse_line(line, n) for n, line in enumerate(lines, 1)]
    assert _triples(envelopes) == _expected(foreign_corpus.records)

    sendable = [line for line, f in zip(lines, foreign_corpus.records, strict=True)
                if f.sendable]
    unsendable = [line for line, f in zip(lines, foreign_corpus.records, strict=True)
                  if not f.sendable]
    assert unsendable, "the corpus must hold a header name that is not UTF-8"
    copy = make_topic(partitions=1)
    # A header name librdkafka cannot write is refused in one line, and nothing is sent.
    bad = run_kpoc("produce", "-t", copy, "--input", "json", input="\n".join(unsendable) + "\n")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert "input line 1: header name '\\xff\\xfekey' is not valid UTF-8" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and bad.stdout == ""
    # Everything else goes back where it was and comes out identical: key, value, headers,
    # timestamp, partition.
    ok = run_kpoc("produce", "-t", copy, "--input", "json", "--keep-partition", "-q",
                  input="\n".join(sendable) + "\n", timeout=180)
    assert ok.returncode == 0, ok.stderr
    again = _read_all(cluster.bootstrap_servers, copy, unique_name("g"))
    before = [parse_line(line, 1) for line in sendable]
    assert [(r.key, r.value, r.headers, r.timestamp, r.partition) for r in again] == [
        (r.key, r.value, r.headers, r.timestamp, r.partition) for r in before]


def test_consume_text_and_format_show_every_record_escaped(foreign_corpus, run_kpoc,
                                                           unique_name):
    text = run_kpoc("consume", foreign_corpus.topic, "-g", unique_name("g"), "-e", "-q",
                    timeout=180)
    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout and "\u202e" not in text.stdout  # escaped, not obeyed
    assert text.stdout.count(f"{foreign_corpus.topic} [0] @ ") == len(foreign_corpus.records)
    for f in foreign_corpus.records:
        assert escape_bytes(f.value, "(null)") in text.stdout
    assert "headers=\\xff\\xfekey=val,bin=\\xff\\xfe,plain=ok" in text.stdout

    fmt = "%k|%h|%s|%K|%S\\n"
    shown = run_kpoc("consume", foreign_corpus.topic, "-g", unique_name("g"), "-e", "-q",
                     "-f", fmt, timeout=180)
    assert shown.returncode == 0, shown.stderr
    want = "".join(format_record("%k|%h|%s|%K|%S\n", Record(f.value, f.key, f.headers))
                   for f in foreign_corpus.records)
    assert shown.stdout == want


def test_the_chaos_reader_reads_every_foreign_record(foreign_corpus, cluster, unique_name,
                                                     tmp_path):
    reader = Reader(cluster.bootstrap_servers, foreign_corpus.topic, unique_name("g"), tmp_path)
    reader.start()
    seen = []
    try:
        deadline = time.monotonic() + 90
        while len(seen) < len(foreign_corpus.records) and time.monotonic() < deadline:
            assert reader.alive(), reader.last_error()
            seen += reader.poll()
            time.sleep(0.2)
    finally:
        reader.stop()
    seen += reader.poll(final=True)
    assert len({s.offset for s in seen}) == len(foreign_corpus.records), reader.last_error()
    assert all(s.seq is None for s in seen)  # foreign values: counted, not mistaken for its own


def test_envelopes_of_foreign_records_are_plain_json(foreign_corpus, cluster, unique_name):
    """What -o json and the console's export write is strict JSON in UTF-8 (no lone
    surrogates, no bare control characters)."""
    for r in _read_all(cluster.bootstrap_servers, foreign_corpus.topic, unique_name("g")):
        line = r.to_json()
        line.encode("utf-8")
        assert json.loads(line)["value_encoding"] in ("utf-8", "base64")


def test_a_header_name_confluent_kafka_cannot_decode_is_caught_every_time(foreign_corpus,
                                                                          cluster):
    """confluent-kafka's headers() leaves its exception set past a call site CPython has
    specialized; kpoc's reader still catches it on every record, and names the record."""
    from confluent_kafka import Consumer as RdConsumer
    from confluent_kafka import TopicPartition

    msgs = []
    # The same records read three times over: well past CPython's specialization warm-up.
    for _ in range(3):
        c = RdConsumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "unused",
                        "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(foreign_corpus.topic, 0, 0)])
            got: list = []
            deadline = time.monotonic() + 60
            while len(got) < len(foreign_corpus.records) and time.monotonic() < deadline:
                got += [m for m in c.consume(100, 1) if m.error() is None]
            msgs += got
        finally:
            c.close()
    assert len(msgs) == 3 * len(foreign_corpus.records)
    unreadable = 0
    for msg, f in zip(msgs, foreign_corpus.records * 3, strict=True):
        try:
            assert message_headers(msg, None) == f.headers
        except UnreadableRecord as exc:
            unreadable += 1
            assert not f.sendable and exc.coordinates == (foreign_corpus.topic, 0, msg.offset())
    assert unreadable == 3 * sum(not f.sendable for f in foreign_corpus.records)
