"""Topics, consumer groups and cluster facts: the one source of truth for the CLI and the console.

Every call is bounded by the config's timeout and raises kpoc errors a user can act on; results are
plain dataclasses with ``to_dict()`` so the CLI's ``--output json`` and the console's JSON API share
one schema.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

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
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from . import _wire
from ._client import (
    admin_client,
    committed_offsets,
    count_partitions,
    kafka_error,
    no_topic,
    result,
    translate,
    unavailable,
    wait_metadata,
)
from ._kafka_errors import LEADER_MOVED, UNKNOWN_TOPIC
from .config import ClientConfig, check_text, validate_topic_name
from .errors import KafkaUnavailable, KpocError, NotFound, UsageError

__all__ = [
    "Admin",
    "BrokerInfo",
    "ClusterInfo",
    "ConfigInfo",
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
    """``earliest`` | ``latest`` | an offset ≥ 0 | ``@<ms since epoch>`` (returned as ``"@N"``).
    ``beginning`` and ``end`` (``consume --from``'s words) mean earliest and latest."""
    t = text.strip().lower()
    t = {"beginning": "earliest", "start": "earliest", "end": "latest"}.get(t, t)
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
class ConfigInfo:
    name: str
    #: None for a sensitive config (Kafka does not send its value).
    value: str | None
    #: Where the value comes from: DEFAULT_CONFIG, DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG…
    source: str
    is_default: bool
    read_only: bool
    sensitive: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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

    def summary(self) -> dict[str, Any]:
        """One line of a topic list (CLI's `topics list -o json`, the console's /api/topics)."""
        return {"name": self.name, "partitions": len(self.partitions),
                "replication_factor": self.replication_factor,
                "under_replicated": self.under_replicated, "offline": self.offline,
                "messages": self.messages, "internal": self.internal}


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    client_id: str
    host: str
    assignment: list[tuple[str, int]]
    #: KIP-848 and share groups: the member's epoch; KIP-848: the assignment the broker is
    #: moving it to (equal to ``assignment`` once reconciled).
    member_epoch: int | None = None
    target_assignment: list[tuple[str, int]] | None = None

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
    #: Share groups: every member the partition is assigned to (it is shared, not owned), and
    #: ``committed`` is the share-partition's start offset.
    shared_by: list[str] = field(default_factory=list)


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
    #: KIP-848 and share groups (broker-side assignment): the group's epoch and the epoch of
    #: the assignment computed for it; equal once every member has caught up.
    group_epoch: int | None = None
    assignment_epoch: int | None = None
    #: How ``lag`` is defined for this group's type (share groups: Kafka's own figure).
    lag_note: str | None = None

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
            if m.target_assignment is not None:
                md["target_assignment"] = [{"topic": t, "partition": p}
                                           for t, p in m.target_assignment]
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


def _check_group(group: str) -> None:
    check_text(group, "group name")
    if not group:
        raise UsageError("the group id is empty", "name a consumer group (see `kpoc groups list`)")


def _members(desc: Any) -> list[GroupMember]:
    """The members of a librdkafka group description, idle ones last."""
    ms = [GroupMember(m.member_id, m.client_id, m.host,
                      sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions))
          for m in desc.members]
    return sorted(ms, key=lambda m: (m.idle, m.assignment, m.client_id, m.member_id))


def _state_name(state: object) -> str:
    return state.name if isinstance(state, ConsumerGroupState) else str(state).rsplit(".", 1)[-1]


def _wire_state(state: str) -> str:
    """A state as the wire spells it (``PreparingRebalance``) as librdkafka's enum names it."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(state)).upper() \
        or "UNKNOWN"


#: What "lag" means for a share group, shown wherever its lag is.
SHARE_LAG_NOTE = ("share-group lag is Kafka's own figure (DescribeShareGroupOffsets v1): records "
                  "between the share-partition's start offset and the high watermark not yet "
                  "acknowledged; the start offset is shown as the committed offset")


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

    #: How long the topics a group has offsets in are trusted before all topics are asked again.
    COMMITTED_TOPICS_TTL = 300.0

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._client: AdminClient | None = None
        # group -> (when learnt, topics it has committed offsets in); see _committed.
        self._committed_topics: dict[str, tuple[float, frozenset[str]]] = {}

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

    def _result(self, future: concurrent.futures.Future, what: str, request: str = "*",
                **facts: object) -> Any:
        return result(future, self.config, what, request, **facts)

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
        deadline = time.monotonic() + self.config.timeout
        for i, spec in enumerate((OffsetSpec.earliest(), OffsetSpec.latest())):
            todo = list(tps)
            while todo:
                req = {TopicPartition(t, p): spec for t, p in todo}
                futures = self.client.list_offsets(req, request_timeout=self.config.timeout)
                todo = []
                for tp, fut in futures.items():
                    key = (tp.topic, tp.partition)
                    try:
                        marks[key][i] = self._result(
                            fut, "list offsets",
                            "watermarks of a listing" if skip_vanished else "*",
                            topic=tp.topic).offset
                    except NotFound:
                        vanished.add(key)
                    except KpocError as exc:
                        # A leader that just moved (NOT_LEADER…) answers again within the bound.
                        if exc.code not in LEADER_MOVED or time.monotonic() >= deadline:
                            raise
                        todo.append(key)
                if todo:
                    time.sleep(0.2)
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
                           and tmd.error.code() in UNKNOWN_TOPIC):
            raise self._no_topic(name)
        marks = self._watermarks((name, p) for p in tmd.partitions)
        return self._topic_info(tmd, marks, configs=self.topic_configs(name))

    def topic_configs(self, name: str, include_defaults: bool = False) -> dict[str, str]:
        return {e.name: e.value if e.value is not None else ""
                for e in self.topic_config_entries(name) if include_defaults or not e.is_default}

    def topic_config_entries(self, name: str) -> list[ConfigInfo]:
        """Every config of a topic: value, whether it is the default, and where it comes from."""
        validate_topic_name(name)
        return self._config_entries(ConfigResource(ResourceType.TOPIC, name),
                                    f"describe configs of {name!r}", "topic", topic=name)

    def broker_config_entries(self, broker: int) -> list[ConfigInfo]:
        """Every config of a broker (sensitive values withheld by Kafka), with its source."""
        return self._config_entries(ConfigResource(ResourceType.BROKER, str(broker)),
                                    f"describe configs of broker {broker}")

    def _config_entries(self, resource: ConfigResource, what: str, request: str = "*",
                        **facts: object) -> list[ConfigInfo]:
        futures = self.client.describe_configs([resource], request_timeout=self.config.timeout)
        entries = self._result(next(iter(futures.values())), what, request, **facts)
        out = []
        for key, e in sorted(entries.items()):
            try:
                source = ConfigSource(e.source).name
            except ValueError:
                source = str(e.source)
            out.append(ConfigInfo(key, None if e.is_sensitive else e.value, source,
                                  bool(e.is_default), bool(e.is_read_only),
                                  bool(e.is_sensitive)))
        return out

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
        self._result(next(iter(futures.values())), f"alter configs of {name!r}",
                     "alter topic config", topic=name)
        # The controller has the change; each broker applies it at its own pace, and librdkafka
        # asks any broker. So the change must show in three answers in a row (the console's
        # page, rendered right after, met a broker still showing the old value), within the
        # bound.
        deadline = time.monotonic() + self.config.timeout
        seen = 0
        while True:
            now = {e.name: e for e in self.topic_config_entries(name)}
            applied = (all(k in now and now[k].value == v for k, v in set_.items()) and all(
                k not in now or now[k].source != "DYNAMIC_TOPIC_CONFIG" for k in delete))
            seen = seen + 1 if applied else 0
            if seen >= 3 or time.monotonic() > deadline:
                return {k: e.value if e.value is not None else ""
                        for k, e in now.items() if not e.is_default}
            time.sleep(0.05 if applied else 0.1)

    def add_partitions(self, name: str, total: int) -> TopicInfo:
        """Grow a topic to ``total`` partitions (Kafka cannot remove partitions)."""
        have = self.partition_count(name)
        if total <= have:
            raise UsageError(f"{name!r} has {have} partitions; Kafka can only add partitions",
                             f"ask for more than {have}")
        fut = self.client.create_partitions(
            [NewPartitions(name, total)], operation_timeout=self.config.timeout,
            request_timeout=self.config.timeout)[name]
        self._result(fut, f"add partitions to {name!r}", "add partitions",
                     topic=name, total=total, have=have)
        return self._wait_topic(name, total)

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
        self._result(fut, f"create topic {name!r}", "create topic", topic=name,
                     replication_factor=replication_factor, brokers=brokers)
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
        self._result(fut, f"delete topic {name!r}", "topic", topic=name)

    # -- groups -----------------------------------------------------------------------------

    # -- group types through Kafka's wire protocol (see _wire) ------------------------------

    @property
    def wire_ok(self) -> bool:
        """kpoc's own protocol code speaks plaintext only; TLS/SASL listeners fall back to what
        librdkafka reports (classic and consumer groups; no share groups)."""
        proto = str(self.config.properties.get("security.protocol", "plaintext")).lower()
        return proto == "plaintext"

    def _on_bootstrap(self, what: str, call: Any) -> Any:
        """``call(host, port, timeout)`` on the first bootstrap server that answers."""
        last: Exception | None = None
        for addr in self.config.bootstrap_servers.split(","):
            host, _, port = addr.strip().rpartition(":")
            try:
                return call(host.strip("[]") or "127.0.0.1", int(port), self.config.timeout)
            except (_wire.WireError, ValueError) as exc:
                last = exc
        raise KpocError(f"{what}: {last}", "check `kpoc cluster status`; raise --timeout") \
            from last

    def group_types(self) -> dict[str, _wire.ListedGroup]:
        """Every group with its real type, from ListGroups v5 asked of every broker (each lists
        the groups it coordinates)."""
        out: dict[str, _wire.ListedGroup] = {}
        failed: list[str] = []
        brokers = self.cluster().brokers
        for b in brokers:
            try:
                listed = _wire.list_groups(b.host, b.port, self.config.timeout)
            except _wire.WireError as exc:
                # A broker that just died: its groups move to a live coordinator.
                failed.append(f"broker {b.id}: {exc}")
                continue
            out.update({g.group_id: g for g in listed})
        if brokers and len(failed) == len(brokers):
            raise unavailable(self.config, f"list groups ({failed[0]})")
        return out

    def group_type(self, group: str) -> str | None:
        """CLASSIC, CONSUMER, SHARE (or STREAMS) as the group's coordinator says; None when
        kpoc cannot ask (not a plaintext listener) or the group does not exist."""
        if not self.wire_ok:
            return None

        def listing(h: str, p: int, t: float) -> list[_wire.ListedGroup]:
            _, host, port = _wire.find_coordinator(h, p, t, group)
            return _wire.list_groups(host, port, t)

        try:
            listed = self._on_bootstrap(f"find the coordinator of {group!r}", listing)
        except KpocError:
            return None  # an older Kafka or the mock cluster: librdkafka's describe decides
        found = [g for g in listed if g.group_id == group]
        return found[0].type.upper() if found else None

    def list_groups(self, with_lag: bool = False) -> list[GroupSummary]:
        listed = None
        if self.wire_ok:
            try:
                listed = [(g.group_id, _wire_state(g.state), g.type.upper())
                          for g in self.group_types().values()]
            except KafkaUnavailable:
                raise  # nobody answered: asking again the other way only doubles the wait
            except KpocError:
                # No ListGroups v5 here (Kafka < 3.7, librdkafka's mock cluster): librdkafka's
                # listing, which knows classic and consumer groups.
                listed = None
        if listed is None:
            res = self._result(self.client.list_consumer_groups(
                request_timeout=self.config.timeout), "list consumer groups")
            if res.errors and not res.valid:
                # Errors come back inside the result, not as an exception: an unreachable
                # cluster must not read as "no groups".
                raise translate(KafkaException(res.errors[0]), self.config,
                                "list consumer groups")
            listed = [(g.group_id, _state_name(g.state),
                       _state_name(getattr(g, "type", "CLASSIC"))) for g in res.valid]
        infos = self.describe_groups([gid for gid, _, _ in listed],
                                     types={gid: t for gid, _, t in listed}) if with_lag else {}
        out = []
        for gid, state, gtype in sorted(listed):
            info = infos.get(gid)
            if with_lag and info is None:  # gone between the listing and the describe
                continue
            out.append(GroupSummary(gid, state, gtype, len(info.members) if info else None,
                                    info.total_lag if info else None))
        return out

    def _describe_wire(self, group: str, share: bool) -> _wire.DescribedGroup:
        def call(h: str, p: int, t: float) -> _wire.DescribedGroup:
            _, ch, cp = _wire.find_coordinator(h, p, t, group)
            return _wire.describe_group(ch, cp, t, group, share)

        d = self._on_bootstrap(f"describe group {group!r}", call)
        if d.error_code == KafkaError.GROUP_ID_NOT_FOUND:
            raise self._no_group(group)
        if d.error_code:
            raise KpocError(f"describe group {group!r} failed: error {d.error_code} "
                            f"{d.error_message or ''}".strip(), code=d.error_code)
        return d

    def _describe_share(self, group: str) -> GroupInfo:
        """Members, their shared partitions, start offset and Kafka's lag per partition."""
        d = self._describe_wire(group, share=True)

        def offsets(h: str, p: int, t: float) -> list[_wire.ShareOffset]:
            _, ch, cp = _wire.find_coordinator(h, p, t, group)
            return _wire.share_group_offsets(ch, cp, t, group)

        members = sorted((GroupMember(m.member_id, m.client_id, m.host, m.assignment,
                                      m.member_epoch) for m in d.members),
                         key=lambda m: (m.idle, m.assignment, m.client_id, m.member_id))
        holders: dict[tuple[str, int], list[str]] = {}
        for m in members:
            for tp in m.assignment:
                holders.setdefault(tp, []).append(m.member_id)
        by_tp = {(o.topic, o.partition): o for o in self._on_bootstrap(
            f"share-group offsets of {group!r}", offsets)}
        lags = []
        for tp in sorted(set(by_tp) | set(holders)):
            o = by_tp.get(tp)
            start = o.start_offset if o is not None and o.start_offset >= 0 else None
            lag = o.lag if o is not None and o.lag >= 0 else None
            lags.append(PartitionLag(tp[0], tp[1], start, None, lag, None, holders.get(tp, [])))
        marks = self._watermarks([(x.topic, x.partition) for x in lags], skip_vanished=True)
        lags = [PartitionLag(x.topic, x.partition, x.committed,
                             marks.get((x.topic, x.partition), (None, None))[1], x.lag,
                             None, x.shared_by) for x in lags]
        return GroupInfo(group, _wire_state(d.state), "SHARE", d.assignor, None, members, lags,
                         d.group_epoch, d.assignment_epoch, SHARE_LAG_NOTE)

    def describe_group(self, group: str, group_type: str | None = None) -> GroupInfo:
        """A group with its type's own facts: classic (librdkafka's describe), consumer (also
        the KIP-848 epochs and target assignment) or share (ShareGroupDescribe and share-group
        offsets); ``group_type`` skips asking which it is."""
        _check_group(group)
        gtype = group_type or self.group_type(group)
        if gtype == "SHARE":
            return self._describe_share(group)
        info = self._describe_classic(group)
        if info.type == "CONSUMER" and self.wire_ok:
            d = self._describe_wire(group, share=False)
            extra = {m.member_id: m for m in d.members}
            members = [GroupMember(m.member_id, m.client_id, m.host, m.assignment,
                                   extra[m.member_id].member_epoch,
                                   extra[m.member_id].target_assignment)
                       if m.member_id in extra else m for m in info.members]
            # The coordinator's own state: librdkafka reads some KIP-848 states as UNKNOWN.
            info = GroupInfo(info.group_id, _wire_state(d.state), info.type,
                             info.assignor or d.assignor,
                             info.coordinator, members, info.lags, d.group_epoch,
                             d.assignment_epoch)
        return info

    def _describe_classic(self, group: str) -> GroupInfo:
        info = self.describe_groups([group]).get(group)
        if info is None:
            raise self._no_group(group)
        return info

    def group_members(self, group: str) -> tuple[str, list[GroupMember]]:
        """A classic or consumer group's state and members, without its offsets (one
        request)."""
        check_text(group, "group name")
        fut = self.client.describe_consumer_groups(
            [group], request_timeout=self.config.timeout)[group]
        desc = self._result(fut, f"describe group {group!r}", "group", group=group)
        return _state_name(desc.state), _members(desc)

    def describe_groups(self, groups: list[str], workers: int = 16,
                        types: dict[str, str] | None = None) -> dict[str, GroupInfo]:
        """Several groups at once: one DescribeGroups request, one metadata request, one
        list-offsets round for every partition involved, and the committed offsets of the
        groups fetched in parallel (each needs a handle of its own, see :meth:`_committed`).
        Share groups (by ``types``, from a listing) are described one by one, as
        :meth:`describe_group` does. Groups that do not exist (or vanished meanwhile, or are
        DEAD) are left out."""
        out: dict[str, GroupInfo] = {}
        share = [g for g in groups if (types or {}).get(g) == "SHARE"]
        for g in share:
            with contextlib.suppress(NotFound):
                out[g] = self.describe_group(g, "SHARE")
        groups = [g for g in groups if g not in out and g not in share]
        if not groups:
            return out
        futures = self.client.describe_consumer_groups(
            list(groups), request_timeout=self.config.timeout)
        descs = {}
        for group, fut in futures.items():
            try:
                desc = self._result(fut, f"describe group {group!r}", "group", group=group)
            except NotFound:
                continue
            if _state_name(desc.state) != "DEAD":
                descs[group] = desc
        md = self._metadata()
        with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(descs)))) as pool:
            committed = dict(zip(descs, pool.map(
                lambda g: self._committed(g, md, {tp.topic for m in descs[g].members
                                                  for tp in m.assignment.topic_partitions}),
                descs), strict=True))
        members = {group: _members(desc) for group, desc in descs.items()}
        owners = {group: {tp: m.member_id for m in ms for tp in m.assignment}
                  for group, ms in members.items()}
        wanted = {tp for g in descs for tp in set(committed[g]) | set(owners[g])}
        marks = self._watermarks(sorted(wanted), skip_vanished=True)
        for group, desc in descs.items():
            lags = []
            for tp in sorted(set(committed[group]) | set(owners[group])):
                if tp not in marks:
                    continue
                c = committed[group].get(tp)
                hi = marks[tp][1]
                lags.append(PartitionLag(tp[0], tp[1], c, hi,
                                         None if c is None else max(hi - c, 0),
                                         owners[group].get(tp)))
            out[group] = GroupInfo(
                group, _state_name(desc.state), _state_name(getattr(desc, "type", "CLASSIC")),
                desc.partition_assignor, desc.coordinator.id if desc.coordinator else None,
                members[group], lags)
        return out

    def delete_group(self, group: str) -> None:
        """Delete a group and its committed offsets; Kafka refuses while it has members."""
        _check_group(group)
        fut = self.client.delete_consumer_groups(
            [group], request_timeout=self.config.timeout)[group]
        self._result(fut, f"delete group {group!r}", "delete group", group=group)

    def wait_members(self, group: str, members: int, group_type: str | None = None,
                     timeout: float = 60.0) -> GroupInfo:
        """Wait until ``group`` has ``members`` members, each with an assignment; the group may
        not exist yet (its first member creates it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = self.describe_group(group, group_type)
                if len(info.members) == members and all(m.assignment for m in info.members):
                    return info
            except NotFound:
                pass
            if time.monotonic() > deadline:
                raise KpocError(f"group {group!r} did not assign {members} member(s) within "
                                f"{timeout:g}s", f"check `kpoc groups describe {group}`")
            time.sleep(0.3)

    def set_group_configs(self, group: str, configs: dict[str, str]) -> None:
        """Set dynamic group configs (e.g. a share group's ``share.auto.offset.reset`` or
        ``share.record.lock.duration.ms``); the broker checks each against its bounds."""
        res = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in configs.items()])
        fut = self.client.incremental_alter_configs([res], request_timeout=self.config.timeout)
        self._result(fut[res], f"set configs {configs} of group {group!r}", "group configs",
                     group=group, configs=configs)

    def _no_group(self, group: str) -> KpocError:
        return kafka_error("group", KafkaError.GROUP_ID_NOT_FOUND, self.config, group=group)

    def _committed(self, group: str, md: Any = None,
                   assigned: set[str] | None = None) -> dict[tuple[str, int], int]:
        """A group's committed offsets (see :func:`committed_offsets`: the console's lag sampler
        must not crash while a broker is down).

        A consumer must name the partitions it asks about. Every partition of the cluster costs
        ~0.1 s per group with 1,600 partitions, so an Admin that asked every topic recently
        (within ``COMMITTED_TOPICS_TTL``) asks only the topics the group has had offsets in
        since or had assigned, plus those assigned to its members now; :meth:`reset_offsets`
        forgets what it knew. Offsets committed by a tool (not a member) into a new topic show
        after the TTL."""
        md = md if md is not None else self._metadata()
        learnt, known = self._committed_topics.get(group, (0.0, frozenset()))
        fresh = time.monotonic() - learnt < self.COMMITTED_TOPICS_TTL
        topics = [name for name in md.topics if not name.startswith("__")
                  and (not fresh or name in known or name in (assigned or ()))]
        tps = [TopicPartition(name, p) for name in topics for p in md.topics[name].partitions]
        if not tps:
            return {}
        found = committed_offsets(self.config, group, tps)
        # Topics assigned now count as known too: a member that has not committed yet will
        # (the lag of a group sampled before its first commit stayed 0 until the TTL ran out).
        now_in = frozenset(t for t, _ in found) | frozenset(assigned or ())
        if fresh:
            self._committed_topics[group] = (learnt, known | now_in)
        elif now_in:
            self._committed_topics[group] = (time.monotonic(), now_in)
        # else: nothing learnt (a group still joining: no offsets, nothing assigned yet). Caching
        # that would hide the offsets it commits next for the whole TTL (its lag read 0).
        return found

    def reset_offsets(self, group: str, topic: str, target: str | int,
                      partitions: list[int] | None = None, dry_run: bool = False
                      ) -> list[OffsetReset]:
        """Rewrite a group's committed offsets; refused while the group has members."""
        _check_group(group)
        self._committed_topics.pop(group, None)
        if self.group_type(group) == "SHARE":
            raise UsageError(f"group {group!r} is a share group: it has no committed offsets "
                             "to reset", "its start offset follows the acknowledged records; "
                             "use a consumer group name")
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
            self._result(fut, f"reset offsets of group {group!r}", "reset offsets",
                         group=group)
        return result
