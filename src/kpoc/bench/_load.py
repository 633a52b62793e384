"""Bulk produce and consume loops, in the shape of ``kpoc.producer.run_load``.

The fast path: positional ``produce`` with ``poll(0)`` every few thousand messages, no per-message
Python callback (``delivery.report.only.error``: librdkafka reports only failures), librdkafka's
own batching, and ``consume(num_messages)`` batches on the way back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .._client import base_properties, make_client
from ..config import ClientConfig
from ..errors import DeliveryError, KafkaUnavailable
from ..producer import PARTITIONING

POLL_EVERY = 5000


@dataclass(frozen=True)
class LoadSummary:
    messages: int
    bytes: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def _payloads(count: int, size: int) -> Iterator[bytes]:
    value = b"x" * size
    for _ in range(count):
        yield value


def run_load(
    config: ClientConfig,
    topic: str,
    count: int,
    size: int,
    payloads: Iterable[bytes] | None = None,
) -> LoadSummary:
    """Send ``count`` messages (``payloads`` or ``size`` bytes each); wait for every ack."""
    from confluent_kafka import Producer

    failed: list[str] = []
    props = base_properties(config, {"acks": "all", "delivery.report.only.error": True,
                                     **PARTITIONING})
    props["on_delivery"] = lambda err, _msg: failed.append(err.str())
    p = make_client(Producer, props)
    produce, poll = p.produce, p.poll
    sent = nbytes = 0
    start = time.monotonic()
    for value in payloads if payloads is not None else _payloads(count, size):
        if sent == count:
            break
        while True:
            try:
                produce(topic, value)
                break
            except BufferError:
                poll(0.01)
        sent += 1
        nbytes += len(value)
        if not sent % POLL_EVERY:
            poll(0)
    left = p.flush(config.timeout)
    while left and time.monotonic() - start < config.timeout * 10:
        left = p.flush(config.timeout)
    seconds = time.monotonic() - start
    if left or failed:
        raise DeliveryError(
            f"{left} message(s) unacknowledged and {len(failed)} failed"
            + (f": {failed[0]}" if failed else ""),
            "check the cluster with `kpoc cluster status`",
        )
    return LoadSummary(sent, nbytes, seconds)


def read_load(config: ClientConfig, topic: str, count: int, batch: int = 10000) -> LoadSummary:
    """Read ``count`` messages from the start of ``topic`` (all partitions) in batches."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    props = base_properties(config, {
        "group.id": f"kpoc-bench-{time.time_ns()}", "enable.auto.commit": False,
        "enable.partition.eof": False,
    })
    c = make_client(Consumer, props)
    received = nbytes = 0
    try:
        md = c.list_topics(topic, timeout=config.timeout).topics[topic]
        if md.error is not None:
            raise KafkaUnavailable(f"topic {topic}: {md.error.str()}")
        start = time.monotonic()
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        consume = c.consume
        idle_since = time.monotonic()
        while received < count:
            msgs = consume(batch, 0.5)
            if not msgs:
                if time.monotonic() - idle_since > config.timeout:
                    break
                continue
            idle_since = time.monotonic()
            for m in msgs:
                if m.error() is None:
                    received += 1
                    nbytes += len(m)
        seconds = time.monotonic() - start
    finally:
        c.close()
    return LoadSummary(received, nbytes, seconds)
