"""Consuming in a group, at least once, with the group's life made visible.

Offsets are stored only after the caller has handled a record (the generator resumes after the
``yield``), committed in the background, on every revoke and on close, so a crash re-delivers at
most what was in flight and never skips. Group changes (assigned, revoked, idle) are reported as
they happen through ``on_event``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka import Consumer as _RdConsumer

from ._client import (
    base_properties,
    make_client,
    partition_count,
    translate,
)
from ._kafka_errors import MEANINGS
from ._rawheaders import reread_headers
from .config import ClientConfig
from .envelope import Record
from .errors import KpocError, UsageError

__all__ = ["DEFAULT_GROUP", "GROUP_PROTOCOLS", "Consumer", "GroupEvent", "StartPosition",
           "parse_start", "protocol_properties"]

DEFAULT_GROUP = "kpoc"

#: At-least-once: librdkafka commits in the background only what kpoc stored after handling.
CONSUMER_DEFAULTS: dict[str, object] = {
    "enable.auto.commit": True,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "partition.assignment.strategy": "cooperative-sticky",
    "enable.partition.eof": True,
    # librdkafka pauses fetching for this long once its local queue holds queued.min.messages
    # (100k); at the default 1000 ms a reader faster than 100k msgs/s idles most of each second
    # (the runs: docs/benchmarks.md, "What changed to get here").
    "fetch.queue.backoff.ms": 10,
    # Classic protocol: a member is removed this long after its last heartbeat. After an outage
    # longer than that, the live members rejoin as new ones and the new coordinator waits the
    # same time for the members it reloaded from before the crash: the group read nothing for
    # ~45 s at librdkafka's default, ~10 s here (chaos 9, README "Reliability"). Heartbeats come
    # from librdkafka's own thread, so slow processing does not count (max.poll.interval.ms
    # does); a host frozen > 10 s costs one rebalance. KIP-848 ignores it (the broker's
    # group.consumer.session.timeout.ms applies).
    "session.timeout.ms": 10_000,
}


#: classic: the client-side rebalance protocol (JoinGroup/SyncGroup, the leader assigns);
#: consumer: KIP-848, the broker assigns and members move one partition at a time.
GROUP_PROTOCOLS = ("classic", "consumer")

#: Settings the KIP-848 protocol moved to the broker (group.consumer.* there); librdkafka refuses
#: them with group.protocol=consumer.
CLASSIC_ONLY = ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy",
                "group.protocol.type")


def protocol_properties(protocol: str | None, config: ClientConfig,
                        defaults: dict[str, object]) -> dict[str, object]:
    """``defaults`` made valid for ``protocol`` (None: ``-X group.protocol``, else classic): a
    setting the user gave that the protocol does not accept is a one-line error; kpoc's own
    classic-only defaults are dropped."""
    given = config.properties.get("group.protocol")
    protocol = protocol or (str(given).lower() if given else "classic")
    if protocol not in GROUP_PROTOCOLS:
        raise UsageError(f"unknown group protocol {protocol!r}",
                         "use --group-protocol classic or consumer")
    chosen = str(config.properties.get("group.protocol", protocol)).lower()
    if chosen != protocol:
        raise UsageError(f"--group-protocol {protocol} conflicts with -X group.protocol="
                         f"{chosen}", "give the protocol once, with --group-protocol")
    if protocol == "classic":
        return {**defaults, "group.protocol": "classic"}
    clash = [k for k in CLASSIC_ONLY if k in config.properties]
    if clash:
        raise UsageError(
            f"-X {clash[0]} is a classic-protocol setting; --group-protocol consumer (KIP-848) "
            "moves it to the broker", f"drop -X {clash[0]} (the broker's "
            "group.consumer.* settings apply) or use --group-protocol classic")
    kept = {k: v for k, v in defaults.items() if k not in CLASSIC_ONLY}
    return {**kept, "group.protocol": "consumer"}


def default_client_id() -> str:
    """``kpoc-<host>-<pid>``, so a group's members are told apart (librdkafka names every
    client ``rdkafka``); a container's host name is its id. ``-X client.id=…`` overrides it."""
    return f"kpoc-{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class StartPosition:
    """Where to start reading: ``kind`` is beginning, end, offset, last or timestamp."""

    kind: str
    value: int = 0


def parse_start(text: str) -> StartPosition:
    """``beginning`` | ``end`` | ``<offset>`` | ``-N`` (last N per partition) | ``@<ms>``."""
    t = text.strip().lower()
    if t in ("beginning", "earliest", "start"):
        return StartPosition("beginning")
    if t in ("end", "latest"):
        return StartPosition("end")
    if t.startswith("@") and t[1:].isdigit():
        ts = int(t[1:])
        if ts > time.time() * 1000 + 60_000:
            raise UsageError(f"--from {text}: the timestamp is in the future",
                             "use a past time in ms since the epoch (e.g. @1732467000000)")
        return StartPosition("timestamp", ts)
    if t.startswith("-") and t[1:].isdigit() and int(t[1:]) > 0:
        return StartPosition("last", int(t[1:]))
    if t.isdigit():
        return StartPosition("offset", int(t))
    raise UsageError(f"invalid --from {text!r}",
                     "use beginning, end, an offset (42), -N for the last N per partition, "
                     "or @<timestamp ms>")


@dataclass(frozen=True)
class GroupEvent:
    """A change in this member's share of the group: assigned, revoked, lost or idle; or
    ``waiting``: the group is rebalancing and waits for ``members`` (other members that may not
    have rejoined) for at most ``bound`` seconds."""

    kind: str
    group: str
    partitions: tuple[tuple[str, int], ...] = ()
    members: tuple[str, ...] = ()
    bound: float | None = None

    def describe(self) -> str:
        parts = ", ".join(f"{t}[{p}]" for t, p in self.partitions)
        if self.kind == "idle":
            # A cooperative rebalance also hands a joining member nothing in its first round.
            return (f"group {self.group}: no partitions assigned (idle) — the group has more "
                    "members than partitions, or is still moving some to this member")
        if self.kind == "waiting":
            return (f"group {self.group} is rebalancing and waits for whichever of its other "
                    f"members has not rejoined: {', '.join(self.members)}; a member that stopped "
                    "without leaving (killed) is removed when its session times out, so this one "
                    f"waits at most {self.bound:g}s (session.timeout.ms)")
        return f"group {self.group}: {self.kind} {parts}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "event": self.kind, "group": self.group,
            "partitions": [{"topic": t, "partition": p} for t, p in self.partitions]}
        if self.kind == "waiting":
            d.update(members=list(self.members), bound=self.bound)
        return d


def _tp(msg: Any) -> tuple[str, int]:
    return msg.topic() or "", msg.partition() or 0


#: Seconds without an assignment after which the consumer asks the group why.
_GROUP_CHECK_AFTER = 3.0
#: Group states in which the coordinator waits for members to (re)join.
_REBALANCING = {"PREPARING_REBALANCING", "COMPLETING_REBALANCING"}
#: The session when none is set: the KIP-848 protocol's (the broker's default
#: group.consumer.session.timeout.ms; classic members have kpoc's 10 s).
_SESSION_TIMEOUT_MS = 45_000

# About how many bytes of values one list from Consumer.batches holds (see there).
BATCH_BYTES = 512 * 1024

# Unbound methods, for C-level map() over a batch instead of a Python loop per message.
_error = Message.error


def _tps(msgs: list[Any]) -> Iterator[tuple[Any, Any]]:
    return zip(map(Message.topic, msgs), map(Message.partition, msgs), strict=True)


class Consumer:
    """A group member (or, with ``partitions``, a manual reader) yielding :class:`Record`."""

    def __init__(self, config: ClientConfig, topics: list[str], group: str = DEFAULT_GROUP,
                 start: StartPosition | None = None, partitions: list[int] | None = None,
                 on_event: Callable[[GroupEvent], None] | None = None,
                 defaults: dict[str, object] | None = None, protocol: str | None = None
                 ) -> None:
        if not topics:
            raise UsageError("no topic given", "e.g. kpoc consume teste")
        if str(config.properties.get("group.id", group)) == "":
            # librdkafka makes no consumer queue without a group and confluent-kafka asserts
            # on that: the process aborted (-g '' in the bad-input fuzz test).
            raise UsageError("the group id is empty",
                             f"give -g NAME, or leave -g out for the group {DEFAULT_GROUP!r}")
        self.config = config
        self.topics = topics
        self.group = group
        self.start = start
        self.manual = partitions
        self._on_event = on_event or (lambda _e: None)
        self._defaults = protocol_properties(
            protocol, config, {**CONSUMER_DEFAULTS, "client.id": default_client_id(),
                               "group.id": group, **(defaults or {})})
        self.protocol = str(self._defaults["group.protocol"])
        self._client: _RdConsumer | None = None
        self.assigned: set[tuple[str, int]] = set()
        self._positioned: set[tuple[str, int]] = set()
        self._at_end: set[tuple[str, int]] = set()
        self._rebalanced = False
        self._stop = threading.Event()
        # The batch being handed out and how many of its messages the caller has handled.
        self._batch: list[Any] = []
        self._done = [0]

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> _RdConsumer:
        if self._client is None:
            self._client = make_client(_RdConsumer, base_properties(self.config, self._defaults))
        return self._client

    # -- joining ---------------------------------------------------------------------------

    def _join(self) -> None:
        # A manual reader assigns at once, so the leaders go into its own client's metadata too.
        client = None if self.manual is None else self.client
        counts = {t: partition_count(self.config, t, "read", client) for t in self.topics}
        if self.manual is None:
            self.client.subscribe(self.topics, on_assign=self._assigned,
                                  on_revoke=self._revoked, on_lost=self._lost)
            return
        tps = []
        for topic in self.topics:
            for p in self.manual:
                if not 0 <= p < counts[topic]:
                    raise UsageError(f"partition {p} out of range: {topic!r} has {counts[topic]} "
                                     "partitions", f"use --partition 0..{counts[topic] - 1}")
                tps.append(TopicPartition(topic, p))
        self._position(tps)
        self.client.assign(tps)
        self.assigned = {(tp.topic, tp.partition) for tp in tps}
        self._rebalanced = True
        self._on_event(GroupEvent("assigned", self.group, tuple(sorted(self.assigned))))

    def _position(self, tps: list[TopicPartition]) -> None:
        """Apply --from to partitions seen for the first time; later rebalances keep commits."""
        fresh = [tp for tp in tps if (tp.topic, tp.partition) not in self._positioned]
        self._positioned.update((tp.topic, tp.partition) for tp in fresh)
        if self.start is None or not fresh:
            return
        kind, value = self.start.kind, self.start.value
        if kind == "beginning":
            for tp in fresh:
                tp.offset = OFFSET_BEGINNING
        elif kind == "end":
            for tp in fresh:
                tp.offset = OFFSET_END
        elif kind == "timestamp":
            query = [TopicPartition(tp.topic, tp.partition, value) for tp in fresh]
            found = self.client.offsets_for_times(query, timeout=self.config.timeout)
            by_tp = {(f.topic, f.partition): f.offset for f in found}
            for tp in fresh:
                off = by_tp[(tp.topic, tp.partition)]
                tp.offset = off if off >= 0 else OFFSET_END
        else:
            for tp in fresh:
                lo, hi = self.client.get_watermark_offsets(tp, timeout=self.config.timeout)
                if kind == "last":
                    tp.offset = max(lo, hi - value)
                elif value > hi:
                    raise UsageError(
                        f"--from {value} is beyond the end of {tp.topic}[{tp.partition}] "
                        f"(high watermark {hi})", f"use an offset between {lo} and {hi}, or "
                        "--from end")
                else:
                    tp.offset = max(lo, value)

    def _assigned(self, client: _RdConsumer, tps: list[TopicPartition]) -> None:
        try:
            self._position(tps)
        except (KafkaException, KpocError) as exc:
            self._failure = exc
        client.incremental_assign(tps)
        self.assigned |= {(tp.topic, tp.partition) for tp in tps}
        self._at_end -= {(tp.topic, tp.partition) for tp in tps}
        self._rebalanced = True
        if tps:
            self._on_event(GroupEvent("assigned", self.group,
                                      tuple(sorted((t.topic, t.partition) for t in tps))))
        if not self.assigned:
            self._on_event(GroupEvent("idle", self.group))

    def _revoked(self, client: _RdConsumer, tps: list[TopicPartition], kind: str = "revoked"
                 ) -> None:
        if kind == "revoked":
            self._store_handled()
            self._commit()
        gone = {(tp.topic, tp.partition) for tp in tps}
        self.assigned -= gone
        self._at_end -= gone
        if tps:
            self._on_event(GroupEvent(kind, self.group, tuple(sorted(gone))))

    def _lost(self, client: _RdConsumer, tps: list[TopicPartition]) -> None:
        self._revoked(client, tps, "lost")

    def _commit(self) -> None:
        try:
            self.client.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                raise

    # -- reading ---------------------------------------------------------------------------

    _failure: BaseException | None = None

    def records(self, count: int | None = None, exit_at_end: bool = False,
                batch: int = 500) -> Iterator[Record]:
        """Yield records; the offset of each is stored only once the caller asks for the next.

        ``exit_at_end`` stops when every partition this member holds is drained (also in group
        mode); an idle member stops once the group has given it nothing.
        """
        reread = partial(reread_headers, self.config)
        for msg in self.messages(count, exit_at_end, batch):
            yield Record.from_message(msg, reread)

    def messages(self, count: int | None = None, exit_at_end: bool = False,
                 batch: int = 500) -> Iterator[Any]:
        """Raw librdkafka messages: the fast path for tools that do their own decoding."""
        stop = self._stop
        for msgs in self.batches(count, exit_at_end, batch):
            done = self._done
            for msg in msgs:
                yield msg
                done[0] += 1
                if stop.is_set():
                    return

    def batches(self, count: int | None = None, exit_at_end: bool = False,
                batch: int = 500) -> Iterator[list[Any]]:
        """Lists of raw messages (no error events), as many as are ready, up to ``batch`` and
        about :data:`BATCH_BYTES` of values.

        The fastest way to read: the per-message work (error check, offsets to store) happens in
        C-level ``map`` calls, not a Python loop. A list counts as handled, and its offsets are
        stored, when the caller asks for the next one. A lone message is handed over as soon as
        it arrives: librdkafka's ``consume(n, timeout)`` would hold it until ``n`` arrived or the
        timeout passed, so this drains without waiting and waits only for a single message.
        Small lists are faster, not slower (glibc hands a large freed list back to the kernel and
        faults it in again for the next one, and the objects fall out of the CPU caches);
        docs/benchmarks.md has the runs.
        """
        if count is not None and count < 1:
            raise UsageError(f"--count must be ≥ 1, got {count}", "e.g. --count 10")
        self._join()
        seen = 0
        started = time.monotonic()
        deadline = started + self.config.timeout
        # When to ask why no assignment came: early enough to say so, and again at the bound.
        checks = [time.monotonic() + min(_GROUP_CHECK_AFTER, self.config.timeout), deadline]
        client, at_end = self.client, self._at_end
        room = batch
        while True:
            if self._failure is not None:
                raise self._failure
            if self._stop.is_set():
                return
            want = room if count is None else min(room, count - seen)
            msgs = client.consume(want, 0) or client.consume(1, 0.2)
            if self._failure is not None:
                # A rebalance inside consume() failed (e.g. --from beyond the end): nothing of
                # this batch is handed over, so nothing is stored or committed.
                raise self._failure
            if any(map(_error, msgs)):
                msgs = self._drop_events(msgs)
            elif at_end and msgs:
                at_end.difference_update(_tps(msgs))
            if msgs:
                # The next list's length from this one's last value: one len(), no scan.
                room = min(batch, max(1, BATCH_BYTES // (len(msgs[-1]) + 1)))
                # Offsets of handled messages are stored once per batch, on an early exit, or by
                # close()/a revocation before it commits.
                done = self._done = [0]
                self._batch = msgs
                try:
                    yield msgs
                    done[0] = len(msgs)
                finally:
                    self._store_handled()
                seen += len(msgs)
            if count is not None and seen >= count:
                return
            if exit_at_end and self._rebalanced and self.assigned <= self._at_end:
                return
            if not self._rebalanced and checks and time.monotonic() > checks[0]:
                checks.pop(0)
                bound = self._group_wait()
                if bound is not None:
                    # Waiting for a killed member is the group healing, not a failure.
                    deadline = max(deadline, time.monotonic() + bound + self.config.timeout)
                    checks = []
            if not self._rebalanced and time.monotonic() > deadline:
                raise KpocError(
                    f"group {self.group!r} gave this member no assignment within "
                    f"{time.monotonic() - started:.0f}s", "check `kpoc groups describe "
                    f"{self.group}` and `kpoc cluster status`, or raise --timeout")

    def _group_wait(self) -> float | None:
        """If the group is rebalancing with other members, report whom it waits for and return
        how long at most (the session timeout: a killed member is removed when it expires)."""
        from .admin import Admin  # admin → _wire needs the package's __version__ first

        try:
            with Admin(self.config) as admin:
                state, members = admin.group_members(self.group)
        except KpocError:
            return None  # the question is a courtesy; the bound still applies
        me = self.client.memberid()
        others = [m for m in members if m.member_id != me]
        if state not in _REBALANCING or not others:
            return None
        props = self.config.client_properties(self._defaults)
        bound = float(str(props.get("session.timeout.ms", _SESSION_TIMEOUT_MS))) / 1000
        self._on_event(GroupEvent(
            "waiting", self.group, members=tuple(
                f"{m.client_id} at {m.host.lstrip('/')} ({m.member_id})" for m in others),
            bound=bound))
        return bound

    def _drop_events(self, msgs: list[Any]) -> list[Any]:
        """Messages without the error events, in arrival order: a message unmarks its partition's
        end, an end-of-partition event marks it (librdkafka signals each end once, so an end that
        follows a partition's last messages in the same list must stay marked), a retriable error
        is librdkafka's to retry, anything else raises a kpoc error."""
        kept = []
        at_end = self._at_end
        for msg in msgs:
            err = msg.error()
            if err is None:
                kept.append(msg)
                at_end.discard(_tp(msg))
            elif err.code() == KafkaError._PARTITION_EOF:
                at_end.add(_tp(msg))
            else:
                self._raise(err)
        return kept

    def _store_handled(self) -> None:
        """Store the offsets after the messages handled so far in the current batch."""
        msgs, n = self._batch[:self._done[0]], self._done[0]
        self._batch, self._done = [], [0]
        if n and self._client is not None:
            # The last message of each partition: keyed by partition number alone when there
            # is one topic (no tuple or string hash per message), else by (topic, partition).
            keys = map(Message.partition, msgs) if len(self.topics) == 1 else _tps(msgs)
            last = dict(zip(keys, msgs, strict=True)).values()
            with contextlib.suppress(KafkaException):
                self._client.store_offsets(offsets=[
                    TopicPartition(m.topic(), m.partition(), m.offset() + 1) for m in last])

    def stop(self) -> None:
        """Ask a :meth:`records` loop (another thread, or a signal handler) to return after the
        record in hand (within ~0.2 s when waiting); what was handled is committed on close."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _raise(self, err: KafkaError) -> None:
        if err.code() in MEANINGS["consume"] or err.fatal() or not err.retriable():
            raise translate(err, self.config, "consume", "consume", topic=", ".join(self.topics),
                            group=self.group, operation="read")

    def close(self) -> None:
        """Commit what was handled, leave the group promptly, release the handle."""
        self._store_handled()
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self.assigned:
                # Nothing stored, or the group moved on: either way close() still leaves cleanly.
                with contextlib.suppress(KafkaException):
                    client.commit(asynchronous=False)
            elif self.manual is None:
                # librdkafka (2.16) sends no LeaveGroup when a cooperative member holding no
                # partition closes (the idle fourth of four on three partitions): it would stay
                # listed until the session timeout (45 s). unsubscribe() does leave; close() then
                # finds nothing left to do.
                with contextlib.suppress(KafkaException):
                    client.unsubscribe()
        finally:
            client.close()
