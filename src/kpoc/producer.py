"""Producing with a delivery report for every message, as the seed promised.

Reliable by default (``acks=all``, idempotence on) and bounded: an unreachable cluster fails
within kpoc's timeout, while a message whose partition is only leaderless for a while (brokers
restarting) waits up to :data:`DELIVERY_TIMEOUT_MS` rather than time out and risk being written
twice (see there). Every
message ends in exactly one :class:`DeliveryReport`: delivered, failed, or possibly persisted
(timed out in flight: the broker may have it). Nothing is dropped silently, even on close.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _RdProducer

from ._client import base_properties, make_client, partition_count
from ._kafka_errors import MAYBE_PERSISTED, MEANINGS
from ._rawproduce import RawProducer
from .config import ClientConfig
from .envelope import UnusualHeaderName, check_header_name, header_name_bytes
from .errors import UsageError

__all__ = [
    "DELIVERY_TIMEOUT_MS",
    "PARTITIONING",
    "RELIABLE_DEFAULTS",
    "DeliveryReport",
    "Pending",
    "Producer",
    "check_header_name",
    "parse_header",
    "percentile",
    "producer_defaults",
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
    the value gets its original bytes back, the name keeps them (it is sent as those bytes).
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"invalid header {text!r}: expected key=value",
                         "e.g. --header trace-id=abc123 (repeatable)")
    header_name_bytes(key)
    return key, os.fsencode(value)


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
        self._raw: RawProducer | None = None  # for header names confluent-kafka cannot send
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
        unusual = False
        try:
            checked = [(check_header_name(n), v) for n, v in headers] if headers else None
        except UnusualHeaderName:
            checked, unusual = None, True
        if self._fatal is not None:
            self._recover_if_fatal()
        seq = self._seq
        self._seq = seq + 1
        if pending is None:
            pending = _new_pending(Pending)
            pending.to = self._on_report
        pending.seq, pending.topic, pending.key = seq, topic, key
        pending.start, pending.report = time.perf_counter(), None
        if unusual:
            self._send_raw(topic, value, key, headers or [], partition, timestamp, pending)
            return seq
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

    def _send_raw(self, topic: str, value: bytes | None, key: bytes | None,
                  headers: list[tuple[str, bytes | None]], partition: int | None,
                  timestamp: int | None, pending: Pending) -> None:
        """A record with a header name confluent-kafka cannot send, through librdkafka's C API
        (kpoc._rawproduce), in order: after every message queued before it, acknowledged
        before any queued after it."""
        named = [(header_name_bytes(n), v) for n, v in headers]
        self.flush()
        if self._raw is None:
            self._raw = RawProducer(base_properties(self.config, self._defaults))
        bound = self.delivery_bound() + 2 if self.reached else self.config.timeout
        pending(*self._raw.send(topic, value, key, named, partition, timestamp, bound))

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
            if self._raw is not None:
                self._raw.close()
                self._raw = None
