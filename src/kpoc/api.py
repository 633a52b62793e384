"""kpoc's Python API: the producer, consumer and admin behind the CLI, for services.

    from kpoc import Admin, Consumer, DeliveryReport, Producer, Record

These are :mod:`kpoc.producer`'s, :mod:`kpoc.consumer`'s and :mod:`kpoc.admin`'s classes (the
ones the CLI, the demo and the console use) built from keywords; the producer checks every
message's types (a fix in every error) and returns a :class:`Delivery` per sent message that can
be waited on. What they add over raw
confluent-kafka: ``acks=all`` and idempotence by default, ``message.timeout.ms`` bounded by
``timeout``, exactly one :class:`DeliveryReport` per message (also on ``close()`` and Ctrl-C),
offsets stored only after a record was handled (at least once), and :class:`KpocError` with the
Kafka error code (a ``confluent_kafka.KafkaError`` constant) in ``.code`` and the librdkafka
exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from . import admin as _admin
from . import consumer as _consumer
from . import producer as _producer
from .config import ClientConfig, load_config
from .envelope import Record
from .errors import ConfigError, UsageError
from .producer import Delivery, DeliveryReport

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

_CONFIG_FIX = ("pass librdkafka property names and str/int/float/bool values, e.g. "
               "config={'linger.ms': 5} (librdkafka's CONFIGURATION.md lists them)")


def client_config(bootstrap_servers: str | None = None,
                  config: Mapping[str, ConfigValue] | None = None,
                  timeout: float | None = None) -> ClientConfig:
    """A :class:`ClientConfig` as the CLI builds one: the arguments, else ``KPOC_BOOTSTRAP_SERVERS``
    / ``KPOC_TIMEOUT`` / ``KPOC_CONFIG_FILE``, else the local cluster, else 127.0.0.1:9092."""
    if bootstrap_servers is not None and not isinstance(bootstrap_servers, str):
        raise ConfigError(f"bootstrap_servers must be a str, got "
                          f"{type(bootstrap_servers).__name__}",
                          "e.g. Producer('127.0.0.1:9092'), librdkafka properties as config={…}")
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


class Producer(_producer.Producer):
    """Send messages with exactly one :class:`DeliveryReport` each.

    ``config`` takes librdkafka properties (they override kpoc's ``acks=all``, idempotence and
    ``message.timeout.ms`` = ``timeout``); ``on_report`` gets every report, on the thread that
    serves them (``poll``, ``flush``, ``close``, a waiting ``result()``). ``send()`` returns the
    message's :class:`Delivery`. ``close()`` — also at the end of a ``with`` block, after
    Ctrl-C — waits for every report within the bound and reports what is still queued as
    failed, so nothing is dropped silently. The producer the CLI uses (:class:`kpoc.producer.
    Producer`), built from keywords: its ``send()`` is this class's, one fast path for both.
    """

    def __init__(self, bootstrap_servers: str | None = None, *,
                 config: Mapping[str, ConfigValue] | None = None, timeout: float | None = None,
                 on_report: Callable[[DeliveryReport], None] | None = None) -> None:
        super().__init__(client_config(bootstrap_servers, config, timeout), on_report)
        _built(lambda: self.client)

    def __enter__(self) -> Producer:
        return self


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

