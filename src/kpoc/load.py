"""Load mode: ``count`` synthetic (or given) messages as fast as possible or at a steady rate,
counted rather than reported one by one (``kpoc produce --count``, ``kpoc bench``)."""

from __future__ import annotations

import logging
import os
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from operator import length_hint
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _RdProducer

from ._client import trap_for
from .config import ClientConfig
from .errors import UsageError
from .producer import RELIABLE_DEFAULTS, Producer, percentile

__all__ = ["LOAD_DEFAULTS", "LoadSummary", "check_load", "run_load"]

#: librdkafka settings for bulk synthetic load. The local queue stays at librdkafka's 100k
#: messages: a 1M queue cost the same CPU and far more memory (docs/benchmarks.md).
LOAD_DEFAULTS: dict[str, object] = {
    "queue.buffering.max.messages": 100_000,
    "queue.buffering.max.kbytes": 262_144,
    "linger.ms": 5,
    "batch.num.messages": 10_000,
}


@dataclass
class LoadSummary:
    topic: str
    messages: int
    size: int
    acknowledged: int = 0
    failed: int = 0
    seconds: float = 0.0
    ready_seconds: float = 0.0
    latencies_ms: array = field(default_factory=lambda: array("d"), repr=False)
    errors: Counter = field(default_factory=Counter)

    @property
    def bytes(self) -> int:
        return self.acknowledged * self.size

    @property
    def msgs_per_s(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "topic": self.topic, "messages": self.messages, "size": self.size,
            "acknowledged": self.acknowledged, "failed": self.failed, "bytes": self.bytes,
            "seconds": round(self.seconds, 3), "ready_seconds": round(self.ready_seconds, 3),
            "msgs_per_s": round(self.msgs_per_s, 1),
            "mb_per_s": round(self.mb_per_s, 3),
            "latency_ms": {"p50": round(percentile(lat, 50), 3),
                           "p99": round(percentile(lat, 99), 3),
                           "max": round(lat[-1], 3), "samples": len(lat)} if lat else None,
            "errors": dict(self.errors),
        }


class _LoadCounter:
    """The per-message delivery callback of load mode: count, and sample 1 latency in 16."""

    def __init__(self, summary: LoadSummary) -> None:
        self.summary = summary
        self.n = 0

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        s = self.summary
        if err is None:
            s.acknowledged += 1
            if s.acknowledged & 15 == 1:  # the 1st, 17th, …: short runs get samples too
                s.latencies_ms.append(msg.latency() * 1000)
        else:
            s.failed += 1
            s.errors[err.name()] += 1


class _ProducerIdWatch(logging.Handler):
    """Tells from librdkafka's ``eos`` debug log when the idempotent producer has its id.

    A fresh librdkafka producer that finds no broker connection up yet re-tries getting its id
    on a fixed 500 ms timer ("Starting PID FSM timer: Coordinator not up"), and no message
    leaves before that; about half of all fresh producers pay it. Load mode waits for the id
    before its clock starts and reports that wait on its own. The log, not statistics: with
    ``statistics.interval.ms`` set librdkafka keeps latency histograms for every message, which
    cost load mode ~13 % of its throughput (1M × 100 B, 2.41 → 2.13 s median of 6)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.assigned = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.assigned and "-> Assigned" in record.getMessage():
            self.assigned = True

    def logger(self, config: ClientConfig) -> logging.Logger:
        """A standalone logger feeding this watch and kpoc's usual error trap."""
        log = logging.Logger("kpoc.librdkafka.load", logging.DEBUG)
        log.addHandler(self)
        for handler in trap_for(config).logger.handlers:
            log.addHandler(handler)
        return log


def _idempotent(config: ClientConfig) -> bool:
    value = config.properties.get("enable.idempotence", RELIABLE_DEFAULTS["enable.idempotence"])
    return str(value).lower() in ("true", "1")


def _payloads(size: int, distinct: int = 64) -> list[bytes]:
    """A few random payloads: incompressible like real data, without per-message generation."""
    return [os.urandom(size) for _ in range(distinct)]


def check_load(count: int, size: int, rate: float | None) -> None:
    """Refuse a load-mode run that cannot be done, before anything starts."""
    if count < 1 or size < 0:
        raise UsageError("--count must be ≥ 1 and --size ≥ 0", "e.g. --count 10000 --size 100")
    if rate is not None and rate <= 0:
        raise UsageError(f"--rate must be > 0, got {rate:g}", "e.g. --rate 5000 (msgs/s)")


def run_load(config: ClientConfig, topic: str, count: int, size: int,
             rate: float | None = None, chunk: int = 1000,
             progress: Callable[[int], None] | None = None,
             payloads: Iterable[bytes] | None = None, latency: bool = False) -> LoadSummary:
    """Send ``count`` synthetic messages of ``size`` bytes as fast as possible (or at ``rate``).

    The fast path is a positional ``produce(topic, value)`` per message, driven by a C-level
    ``map`` (no Python loop, no dict per message: 0.39–0.46 µs per message in the calling
    thread against 0.61–0.77 µs for ``produce_batch``, which looks up every key of every
    message's dict), with ``delivery.report.only.error``: librdkafka reports only failures, so
    a success costs no Python object or call; once ``flush`` has drained the queue, every
    message not reported failed was acknowledged. A paced run (``rate``) hands each chunk to
    ``produce_batch`` instead, so that it leaves in one request (see :func:`_queue_chunk`).
    ``latency`` asks for a report per message instead, to sample delivery latency (1 in 16);
    it costs about a quarter of the throughput. Time runs from the first send to the last ack;
    the wait for the producer's id before it is ``ready_seconds``. ``payloads`` (e.g. the lines
    of a file, for a benchmark) replaces the synthetic values: up to ``count`` of them are sent
    in order and ``size`` is their mean length.
    """
    check_load(count, size, rate)
    summary = LoadSummary(topic, count, size)
    counter = _LoadCounter(summary)
    producer, watch = _load_producer(config, counter, latency)
    ready = time.perf_counter()
    producer.partitions(topic)
    client = producer.client
    if watch is not None:
        # Bounded: without an id by then, the first messages wait for it and say so in reports.
        while not watch.assigned and time.perf_counter() - ready < config.timeout:
            client.poll(0.01)
    summary.ready_seconds = time.perf_counter() - ready
    if rate is not None:
        chunk = max(1, min(chunk, int(rate / 100) or 1))
    chunks = (_chunks_of(iter(payloads), chunk) if payloads is not None
              else _synthetic_chunks(size, chunk))
    start = time.perf_counter()
    try:
        sent, nbytes = _send(client, topic, count, chunks, rate, counter, progress)
        remaining = client.flush(producer.delivery_bound() + 2)
        if remaining:
            client.purge(in_queue=True, in_flight=True, blocking=False)
            client.poll(1)
    finally:
        summary.seconds = time.perf_counter() - start
    if payloads is not None:
        summary.messages = count = sent
        summary.size = round(nbytes / sent) if sent else 0
    _settle(summary, count, sent, len(client), latency)
    return summary


def _load_producer(config: ClientConfig, counter: _LoadCounter, latency: bool
                   ) -> tuple[Producer, _ProducerIdWatch | None]:
    """The producer of a load run, and the watch for its id if there is one to wait for."""
    defaults = {**LOAD_DEFAULTS, "delivery.report.only.error": not latency,
                "on_delivery": counter}
    # A user's own -X debug=… wins; without eos in it there is nothing to watch for.
    debug = str(config.properties.get("debug", "eos"))
    watch = None
    if _idempotent(config) and ("eos" in debug or "all" in debug):
        watch = _ProducerIdWatch()
        defaults.update({"debug": "eos", "logger": watch.logger(config)})
    return Producer(config, on_report=lambda r: None, defaults=defaults), watch


def _synthetic_chunks(size: int, chunk: int) -> Iterator[list[bytes]]:
    """The same ``chunk`` random values, forever (a shorter last chunk is cut by the sender)."""
    synthetic = _payloads(size)
    template = [synthetic[i % len(synthetic)] for i in range(chunk)]
    while True:
        yield template


def _chunks_of(source: Iterator[bytes], chunk: int) -> Iterator[list[bytes]]:
    """``source``'s values in lists of ``chunk``, until it runs out."""
    while values := list(islice(source, chunk)):
        yield values


def _send(client: _RdProducer, topic: str, count: int, chunks: Iterator[list[bytes]],
          rate: float | None, counter: _LoadCounter,
          progress: Callable[[int], None] | None) -> tuple[int, int]:
    """Queue up to ``count`` values chunk by chunk, paced at ``rate`` if given; return how many
    were queued and their bytes (counted for given payloads only: synthetic ones have ``size``)."""
    send = partial(client.produce, topic)
    sent = nbytes = 0
    start = time.perf_counter()
    for chunk in chunks:
        values = chunk[:count - sent] if len(chunk) > count - sent else chunk
        if rate is None:
            _queue(client, send, values, counter)
        else:
            _queue_chunk(client, topic, values, counter)
        sent += len(values)
        nbytes += sum(map(len, values))
        client.poll(0)
        if progress:
            progress(len(values))
        if rate is not None:
            ahead = sent / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
        if sent >= count:
            break
    return sent, nbytes


def _settle(summary: LoadSummary, count: int, sent: int, queued: int, latency: bool) -> None:
    """Count the messages no report was had for: acknowledged when only failures are reported
    (what left the queue without one was acknowledged), else failed."""
    if not latency:
        summary.acknowledged = sent - summary.failed - queued
    unreported = count - summary.acknowledged - summary.failed
    if unreported > 0:
        summary.failed += unreported
        summary.errors["_UNREPORTED"] += unreported


def _queue(client: _RdProducer, send: Callable[[bytes], None], values: list[bytes],
           counter: _LoadCounter) -> None:
    """``send`` every value; when the local queue is full, serve reports and go on from the
    value that did not fit. A value librdkafka refuses outright is counted as failed."""
    rest = iter(values)
    while True:
        try:
            deque(map(send, rest), maxlen=0)
            return
        except BufferError:
            # The refused value was already taken from ``rest``: start again with it.
            rest = iter(values[len(values) - length_hint(rest) - 1:])
            # Short: acks free room in the queue continuously, and each ms idle is lost send time.
            client.poll(0.01)
        except KafkaException as exc:
            counter(exc.args[0], None)


def _queue_chunk(client: _RdProducer, topic: str, values: list[bytes],
                 counter: _LoadCounter) -> None:
    """Hand a paced chunk over in one ``produce_batch`` call: librdkafka enqueues it at once,
    so with ``linger.ms=0`` it leaves in one request instead of one per message (a lower p99
    when paced; the runs are in docs/benchmarks.md)."""
    batch: list[dict[str, Any]] = [{"value": v} for v in values]
    while batch:
        try:
            queued = client.produce_batch(topic, batch)
        except BufferError:
            client.poll(0.01)
            continue
        if queued == len(batch):
            return
        # produce_batch marks each message it could not queue with "_error".
        full = []
        for m in batch:
            err = m.get("_error")
            if err is None:
                continue
            if err.code() == KafkaError._QUEUE_FULL:
                full.append({"value": m["value"]})
            else:
                counter(err, None)
        batch = full
        if batch:
            client.poll(0.01)
