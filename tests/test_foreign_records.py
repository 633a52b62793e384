"""Every kpoc reader takes every record other clients write (tests/foreign_records.py): the
library's Consumer, ``kpoc consume`` in text, ``-f`` and ``-o json`` modes, the chaos reader; and
``consume -o json | produce --input json`` reproduces the records byte for byte, header names
that are not UTF-8 or hold NUL bytes included."""

from __future__ import annotations

import json
import time

import pytest

from foreign_records import Foreign
from kpoc import _rawheaders
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


def _fields(line: str) -> tuple:
    """What a JSON round trip keeps: key, value, headers (names too), timestamp, partition."""
    doc = json.loads(line)
    return tuple(doc[k] for k in ("key", "key_encoding", "value", "value_encoding", "headers",
                                  "timestamp", "partition"))


def test_consume_json_is_faithful_and_replays_byte_for_byte(foreign_corpus, run_kpoc,
                                                            make_topic, unique_name):
    r = run_kpoc("consume", foreign_corpus.topic, "-g", unique_name("g"), "-e", "-q",
                 "-o", "json", timeout=180)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    envelopes = [parse_line(line, n) for n, line in enumerate(lines, 1)]
    assert _triples(envelopes) == _expected(foreign_corpus.records)
    names = {name for f in foreign_corpus.records for name, _ in f.headers}
    assert "\udcff\udcfekey" in names and "nul\x00name" in names  # what confluent-kafka cannot

    # Every record goes back where it was (header names that are not UTF-8 or hold a NUL
    # too) and comes out identical: key, value, headers, timestamp, partition.
    copy = make_topic(partitions=1)
    ok = run_kpoc("produce", "-t", copy, "--input", "json", "--keep-partition", "-q",
                  input=r.stdout, timeout=180)
    assert ok.returncode == 0 and ok.stdout == "", ok.stderr
    again = run_kpoc("consume", copy, "-g", unique_name("g"), "-e", "-q", "-o", "json",
                     timeout=180)
    assert again.returncode == 0, again.stderr
    assert [_fields(line) for line in again.stdout.splitlines()] == list(map(_fields, lines))
    assert _triples([parse_line(line, 1) for line in again.stdout.splitlines()]) == _expected(
        foreign_corpus.records)


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


def _raw_messages(bootstrap: str, topic: str, count: int) -> list:
    """The topic's first ``count`` records as confluent_kafka Messages, headers untouched."""
    from confluent_kafka import Consumer as RdConsumer
    from confluent_kafka import TopicPartition

    c = RdConsumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                    "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got: list = []
        deadline = time.monotonic() + 60
        while len(got) < count and time.monotonic() < deadline:
            got += [m for m in c.consume(100, 1) if m.error() is None]
        return got
    finally:
        c.close()


def test_header_names_are_read_in_full_every_time(foreign_corpus, cluster):
    """kpoc reads header names from librdkafka's header items, NUL bytes and bytes that are
    not UTF-8 included — on every record, well past CPython's specialization of the call site
    (where confluent-kafka's headers() used to leave its exception set)."""
    corpus = foreign_corpus.records
    for _ in range(3):
        msgs = _raw_messages(cluster.bootstrap_servers, foreign_corpus.topic, len(corpus))
        assert [message_headers(m, None) for m in msgs] == [f.headers for f in corpus]


def test_without_the_expected_message_layout_headers_are_read_as_before_and_it_says_so(
        foreign_corpus, cluster, monkeypatch):
    """Where kpoc does not recognise confluent-kafka's Message, it warns that names read up to
    a NUL, and a name that is not UTF-8 makes the record unreadable, named — never wrong
    silently; kpoc's readers then read that record again (reread_headers), in full."""
    monkeypatch.setattr(_rawheaders, "_layout", None)
    monkeypatch.setattr(_rawheaders, "_layout_matches", lambda msg: False)
    corpus = foreign_corpus.records
    msgs = _raw_messages(cluster.bootstrap_servers, foreign_corpus.topic, len(corpus))
    assert len(msgs) == len(corpus)
    with pytest.warns(RuntimeWarning, match="read up to their first NUL byte"):
        message_headers(msgs[0], None)
    unreadable = 0
    for msg, f in zip(msgs[1:], corpus[1:], strict=True):
        try:
            got = message_headers(msg, None)
        except UnreadableRecord as exc:
            unreadable += 1
            assert exc.coordinates == (foreign_corpus.topic, 0, msg.offset())
            # What kpoc's readers then do: read the record again by its coordinates.
            config = ClientConfig(cluster.bootstrap_servers, timeout=30)
            assert _rawheaders.reread_headers(config, *exc.coordinates) == f.headers
            continue
        assert got == tuple((n.split("\x00")[0], v) for n, v in f.headers)
    assert unreadable == sum(any("\udcff" in n for n, _ in f.headers) for f in corpus)


def test_a_header_item_that_does_not_check_out_is_read_as_a_c_string_and_said_so():
    """A name's full length is trusted only when its header item agrees with what librdkafka's
    API says of the header; otherwise the name is read up to its NUL, with a warning."""
    lib = _rawheaders._lib()
    hdrs = lib.rd_kafka_headers_new(2)
    try:
        lib.rd_kafka_header_add(hdrs, b"a\x00b", 3, b"v", 1)
        lib.rd_kafka_header_add(hdrs, b"\xffn\x00", 3, None, -1)
        found = _rawheaders._from_api(lib, hdrs)
        assert [_rawheaders._header(*h) for h in found] == [("a\x00b", b"v"),
                                                           ("\udcffn\x00", None)]
        assert _rawheaders._list_matches(hdrs, found)
        assert not _rawheaders._list_matches(hdrs, found[:1])
        (name, value, size), _ = found
        with pytest.warns(RuntimeWarning, match="read up to its first NUL byte"):
            assert _rawheaders._header(name, value, size + 1) == ("a", b"v\x00")
    finally:
        lib.rd_kafka_headers_destroy(hdrs)
