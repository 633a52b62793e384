"""Producing with a delivery report for every message, as the seed promised.

Reliable by default (``acks=all``, idempotence on) and bounded: an unreachable cluster fails
within kpoc's timeout, while a message whose partition is only leaderless for a while (brokers
restarting) waits up to :data:`DELIVERY_TIMEOUT_MS` rather than time out and risk being written
twice (see there). Every
message ends in exactly one :class:`DeliveryReport`: delivered, failed, or possibly persisted
(timed out in flight: the broker may have it). Nothing is dropped silently, even on close.
"""

from __future__ import annotations

import logging
import math
import os
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import islice
from operator import length_hint
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _RdProducer

from ._client import base_properties, make_client, partition_count, trap_for
from ._kafka_errors import MAYBE_PERSISTED, MEANINGS
from .config import ClientConfig
from .envelope import check_header_name
from .errors import UsageError

__all__ = [
    "DELIVERY_TIMEOUT_MS",
    "PARTITIONING",
    "RELIABLE_DEFAULTS",
    "DeliveryReport",
    "LoadSummary",
    "Pending",
    "Producer",
    "check_header_name",
    "check_load",
    "parse_header",
    "percentile",
    "producer_defaults",
    "run_load",
]

#: Keyed messages go where Kafka's Java producer puts them (murmur2 of the key; keyless ones are
#: spread at random). librdkafka's own default, consistent_random (CRC32), sends most keys to a
#: different partition, so one key written by a Java and a Python service would lose its order.
PARTITIONING: dict[str, object] = {"partitioner": "murmur2_random"}

#: What kpoc sets unless the user overrides it with -X: the Java client's safe defaults.
RELIABLE_DEFAULTS: dict[str, object] = {"acks": "all", "enable.idempotence": True,
                                        **PARTITIONING}

def parse_header(text: str) -> tuple[str, bytes]:
    """``key=value`` → (key, value bytes); the value may be empty, the key may not.

    Text from a command line may hold bytes that are not UTF-8 as lone surrogates (PEP 383):
    the value gets its original bytes back, the name is checked by :func:`check_header_name`.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"invalid header {text!r}: expected key=value",
                         "e.g. --header trace-id=abc123 (repeatable)")
    return check_header_name(key), os.fsencode(value)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 for none)."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return float(sorted_values[k])


@dataclass(slots=True)
class DeliveryReport:
    """The fate of one message: ``status`` is delivered, failed or possibly_persisted.

    Slotted, not frozen: one is built per message sent, and a frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field) cost more than librdkafka's produce() call."""

    seq: int
    topic: str
    status: str
    partition: int | None = None
    offset: int | None = None
    latency_ms: float | None = None
    key: bytes | None = None
    error: str | None = None
    error_code: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "delivered"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = None if self.key is None else self.key.decode("utf-8", "backslashreplace")
        return d


#: How long a message may wait for its partition's leader and in-sync replicas once a broker
#: has answered (librdkafka's own default). Not kpoc's --timeout: a message that times out in
#: flight makes librdkafka bump the idempotent producer's epoch, and batches it then re-sends under
#: the new epoch are not deduplicated by the broker (librdkafka issue 4953). With a 10 s timeout,
#: chaos scenario 9 (two brokers down for 20 s while producing) reported 2,437-5,580 of 6,000
#: messages failed and stored 1,881-3,541 of them twice; with this bound, none failed and none
#: was stored twice (README, Reliability). A cluster that never answered still fails within
#: --timeout: the topic check before the first message, and close() without any broker reached.
DELIVERY_TIMEOUT_MS = 300_000


def producer_defaults(config: ClientConfig) -> dict[str, object]:
    """The librdkafka settings kpoc's producer starts from (the user's -X override them)."""
    return {**RELIABLE_DEFAULTS, "message.timeout.ms": DELIVERY_TIMEOUT_MS}


def _describe(err: KafkaError) -> tuple[str, str]:
    """A failed delivery's text (with the fix, if the table of meanings has one) and code name."""
    name = err.name()
    row = MEANINGS["produce"].get(err.code())
    facts = {"name": name, "why": err.str()}
    return (str(row.make(err.code(), facts)) if row else "{name}: {why}".format_map(facts)), name


class Pending:
    """One queued message, and librdkafka's delivery callback for it: builds its
    :class:`DeliveryReport`, keeps it in ``report`` and hands it to ``to``.

    One object per message instead of a closure: it is created without a Python ``__init__``
    call (``object.__new__``), which matters at a few hundred thousand messages per second."""

    __slots__ = ("key", "report", "seq", "start", "to", "topic")
    seq: int
    topic: str
    key: bytes | None
    start: float
    report: DeliveryReport | None
    to: Callable[[DeliveryReport], None] | None

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        latency = round((time.perf_counter() - self.start) * 1000, 3)
        if err is None:
            self.deliver(DeliveryReport(self.seq, self.topic, "delivered", msg.partition(),
                                        msg.offset(), latency, self.key))
            return
        text, name = _describe(err)
        status = "possibly_persisted" if err.code() in MAYBE_PERSISTED else "failed"
        self.deliver(DeliveryReport(self.seq, self.topic, status, msg.partition(), None,
                                    latency, self.key, text, name))

    def deliver(self, report: DeliveryReport) -> None:
        self.report = report
        if self.to is not None:
            self.to(report)


_new_pending = object.__new__


class Producer:
    """A librdkafka producer that turns every delivery into a :class:`DeliveryReport`.

    ``on_report`` runs inside :meth:`poll`/:meth:`flush`/:meth:`close`, on the caller's thread.
    """

    def __init__(self, config: ClientConfig, on_report: Callable[[DeliveryReport], None],
                 defaults: dict[str, object] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        self.config = config
        self._on_report = on_report
        self._on_notice = on_notice or (lambda _msg: None)
        self._defaults = {**producer_defaults(config), **(defaults or {})}
        self._client: _RdProducer | None = None
        self._seq = 0
        self._fatal: KafkaError | None = None
        self._partitions: dict[str, int] = {}
        #: A broker has answered this producer (a topic check or a metadata request).
        self.reached = False

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> _RdProducer:
        if self._client is None:
            props = base_properties(self.config, self._defaults)
            props["error_cb"] = self._error_cb
            self._client = make_client(_RdProducer, props)
        return self._client

    def _error_cb(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err

    def partitions(self, topic: str) -> int:
        """The topic's partition count, checked once: unknown topics fail now, not in 30 s."""
        if topic not in self._partitions:
            self._partitions[topic] = partition_count(self.config, topic, "write", self.client)
            self.reached = True
        return self._partitions[topic]

    def check_partition(self, topic: str, partition: int | None) -> None:
        if partition is None:
            return
        count = self.partitions(topic)
        if not 0 <= partition < count:
            raise UsageError(f"partition {partition} out of range: {topic!r} has {count} "
                             "partitions", f"use --partition between 0 and {count - 1}")

    def send(self, topic: str, value: bytes | None, key: bytes | None = None,
             headers: list[tuple[str, bytes | None]] | None = None, partition: int | None = None,
             timestamp: int | None = None, pending: Pending | None = None) -> int:
        """Queue one message; its report arrives later, to the producer's ``on_report`` — or,
        with ``pending``, into that :class:`Pending` (which forwards it to its ``to``).
        Returns its sequence number."""
        checked = [(check_header_name(n), v) for n, v in headers] if headers else None
        if self._fatal is not None:
            self._recover_if_fatal()
        seq = self._seq
        self._seq = seq + 1
        if pending is None:
            pending = _new_pending(Pending)
            pending.to = self._on_report
        pending.seq, pending.topic, pending.key = seq, topic, key
        pending.start, pending.report = time.perf_counter(), None
        # Positional (topic, value, key, partition, callback): keyword parsing costs per call;
        # partition -1 is librdkafka's "let the partitioner choose".
        args = (topic, value, key, -1 if partition is None else partition, pending)
        kwargs: dict[str, Any] = {}
        if checked:
            kwargs["headers"] = checked
        if timestamp is not None:
            kwargs["timestamp"] = timestamp
        client = self._client or self.client
        while True:
            try:
                if kwargs:
                    client.produce(*args, **kwargs)
                else:
                    client.produce(*args)
                break
            except BufferError:
                client.poll(0.05)  # local queue full: serve reports to make room
            except KafkaException as exc:
                text, name = _describe(exc.args[0])
                pending.deliver(DeliveryReport(seq, topic, "failed", partition, None, None, key,
                                               text, name))
                break
        client.poll(0)
        return seq

    def _recover_if_fatal(self) -> None:
        """After a fatal (idempotence) error the handle is dead: report its queue, start anew."""
        if self._fatal is None or self._client is None:
            return
        err, self._fatal = self._fatal, None
        self._drain(0.5)
        self._client = None
        self._on_notice(f"producer hit a fatal error ({err.name()}: {err.str()}); every message "
                        "in flight was reported failed and a new producer was created")

    def poll(self, timeout: float = 0) -> None:
        if self._client is not None:
            self._client.poll(timeout)
            self._recover_if_fatal()

    def _drain(self, timeout: float) -> int:
        client = self._client
        if client is None:
            return 0
        remaining = client.flush(timeout)
        if remaining:
            # Whatever is still queued gets a report too: purge → _PURGE_* delivery errors.
            client.purge(in_queue=True, in_flight=True, blocking=False)
            client.poll(0.5)
            remaining = client.flush(1)
        return int(remaining)

    def delivery_bound(self) -> float:
        """Seconds after which librdkafka gives up on a message (message.timeout.ms)."""
        ms = self.config.properties.get("message.timeout.ms",
                                        self._defaults["message.timeout.ms"])
        return float(str(ms)) / 1000

    def flush(self) -> None:
        """Wait for every report, bounded by message.timeout.ms plus a margin — or by --timeout
        when no broker answers (then waiting longer would not help)."""
        client = self._client
        if client is None:
            return
        first = self.config.timeout
        if not client.flush(first):
            return
        if not (self.reached or self._answers(client)):
            self._drain(0)  # every message left gets its report now
            return
        rest = self.delivery_bound() + 2 - first
        if rest > 0:
            self._on_notice(f"{len(client)} message(s) still wait for their partition's leader "
                            f"and in-sync replicas; waiting up to {rest:.0f}s more "
                            "(message.timeout.ms; Ctrl-C reports them failed now)")
        self._drain(max(0.0, rest))

    def _answers(self, client: _RdProducer) -> bool:
        """Whether a broker answers a metadata request now (a producer whose topic was never
        checked has no other sign that one ever did)."""
        try:
            client.list_topics(timeout=min(2.0, self.config.timeout))
        except KafkaException:
            return False
        self.reached = True
        return True

    def close(self) -> None:
        try:
            self.flush()
        except KeyboardInterrupt:
            self._drain(0)  # every message still queued or in flight gets its report
            raise
        finally:
            self._client = None


# -- load mode -------------------------------------------------------------------------------

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
    watch = _ProducerIdWatch()
    idempotent = _idempotent(config)
    defaults = {**LOAD_DEFAULTS, "delivery.report.only.error": not latency,
                "on_delivery": counter}
    # A user's own -X debug=… wins; without eos in it there is nothing to watch for.
    debug = str(config.properties.get("debug", "eos"))
    watching = idempotent and ("eos" in debug or "all" in debug)
    if watching:
        defaults.update({"debug": "eos", "logger": watch.logger(config)})
    producer = Producer(config, on_report=lambda r: None, defaults=defaults)
    ready = time.perf_counter()
    producer.partitions(topic)
    client = producer.client
    if watching:
        # Bounded: without an id by then, the first messages wait for it and say so in reports.
        while not watch.assigned and time.perf_counter() - ready < config.timeout:
            client.poll(0.01)
    summary.ready_seconds = time.perf_counter() - ready
    if rate is not None:
        chunk = max(1, min(chunk, int(rate / 100) or 1))
    source = iter(payloads) if payloads is not None else None
    template: list[bytes] = []
    if source is None:
        synthetic = _payloads(size)
        template = [synthetic[i % len(synthetic)] for i in range(chunk)]
    send = partial(client.produce, topic)
    sent = nbytes = 0
    start = time.perf_counter()
    try:
        while sent < count:
            n = min(chunk, count - sent)
            if source is not None:
                values = list(islice(source, n))
                if not values:
                    break
                nbytes += sum(map(len, values))
            else:
                values = template[:n] if n < chunk else template
            if rate is None:
                _queue(client, send, values, counter)
            else:
                _queue_chunk(client, topic, values, counter)
            sent += len(values)
            client.poll(0)
            if progress:
                progress(len(values))
            if rate is not None:
                ahead = sent / rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)
        remaining = client.flush(producer.delivery_bound() + 2)
        if remaining:
            client.purge(in_queue=True, in_flight=True, blocking=False)
            client.poll(1)
    finally:
        summary.seconds = time.perf_counter() - start
    if source is not None:
        summary.messages = count = sent
        summary.size = round(nbytes / sent) if sent else 0
    if not latency:
        # Only failures were reported: what left the queue without one was acknowledged.
        summary.acknowledged = sent - summary.failed - len(client)
    unreported = count - summary.acknowledged - summary.failed
    if unreported > 0:
        summary.failed += unreported
        summary.errors["_UNREPORTED"] += unreported
    return summary


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
