"""kpoc's Python API: the producer, consumer and admin behind the CLI, for services.

    from kpoc import Admin, Consumer, DeliveryReport, Producer, Record

These wrap :mod:`kpoc.producer`, :mod:`kpoc.consumer` and :mod:`kpoc.admin` (the classes the CLI,
the demo and the console use), adding keyword construction, type checks with a fix in every
message, and a :class:`Delivery` per sent message that can be waited on. What they add over raw
confluent-kafka: ``acks=all`` and idempotence by default, ``message.timeout.ms`` bounded by
``timeout``, exactly one :class:`DeliveryReport` per message (also on ``close()`` and Ctrl-C),
offsets stored only after a record was handled (at least once), and :class:`KpocError` with the
Kafka error code (a ``confluent_kafka.KafkaError`` constant) in ``.code`` and the librdkafka
exception as ``__cause__``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError

from . import admin as _admin
from . import consumer as _consumer
from . import producer as _producer
from .config import ClientConfig, load_config
from .envelope import Record
from .errors import ConfigError, DeliveryError, KafkaUnavailable, UsageError
from .producer import DeliveryReport

__all__ = [
    "Admin",
    "Consumer",
    "Delivery",
    "DeliveryReport",
    "GroupEvent",
    "Producer",
    "Record",
    "client_config",
]

GroupEvent = _consumer.GroupEvent

#: A librdkafka property value as Python code may give it.
ConfigValue = str | int | float | bool
Headers = Mapping[str, bytes | None] | Sequence[tuple[str, bytes | None]]

_CONFIG_FIX = ("pass librdkafka property names and str/int/float/bool values, e.g. "
               "config={'linger.ms': 5} (librdkafka's CONFIGURATION.md lists them)")


def client_config(bootstrap_servers: str | None = None,
                  config: Mapping[str, ConfigValue] | None = None,
                  timeout: float | None = None) -> ClientConfig:
    """A :class:`ClientConfig` as the CLI builds one: the arguments, else ``KPOC_BOOTSTRAP_SERVERS``
    / ``KPOC_TIMEOUT`` / ``KPOC_CONFIG_FILE``, else the local cluster, else 127.0.0.1:9092."""
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"config must be a mapping, got {type(config).__name__}", _CONFIG_FIX)
    props: dict[str, str] = {}
    for key, value in (config or {}).items():
        if not isinstance(key, str) or not isinstance(value, bool | int | float | str):
            raise ConfigError(f"invalid config entry {key!r}: {type(value).__name__} value",
                              _CONFIG_FIX)
        props[key] = str(value).lower() if isinstance(value, bool) else str(value)
    bootstrap = bootstrap_servers or props.pop("bootstrap.servers", None)
    base = load_config(bootstrap_servers=bootstrap, timeout=timeout)
    return ClientConfig(base.bootstrap_servers, {**base.properties, **props}, base.timeout)


def _built(factory: Callable[[], Any]) -> Any:
    """Create the librdkafka handle now, so an unknown property fails in the constructor."""
    try:
        return factory()
    except ConfigError as exc:
        raise ConfigError(exc.message, _CONFIG_FIX, code=exc.code) from exc


def _bytes_or_none(what: str, data: object) -> None:
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


def _headers(headers: Headers | None) -> list[tuple[str, bytes | None]] | None:
    if not headers:
        return None
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise UsageError(f"invalid header {item!r}",
                             "give headers as {'name': b'value'} or [('name', b'value'), …]")
        _bytes_or_none(f"header {item[0]!r}", item[1])
    return items


class Delivery(_producer.Pending):
    """The pending :class:`DeliveryReport` of one sent message.

    ``result()`` waits for it (serving the producer's reports meanwhile, bounded by the
    producer's delivery bound) and raises :class:`DeliveryError` unless it was delivered;
    ``report`` is the report once it has arrived, whatever it says.
    """

    __slots__ = ("producer",)
    producer: Producer

    def done(self) -> bool:
        return self.report is not None

    def wait(self, timeout: float | None = None) -> DeliveryReport:
        """The report, delivered or not; :class:`KafkaUnavailable` if none came in time."""
        if self.report is None:
            self.producer._wait(self, timeout)
        assert self.report is not None
        return self.report

    def result(self, timeout: float | None = None) -> DeliveryReport:
        """The report of a delivered message; :class:`DeliveryError` (with ``.code`` and
        ``.report``) for one that failed or was possibly persisted."""
        return _checked(self.wait(timeout))


_new_delivery = object.__new__


def _checked(report: DeliveryReport) -> DeliveryReport:
    """``report`` if delivered, else :class:`DeliveryError` carrying it."""
    if report.ok:
        return report
    code = getattr(KafkaError, report.error_code, None) if report.error_code else None
    exc = DeliveryError(f"message {report.seq} to {report.topic!r} {report.status}: "
                        f"{report.error}", code=code)
    exc.report = report  # type: ignore[attr-defined]
    raise exc


class Producer:
    """Send messages with exactly one :class:`DeliveryReport` each.

    ``config`` takes librdkafka properties (they override kpoc's ``acks=all``, idempotence and
    ``message.timeout.ms`` = ``timeout``); ``on_report`` gets every report, on the thread that
    serves them (``poll``, ``flush``, ``close``, a waiting ``result()``). ``close()`` — also at
    the end of a ``with`` block, after Ctrl-C — waits for every report within the bound and
    reports what is still queued as failed, so nothing is dropped silently.
    """

    def __init__(self, bootstrap_servers: str | None = None, *,
                 config: Mapping[str, ConfigValue] | None = None, timeout: float | None = None,
                 on_report: Callable[[DeliveryReport], None] | None = None) -> None:
        self.config = client_config(bootstrap_servers, config, timeout)
        self.on_report = on_report
        # Every send() hands its report to its own Delivery, none to the producer-wide callback.
        self._inner = _producer.Producer(self.config, on_report=lambda _report: None)
        self._closed = False
        self._topics: set[str] = set()
        _built(lambda: self._inner.client)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
             headers: Headers | None = None, partition: int | None = None,
             timestamp: int | None = None) -> Delivery:
        """Queue one message and return its :class:`Delivery` (nothing waits here unless the
        local queue is full). ``value=None`` is a tombstone."""
        # Built without a Python __init__ call: this runs once per message.
        delivery = _new_delivery(Delivery)
        delivery.producer, delivery.to = self, self.on_report
        self._send(topic, value, key, headers, partition, timestamp, delivery)
        return delivery

    def _send(self, topic: str, value: bytes | None, key: bytes | None, headers: Headers | None,
              partition: int | None, timestamp: int | None,
              pending: _producer.Pending) -> None:
        """Check the message and queue it; its one report goes into ``pending``."""
        if self._closed:
            raise UsageError(f"send() to {topic!r} after close(): this Producer is closed",
                             "create a new Producer, or send before close() / the end of the "
                             "with block")
        if type(value) is not bytes:
            _bytes_or_none("value", value)
        if key is not None and type(key) is not bytes:
            _bytes_or_none("key", key)
        if type(topic) is not str:
            raise UsageError(f"topic must be a str, got {type(topic).__name__}",
                             "e.g. producer.send('teste', b'hello')")
        if topic not in self._topics:
            # Once per topic: an unknown topic fails now, not after librdkafka's 30 s, and the
            # first message does not wait for the producer's metadata.
            self._inner.partitions(topic)
            self._topics.add(topic)
        if partition is not None:
            self._inner.check_partition(topic, partition)
        self._inner.send(topic, value, key, _headers(headers) if headers else None, partition,
                         timestamp, pending)

    def partitions(self, topic: str) -> int:
        """``topic``'s partition count, asked once (bounded) and cached; the topic also goes
        into the producer's metadata, so its first message does not wait for it."""
        return self._inner.partitions(topic)

    def poll(self, timeout: float = 0) -> None:
        """Serve the reports that have arrived (``on_report`` runs here)."""
        self._inner.poll(timeout)

    def _wait(self, delivery: Delivery, timeout: float | None) -> None:
        bound = self._inner.delivery_bound() + 2 if timeout is None else timeout
        deadline = time.monotonic() + bound
        while delivery.report is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KafkaUnavailable(
                    f"no delivery report within {bound:g}s",
                    "wait longer (result(timeout=…)) or check `kpoc cluster status`")
            self._inner.poll(min(0.1, left))

    def flush(self) -> None:
        """Wait (bounded by ``message.timeout.ms`` + 2 s) until every message has its report."""
        self._inner.flush()

    def close(self) -> None:
        """Flush, report whatever is left as failed, release the handle. Idempotent."""
        if not self._closed:
            self._closed = True
            self._inner.close()


class Consumer:
    """A consumer-group member reading :class:`Record` s at least once.

    Iterate it (or call :meth:`records`): a record's offset is stored only when the loop asks
    for the next one, committed in the background, on every rebalance and on ``close()``; so a
    crash re-delivers the record in hand, never skips it. :meth:`stop` (from a signal handler or
    another thread) ends the loop after the current record; ``close()`` commits and leaves the
    group at once instead of after the session timeout.
    """

    def __init__(self, topics: str | Sequence[str], group: str,
                 bootstrap_servers: str | None = None, *,
                 config: Mapping[str, ConfigValue] | None = None, timeout: float | None = None,
                 start: str | None = None,
                 on_event: Callable[[_consumer.GroupEvent], None] | None = None) -> None:
        names = [topics] if isinstance(topics, str) else list(topics)
        if not names or not all(isinstance(t, str) for t in names):
            raise UsageError(f"topics must be a topic name or a list of them, got {topics!r}",
                             "e.g. Consumer('teste', group='app')")
        if not isinstance(group, str) or not group:
            raise UsageError(f"group must be a non-empty str, got {group!r}",
                             "e.g. Consumer('teste', group='app')")
        self.config = client_config(bootstrap_servers, config, timeout)
        self._inner = _consumer.Consumer(
            self.config, names, group,
            start=_consumer.parse_start(start) if start is not None else None,
            on_event=on_event)
        _built(lambda: self._inner.client)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def records(self, count: int | None = None, *, exit_at_end: bool = False
                ) -> Iterator[Record]:
        """Records until :meth:`stop`, ``count`` of them, or (``exit_at_end``) until every
        partition this member holds is read to its end."""
        return self._inner.records(count, exit_at_end)

    def batches(self, max_records: int = 500, *, exit_at_end: bool = False
                ) -> Iterator[list[Record]]:
        """Lists of records as they arrive (the faster loop); a list's offsets are stored when
        the next one is asked for."""
        from_message = Record.from_message
        for msgs in self._inner.batches(None, exit_at_end, max_records):
            yield list(map(from_message, msgs))

    @property
    def assignment(self) -> list[tuple[str, int]]:
        """(topic, partition) pairs this member holds now; empty when idle."""
        return sorted(self._inner.assigned)

    def stop(self) -> None:
        """End the read loop after the current record (safe from a signal handler)."""
        self._inner.stop()

    def close(self) -> None:
        """Commit what was handled and leave the group."""
        self._inner.close()


class Admin(_admin.Admin):
    """Topics, groups and cluster facts (see :class:`kpoc.admin.Admin`), built from keywords."""

    def __init__(self, bootstrap_servers: str | None = None, *,
                 config: Mapping[str, ConfigValue] | None = None,
                 timeout: float | None = None) -> None:
        super().__init__(client_config(bootstrap_servers, config, timeout))
        _built(lambda: self.client)

