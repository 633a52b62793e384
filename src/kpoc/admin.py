"""Topics, consumer groups and cluster facts: the one source of truth for the CLI and the console.

Every call is bounded by the config's timeout and raises kpoc errors a user can act on; results are
plain dataclasses with ``to_dict()`` so the CLI's ``--output json`` and the console's JSON API share
one schema.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import Consumer as _RdConsumer
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from ._client import (
    admin_client,
    base_properties,
    count_partitions,
    make_client,
    no_topic,
    result,
    translate,
    wait_metadata,
)
from .config import ClientConfig, check_text, validate_topic_name
from .errors import KpocError, NotFound, UsageError

__all__ = [
    "Admin",
    "BrokerInfo",
    "ClusterInfo",
    "GroupInfo",
    "GroupMember",
    "GroupSummary",
    "OffsetReset",
    "PartitionInfo",
    "PartitionLag",
    "TopicInfo",
    "parse_reset_target",
    "validate_topic_name",
]

#: Group states in which nobody holds partitions, so offsets may be rewritten safely.
_IDLE_STATES = {"EMPTY", "DEAD", "UNKNOWN"}


def parse_reset_target(text: str) -> str | int:
    """``earliest`` | ``latest`` | an offset ≥ 0 | ``@<ms since epoch>`` (returned as ``"@N"``)."""
    t = text.strip().lower()
    if t in ("earliest", "latest"):
        return t
    if t.startswith("@") and t[1:].isdigit():
        return t
    if t.isdigit():
        return int(t)
    raise UsageError(
        f"invalid reset target {text!r}",
        "use earliest, latest, an offset (e.g. 42) or @<timestamp in ms> (e.g. @1732467000000)",
    )


@dataclass(frozen=True)
class BrokerInfo:
    id: int
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str | None
    controller_id: int | None
    brokers: list[BrokerInfo]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PartitionInfo:
    id: int
    leader: int
    replicas: list[int]
    isr: list[int]
    low: int | None = None
    high: int | None = None

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def messages(self) -> int:
        return (self.high or 0) - (self.low or 0)


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: list[PartitionInfo]
    internal: bool = False
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)

    @property
    def under_replicated(self) -> int:
        return sum(p.under_replicated for p in self.partitions)

    @property
    def offline(self) -> int:
        return sum(p.offline for p in self.partitions)

    @property
    def messages(self) -> int:
        return sum(p.messages for p in self.partitions)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(replication_factor=self.replication_factor,
                 under_replicated=self.under_replicated, offline=self.offline,
                 messages=self.messages)
        return d


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    client_id: str
    host: str
    assignment: list[tuple[str, int]]

    @property
    def idle(self) -> bool:
        return not self.assignment


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    high: int | None
    #: None when the group has committed nothing for this partition yet.
    lag: int | None
    member_id: str | None = None


@dataclass(frozen=True)
class GroupSummary:
    group_id: str
    state: str
    type: str
    members: int | None = None
    total_lag: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GroupInfo:
    group_id: str
    state: str
    type: str
    assignor: str
    coordinator: int | None
    members: list[GroupMember]
    lags: list[PartitionLag]

    @property
    def total_lag(self) -> int:
        return sum(p.lag or 0 for p in self.lags)

    @property
    def idle_members(self) -> list[GroupMember]:
        return [m for m in self.members if m.idle]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for m, md in zip(self.members, d["members"], strict=True):
            md["assignment"] = [{"topic": t, "partition": p} for t, p in m.assignment]
            md["idle"] = m.idle
        d["total_lag"] = self.total_lag
        return d


@dataclass(frozen=True)
class OffsetReset:
    topic: str
    partition: int
    previous: int | None
    new: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _state_name(state: object) -> str:
    return state.name if isinstance(state, ConsumerGroupState) else str(state).rsplit(".", 1)[-1]


def _check_configs(values: dict[str, str], names: list[str] | None = None) -> None:
    """Topic config names and values librdkafka can take (non-empty UTF-8 names)."""
    for name in [*values, *(names or [])]:
        if not name.strip():
            raise UsageError("empty topic config name", "e.g. -c retention.ms=86400000")
        check_text(name, "topic config name")
    for name, value in values.items():
        check_text(value, f"value of {name}")


class Admin:
    """A lazily connected admin client; use as a context manager or call :meth:`close`."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._client: AdminClient | None = None

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # AdminClient has no close(); dropping the last reference destroys the librdkafka handle.
        self._client = None

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            self._client = admin_client(self.config)
        return self._client

    # -- plumbing ---------------------------------------------------------------------------

    def _result(self, future: concurrent.futures.Future, what: str,
                known: dict[int, KpocError | Callable[[str], KpocError]] | None = None) -> Any:
        return result(future, self.config, what, known)

    def _metadata(self, topic: str | None = None) -> Any:
        # Polls in slices: a wrong password or untrusted certificate stops it at once.
        return wait_metadata(self.client, self.config, "a metadata request", topic)

    def _watermarks(self, tps: Iterable[tuple[str, int]], skip_vanished: bool = False
                    ) -> dict[tuple[str, int], tuple[int, int]]:
        """Low and high watermarks. With ``skip_vanished``, a partition whose topic is being
        deleted (or not yet known to every broker) is left out instead of failing the lot."""
        tps = list(tps)
        if not tps:
            return {}
        marks: dict[tuple[str, int], list[int]] = {tp: [0, 0] for tp in tps}
        vanished: set[tuple[str, int]] = set()
        for i, spec in enumerate((OffsetSpec.earliest(), OffsetSpec.latest())):
            req = {TopicPartition(t, p): spec for t, p in tps}
            futures = self.client.list_offsets(req, request_timeout=self.config.timeout)
            for tp, fut in futures.items():
                key = (tp.topic, tp.partition)
                try:
                    marks[key][i] = self._result(fut, "list offsets", {
                        KafkaError.UNKNOWN_TOPIC_OR_PART: NotFound(f"topic {tp.topic!r} vanished")
                    } if skip_vanished else None).offset
                except NotFound:
                    vanished.add(key)
        return {tp: (lo, hi) for tp, (lo, hi) in marks.items() if tp not in vanished}

    # -- cluster ----------------------------------------------------------------------------

    def cluster(self) -> ClusterInfo:
        """From a metadata request, not DescribeCluster: librdkafka sends DescribeCluster to the
        controller it last knew, so after that node dies every call waits out the whole bound
        until the metadata moves on, while a metadata request goes to any live broker."""
        md = self._metadata()
        brokers = sorted((BrokerInfo(b.id, b.host, b.port) for b in md.brokers.values()),
                         key=lambda b: b.id)
        controller = md.controller_id if md.controller_id >= 0 else None
        return ClusterInfo(md.cluster_id, controller, brokers)

    # -- topics -----------------------------------------------------------------------------

    def topic_names(self, include_internal: bool = False) -> list[str]:
        md = self._metadata()
        return sorted(n for n in md.topics if include_internal or not n.startswith("__"))

    def list_topics(self, include_internal: bool = False,
                    watermarks: bool = True) -> list[TopicInfo]:
        md = self._metadata()
        names = sorted(n for n in md.topics if include_internal or not n.startswith("__"))
        marks = self._watermarks(
            ((n, p) for n in names for p in md.topics[n].partitions),
            skip_vanished=True) if watermarks else {}
        return [self._topic_info(md.topics[n], marks) for n in names]

    def describe_topic(self, name: str) -> TopicInfo:
        validate_topic_name(name)
        md = self._metadata(name)
        tmd = md.topics.get(name)
        if tmd is None or (tmd.error is not None
                           and tmd.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            raise self._no_topic(name)
        marks = self._watermarks((name, p) for p in tmd.partitions)
        return self._topic_info(tmd, marks, configs=self.topic_configs(name))

    def topic_configs(self, name: str, include_defaults: bool = False) -> dict[str, str]:
        futures = self.client.describe_configs(
            [ConfigResource(ResourceType.TOPIC, name)], request_timeout=self.config.timeout)
        entries = self._result(next(iter(futures.values())), f"describe configs of {name!r}",
                               {KafkaError.UNKNOWN_TOPIC_OR_PART: self._no_topic(name)})
        return {k: e.value for k, e in sorted(entries.items())
                if include_defaults or not e.is_default}

    def alter_topic_config(self, name: str, set_: dict[str, str] | None = None,
                           delete: list[str] | None = None) -> dict[str, str]:
        """Change a topic's configs in place (IncrementalAlterConfigs): ``set_`` sets values,
        ``delete`` returns keys to the broker's default; the others stay. Returns the topic's
        non-default configs afterwards."""
        validate_topic_name(name)
        set_, delete = dict(set_ or {}), list(delete or [])
        _check_configs(set_, delete)
        if not set_ and not delete:
            raise UsageError("nothing to change", "give -c KEY=VALUE to set or --delete KEY")
        both = set(set_) & set(delete)
        if both:
            raise UsageError(f"{sorted(both)[0]} is both set and deleted", "give it once")
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                   for k, v in set_.items()]
        entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                    for k in delete]
        futures = self.client.incremental_alter_configs(
            [ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)],
            request_timeout=self.config.timeout)
        self._result(next(iter(futures.values())), f"alter configs of {name!r}", {
            KafkaError.UNKNOWN_TOPIC_OR_PART: self._no_topic(name),
            KafkaError.INVALID_CONFIG: lambda why: UsageError(
                f"invalid topic config: {why}", "see Kafka's topic configs; e.g. "
                "-c max.message.bytes=2097152"),
            KafkaError.INVALID_REQUEST: lambda why: UsageError(
                f"invalid topic config: {why}", "see Kafka's topic configs"),
        })
        return self.topic_configs(name)

    def partition_count(self, name: str) -> int:
        return count_partitions(self._metadata(name), name, self.config)

    @staticmethod
    def _topic_info(tmd: Any, marks: dict[tuple[str, int], tuple[int, int]],
                    configs: dict[str, str] | None = None) -> TopicInfo:
        parts = []
        for pid in sorted(tmd.partitions):
            p = tmd.partitions[pid]
            lo, hi = marks.get((tmd.topic, pid), (None, None))
            parts.append(PartitionInfo(pid, p.leader, list(p.replicas), list(p.isrs), lo, hi))
        return TopicInfo(tmd.topic, parts, tmd.topic.startswith("__"), configs or {})

    def _no_topic(self, name: str) -> NotFound:
        return no_topic(self.config, name)

    def create_topic(self, name: str, partitions: int = 3, replication_factor: int = 3,
                     configs: dict[str, str] | None = None) -> TopicInfo:
        validate_topic_name(name)
        if partitions < 1:
            raise UsageError(f"--partitions must be ≥ 1, got {partitions}", "e.g. --partitions 3")
        _check_configs(configs or {})
        brokers = len(self._metadata().brokers)
        if replication_factor < 1 or replication_factor > brokers:
            raise UsageError(
                f"replication factor {replication_factor} is not possible with {brokers} "
                "live broker(s)", f"use --replication-factor between 1 and {brokers}")
        fut = self.client.create_topics(
            [NewTopic(name, partitions, replication_factor, config=dict(configs or {}))],
            operation_timeout=self.config.timeout, request_timeout=self.config.timeout)[name]
        self._result(fut, f"create topic {name!r}", {
            KafkaError.TOPIC_ALREADY_EXISTS: UsageError(
                f"topic {name!r} already exists", f"inspect it with `kpoc topics describe {name}`"),
            KafkaError.INVALID_CONFIG: lambda why: UsageError(
                f"invalid topic config: {why}", "see Kafka's topic configs; e.g. "
                "--config retention.ms=86400000"),
            # e.g. 'a_b' next to 'a.b' (the same name in Kafka's metrics)
            KafkaError.TOPIC_EXCEPTION: lambda why: UsageError(
                f"cannot create topic {name!r}: {why}",
                "choose another name ('.' and '_' collide: Kafka's metrics treat them alike)"),
            KafkaError.INVALID_REPLICATION_FACTOR: UsageError(
                f"replication factor {replication_factor} is invalid here",
                f"use at most {brokers}"),
        })
        return self._wait_topic(name, partitions)

    def _wait_topic(self, name: str, partitions: int) -> TopicInfo:
        """Creation is acknowledged before every broker knows the leaders. Metadata requests go
        to any broker, so wait until several in a row agree the topic is ready, and then until
        every leader answers for its partition (metadata can name a leader that does not yet:
        `kpoc demo` once failed its first list-offsets with UNKNOWN_TOPIC_OR_PART)."""
        deadline = time.monotonic() + self.config.timeout
        agreed = 0
        while True:
            tmd = self._metadata(name).topics.get(name)
            if (tmd is not None and tmd.error is None and len(tmd.partitions) == partitions
                    and all(p.leader >= 0 for p in tmd.partitions.values())):
                agreed += 1
                if agreed >= 5:
                    served = self._watermarks(((name, p) for p in tmd.partitions),
                                              skip_vanished=True)
                    if len(served) == partitions:
                        return self._topic_info(tmd, {})
                    agreed = 0
            else:
                agreed = 0
            if time.monotonic() > deadline:
                raise KpocError(f"topic {name!r} was created but has no leaders after "
                                f"{self.config.timeout:g}s",
                                "check `kpoc cluster status`; raise the bound with --timeout")
            time.sleep(0.05)

    def delete_topic(self, name: str) -> None:
        validate_topic_name(name)
        fut = self.client.delete_topics([name], operation_timeout=self.config.timeout,
                                        request_timeout=self.config.timeout)[name]
        self._result(fut, f"delete topic {name!r}",
                     {KafkaError.UNKNOWN_TOPIC_OR_PART: self._no_topic(name)})

    # -- groups -----------------------------------------------------------------------------

    def list_groups(self, with_lag: bool = False) -> list[GroupSummary]:
        res = self._result(self.client.list_consumer_groups(request_timeout=self.config.timeout),
                           "list consumer groups")
        if res.errors and not res.valid:
            # Errors come back inside the result, not as an exception: an unreachable cluster
            # must not read as "no groups".
            raise translate(KafkaException(res.errors[0]), self.config, "list consumer groups")
        out = []
        for g in sorted(res.valid, key=lambda g: g.group_id):
            members = lag = None
            if with_lag:
                info = self.describe_group(g.group_id)
                members, lag = len(info.members), info.total_lag
            out.append(GroupSummary(g.group_id, _state_name(g.state),
                                    _state_name(getattr(g, "type", "CLASSIC")), members, lag))
        return out

    def describe_group(self, group: str) -> GroupInfo:
        check_text(group, "group name")
        fut = self.client.describe_consumer_groups(
            [group], request_timeout=self.config.timeout)[group]
        desc = self._result(fut, f"describe group {group!r}",
                            {KafkaError.GROUP_ID_NOT_FOUND: self._no_group(group)})
        state = _state_name(desc.state)
        if state == "DEAD":
            raise self._no_group(group)
        members = []
        owner: dict[tuple[str, int], str] = {}
        for m in desc.members:
            tps = sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions)
            members.append(GroupMember(m.member_id, m.client_id, m.host, tps))
            owner.update({tp: m.member_id for tp in tps})
        members.sort(key=lambda m: (m.idle, m.assignment, m.client_id, m.member_id))
        committed = self._committed(group)
        tps = sorted(set(committed) | set(owner))
        marks = self._watermarks(tps)
        lags = []
        for tp in tps:
            c = committed.get(tp)
            hi = marks[tp][1]
            lags.append(PartitionLag(tp[0], tp[1], c, hi,
                                     None if c is None else max(hi - c, 0), owner.get(tp)))
        return GroupInfo(group, state, _state_name(getattr(desc, "type", "CLASSIC")),
                         desc.partition_assignor, desc.coordinator.id if desc.coordinator else None,
                         members, lags)

    @staticmethod
    def _no_group(group: str) -> NotFound:
        return NotFound(f"consumer group {group!r} does not exist",
                        "list groups with `kpoc groups list`")

    def _committed(self, group: str) -> dict[tuple[str, int], int]:
        """A group's committed offsets, asked through a consumer handle that never joins.

        Not the admin API's ListConsumerGroupOffsets: librdkafka dereferences a null group
        handle in an admin client when the coordinator answers NOT_COORDINATOR (librdkafka issue
        5040, open), which is what a coordinator that has just moved answers — the console's
        lag sampler would crash while a broker is down. A consumer has that handle."""
        md = self._metadata()
        tps = [TopicPartition(name, p) for name, tmd in md.topics.items()
               if not name.startswith("__") for p in tmd.partitions]
        if not tps:
            return {}
        consumer = make_client(_RdConsumer, base_properties(self.config, {
            "group.id": group, "enable.auto.commit": False}))
        try:
            got = consumer.committed(tps, timeout=self.config.timeout)
        except KafkaException as exc:
            raise translate(exc, self.config, f"list offsets of group {group!r}") from None
        finally:
            consumer.close()
        return {(tp.topic, tp.partition): tp.offset for tp in got
                if tp.error is None and tp.offset >= 0}

    def reset_offsets(self, group: str, topic: str, target: str | int,
                      partitions: list[int] | None = None, dry_run: bool = False
                      ) -> list[OffsetReset]:
        """Rewrite a group's committed offsets; refused while the group has members."""
        check_text(group, "group name")
        fut = self.client.describe_consumer_groups(
            [group], request_timeout=self.config.timeout)[group]
        desc = self._result(fut, f"describe group {group!r}")
        state = _state_name(desc.state)
        if desc.members or state not in _IDLE_STATES:
            raise UsageError(
                f"group {group!r} is {state} with {len(desc.members)} member(s); offsets can "
                "only be reset while it has none",
                "stop its consumers first (see `kpoc groups describe "
                f"{group}`), then retry")
        count = self.partition_count(topic)
        parts = sorted(set(partitions)) if partitions else list(range(count))
        bad = [p for p in parts if not 0 <= p < count]
        if bad:
            raise UsageError(f"partition {bad[0]} out of range: {topic!r} has {count} partitions",
                             f"use partitions 0..{count - 1}")
        marks = self._watermarks((topic, p) for p in parts)
        if isinstance(target, int):
            new = {p: min(max(target, marks[(topic, p)][0]), marks[(topic, p)][1]) for p in parts}
        elif target in ("earliest", "latest"):
            new = {p: marks[(topic, p)][0 if target == "earliest" else 1] for p in parts}
        else:
            ts = int(str(target)[1:])
            req = {TopicPartition(topic, p): OffsetSpec.for_timestamp(ts) for p in parts}
            new = {}
            for tp, f in self.client.list_offsets(
                    req, request_timeout=self.config.timeout).items():
                off = self._result(f, "list offsets by timestamp").offset
                # -1: no message at or after ts → the end, as kafka-consumer-groups does.
                new[tp.partition] = off if off >= 0 else marks[(topic, tp.partition)][1]
        committed = self._committed(group)
        result = [OffsetReset(topic, p, committed.get((topic, p)), new[p]) for p in parts]
        if not dry_run:
            req_tps = [TopicPartition(topic, p, new[p]) for p in parts]
            fut = self.client.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, req_tps)],
                request_timeout=self.config.timeout)[group]
            self._result(fut, f"reset offsets of group {group!r}", {
                KafkaError.UNKNOWN_MEMBER_ID: UsageError(
                    f"group {group!r} became active", "stop its consumers, then retry"),
            })
        return result
