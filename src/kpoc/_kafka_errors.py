"""The one table from Kafka error codes to what kpoc tells a user (cf. httpx's ``_exceptions``).

A Kafka error code means different things depending on the request it answers:
UNKNOWN_TOPIC_OR_PART is "the topic does not exist" to a delete, "it vanished meanwhile" to a
listing; INVALID_CONFIG names ``--config`` to ``topics create`` and ``-c`` to ``alter-config``.
So :data:`MEANINGS` is keyed by request, then by code; the ``"*"`` rows hold for every request.
Messages and fixes are :meth:`str.format` templates over the facts of the call: always
``what`` (the request as a user would say it), ``why`` (the broker's own text), ``name`` (the
code's name), ``servers``, ``principal`` and ``grant`` (see :func:`kpoc._client.facts_of`),
plus the request's own (``topic``, ``group``, ``operation`` …, listed in :data:`FACTS`).

The sets of codes below the table are the other decisions kpoc takes on a code (give up at
once, retry, report a message as possibly stored); they live here so no module compares codes of
its own. Codes that are not errors but events (``_PARTITION_EOF``, ``_NO_OFFSET``,
``_QUEUE_FULL``) stay where they are handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaError

from .errors import AuthError, DeliveryError, KpocError, NotFound, UsageError

__all__ = ["AUTH_FAILED", "FACTS", "LEADER_MOVED", "MAYBE_PERSISTED", "MEANINGS", "NO_REPORT",
           "STOP", "TRANSIENT", "UNAVAILABLE", "UNKNOWN_TOPIC", "Meaning", "meaning"]


@dataclass(frozen=True)
class Meaning:
    """What one code means to a user of one request: the kpoc error, its message and fix."""

    error: type[KpocError]
    message: str
    fix: str | None = None

    def make(self, code: int | None, facts: Mapping[str, object]) -> KpocError:
        return self.error(self.message.format_map(facts),
                          self.fix.format_map(facts) if self.fix else None, code=code)


_TOPIC_MISSING = Meaning(
    NotFound, "topic {topic!r} does not exist on {servers}",
    "list topics with `kpoc topics list` or create it with `kpoc topics create {topic}`")
_GROUP_MISSING = Meaning(NotFound, "consumer group {group!r} does not exist",
                         "list groups with `kpoc groups list`")


def _denied(resource: str) -> Meaning:
    return Meaning(
        AuthError, "{what}: not authorised ({name}) as {principal}",
        f"the {resource} ACL is missing; see `kpoc acls list` and add it with `kpoc acls add` "
        "(as an admin)")


#: An operation (facts ``operation``, e.g. ``read``, and ``OPERATION``, ``READ``) refused on
#: a named topic or group.
_ACCESS = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED: Meaning(
        AuthError, "not authorised: {principal} may not {OPERATION} topic {topic!r} "
        "({name})", "the ACL is missing; an admin can add it: kpoc acls add --principal {grant} "
        "--operation {operation} --topic {topic}"),
    KafkaError.GROUP_AUTHORIZATION_FAILED: Meaning(
        AuthError, "not authorised: {principal} may not {OPERATION} group {group!r} "
        "({name})", "the ACL is missing; an admin can add it: kpoc acls add --principal {grant} "
        "--operation {operation} --group {group}"),
}

_INVALID_TOPIC_CONFIG = "invalid topic config: {why}"
_DELIVERY = "{name}: {why}"

MEANINGS: dict[str, dict[int, Meaning]] = {
    "*": {
        KafkaError.TOPIC_AUTHORIZATION_FAILED: _denied("topic"),
        KafkaError.GROUP_AUTHORIZATION_FAILED: _denied("group"),
        KafkaError.CLUSTER_AUTHORIZATION_FAILED: _denied("cluster"),
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED: _denied("transactional-id"),
    },
    # -- topics --
    "topic": {KafkaError.UNKNOWN_TOPIC_OR_PART: _TOPIC_MISSING},
    "access": _ACCESS,
    "watermarks of a listing": {
        KafkaError.UNKNOWN_TOPIC_OR_PART: Meaning(NotFound, "topic {topic!r} vanished")},
    "create topic": {
        KafkaError.TOPIC_ALREADY_EXISTS: Meaning(
            UsageError, "topic {topic!r} already exists",
            "inspect it with `kpoc topics describe {topic}`"),
        KafkaError.INVALID_CONFIG: Meaning(
            UsageError, _INVALID_TOPIC_CONFIG,
            "see Kafka's topic configs; e.g. --config retention.ms=86400000"),
        # e.g. 'a_b' next to 'a.b' (the same name in Kafka's metrics)
        KafkaError.TOPIC_EXCEPTION: Meaning(
            UsageError, "cannot create topic {topic!r}: {why}",
            "choose another name ('.' and '_' collide: Kafka's metrics treat them alike)"),
        KafkaError.INVALID_REPLICATION_FACTOR: Meaning(
            UsageError, "replication factor {replication_factor} is invalid here",
            "use at most {brokers}"),
    },
    "alter topic config": {
        KafkaError.UNKNOWN_TOPIC_OR_PART: _TOPIC_MISSING,
        KafkaError.INVALID_CONFIG: Meaning(
            UsageError, _INVALID_TOPIC_CONFIG,
            "see Kafka's topic configs; e.g. -c max.message.bytes=2097152"),
        KafkaError.INVALID_REQUEST: Meaning(UsageError, _INVALID_TOPIC_CONFIG,
                                            "see Kafka's topic configs"),
    },
    "add partitions": {
        KafkaError.INVALID_PARTITIONS: Meaning(
            UsageError, "Kafka refused {total} partitions for {topic!r}",
            "ask for more than {have}")},
    # -- groups --
    "group": {KafkaError.GROUP_ID_NOT_FOUND: _GROUP_MISSING},
    "delete group": {
        KafkaError.GROUP_ID_NOT_FOUND: _GROUP_MISSING,
        KafkaError.NON_EMPTY_GROUP: Meaning(
            UsageError, "group {group!r} has members; Kafka deletes only empty groups",
            "stop its consumers first, then retry")},
    "group configs": {
        KafkaError.INVALID_CONFIG: Meaning(
            UsageError, "the broker refused group configs {configs} for {group!r}",
            "see the broker's group.share.min/max.* bounds (`kpoc doctor`)")},
    "reset offsets": {
        KafkaError.UNKNOWN_MEMBER_ID: Meaning(UsageError, "group {group!r} became active",
                                              "stop its consumers, then retry")},
    # -- clients --
    "consume": {
        KafkaError.UNKNOWN_TOPIC_OR_PART: _TOPIC_MISSING,
        KafkaError._UNKNOWN_TOPIC: _TOPIC_MISSING,
        **_ACCESS,
    },
    "share": {
        code: Meaning(KpocError, "share group {group!r}: {why}",
                      "list topics with `kpoc topics list`")
        for code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)},
    # A failed delivery: the text of its report (no exception is raised per message).
    "produce": {
        KafkaError.MSG_SIZE_TOO_LARGE: Meaning(
            DeliveryError, _DELIVERY,
            "raise the topic's max.message.bytes (kpoc topics alter-config TOPIC "
            "-c max.message.bytes=N) and -X message.max.bytes=N, or send smaller messages"),
        KafkaError._MSG_TIMED_OUT: Meaning(
            DeliveryError, _DELIVERY,
            "no ack within message.timeout.ms; check `kpoc cluster status` or raise "
            "-X message.timeout.ms"),
        KafkaError.NOT_ENOUGH_REPLICAS: Meaning(
            DeliveryError, _DELIVERY,
            "fewer in-sync replicas than min.insync.replicas; start the stopped brokers "
            "(`kpoc cluster status`)"),
        KafkaError._UNKNOWN_PARTITION: Meaning(
            DeliveryError, _DELIVERY, "the partition does not exist; see `kpoc topics describe`"),
        KafkaError.TOPIC_AUTHORIZATION_FAILED: Meaning(
            DeliveryError, _DELIVERY,
            "this principal lacks the WRITE ACL on the topic; an admin can add it: "
            "kpoc acls add --principal User:NAME --operation write --topic TOPIC"),
    },
    # -- ACLs --
    "acls": {
        KafkaError.SECURITY_DISABLED: Meaning(
            KpocError, "{what}: this cluster has no authorizer, so it has no ACLs",
            "ACLs need a secure cluster: `kpoc cluster up --secure` (after `kpoc cluster "
            "destroy`), or enable an authorizer on yours"),
        KafkaError.CLUSTER_AUTHORIZATION_FAILED: Meaning(
            AuthError, "{what}: not authorised: managing ACLs needs DESCRIBE/ALTER on the "
            "cluster, which {account} lacks",
            "connect as an admin (a local secure cluster's: -F <data-dir>/client.properties)"),
    },
}

#: The facts each request's rows use beyond the ones every call has (checked by a test).
FACTS: dict[str, frozenset[str]] = {
    "*": frozenset(),
    "topic": frozenset({"topic"}),
    "access": frozenset({"topic", "group", "operation", "OPERATION"}),
    "watermarks of a listing": frozenset({"topic"}),
    "create topic": frozenset({"topic", "replication_factor", "brokers"}),
    "alter topic config": frozenset({"topic"}),
    "add partitions": frozenset({"topic", "total", "have"}),
    "group": frozenset({"group"}),
    "delete group": frozenset({"group"}),
    "group configs": frozenset({"group", "configs"}),
    "reset offsets": frozenset({"group"}),
    "consume": frozenset({"topic", "group", "operation", "OPERATION"}),
    "share": frozenset({"group"}),
    "produce": frozenset(),
    "acls": frozenset(),
}
#: The facts every call has.
COMMON_FACTS = frozenset({"what", "why", "name", "servers", "principal", "grant", "account"})


def meaning(request: str, code: int | None) -> Meaning | None:
    """The row for ``code`` in ``request``'s table, else in the ``"*"`` table, else None."""
    if code is None:
        return None
    return MEANINGS.get(request, {}).get(code) or MEANINGS["*"].get(code)


#: Nothing answered (or the connection broke): "no broker answered", with the cause if known.
UNAVAILABLE = frozenset({KafkaError._TRANSPORT, KafkaError._TIMED_OUT,
                         KafkaError._ALL_BROKERS_DOWN})
#: The credentials were refused: the cause is read from librdkafka's reports.
AUTH_FAILED = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})
#: Reports that retrying will not fix: a wait stops at the first one.
STOP = AUTH_FAILED | {KafkaError._SSL}
#: A topic the client asked for is unknown (to the broker, or to librdkafka's metadata).
UNKNOWN_TOPIC = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC})
#: A partition answers these while its leadership moves: asked again, they clear in seconds.
LEADER_MOVED = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                          KafkaError.FENCED_LEADER_EPOCH, KafkaError.UNKNOWN_LEADER_EPOCH,
                          KafkaError.OFFSET_NOT_AVAILABLE})
#: Right after a topic is created or while one is deleted, brokers disagree for a moment.
TRANSIENT = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.LEADER_NOT_AVAILABLE,
                       KafkaError.NOT_LEADER_FOR_PARTITION})
#: A message that failed with one of these may be on the broker even though no ack arrived.
MAYBE_PERSISTED = frozenset({KafkaError._MSG_TIMED_OUT, KafkaError._PURGE_INFLIGHT,
                             KafkaError.REQUEST_TIMED_OUT})
#: The code a message gets when its delivery report never came within kpoc's own bound: it may
#: be stored (one of MAYBE_PERSISTED).
NO_REPORT = KafkaError._MSG_TIMED_OUT
