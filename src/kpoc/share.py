"""Share groups (KIP-932, "queues for Kafka"): members read the *same* partitions, each record
is acquired by one member for a lock period and then acknowledged — accepted (done), released
(redelivered, its delivery count one higher) or rejected (never delivered again).

kpoc always runs librdkafka's share consumer in explicit acknowledgement mode and acknowledges a
record only after the caller has handled it, so a crash or Ctrl-C never accepts a record that was
not handled: what a member held is redelivered to the others once its lock expires or the member
leaves. The ``implicit`` mode of kpoc accepts every handled record; ``explicit`` asks ``decide``
for each one.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import AcknowledgeType, KafkaException
from confluent_kafka import ShareConsumer as _RdShareConsumer

from . import _wire
from ._client import base_properties, make_client, partition_count, translate
from .admin import Admin
from .config import ClientConfig, check_text
from .envelope import Record
from .errors import KpocError, NotFound, UsageError

__all__ = ["ACK_MODES", "Delivery", "ShareReader", "pattern_decider", "require_share_groups"]

ACK_MODES = ("implicit", "explicit")
_ACK = {"accept": AcknowledgeType.ACCEPT, "release": AcknowledgeType.RELEASE,
        "reject": AcknowledgeType.REJECT}

Decide = Callable[[Record, int], str]


@dataclass(frozen=True)
class Delivery:
    """One record as this member received it: ``delivery_count`` > 1 means redelivered."""

    record: Record
    delivery_count: int
    ack: str  # accept | release | reject

    def to_json_dict(self) -> dict[str, Any]:
        return {**self.record.to_envelope(), "delivery_count": self.delivery_count,
                "ack": self.ack}


def pattern_decider(reject_if: str | None, release_if: str | None) -> Decide:
    """reject when the value matches ``reject_if``, release when it matches ``release_if``
    (reject wins), else accept. Patterns are Python regular expressions searched in the value
    decoded as UTF-8."""
    def compile_(flag: str, text: str | None) -> re.Pattern[str] | None:
        if text is None:
            return None
        try:
            return re.compile(text)
        except re.error as exc:
            raise UsageError(f"{flag} {text!r} is not a valid regular expression: {exc}",
                             "e.g. --reject-if '^poison'") from None

    rej, rel = compile_("--reject-if", reject_if), compile_("--release-if", release_if)

    def decide(rec: Record, count: int) -> str:
        text = (rec.value or b"").decode("utf-8", "replace")
        if rej is not None and rej.search(text):
            return "reject"
        if rel is not None and rel.search(text):
            return "release"
        return "accept"

    return decide


def require_share_groups(config: ClientConfig) -> None:
    """A one-line error unless the cluster has share groups: ``share.version`` finalized ≥ 1
    (Kafka ≥ 4.1; production-ready in 4.2). librdkafka would otherwise retry its heartbeat
    forever. Asked with kpoc's own ApiVersions (plaintext listeners; others are not checked)."""
    if not Admin(config).wire_ok:
        return
    last: Exception | None = None
    for addr in config.bootstrap_servers.split(","):
        host, _, port = addr.strip().rpartition(":")
        try:
            info = _wire.api_versions(host or "127.0.0.1", int(port), config.timeout)
        except (_wire.WireError, ValueError) as exc:
            last = exc
            continue
        level = info.finalized_features.get("share.version", (0, 0))[1]
        if level < 1 or _wire.SHARE_GROUP_DESCRIBE not in info.api_keys:
            raise UsageError(
                f"the cluster at {config.bootstrap_servers} has no share groups (share.version "
                f"is {'not finalized' if level < 1 else level}; librdkafka's mock cluster and "
                "Kafka < 4.1 have none)", "use Kafka ≥ 4.2 (`kpoc cluster up`) or a consumer "
                "group (--group)")
        return
    raise KpocError(f"no broker at {config.bootstrap_servers} answered ApiVersions within "
                    f"{config.timeout:g}s ({last})", "check the address or `kpoc cluster up`")


class ShareReader:
    """A member of share group ``group`` on ``topics`` yielding :class:`Delivery` objects."""

    def __init__(self, config: ClientConfig, topics: list[str], group: str,
                 ack: str = "implicit", decide: Decide | None = None,
                 start: str | None = None, defaults: dict[str, object] | None = None) -> None:
        if not topics:
            raise UsageError("no topic given", "e.g. kpoc consume teste --share-group jobs")
        if ack not in ACK_MODES:
            raise UsageError(f"unknown acknowledgement mode {ack!r}", "use implicit or explicit")
        if ack == "implicit" and decide is not None:
            raise UsageError("--reject-if/--release-if decide per record: that is --ack "
                             "explicit", "add --ack explicit (or drop the patterns)")
        if start not in (None, "beginning", "end"):
            raise UsageError(f"--from {start} is not possible for a share group: it reads "
                             "from the group's start offset", "use --from beginning or end "
                             "(applied when the group is new)")
        self.config, self.topics = config, topics
        self.group = check_text(group, "share group name")
        self._decide: Decide = decide or (lambda _r, _c: "accept")
        self._start = start
        self._defaults = {"group.id": group, "share.acknowledgement.mode": "explicit",
                          **(defaults or {})}
        self._client: _RdShareConsumer | None = None
        self._stop = threading.Event()
        self._pending: list[Any] = []  # polled, not yet handed out: released on close

    def __enter__(self) -> ShareReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> _RdShareConsumer:
        """Check the cluster, the topics and the group, then join (also done by
        :meth:`deliveries`)."""
        if self._client is not None:
            return self._client
        require_share_groups(self.config)
        for t in self.topics:
            partition_count(self.config, t, "read")
        with Admin(self.config) as admin:
            gtype = admin.group_type(self.group) if admin.wire_ok else None
            if gtype not in (None, "SHARE"):
                raise UsageError(f"group {self.group!r} is a {gtype.lower()} group, not a "
                                 "share group", "choose another --share-group name")
            # Kafka's default for a new share group is the end of the log; kpoc's consumers
            # start at the beginning, and so does a new share group unless told otherwise.
            reset = {"beginning": "earliest", "end": "latest"}.get(self._start or "")
            if reset or gtype is None:
                admin.set_group_configs(self.group, {"share.auto.offset.reset":
                                                     reset or "earliest"})
        client = make_client(_RdShareConsumer, base_properties(self.config, self._defaults))
        client.subscribe(self.topics)
        self._client = client
        return client

    def deliveries(self, count: int | None = None, exit_at_end: bool = False,
                   idle: float = 1.0) -> Iterator[Delivery]:
        """Yield deliveries; each is acknowledged once the caller asks for the next.

        ``exit_at_end``: stop once a poll brings nothing and the group has nothing left to
        deliver on these topics (Kafka's share-group lag is 0: every record is acknowledged or
        archived, none in flight elsewhere), checked at most every ``idle`` seconds.
        """
        if count is not None and count < 1:
            raise UsageError(f"--count must be ≥ 1, got {count}", "e.g. --count 10")
        client = self.open()
        seen = 0
        next_check = time.monotonic()
        while not self._stop.is_set():
            try:
                msgs = list(client.poll(0.2))
            except KafkaException as exc:
                raise translate(exc, self.config, f"share group {self.group!r}") from exc
            self._pending = [m for m in msgs if not self._event(m)]
            while self._pending:
                msg = self._pending[0]
                rec = Record.from_message(msg)
                n = msg.delivery_count() or 1
                decision = self._decide(rec, n)
                yield Delivery(rec, n, decision)
                self._pending.pop(0)
                client.acknowledge(msg, _ACK[decision])
                seen += 1
                if (count is not None and seen >= count) or self._stop.is_set():
                    return
            if msgs:
                with contextlib.suppress(KafkaException):
                    client.commit_async()
            elif exit_at_end and time.monotonic() >= next_check:
                next_check = time.monotonic() + idle
                if self._drained():
                    return

    def _event(self, msg: Any) -> bool:
        err = msg.error()
        if err is None:
            return False
        if err.fatal() or not err.retriable():
            raise translate(err, self.config, f"share group {self.group!r}", "share",
                            group=self.group)
        return True

    def _drained(self) -> bool:
        """Every partition of the topics has share-group lag 0, or has never held a record
        (no share state, high watermark 0); a group not created yet is not drained."""
        try:
            with Admin(self.config) as admin:
                info = admin.describe_group(self.group, "SHARE")
                counts = {t: admin.partition_count(t) for t in self.topics}
        except NotFound:
            return False
        lags = {(x.topic, x.partition): x for x in info.lags}
        for t, n in counts.items():
            for p in range(n):
                x = lags.get((t, p))
                if x is None or not (x.lag == 0 or (x.lag is None and x.high == 0)):
                    return False
        return True

    def stop(self) -> None:
        """Ask :meth:`deliveries` to return after the record in hand."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Release what was received but not handed out, send the acknowledgements, leave."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            for msg in self._pending:
                with contextlib.suppress(KafkaException):
                    client.acknowledge(msg, AcknowledgeType.RELEASE)
            self._pending = []
            with contextlib.suppress(KafkaException):
                client.commit_sync(self.config.timeout)
        finally:
            client.close()
