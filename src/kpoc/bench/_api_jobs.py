"""The Python API rows of the benchmark: kpoc's public classes against raw confluent-kafka doing
the same work, each in its own worker process (``python -m kpoc.bench._worker``).

- ``api-produce`` / ``raw-produce``: one message per call — :meth:`kpoc.Producer.send` against
  ``confluent_kafka.Producer.produce`` with a delivery callback and ``poll(0)`` after each call
  (confluent-kafka's documented loop); both count every report in Python. Time from the first
  send to the last report.
- ``api-consume`` / ``raw-consume``: ``for record in kpoc.Consumer`` (a :class:`kpoc.Record` per
  message, offsets stored after each) against ``consume(num_messages=500)`` reading each
  message's value, in a fresh group; time from the assignment to the last message.
- ``aio-produce``: ``count`` :meth:`kpoc.aio.Producer.send` futures awaited together with
  ``asyncio.gather`` from one event loop; compared with ``api-produce`` of the same count.

Each job also reports ``main_cpu_s``: the CPU time of the thread that runs the loop (the Python
side, librdkafka's threads and the brokers left out) over the same span: steadier than the wall
clock on a machine whose load swings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from itertools import chain, islice
from typing import Any

from ..errors import DeliveryError
from ._payload import payload_lines


def _values(payload_file: str, count: int) -> Iterator[bytes]:
    return islice(chain.from_iterable(payload_lines(payload_file)), count)


def _clocks() -> tuple[float, float]:
    """(wall clock, this thread's CPU time) now (the consumers' group callbacks run on the
    reading thread, so they may take it too)."""
    return time.perf_counter(), time.thread_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clocks()
    return wall - start[0], cpu - start[1]


def _check(acked: int, failed: int, count: int) -> None:
    if failed or acked != count:
        raise DeliveryError(f"{acked} of {count} acknowledged, {failed} failed")


def raw_produce(bootstrap: str, props: dict[str, str], topic: str, payload_file: str,
                count: int) -> dict[str, Any]:
    from confluent_kafka import Producer

    counts = [0, 0]

    def on_delivery(err: Any, msg: Any) -> None:
        counts[err is not None] += 1

    p = Producer({"bootstrap.servers": bootstrap, **props})
    p.list_topics(topic, timeout=30)  # as kpoc does before its first send
    produce, poll = p.produce, p.poll
    start = _clocks()
    for value in _values(payload_file, count):
        while True:
            try:
                produce(topic, value, on_delivery=on_delivery)
                break
            except BufferError:
                poll(0.01)
        poll(0)
    p.flush(60)
    seconds, cpu = _since(start)
    _check(counts[0], counts[1], count)
    return {"messages": count, "seconds": seconds, "main_cpu_s": cpu}


def api_produce(bootstrap: str, props: dict[str, str], topic: str, payload_file: str,
                count: int) -> dict[str, Any]:
    from .. import DeliveryReport, Producer

    counts = [0, 0]

    def on_report(report: DeliveryReport) -> None:
        counts[not report.ok] += 1

    with Producer(bootstrap, config=props, timeout=30, on_report=on_report) as p:
        p.partitions(topic)
        send = p.send
        start = _clocks()
        for value in _values(payload_file, count):
            send(topic, value)
        p.flush()
        seconds, cpu = _since(start)
    _check(counts[0], counts[1], count)
    return {"messages": count, "seconds": seconds, "main_cpu_s": cpu}


def aio_produce(bootstrap: str, props: dict[str, str], topic: str, payload_file: str,
                count: int) -> dict[str, Any]:
    from .. import aio

    values = list(_values(payload_file, count))

    async def main() -> tuple[int, float, float]:
        async with aio.Producer(bootstrap, config=props, timeout=30) as p:
            await p.partitions(topic)
            send = p.send
            start = _clocks()
            reports = await asyncio.gather(*[send(topic, v) for v in values])
            seconds, cpu = _since(start)
            return sum(r.ok for r in reports), seconds, cpu

    acked, seconds, cpu = asyncio.run(main())
    _check(acked, count - acked, count)
    return {"messages": count, "seconds": seconds, "main_cpu_s": cpu}


def raw_consume(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    from confluent_kafka import Consumer

    assigned: list[tuple[float, float]] = []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"kpoc-bench-raw-{time.time_ns()}",
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic], on_assign=lambda _c, _tps: assigned.append(_clocks()))
    received = nbytes = 0
    deadline = time.monotonic() + 120
    try:
        while received < count and time.monotonic() < deadline:
            for msg in c.consume(num_messages=min(500, count - received), timeout=1.0):
                if msg.error() is None:
                    received += 1
                    nbytes += len(msg.value() or b"")
        seconds, cpu = _since(assigned[0])
    finally:
        c.close()
    return {"messages": received, "bytes": nbytes, "seconds": seconds, "main_cpu_s": cpu}


def api_consume(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    from .. import Consumer

    assigned: list[tuple[float, float]] = []
    received = nbytes = 0
    with Consumer(topic, f"kpoc-bench-api-{time.time_ns()}", bootstrap, timeout=30,
                  on_event=lambda _e: assigned.append(_clocks())) as c:
        for record in c.records(count):
            received += 1
            nbytes += len(record.value or b"")
        seconds, cpu = _since(assigned[0])
    return {"messages": received, "bytes": nbytes, "seconds": seconds, "main_cpu_s": cpu}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    job, bootstrap, topic = spec["job"], spec["bootstrap"], spec["topic"]
    props = spec.get("properties", {})
    if job == "raw-produce":
        return raw_produce(bootstrap, props, topic, spec["payload_file"], spec["count"])
    if job == "api-produce":
        return api_produce(bootstrap, props, topic, spec["payload_file"], spec["count"])
    if job == "aio-produce":
        return aio_produce(bootstrap, props, topic, spec["payload_file"], spec["count"])
    if job == "raw-consume":
        return raw_consume(bootstrap, topic, spec["count"])
    if job == "api-consume":
        return api_consume(bootstrap, topic, spec["count"])
    raise SystemExit(f"unknown job {job!r}")
