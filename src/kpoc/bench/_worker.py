"""The kpoc side of the benchmark, run in its own process so its peak RSS is its own.

``python -m kpoc.bench._worker '<json spec>'`` runs one job and prints one JSON line on stdout:

- ``produce``: send every line of a payload file (as kcat -P does), acks=all, time from the first
  send to the last acknowledgement;
- ``consume``: read ``count`` messages from the start of a topic, time from the subscription to
  the last message;
- ``e2e-consume`` / ``e2e-produce``: the two halves of the end-to-end latency test. The producer
  sends at a fixed rate with its send time (ns since the epoch) in each payload; the consumer,
  a separate process, prints ``ready`` once assigned, then the latency percentiles.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..config import ClientConfig
from ..errors import DeliveryError, KafkaUnavailable


def payload_lines(path: str, chunk: int = 1 << 22) -> Iterator[list[bytes]]:
    """The newline-delimited payloads of ``path`` in lists, reading 4 MiB at a time."""
    rest = b""
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            yield lines
    if rest:
        yield [rest]


def produce(config: ClientConfig, topic: str, payload_file: str) -> dict[str, Any]:
    """Produce every payload of the file with :func:`kpoc.producer.run_load`."""
    from ..producer import run_load

    count = sum(len(b) for b in payload_lines(payload_file))
    s = run_load(config, topic, count, 0, payloads=_flatten(payload_file))
    if s.failed or s.acknowledged != count:
        raise DeliveryError(f"{s.acknowledged} of {count} acknowledged, {s.failed} failed: "
                            f"{dict(s.errors)}")
    return {"messages": s.acknowledged, "bytes": s.bytes, "seconds": s.seconds}


def _flatten(path: str) -> Iterator[bytes]:
    for lines in payload_lines(path):
        yield from lines


def consume(config: ClientConfig, topic: str, count: int, partitions: int = 3) -> dict[str, Any]:
    """Read ``count`` messages from the start of every partition with :mod:`kpoc.consumer`."""
    from ..consumer import Consumer, parse_start

    c = Consumer(config, [topic], group=f"kpoc-bench-{time.time_ns()}",
                 start=parse_start("beginning"), partitions=list(range(partitions)),
                 defaults={"enable.auto.commit": False, "enable.partition.eof": False})
    received = nbytes = 0
    with c:
        start = time.monotonic()
        for m in c.messages(count, batch=10_000):
            received += 1
            nbytes += len(m)
        seconds = time.monotonic() - start
    return {"messages": received, "bytes": nbytes, "seconds": seconds}


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[i]


def e2e_consume(config: ClientConfig, topic: str, count: int) -> dict[str, Any]:
    """Receive ``count`` timestamped messages; return end-to-end latency percentiles (ms)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from .._client import base_properties, make_client

    props = base_properties(config, {
        "group.id": f"kpoc-bench-e2e-{time.time_ns()}", "enable.auto.commit": False,
        "enable.partition.eof": False,
    })
    c = make_client(Consumer, props)
    try:
        md = c.list_topics(topic, timeout=config.timeout).topics[topic]
        if md.error is not None:
            raise KafkaUnavailable(f"topic {topic}: {md.error.str()}")
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        c.consume(1, 0.5)  # connects and starts the fetchers before the producer begins
        print("ready", flush=True)
        latencies: list[float] = []
        deadline = time.monotonic() + config.timeout
        while len(latencies) < count:
            msgs = c.consume(1000, 0.2)
            now = time.time_ns()
            for m in msgs:
                value = m.value()
                if m.error() is None and value is not None:
                    latencies.append((now - int(value[:19])) / 1e6)
            if msgs:
                deadline = time.monotonic() + config.timeout
            elif time.monotonic() > deadline:
                break
    finally:
        c.close()
    latencies.sort()
    return {
        "messages": len(latencies),
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "p99_9_ms": _percentile(latencies, 99.9),
        "max_ms": latencies[-1] if latencies else 0.0,
    }


def e2e_produce(
    config: ClientConfig, topic: str, count: int, size: int, rate: float
) -> dict[str, Any]:
    """Send ``count`` messages of ``size`` bytes at ``rate`` msg/s, each carrying its send time."""
    from confluent_kafka import Producer

    from .._client import base_properties, make_client

    errors: list[str] = []
    # linger.ms=5 (Kafka 4's default): at 5,000 msg/s, linger 0 means one acks=all request per
    # message, which on a small machine queues up faster than three brokers can replicate.
    props = base_properties(config, {"acks": "all", "linger.ms": 5,
                                      "enable.idempotence": True})
    props["on_delivery"] = lambda err, _msg: errors.append(err.str()) if err else None
    p = make_client(Producer, props)
    produce, poll = p.produce, p.poll
    pad = b"x" * max(0, size - 19)
    start = time.monotonic()
    sent = 0
    while sent < count:
        # Send every message that is due, then sleep ≥ 1 ms: bursts of rate/1000 messages.
        due = min(count, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            produce(topic, b"%019d" % time.time_ns() + pad)
            sent += 1
        poll(0)
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(max(delay, 0.001))
    left = p.flush(config.timeout)
    while left and time.monotonic() - start < config.timeout * 4:
        left = p.flush(config.timeout)
    seconds = time.monotonic() - start
    if left or errors:
        raise DeliveryError(f"{left} unacknowledged, {len(errors)} failed: {errors[:1]}")
    return {"messages": count, "seconds": seconds}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    config = ClientConfig(spec["bootstrap"], spec.get("properties", {}), spec.get("timeout", 30))
    job = spec["job"]
    if job == "produce":
        result = produce(config, spec["topic"], spec["payload_file"])
    elif job == "consume":
        result = consume(config, spec["topic"], spec["count"])
    elif job == "e2e-consume":
        result = e2e_consume(config, spec["topic"], spec["count"])
    elif job == "e2e-produce":
        result = e2e_produce(config, spec["topic"], spec["count"], spec["size"], spec["rate"])
    else:
        raise SystemExit(f"unknown job {job!r}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
