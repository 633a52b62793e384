"""kpoc.load against the real cluster: every message counted, acknowledged or failed."""

from __future__ import annotations

import logging

import pytest

from kpoc.admin import Admin
from kpoc.config import ClientConfig
from kpoc.consumer import Consumer, parse_start
from kpoc.load import _ProducerIdWatch, run_load


@pytest.fixture
def config(cluster):
    return ClientConfig(cluster.bootstrap_servers, timeout=15)


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


def test_load_mode_sends_at_most_count_of_the_given_payloads(config, make_topic):
    topic = make_topic()
    values = [b"a", b"bbb", b"ccccc", b"dddddddddddd", b"e"]
    summary = run_load(config, topic, 3, 0, payloads=values)
    assert (summary.messages, summary.acknowledged, summary.size) == (3, 3, 3)
    with Admin(config) as a:
        assert a.describe_topic(topic).messages == 3
