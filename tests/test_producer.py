"""kpoc.producer against the real cluster: one report per message, failures never silent."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest

from kpoc.admin import Admin
from kpoc.cluster import find_java, libs_dir
from kpoc.config import ClientConfig
from kpoc.consumer import Consumer, parse_start
from kpoc.errors import KafkaUnavailable, NotFound, UsageError
from kpoc.producer import (
    DeliveryReport,
    Producer,
    _ProducerIdWatch,
    parse_header,
    percentile,
    run_load,
)


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
        for i in range(5):
            p.send("teste", f"{i}".encode())
    assert len(reports) == 5
    assert {r.status for r in reports} <= {"failed", "possibly_persisted"}
    assert all(r.error for r in reports)


@pytest.mark.parametrize("latency", [False, True], ids=["errors-only", "every-report"])
def test_load_mode_counts_every_ack(config, make_topic, latency):
    topic = make_topic()
    summary = run_load(config, topic, 20_000, 100, latency=latency)
    d = summary.to_dict()
    assert d["acknowledged"] == 20_000 and d["failed"] == 0
    assert d["bytes"] == 2_000_000 and d["msgs_per_s"] > 0
    if latency:
        assert 0 < d["latency_ms"]["p50"] <= d["latency_ms"]["p99"] <= d["latency_ms"]["max"]
        assert d["latency_ms"]["samples"] == 20_000 // 16
    else:
        assert d["latency_ms"] is None
    with Admin(config) as a:  # what the brokers hold, not what the client believes
        assert a.describe_topic(topic).messages == 20_000


def test_load_mode_waits_for_a_producer_id_only_when_idempotent(cluster, make_topic):
    topic = make_topic()
    plain = ClientConfig(cluster.bootstrap_servers, {"enable.idempotence": "false"}, timeout=15)
    summary = run_load(plain, topic, 100, 10)
    # No id will ever be assigned: waiting for one would have taken the whole 15 s bound.
    assert summary.acknowledged == 100 and summary.ready_seconds < 10


def test_load_mode_without_success_reports_still_counts_broker_rejections(config, make_topic):
    # The broker refuses every message (larger than the topic's max.message.bytes): with only
    # failures reported, none may be counted as acknowledged.
    topic = make_topic(config={"max.message.bytes": "1000"})
    summary = run_load(config, topic, 50, 4000)
    assert summary.acknowledged == 0 and summary.failed == 50
    assert dict(summary.errors) == {"MSG_SIZE_TOO_LARGE": 50}


# Full speed sends one produce() per message; a paced run hands each chunk to produce_batch.
PACING = pytest.mark.parametrize("rate", [None, 200_000.0], ids=["full-speed", "paced"])


@PACING
def test_load_mode_refused_at_once_counts_as_failed(cluster, make_topic, rate):
    # A value over the client's own limit is refused at once: counted, and the run goes on.
    topic = make_topic()
    small = ClientConfig(cluster.bootstrap_servers, {"message.max.bytes": "2000"}, timeout=15)
    summary = run_load(small, topic, 30, 4000, rate=rate)
    assert summary.acknowledged == 0 and summary.failed == 30
    assert dict(summary.errors) == {"MSG_SIZE_TOO_LARGE": 30}


@PACING
def test_load_mode_resumes_after_a_full_queue_without_loss_or_duplicates(cluster, make_topic,
                                                                          rate):
    # A 50-message local queue is full many times over: every value still lands exactly once.
    topic = make_topic()
    tiny = ClientConfig(cluster.bootstrap_servers, {"queue.buffering.max.messages": "50"},
                        timeout=15)
    values = [b"%06d" % i for i in range(3_000)]
    summary = run_load(tiny, topic, len(values), 0, payloads=values, rate=rate)
    assert summary.acknowledged == 3_000 and summary.failed == 0
    with Consumer(ClientConfig(cluster.bootstrap_servers, timeout=15), [topic], "load-check",
                  start=parse_start("beginning")) as c:
        got = sorted(m.value() for b in c.batches(count=3_000) for m in b)
    assert got == values


def test_load_mode_does_not_wait_for_an_id_it_cannot_see(cluster, make_topic):
    # The producer id is read from librdkafka's eos debug log; a user's own debug setting
    # without eos hides it, and then load mode must not wait out its whole bound.
    topic = make_topic()
    quiet = ClientConfig(cluster.bootstrap_servers, {"debug": "msg"}, timeout=15)
    summary = run_load(quiet, topic, 100, 10)
    assert summary.acknowledged == 100 and summary.ready_seconds < 10


def test_producer_id_watch_reads_the_eos_log_line():
    watch = _ProducerIdWatch()
    log = logging.LogRecord("x", logging.DEBUG, "", 0, "IDEMPSTATE [rdkafka#producer-1] "
                            "[thrd:main]: Idempotent producer state change WaitTransport -> "
                            "WaitPID", None, None)
    watch.emit(log)
    assert not watch.assigned
    log.msg = log.msg.replace("WaitTransport -> WaitPID", "WaitPID -> Assigned")
    watch.emit(log)
    assert watch.assigned


def test_load_mode_rate_limit(config, make_topic):
    topic = make_topic()
    summary = run_load(config, topic, 600, 10, rate=1000)
    assert summary.acknowledged == 600
    assert summary.seconds >= 0.5  # 600 messages at 1000/s cannot finish sooner


def test_parse_header():
    assert parse_header("a=b=c") == ("a", b"b=c")
    assert parse_header("empty=") == ("empty", b"")
    for bad in ("novalue", "=v", ""):
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
