"""The kpoc side of the benchmark, run in its own process so its peak RSS is its own.

``python -m kpoc.bench._worker '<json spec>'`` runs one job and prints one JSON line on stdout:

- ``produce``: send every line of a payload file (as kcat -P does), acks=all, time from the first
  send to the last acknowledgement;
- ``produce-synthetic``: ``kpoc produce --count`` (random payloads), for the memory test;
- ``consume``: read ``count`` messages from the start of a topic, time from the assignment to
  the last message;
- ``e2e-pingpong``: EndToEndLatency's experiment (send one, wait for its ack and its receipt,
  repeat) with kpoc's Producer and Consumer in one process;
- ``e2e-consume`` / ``e2e-produce``: the two halves of the fixed-rate latency test. The producer
  (kpoc's load mode) sends at a fixed rate with its send time (ns since the epoch) in each
  payload; the consumer, a separate process, prints ``ready`` once assigned, then the latency
  percentiles.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from itertools import chain
from typing import Any

from ..config import ClientConfig
from ..errors import DeliveryError
from ._payload import payload_lines


def produce(config: ClientConfig, topic: str, payload_file: str) -> dict[str, Any]:
    """Produce every payload of the file with :func:`kpoc.load.run_load`."""
    count = sum(len(b) for b in payload_lines(payload_file))
    s = _load(config, topic, count, 0, payloads=chain.from_iterable(payload_lines(payload_file)))
    return {"messages": s.acknowledged, "bytes": s.bytes, "seconds": s.seconds}


def produce_synthetic(config: ClientConfig, topic: str, count: int, size: int) -> dict[str, Any]:
    """``kpoc produce --count N --size S``'s code path, for its peak RSS over many messages."""
    s = _load(config, topic, count, size)
    return {"messages": s.acknowledged, "bytes": s.bytes, "seconds": s.seconds}


def _load(config: ClientConfig, topic: str, count: int, size: int, **kwargs: Any) -> Any:
    """:func:`kpoc.load.run_load`, failing the job unless all ``count`` were acknowledged."""
    from ..load import run_load

    s = run_load(config, topic, count, size, **kwargs)
    if s.failed or s.acknowledged != count:
        raise DeliveryError(f"{s.acknowledged} of {count} acknowledged, {s.failed} failed: "
                            f"{dict(s.errors)}")
    return s


def consume(config: ClientConfig, topic: str, count: int, partitions: int = 3) -> dict[str, Any]:
    """Read ``count`` messages from the start of every partition with :mod:`kpoc.consumer`.

    The clock starts at the assignment, as ConsumerPerformance's excludes its group join."""
    from ..consumer import Consumer, parse_start

    assigned: list[float] = []
    c = Consumer(config, [topic], group=f"kpoc-bench-{time.time_ns()}",
                 start=parse_start("beginning"), partitions=list(range(partitions)),
                 on_event=lambda _e: assigned.append(time.monotonic()),
                 defaults={"enable.auto.commit": False, "enable.partition.eof": False})
    received = nbytes = 0
    with c:
        for batch in c.batches(count):
            received += len(batch)
            nbytes += sum(map(len, batch))
        seconds = time.monotonic() - assigned[0]
    return {"messages": received, "bytes": nbytes, "seconds": seconds}


def _percentiles(latencies: list[float]) -> dict[str, Any]:
    from ..producer import percentile

    latencies = sorted(latencies)
    return {
        "messages": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "p99_9_ms": percentile(latencies, 99.9),
        "max_ms": latencies[-1] if latencies else 0.0,
    }


def _latency_consumer(config: ClientConfig, topic: str, on_assigned: Any = None) -> Any:
    from ..consumer import Consumer, parse_start

    return Consumer(config, [topic], group=f"kpoc-bench-e2e-{time.time_ns()}",
                    start=parse_start("beginning"), partitions=[0, 1, 2],
                    on_event=on_assigned,
                    defaults={"enable.auto.commit": False, "enable.partition.eof": False})


def e2e_pingpong(config: ClientConfig, topic: str, count: int, size: int) -> dict[str, Any]:
    """EndToEndLatency's experiment with kpoc's clients: send one message, wait for its
    acknowledgement, then until the consumer has it; ``count`` times, one at a time."""
    from ..producer import Producer

    failed: list[str] = []
    latencies: list[float] = []
    with _latency_consumer(config, topic) as c, Producer(
            config, lambda r: None if r.ok else failed.append(r.error or "")) as p:
        p.partitions(topic)
        received = c.batches(batch=1)
        # One unmeasured round trip: connections, the offset lookup and the fetchers are up.
        for i in range(count + 1):
            value = b"%019d" % i + b"x" * max(0, size - 19)
            begin = time.perf_counter()
            p.send(topic, value)
            p.flush()
            got = next(received)
            elapsed = (time.perf_counter() - begin) * 1000
            if failed:
                raise DeliveryError(f"message {i} was not acknowledged: {failed[0]}")
            if len(got) != 1 or got[0].value() != value:
                raise DeliveryError(f"message {i}: expected it alone, got {len(got)} messages")
            if i:
                latencies.append(elapsed)
    return _percentiles(latencies)


def e2e_consume(config: ClientConfig, topic: str, count: int, warmup: int) -> dict[str, Any]:
    """Receive ``warmup`` + ``count`` messages; return the end-to-end latency percentiles (ms)
    of the timestamped ones (warm-up messages carry a zero stamp)."""
    latencies: list[float] = []
    with _latency_consumer(config, topic, lambda _e: print("ready", flush=True)) as c:
        for batch in c.batches(count + warmup, batch=1000):
            now = time.time_ns()
            latencies.extend((now - sent) / 1e6 for sent in map(int, _stamps(batch)) if sent)
    return _percentiles(latencies)


def _stamps(batch: list[Any]) -> Iterator[bytes]:
    for m in batch:
        yield m.value()[:19]


def e2e_produce(
    config: ClientConfig, topic: str, count: int, size: int, rate: float, warmup: int
) -> dict[str, Any]:
    """Send ``warmup`` + ``count`` messages of ``size`` bytes at ``rate`` msg/s with kpoc's load
    mode; after the warm-up (connections, producer id), each is stamped with its send time (ns
    since the epoch) as it is handed to librdkafka."""
    pad = b"x" * max(0, size - 19)
    total = warmup + count
    stamped = (b"%019d" % (time.time_ns() if i >= warmup else 0) + pad for i in range(total))
    s = _load(config, topic, total, size, rate=rate, payloads=stamped)
    return {"messages": count, "seconds": s.seconds}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    config = ClientConfig(spec["bootstrap"], spec.get("properties", {}), spec.get("timeout", 30))
    job = spec["job"]
    if job == "produce":
        result = produce(config, spec["topic"], spec["payload_file"])
    elif job == "produce-synthetic":
        result = produce_synthetic(config, spec["topic"], spec["count"], spec["size"])
    elif job == "consume":
        result = consume(config, spec["topic"], spec["count"])
    elif job == "e2e-pingpong":
        result = e2e_pingpong(config, spec["topic"], spec["count"], spec["size"])
    elif job == "e2e-consume":
        result = e2e_consume(config, spec["topic"], spec["count"], spec.get("warmup", 0))
    elif job == "e2e-produce":
        result = e2e_produce(config, spec["topic"], spec["count"], spec["size"], spec["rate"],
                             spec.get("warmup", 0))
    else:
        from ._api_jobs import run as run_api_job

        result = run_api_job(spec)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
