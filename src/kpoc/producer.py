"""Producing with a delivery report for every message, as the seed promised.

Reliable by default (``acks=all``, idempotence on) and bounded: an unreachable cluster fails
within kpoc's timeout, while a message whose partition is only leaderless for a while (brokers
restarting) waits up to :data:`DELIVERY_TIMEOUT_MS` rather than time out and risk being written
twice (see there). Every message ends in exactly one :class:`DeliveryReport`: delivered,
failed, or possibly persisted (timed out in flight: the broker may have it). Nothing is dropped
silently, even on close.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _RdProducer

from ._client import base_properties, make_client, partition_count
from ._kafka_errors import MAYBE_PERSISTED, MEANINGS
from ._rawproduce import RawDelivery, RawProducer
from .config import ClientConfig
from .envelope import UnusualHeaderName, check_header_name, header_name_bytes
from .errors import DeliveryError, KafkaUnavailable, UsageError

__all__ = [
    "DELIVERY_TIMEOUT_MS",
    "PARTITIONING",
    "POLL_INTERVAL",
    "RELIABLE_DEFAULTS",
    "Delivery",
    "DeliveryReport",
    "Headers",
    "Producer",
    "bytes_or_none",
    "check_header_name",
    "checked",
    "checked_headers",
    "delivery_error",
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


def parse_header(text: str) -> tuple[str, bytes | None]:
    """``key=value`` → (key, value bytes); the value may be empty, the key may not. A bare
    ``key`` is a header with a null value (as kcat's ``-H`` reads it, and as ``kpoc consume``
    shows one).

    Text from a command line may hold bytes that are not UTF-8 as lone surrogates (PEP 383):
    the value gets its original bytes back, the name keeps them (it is sent as those bytes).
    """
    key, sep, value = text.partition("=")
    if not key:
        raise UsageError(f"invalid header {text!r}: the name is empty",
                         "e.g. --header trace-id=abc123 (repeatable; a bare name sends a null "
                         "value)")
    header_name_bytes(key)
    return key, os.fsencode(value) if sep else None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 for none)."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return float(sorted_values[k])


class DeliveryReport:
    """The fate of one message: ``status`` is delivered, failed or possibly_persisted.

    Not a dataclass: every message sent gets one, and :class:`Delivery` (a report filled in by
    librdkafka's delivery callback) is created without a Python ``__init__`` call; see
    :meth:`Producer.send`."""

    __slots__ = ("error", "error_code", "key", "latency_ms", "offset", "partition", "seq",
                 "status", "topic")
    _FIELDS = ("seq", "topic", "status", "partition", "offset", "latency_ms", "key", "error",
               "error_code")
    seq: int
    topic: str
    status: str
    partition: int | None
    offset: int | None
    latency_ms: float | None
    key: bytes | None
    error: str | None
    error_code: str | None

    def __init__(self, seq: int, topic: str, status: str, partition: int | None = None,
                 offset: int | None = None, latency_ms: float | None = None,
                 key: bytes | None = None, error: str | None = None,
                 error_code: str | None = None) -> None:
        self.seq, self.topic, self.status, self.partition = seq, topic, status, partition
        self.offset, self.latency_ms, self.key = offset, latency_ms, key
        self.error, self.error_code = error, error_code

    @property
    def ok(self) -> bool:
        return self.status == "delivered"

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeliveryReport):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={v!r}" for n, v in zip(self._FIELDS, self._values(), strict=True))
        return f"{type(self).__name__}({fields})"

    def to_dict(self) -> dict[str, Any]:
        d = dict(zip(self._FIELDS, self._values(), strict=True))
        d["key"] = None if self.key is None else self.key.decode("utf-8", "backslashreplace")
        if self.latency_ms is not None:
            d["latency_ms"] = round(self.latency_ms, 3)
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


def delivery_error(report: DeliveryReport) -> DeliveryError:
    """The :class:`DeliveryError` for a report that is not delivered (``.code``, ``.report``)."""
    code = getattr(KafkaError, report.error_code, None) if report.error_code else None
    exc = DeliveryError(f"message {report.seq} to {report.topic!r} {report.status}: "
                        f"{report.error}", code=code)
    exc.report = report  # type: ignore[attr-defined]
    return exc


def checked(report: DeliveryReport) -> DeliveryReport:
    """``report`` if delivered, else :class:`DeliveryError` carrying it."""
    if report.status == "delivered":
        return report
    raise delivery_error(report)


class Delivery(DeliveryReport):
    """One sent message, and in the end its :class:`DeliveryReport`: ``status`` is ``pending``
    until librdkafka's delivery callback (this object) fills the report in.

    ``result()`` waits for it (serving the producer's reports meanwhile, bounded by the
    producer's delivery bound) and raises :class:`DeliveryError` unless it was delivered;
    ``report`` is the report once it has arrived, whatever it says.

    The report is this object itself, filled in place: one object per message, created without
    a Python ``__init__`` call (see :meth:`Producer.send`). This runs a few hundred thousand
    times a second, so the callback only keeps librdkafka's message and sets ``status`` and
    ``ok``; ``partition``, ``offset`` and ``latency_ms`` are read from that message the first
    time one of them is asked for (:meth:`__getattr__`), most reports are never read."""

    # ``ok`` is a slot here (the base class's property would be a call per read); like every
    # field, it is filled in by the callback or, while pending, answered by __getattr__.
    __slots__ = ("_msg", "ok", "producer")
    ok: bool
    producer: Producer
    _msg: Any
    #: Read the message in the callback and let it go (kpoc.aio: its deliveries wait by the
    #: 100k for gather(), and each object kept alive per message costs garbage collection).
    read_at_once = False

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        self._msg = msg
        if err is None:
            self.status = "delivered"
            self.ok = True
        else:
            self.ok = False
            self.error, self.error_code = _describe(err)
            self.status = "possibly_persisted" if err.code() in MAYBE_PERSISTED else "failed"
        if self.read_at_once:
            self._read_message()
            self._msg = None
        on_report = self.producer.on_report
        if on_report is not None:
            on_report(self)

    def __getattr__(self, name: str) -> Any:
        """A field the callback left to be read from librdkafka's message (Python calls this
        only for a slot never set); a pending message has none of them yet."""
        if name not in _FROM_MESSAGE:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if self.status == "pending":
            return False if name == "ok" else None
        self._read_message()
        return getattr(self, name)

    def _read_message(self) -> None:
        """Fill in the fields from librdkafka's message (again, should another thread be doing
        the same: the same values)."""
        msg = self._msg
        # librdkafka's own time from produce() to this report (taken as it built ``msg``).
        latency = msg.latency()
        self.latency_ms = None if latency is None else latency * 1000
        self.partition = msg.partition()
        delivered = self.status == "delivered"
        self.offset = msg.offset() if delivered else None
        if delivered:
            self.error = self.error_code = None

    @property
    def report(self) -> DeliveryReport | None:
        """This message's report once it has arrived, else None."""
        return None if self.status == "pending" else self

    def done(self) -> bool:
        return self.status != "pending"

    def wait(self, timeout: float | None = None) -> DeliveryReport:
        """The report, delivered or not; :class:`KafkaUnavailable` if none came in time."""
        if self.status == "pending":
            self.producer._wait(self, timeout)
        return self

    def result(self, timeout: float | None = None) -> DeliveryReport:
        """The report of a delivered message; :class:`DeliveryError` (with ``.code`` and
        ``.report``) for one that failed or was possibly persisted."""
        return checked(self.wait(timeout))


#: The fields of a :class:`Delivery` read from librdkafka's message when first asked for.
_FROM_MESSAGE = frozenset({"partition", "offset", "latency_ms", "error", "error_code", "ok"})

_new_delivery = object.__new__
_monotonic = time.monotonic

#: How often (seconds) :meth:`Producer.send` serves the reports that have arrived.
POLL_INTERVAL = 0.001


class _Waited(RawDelivery):
    """The message :meth:`Delivery.__call__` is given for a send kpoc saw the end of itself: a
    record sent through kpoc._rawproduce (its latency is the wait) or one librdkafka refused
    at once (no latency, no offset)."""

    __slots__ = ("_latency",)

    def __init__(self, partition: int | None, offset: int | None,
                 seconds: float | None) -> None:
        super().__init__(partition, offset)
        self._latency = seconds

    def latency(self) -> float | None:
        return self._latency


def bytes_or_none(what: str, data: object) -> None:
    """A :class:`UsageError` naming the fix unless ``data`` is bytes-like or None."""
    if data is None or isinstance(data, bytes | bytearray | memoryview):
        return
    kind = type(data).__name__
    if isinstance(data, str):
        fix = f"encode it: {what}={what}.encode('utf-8')"
    elif isinstance(data, dict | list | int | float):
        fix = f"serialise it first, e.g. {what}=json.dumps(obj).encode()"
    else:
        fix = f"pass bytes (or None) as {what}"
    raise UsageError(f"{what} must be bytes or None, got {kind}", fix)


Headers = Mapping[str, bytes | None] | Sequence[tuple[str, bytes | None]]


def checked_headers(headers: Headers) -> list[tuple[str, bytes | None]]:
    """``headers`` (a mapping or (name, value) pairs) as librdkafka takes them, every name and
    value checked."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise UsageError(f"invalid header {item!r}",
                             "give headers as {'name': b'value'} or [('name', b'value'), …]")
        bytes_or_none(f"header {item[0]!r}", item[1])
    return [(check_header_name(n), v) for n, v in items]


class Producer:
    """A librdkafka producer that turns every delivery into a :class:`DeliveryReport`.

    ``on_report`` (if any) runs inside :meth:`poll`/:meth:`flush`/:meth:`close`, on the caller's
    thread; :meth:`send` also returns each message's :class:`Delivery`.
    """

    #: What :meth:`send` returns (kpoc.aio's producer sends futures).
    delivery_class: type[Delivery] = Delivery

    def __init__(self, config: ClientConfig,
                 on_report: Callable[[DeliveryReport], None] | None = None,
                 defaults: dict[str, object] | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.on_report = on_report
        self._closed = False
        self._on_notice = on_notice or (lambda _msg: None)
        self._defaults = {**producer_defaults(config), **(defaults or {})}
        self._client: _RdProducer | None = None
        self._raw: RawProducer | None = None  # for header names confluent-kafka cannot send
        self._seq = 0
        self._next_poll = 0.0
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
            if self._closed:
                raise UsageError("send() or partitions() after close(): this Producer is closed",
                                 "create a new Producer, or send before close() / the end of "
                                 "the with block")
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
                             "partitions", f"use a partition between 0 and {count - 1}")

    def send(self, topic: str, value: bytes | None, key: bytes | None = None,
             headers: Headers | None = None, partition: int | None = None,
             timestamp: int | None = None) -> Delivery:
        """Queue one message and return its :class:`Delivery` (nothing waits here unless the
        local queue is full); its report also goes to ``on_report``. ``value=None`` is a
        tombstone. The topic is checked at its first message (an unknown topic fails now, not
        after librdkafka's 30 s).

        kpoc's one produce path (library, CLI, console, demo), written as a single Python frame
        that calls librdkafka's produce() positionally: the rare cases (bad types, a topic's
        first message, headers, a partition, a timestamp, a full queue) branch off it."""
        client = self._client
        if client is None or self._fatal is not None:
            self._recover_if_fatal()
            client = self.client  # UsageError once closed
        if type(value) is not bytes:
            bytes_or_none("value", value)
        if key is not None and type(key) is not bytes:
            bytes_or_none("key", key)
        if type(topic) is not str:
            raise UsageError(f"topic must be a str, got {type(topic).__name__}",
                             "e.g. producer.send('teste', b'hello')")
        if topic not in self._partitions:
            self.partitions(topic)
        d = _new_delivery(self.delivery_class)
        d.seq = seq = self._seq
        self._seq = seq + 1
        d.topic = topic  # one store a line: no tuple built and unpacked per message
        d.key = key
        d.producer = self
        d.status = "pending"
        if headers or partition is not None or timestamp is not None:
            self._send_with(client, d, value, headers, partition, timestamp)
        else:
            try:
                # Positional (topic, value, key, partition, callback): keyword parsing costs per
                # call; partition -1 is librdkafka's "let the partitioner choose".
                client.produce(topic, value, key, -1, d)
            except (BufferError, KafkaException):
                self._produce_retrying(client, d, (topic, value, key, -1, d), {})
        now = _monotonic()
        if now >= self._next_poll:
            # Serve the reports that have arrived, at most every POLL_INTERVAL: a poll(0) costs
            # more than a produce() (it releases and retakes the GIL), a send after a pause
            # still serves them at once, and flush()/close() serve the rest.
            self._next_poll = now + POLL_INTERVAL
            client.poll(0)
        return d

    def _send_with(self, client: _RdProducer, d: Delivery, value: bytes | None,
                   headers: Headers | None, partition: int | None,
                   timestamp: int | None) -> None:
        """:meth:`send` with headers, a partition or a timestamp."""
        if partition is not None:
            self.check_partition(d.topic, partition)
            d.partition = partition
        kwargs: dict[str, Any] = {}
        if headers:
            try:
                kwargs["headers"] = checked_headers(headers)
            except UnusualHeaderName:
                self._send_raw(d, value, headers, partition, timestamp)
                return
        if timestamp is not None:
            kwargs["timestamp"] = timestamp
        args = (d.topic, value, d.key, -1 if partition is None else partition, d)
        self._produce_retrying(client, d, args, kwargs)

    @staticmethod
    def _produce_retrying(client: _RdProducer, d: Delivery, args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> None:
        """produce(), serving reports while the local queue is full; a message librdkafka
        refuses (e.g. too large) gets its failed report at once."""
        while True:
            try:
                client.produce(*args, **kwargs)
                return
            except BufferError:
                client.poll(0.05)  # local queue full: serve reports to make room
            except KafkaException as exc:
                partition = args[3]  # -1: the partitioner's choice, none made
                d(exc.args[0], _Waited(None if partition == -1 else partition, None, None))
                return

    def _send_raw(self, d: Delivery, value: bytes | None, headers: Headers,
                  partition: int | None, timestamp: int | None) -> None:
        """A record with a header name confluent-kafka cannot send, through librdkafka's C API
        (kpoc._rawproduce), in order: after every message queued before it, acknowledged
        before any queued after it."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        named = [(header_name_bytes(n), v) for n, v in items]
        self.flush()
        if self._raw is None:
            self._raw = RawProducer(base_properties(self.config, self._defaults))
        bound = self.delivery_bound() + 2 if self.reached else self.config.timeout
        start = time.monotonic()
        err, where = self._raw.send(d.topic, value, d.key, named, partition, timestamp, bound)
        d(err, _Waited(where.partition(), where.offset(), time.monotonic() - start))

    def _recover_if_fatal(self) -> None:
        """After a fatal (idempotence) error the handle is dead: report its queue, start anew."""
        if self._fatal is None or self._client is None:
            return
        err, self._fatal = self._fatal, None
        self._drain(0.5)
        self._client = None
        self._on_notice(f"producer hit a fatal error ({err.name()}: {err.str()}); every message "
                        "in flight was reported failed and a new producer was created")

    def in_flight(self) -> int:
        """Messages sent whose report has not been served yet (librdkafka's queue length)."""
        client = self._client
        return 0 if client is None else len(client)

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

    def _wait(self, delivery: Delivery, timeout: float | None) -> None:
        """Serve reports until ``delivery`` has its own (bounded)."""
        bound = self.delivery_bound() + 2 if timeout is None else timeout
        deadline = time.monotonic() + bound
        while delivery.status == "pending":
            left = deadline - time.monotonic()
            if left <= 0:
                raise KafkaUnavailable(
                    f"no delivery report within {bound:g}s",
                    "wait longer (result(timeout=…)) or check `kpoc cluster status`")
            self.poll(min(0.1, left))

    def close(self) -> None:
        """Flush, report whatever is left as failed, release the handle. Idempotent; nothing
        can be sent afterwards."""
        if self._closed:
            return
        self._closed = True
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
