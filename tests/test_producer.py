"""kpoc.producer against the real cluster: one report per message, failures never silent."""

from __future__ import annotations

import subprocess
import time

import pytest

from kpoc.cluster import find_java, libs_dir
from kpoc.config import ClientConfig
from kpoc.consumer import Consumer, StartPosition, parse_start
from kpoc.errors import KafkaUnavailable, NotFound, UsageError
from kpoc.producer import DeliveryReport, Producer, parse_header, percentile


@pytest.fixture
def config(cluster):
    return ClientConfig(cluster.bootstrap_servers, timeout=15)


def test_every_message_gets_a_report_with_partition_and_offset(config, make_topic):
    topic = make_topic()
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        for i in range(30):
            p.send(topic, f"v{i}".encode(), f"k{i % 3}".encode())
        p.send(topic, b"to-p2", partition=2)
    assert len(reports) == 31 and all(r.ok for r in reports)
    assert sorted(r.seq for r in reports) == list(range(31))
    by_key: dict[bytes | None, set[int | None]] = {}
    for r in reports:
        by_key.setdefault(r.key, set()).add(r.partition)
        assert r.offset is not None and r.offset >= 0 and r.latency_ms is not None
    assert all(len(parts) == 1 for k, parts in by_key.items() if k)  # a key sticks to a partition
    assert [r.partition for r in reports if r.seq == 30] == [2]
    offsets = sorted((r.partition, r.offset) for r in reports)
    assert len(set(offsets)) == 31


def test_send_returns_the_report_it_fills_in(config, make_topic):
    """send()'s Delivery is the report on_report gets, filled in place by the delivery
    callback: topic, key, partition, offset and librdkafka's latency of that message."""
    topic = make_topic()
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        sent = [p.send(topic, b"v%d" % i, b"k%d" % i, partition=i % 3) for i in range(6)]
        p.flush()
    assert [id(r) for r in sorted(reports, key=lambda r: r.seq)] == [id(d) for d in sent]
    for i, d in enumerate(sent):
        assert (d.seq, d.topic, d.key, d.partition, d.status) == (i, topic, b"k%d" % i, i % 3,
                                                                    "delivered")
        assert d.report is d and d.done() and d.offset is not None and d.offset >= 0
        assert d.latency_ms is not None and 0 < d.latency_ms < 15_000
        assert d.to_dict()["latency_ms"] == round(d.latency_ms, 3)
    assert sorted((d.partition, d.offset) for d in sent) == [(0, 0), (0, 1), (1, 0), (1, 1),
                                                              (2, 0), (2, 1)]


def test_sends_serve_reports_without_an_explicit_poll(config, make_topic):
    """send() serves the reports that arrived (at most every POLL_INTERVAL), so a sender that
    never polls still gets them while it sends, not only at flush()."""
    topic = make_topic()
    with Producer(config) as p:
        first = p.send(topic, b"first")
        deadline = time.monotonic() + 10
        while not first.done() and time.monotonic() < deadline:
            time.sleep(0.01)  # pacing between sends, bounded by the deadline
            p.send(topic, b"more")
        assert first.done() and first.ok


def test_a_report_built_directly_compares_and_serialises():
    r = DeliveryReport(3, "t", "failed", 1, None, 1.23456, b"k\xff", "boom", "_MSG_TIMED_OUT")
    assert r == DeliveryReport(3, "t", "failed", 1, None, 1.23456, b"k\xff", "boom",
                               "_MSG_TIMED_OUT")
    assert r != DeliveryReport(3, "t", "delivered", 1, 0)
    assert not r.ok and "status='failed'" in repr(r)
    assert r.to_dict() == {"seq": 3, "topic": "t", "status": "failed", "partition": 1,
                           "offset": None, "latency_ms": 1.235, "key": "k\\xff",
                           "error": "boom", "error_code": "_MSG_TIMED_OUT"}


def test_message_over_topic_limit_is_reported_failed(config, make_topic):
    topic = make_topic(1, 3, {"max.message.bytes": "1000"})
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        p.send(topic, b"x" * 5000)
        p.flush()  # a batch is rejected whole: keep the small one out of the big one's batch
        p.send(topic, b"small")
    by_seq = {r.seq: r for r in reports}
    assert by_seq[0].status == "failed" and by_seq[0].error_code == "MSG_SIZE_TOO_LARGE"
    assert "max.message.bytes" in (by_seq[0].error or "")
    assert by_seq[1].ok


def test_message_over_client_limit_fails_at_once(config, make_topic):
    topic = make_topic(1, 3)
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        p.send(topic, b"x" * 2_000_000)
    assert [r.error_code for r in reports] == ["MSG_SIZE_TOO_LARGE"]


def test_unknown_topic_is_an_error_not_a_wait(config):
    start = time.monotonic()
    with Producer(config, lambda r: None) as p, pytest.raises(NotFound, match="does not exist"):
        p.partitions("no-such-topic")
    assert time.monotonic() - start < 10


def test_partition_out_of_range(config, make_topic):
    topic = make_topic()
    with Producer(config, lambda r: None) as p, pytest.raises(UsageError, match="out of range"):
        p.check_partition(topic, 3)


def test_unreachable_cluster_fails_within_the_bound():
    start = time.monotonic()
    cfg = ClientConfig("127.0.0.1:1", timeout=2)
    with Producer(cfg, lambda r: None) as p, pytest.raises(KafkaUnavailable, match="within 2s"):
        p.partitions("teste")
    assert time.monotonic() - start < 8


def test_undelivered_messages_are_reported_not_dropped(make_topic, cluster):
    """A producer whose brokers vanish reports each queued message as failed on close."""
    reports: list[DeliveryReport] = []
    cfg = ClientConfig("127.0.0.1:1", timeout=1)
    with Producer(cfg, reports.append) as p:
        # As if its topic was checked before the brokers vanished (send() checks a topic at its
        # first message: here that would fail at once instead of queueing).
        p._partitions["teste"] = 3
        for i in range(5):
            p.send("teste", f"{i}".encode())
    assert len(reports) == 5
    assert {r.status for r in reports} <= {"failed", "possibly_persisted"}
    assert all(r.error for r in reports)


def test_unusual_header_names_are_sent_as_their_bytes_in_order(config, make_topic, unique_name):
    """Header names confluent-kafka cannot send (not UTF-8, or holding a NUL byte) go through
    librdkafka's C API (kpoc._rawproduce), between ordinary records, in order, with a report
    each; kpoc reads them back in full."""
    topic = make_topic(1, 3)
    sent = [(b"plain-1", (("a", b"1"),)),
            (b"nul", (("a\x00b", b"\x00"), ("", None), ("\x00", b""))),
            (b"not-utf8", (("\udcff\udcfe", b"x"), ("ok", b"y"))),
            (b"plain-2", ())]
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        for n, (value, headers) in enumerate(sent):
            p.send(topic, value, b"k", list(headers), timestamp=1_700_000_000_000 + n)
    assert [(r.seq, r.status, r.partition, r.offset) for r in reports] == [
        (n, "delivered", 0, n) for n in range(len(sent))]
    with Consumer(ClientConfig(config.bootstrap_servers, timeout=30), [topic],
                  unique_name("g"), StartPosition("beginning"), [0]) as c:
        got = list(c.records(exit_at_end=True))
    assert [(r.key, r.value, tuple(r.headers), r.timestamp) for r in got] == [
        (b"k", value, headers, 1_700_000_000_000 + n) for n, (value, headers) in enumerate(sent)]


def test_a_record_with_an_unusual_header_name_that_fails_is_reported(config, make_topic, capfd):
    # (send() refuses a partition out of range before anything is sent: a record the broker
    # refuses instead.)
    topic = make_topic(1, 3, {"max.message.bytes": "1000"})
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        p.send(topic, b"v" * 5000, headers=[("a\x00", b"v")])
    assert [(r.status, r.error_code) for r in reports] == [("failed", "MSG_SIZE_TOO_LARGE")]

    start, reports = time.monotonic(), []
    with Producer(ClientConfig("127.0.0.1:1", timeout=1), reports.append) as p:
        p._partitions["teste"] = 1  # as if checked before the brokers vanished (see above)
        p.send("teste", b"v", headers=[("a\x00", b"v")])
    assert time.monotonic() - start < 10
    assert [r.status for r in reports] == ["failed"] and reports[0].error
    assert "rdkafka" not in capfd.readouterr().err  # librdkafka's log lines stay off stderr


def test_parse_header():
    assert parse_header("a=b=c") == ("a", b"b=c")
    assert parse_header("empty=") == ("empty", b"")
    assert parse_header("null") == ("null", None)
    for bad in ("=v", ""):
        with pytest.raises(UsageError, match="invalid header"):
            parse_header(bad)


def test_percentile():
    values = sorted(float(i) for i in range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([], 50) == 0


def _partition_of_each_key(config: ClientConfig, topic: str, group: str) -> dict[bytes, int]:
    # Manual assignment: this is about where keys landed, not about the group protocol.
    with Consumer(config, [topic], group, parse_start("beginning"), list(range(6))) as c:
        return {r.key: r.partition for r in c.records(count=1000)
                if r.key is not None and r.partition is not None}


def test_keys_land_where_the_java_producer_puts_them(cluster, config, make_topic, unique_name,
                                                    run_kpoc):
    """The same 1,000 keys from Kafka's Java console producer and from `kpoc produce` land in
    the same partitions (murmur2); librdkafka's own default (CRC32) would not."""
    lines = "".join(f"key-{i}\tvalue-{i}\n" for i in range(1000))
    java_topic, kpoc_topic, crc_topic = (make_topic(partitions=6) for _ in range(3))
    java = subprocess.run(
        [find_java(), "-Xmx256m", "-Dorg.apache.logging.log4j.level=OFF", "-cp",
         f"{libs_dir()}/*", "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
         cluster.bootstrap_servers, "--topic", java_topic, "--property", "parse.key=true",
         "--property", "key.separator=\t"], input=lines, capture_output=True, text=True,
        timeout=180)
    assert java.returncode == 0, java.stderr[-2000:]
    for topic, extra in ((kpoc_topic, []), (crc_topic, ["-X", "partitioner=consistent_random"])):
        r = run_kpoc("produce", "-t", topic, "-K", "\\t", "-q", *extra, input=lines)
        assert r.returncode == 0, r.stderr
    java_parts = _partition_of_each_key(config, java_topic, unique_name("g"))
    kpoc_parts = _partition_of_each_key(config, kpoc_topic, unique_name("g"))
    assert len(java_parts) == len(kpoc_parts) == 1000
    assert kpoc_parts == java_parts
    crc_parts = _partition_of_each_key(config, crc_topic, unique_name("g"))
    assert sum(crc_parts[k] != java_parts[k] for k in java_parts) > 500
