"""Fault scenarios on a kpoc-managed 3-node cluster, each ending in a verdict.

A run creates a fresh topic (3 partitions, RF 3, ``min.insync.replicas=2``), starts a consumer
process reading it in a group, produces numbered messages at a steady rate with the idempotent
producer, and meanwhile a *fault script* runs in a thread: it waits for the traffic to reach a
checkpoint, injects a fault (SIGKILL a partition leader, bounce a broker, …), repairs it, and waits
for the cluster to be whole again. At the end the checker compares what was acknowledged with what
was consumed, and scenario-specific criteria are added. Modelled on Apache Kafka's own
``replication_test.py``.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cluster import LocalCluster
from ..errors import ClusterError, KpocError, UsageError
from ._load import ACKED, Checkpoint, Load
from ._probe import Growth, KpocConsumer
from ._reader import Reader
from .checker import DeliveryCheck, check, group_recovery, redelivery_bound

if TYPE_CHECKING:
    from ..config import ClientConfig

__all__ = ["CATCH_UP_BOUND", "SCENARIOS", "SHARE_KILL", "Context", "Fault", "Scenario", "Verdict",
           "reader_settings", "resolve", "run"]

#: The consumer must have read every acknowledged message this long after the last report.
CATCH_UP_BOUND = 30.0
#: Seconds without a new record (while some are unread) before the reader is restarted, once,
#: beyond the reader's classic session timeout: a group whose coordinator died waits that long
#: for the members the new coordinator reloaded (group recovery), which is no stall. At 10 s
#: flat, a leader-kill run restarted its reader in that wait, and the restarted member's own
#: rejoin kept it from catching up within CATCH_UP_BOUND.
STALL_RESTART = 10.0
PARTITIONS = 3
REPLICATION = 3
MIN_ISR = 2

Progress = Callable[[str], None]
OFFSETS_TOPIC = "__consumer_offsets"


def offsets_partition(group: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition of ``group``, whose leader coordinates it: Kafka's
    ``Utils.abs(group.hashCode()) % partitions`` (Java's String hash over UTF-16 code units)."""
    h = 0
    units = group.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    if h >= 2**31:
        h -= 2**32
    return (0 if h == -2**31 else abs(h)) % partitions


def same_coordinator(group: str, base: str, partitions: int) -> str:
    """``base-N`` with the smallest N whose group has the same coordinator as ``group``."""
    want = offsets_partition(group, partitions)
    return next(f"{base}-{n}" for n in range(100 * partitions)
                if offsets_partition(f"{base}-{n}", partitions) == want)


def _silent(_: str) -> None:
    pass


@dataclass
class Fault:
    """One injected fault. Recovery is measured from ``recover_from`` (by default the fault)."""

    label: str
    at: float
    recover_from: float
    recovery_s: float | None = None
    group_recovery_s: float | None = None

    def to_dict(self, t0: float) -> dict[str, Any]:
        return {"fault": self.label, "at_s": round(self.at - t0, 3),
                "recovery_s": _r(self.recovery_s), "group_recovery_s": _r(self.group_recovery_s)}


@dataclass
class Criterion:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    scenario: int
    name: str
    title: str
    topic: str
    messages: int
    rate: float
    check: DeliveryCheck
    criteria: list[Criterion]
    faults: list[dict[str, Any]]
    time_to_recover_s: float | None
    catch_up_s: float | None
    duration_s: float
    notes: dict[str, Any] = field(default_factory=dict)
    #: The worst fault's :func:`~kpoc.chaos.checker.group_recovery`: from the first
    #: acknowledgement after the fault's end to the reading group's first read after it.
    group_recovery_s: float | None = None
    #: The reading group's settings (group.protocol, session.timeout.ms, static membership).
    reader_group: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.criteria)

    def failures(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.ok]

    def rows(self) -> list[tuple[str, str]]:
        """The verdict table: label, value."""
        c = self.check
        rec = "-" if self.time_to_recover_s is None else f"{self.time_to_recover_s:.1f} s"
        cu = "-" if self.catch_up_s is None else f"{self.catch_up_s:.1f} s"
        gr = "-" if self.group_recovery_s is None else f"{self.group_recovery_s:.1f} s"
        group = ", ".join(f"{k}={v}" for k, v in self.reader_group.items())
        return [
            ("produced", str(c.produced)),
            ("acknowledged", str(c.acknowledged)),
            ("failed (reported)", str(c.failed)),
            ("consumed", f"{c.consumed} ({c.distinct} distinct)"),
            ("missing", str(c.missing)),
            ("duplicates", str(c.duplicates) + (f" ({c.duplicates_of_failed} of failed messages)"
                                                if c.duplicates_of_failed else "")),
            ("reordered", str(c.reordered) + (f" ({c.reordered_failed} of failed messages)"
                                              if c.reordered_failed else "")),
            ("re-delivered", str(c.redelivered)),
            ("time to recover", rec),
            ("group recovery", gr + (f" ({group})" if group else "")),
            ("consumer catch-up", cu),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "name": self.name, "title": self.title,
            "topic": self.topic, "messages": self.messages, "rate": self.rate,
            "verdict": "pass" if self.ok else "fail", "ok": self.ok,
            "produced": self.check.produced, "acknowledged": self.check.acknowledged,
            "failed": self.check.failed, "consumed": self.check.consumed,
            "missing": self.check.missing, "duplicates": self.check.duplicates,
            "reordered": self.check.reordered, "redelivered": self.check.redelivered,
            "time_to_recover_s": _r(self.time_to_recover_s),
            "group_recovery_s": _r(self.group_recovery_s), "reader_group": self.reader_group,
            "catch_up_s": _r(self.catch_up_s),
            "duration_s": _r(self.duration_s),
            "criteria": [asdict(c) for c in self.criteria], "faults": self.faults,
            "check": self.check.to_dict(), "notes": self.notes,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


class Context:
    """What a fault script sees: the cluster, the traffic, the reader, and a clock."""

    def __init__(self, cluster: LocalCluster, bootstrap: str, topic: str, load: Load,
                 reader: Reader, checkpoints: list[Checkpoint], progress: Progress,
                 pause: float) -> None:
        from confluent_kafka.admin import AdminClient

        from .._client import base_properties
        from ..config import ClientConfig

        self.cluster, self.bootstrap, self.topic = cluster, bootstrap, topic
        self.load, self.reader, self.checkpoints = load, reader, checkpoints
        self.progress, self.pause = progress, pause
        self.faults: list[Fault] = []
        self.notes: dict[str, Any] = {}
        self.marks: dict[str, float] = {}
        self.stop = threading.Event()
        self.error: str | None = None
        self.t0 = time.monotonic()
        self.admin = AdminClient(base_properties(ClientConfig(bootstrap)))

    # -- clock and log --------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.progress(f"t+{time.monotonic() - self.t0:5.1f}s  {text}")

    def reach(self, k: int, timeout: float = 900.0) -> None:
        """Wait until the traffic reaches checkpoint ``k``; it holds there until released."""
        cp = self.checkpoints[k]
        deadline = time.monotonic() + timeout
        while not cp.reached.wait(0.2):
            if self.stop.is_set() or time.monotonic() > deadline:
                raise ClusterError(f"traffic never reached message {cp.index}")

    def release(self, k: int) -> None:
        self.checkpoints[k].released.set()

    def at(self, k: int) -> None:
        """Wait until the traffic reaches checkpoint ``k``, then let it go on."""
        self.reach(k)
        self.release(k)

    def fault(self, label: str) -> Fault:
        now = time.monotonic()
        f = Fault(label, now, now)
        self.faults.append(f)
        self.say(f"{label}  ({self.load.sent} messages sent)")
        return f

    # -- cluster facts --------------------------------------------------------------------------
    def partitions(self, topic: str | None = None) -> dict[int, Any]:
        """The partitions of the scenario's topic (or of ``topic``), retried for 30 s."""
        name = topic or self.topic
        deadline = time.monotonic() + 30
        while True:
            try:
                md = self.admin.list_topics(name, timeout=5)
                t = md.topics[name]
                if t.error is None and t.partitions and (
                        topic is not None or len(t.partitions) == PARTITIONS):
                    return dict(t.partitions)
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"no metadata for topic {name} within 30s")
            time.sleep(0.2)

    def coordinator(self, group: str) -> int:
        """The node coordinating ``group``: the leader of its ``__consumer_offsets`` partition."""
        deadline = time.monotonic() + 30
        while True:
            parts = self.partitions(OFFSETS_TOPIC)
            leader = int(parts[offsets_partition(group, len(parts))].leader)
            if leader >= 0:
                return leader
            if time.monotonic() > deadline:
                raise ClusterError(f"group {group} has no coordinator after 30s")
            time.sleep(0.2)

    def leader(self, partition: int) -> int:
        deadline = time.monotonic() + 30
        while True:
            leader = self.partitions()[partition].leader
            if leader >= 0:
                return int(leader)
            if time.monotonic() > deadline:
                raise ClusterError(f"partition {partition} has no leader after 30s")
            time.sleep(0.2)

    def in_sync(self) -> bool:
        try:
            parts = self.partitions()
        except ClusterError:
            return False
        return all(len(p.isrs) == REPLICATION for p in parts.values())

    def wait_in_sync(self, timeout: float = 120.0) -> float:
        """Wait until every replica of the topic is in sync again; seconds it took."""
        t = time.monotonic()
        while not self.in_sync():
            if time.monotonic() - t > timeout:
                raise ClusterError(f"replicas of {self.topic} not back in sync within {timeout:g}s")
            time.sleep(0.25)
        return time.monotonic() - t

    def node_config(self, node: int, key: str) -> str | None:
        from confluent_kafka.admin import ConfigResource, ResourceType

        res = ConfigResource(ResourceType.BROKER, str(node))
        try:
            entries = next(iter(self.admin.describe_configs([res]).values())).result(timeout=10)
            return str(entries[key].value)
        except Exception:
            return None

    def start(self, node: int) -> None:
        self.say(f"start node {node}")
        self.cluster.start_node(node, timeout=300)  # ~8 s on a quiet machine

    def committed(self, group: str, timeout: float = 30.0) -> dict[int, int]:
        """The group's committed offsets; retried while the coordinator moves or loads."""
        from confluent_kafka import TopicPartition

        from .._client import committed_offsets
        from ..config import ClientConfig

        tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = committed_offsets(ClientConfig(self.bootstrap), group, tps, timeout=10)
                return {p: offset for (_, p), offset in got.items()}
            except KpocError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"committed offsets of {group!r} unavailable for "
                                       f"{timeout:g}s: {exc}") from exc
                time.sleep(0.5)


# -- the scenarios ------------------------------------------------------------------------------

Script = Callable[[Context], None]
Criteria = Callable[[Context, DeliveryCheck], list[Criterion]]


def _none(ctx: Context, c: DeliveryCheck) -> list[Criterion]:
    return []


@dataclass(frozen=True)
class Scenario:
    number: int
    name: str
    title: str
    script: Script
    checkpoints: tuple[float, ...]
    messages: int = 20_000
    rate: float = 1000.0
    #: None: kpoc's own producer settings (:func:`kpoc.producer.producer_defaults`).
    message_timeout_ms: int | None = 120_000
    failures_expected: bool = False
    #: Static membership for the reader, so that a restarted one takes the killed one's place at
    #: once (scenario 5); otherwise it is a dynamic member, as kpoc's consumer is.
    static_reader: bool = False
    criteria: Criteria = _none


def _leader_kill(ctx: Context) -> None:
    for k in range(3):
        ctx.reach(k)  # traffic holds here until the fault is in place, so it meets the fault
        victim = ctx.leader(0)
        ctx.fault(f"SIGKILL node {victim} (leader of partition 0), kill {k + 1}/3")
        ctx.cluster.kill_node(victim)
        ctx.release(k)
        time.sleep(ctx.pause)
        ctx.start(victim)
        ctx.say(f"replicas back in sync after {ctx.wait_in_sync():.1f}s")


def _bounce(ctx: Context) -> None:
    for k, node in enumerate(range(1, 4)):
        ctx.reach(k)
        ctx.fault(f"SIGTERM node {node} (controlled shutdown), bounce {k + 1}/3")
        ctx.cluster.stop_node(node)
        ctx.release(k)
        ctx.start(node)
        ctx.say(f"replicas back in sync after {ctx.wait_in_sync():.1f}s")


def _quorum_kill(ctx: Context) -> None:
    ctx.reach(0)
    victim = ctx.cluster.quorum_leader()
    if victim is None:
        raise ClusterError("no KRaft quorum leader to kill")
    ctx.fault(f"SIGKILL node {victim} (KRaft quorum leader)")
    ctx.cluster.kill_node(victim)
    ctx.release(0)
    deadline = time.monotonic() + 30
    while True:
        new = ctx.cluster.quorum_leader()
        if new is not None and new != victim:
            ctx.say(f"node {new} leads the quorum")
            break
        if time.monotonic() > deadline:
            ctx.say("no new quorum leader seen within 30s")
            break
        time.sleep(0.2)
    time.sleep(ctx.pause)
    ctx.start(victim)
    ctx.say(f"replicas back in sync after {ctx.wait_in_sync():.1f}s")


def _two_down(ctx: Context) -> None:
    ctx.reach(0)
    first = ctx.leader(0)
    quorum = ctx.cluster.quorum_leader()
    others = [n for n in (1, 2, 3) if n != first]
    second = quorum if quorum in others else others[0]
    ctx.fault(f"SIGKILL nodes {first} and {second}: one broker left, ISR < 2")
    ctx.cluster.kill_node(first)
    ctx.cluster.kill_node(second)
    ctx.marks["down"] = time.monotonic()
    ctx.release(0)  # the traffic up to the next checkpoint meets the outage
    timeout_s = ctx.load.message_timeout_ms / 1000
    hold = 2 * timeout_s + 2
    ctx.say(f"holding two brokers down for {hold:g}s (message.timeout.ms={timeout_s * 1000:.0f})")
    time.sleep(hold)
    ctx.marks["up"] = time.monotonic()
    ctx.faults[-1].recover_from = ctx.marks["up"]
    ctx.start(first)
    ctx.start(second)
    ctx.at(1)  # the traffic held here during the outage resumes now
    ctx.say(f"replicas back in sync after {ctx.wait_in_sync():.1f}s")


def _two_down_criteria(ctx: Context, c: DeliveryCheck) -> list[Criterion]:
    load = ctx.load
    down, up = ctx.marks.get("down"), ctx.marks.get("up")
    if down is None or up is None:
        return [Criterion("two brokers were down", False, "the fault never happened")]
    timeout_s = load.message_timeout_ms / 1000
    slack = 5.0
    false_acks = load.acked_between(down + 1.0, up)
    window = load.produced_between(down, up - timeout_s - 1.0)
    not_failed = [i for i in window if load.status[i] == ACKED]
    late = [i for i in range(load.sent) if load.status[i] not in (ACKED,)
            and load.t_report[i] - load.t_produce[i] > timeout_s + slack]
    slowest = max((load.t_report[i] - load.t_produce[i] for i in range(load.sent)
                   if load.status[i] != ACKED and load.t_report[i] > 0), default=0.0)
    ctx.notes["outage_window_messages"] = len(window)
    ctx.notes["slowest_failure_report_s"] = round(slowest, 3)
    ctx.notes["errors"] = sorted(set(load.error_names.values()))
    return [
        Criterion("no message acknowledged while two brokers were down", false_acks == 0,
                  f"{false_acks} acknowledged"),
        Criterion(f"every message produced during the outage reported failed "
                  f"({len(window)} messages)", bool(window) and not not_failed,
                  f"{len(not_failed)} not failed" if window else "no message in the window"),
        Criterion(f"failures reported within message.timeout.ms + {slack:g}s "
                  f"({timeout_s + slack:g}s)", not late,
                  f"slowest {slowest:.1f}s, {len(late)} late"),
        Criterion("producing resumed after restart", c.failed > 0 and c.acknowledged > 0
                  and any(f.recovery_s is not None for f in ctx.faults),
                  f"{c.acknowledged} acknowledged"),
    ]


#: How long scenario 9 keeps two brokers down (the outside fault test of issue 17 used ~20 s).
OUTAGE_S = 20.0


#: Scenario 9 also times ``kpoc consume`` groups with these settings through the recovery:
#: classic with librdkafka's default session (45 s) and a 10 s one, and KIP-848 (the broker's
#: group.consumer.session.timeout.ms applies). Name (for the notes, and the group's suffix), args.
PROBES = (("classic, session.timeout.ms=45000", "s45", ["-X", "session.timeout.ms=45000",
                                                        "--group-protocol", "classic"]),
          ("classic, session.timeout.ms=10000", "s10", ["-X", "session.timeout.ms=10000",
                                                        "--group-protocol", "classic"]),
          ("consumer (KIP-848)", "kip848", ["--group-protocol", "consumer"]))


def _outage_through(ctx: Context) -> None:
    # Unlike scenario 4, traffic does not hold for the outage: it goes on while two brokers are
    # down (messages queue and time out, or wait) and while they come back. It holds at the
    # second checkpoint only until the KRaft quorum is back (the first node restarted), so that
    # traffic meets the recovery itself, with older messages still queued.
    ctx.reach(0)
    # The reader's group is named after the topic; each probe's group gets a name with the same
    # coordinator, and that node is one of the two killed: every group loses its coordinator.
    n_offsets = len(ctx.partitions(OFFSETS_TOPIC))
    probes = {name: KpocConsumer(ctx.bootstrap, ctx.topic,
                                 same_coordinator(ctx.topic, f"{ctx.topic}-kpoc-{suffix}",
                                                  n_offsets), ctx.reader.workdir, args)
              for name, suffix, args in PROBES}
    reader = Growth(ctx.reader.files[-1])
    try:
        deadline = time.monotonic() + 60
        while (any(p.growth.size() == 0 for p in probes.values())
               and time.monotonic() < deadline):
            time.sleep(0.2)  # each group has its partitions and has read something
        first = ctx.coordinator(ctx.topic)
        quorum = ctx.cluster.quorum_leader()
        others = [n for n in (1, 2, 3) if n != first]
        second = quorum if quorum in others else others[0]
        ctx.notes["coordinator_killed"] = first
        ctx.fault(f"SIGKILL nodes {first} (the groups' coordinator) and {second} while "
                  f"producing; restart after {OUTAGE_S:g}s, producing on")
        ctx.cluster.kill_node(first)
        ctx.cluster.kill_node(second)
        ctx.marks["down"] = time.monotonic()
        ctx.release(0)
        time.sleep(OUTAGE_S)
        ctx.marks["up"] = time.monotonic()
        ctx.faults[-1].recover_from = ctx.marks["up"]
        ctx.start(first)
        quorum_back = time.monotonic()
        ctx.release(1)
        ctx.start(second)
        ctx.say(f"replicas back in sync after {ctx.wait_in_sync():.1f}s")
        # Group recovery: from the quorum's return until each consumer reads again.
        clocks = {"chaos reader": reader,
                  **{f"kpoc consume, {name}": p.growth for name, p in probes.items()}}
        deadline = time.monotonic() + 120
        while (any(g.grew_after(quorum_back) is None for g in clocks.values())
               and time.monotonic() < deadline):
            time.sleep(0.5)
        ctx.notes["reads_again_after_quorum_back_s"] = {
            name: None if (t := g.grew_after(quorum_back)) is None else round(t, 1)
            for name, g in clocks.items()}
        ctx.say(f"consumers read again after the quorum came back: "
                f"{ctx.notes['reads_again_after_quorum_back_s']}")
    finally:
        for p in probes.values():
            p.stop()
        reader.stop()


def _outage_through_criteria(ctx: Context, c: DeliveryCheck) -> list[Criterion]:
    down, up = ctx.marks.get("down"), ctx.marks.get("up")
    if down is None or up is None:
        return [Criterion("two brokers were down", False, "the fault never happened")]
    during = len(ctx.load.produced_between(down, up))
    after = len(ctx.load.produced_between(up, float("inf")))
    ctx.notes["produced_during_outage"] = during
    ctx.notes["produced_after_restart_began"] = after
    ctx.notes["message_timeout_ms"] = ctx.load.message_timeout_ms
    return [Criterion("produced through the outage and the recovery", during > 0 and after > 0,
                      f"{during} during, {after} after the restart began"),
            # Stricter than the common criterion: with kpoc's settings nothing times out here,
            # so not even a message reported failed may be stored twice.
            Criterion("no message written twice, acknowledged or not", c.duplicates == 0,
                      f"{c.duplicates} duplicates ({c.duplicates_of_failed} of failed messages)")]


def _consumer_kill(ctx: Context) -> None:
    # Traffic holds at the first checkpoint until the group has committed something, so the
    # kill at the second lands on a consumer with a commit history, mid-stream.
    ctx.reach(0)
    deadline = time.monotonic() + 60
    while not ctx.committed(ctx.topic):
        if time.monotonic() > deadline:
            raise ClusterError("the consumer committed nothing within 60s: "
                               f"{ctx.reader.last_error() or 'no error output'}")
        time.sleep(0.5)
    ctx.release(0)
    ctx.at(1)
    # Kill once the reader is busy with the new traffic: records processed, the next commit due.
    ctx.reader.poll()
    base = len(ctx.reader.seen)
    deadline = time.monotonic() + 30
    while len(ctx.reader.seen) < base + 100 and time.monotonic() < deadline:
        ctx.reader.poll()
        time.sleep(0.01)
    pid = ctx.reader.pid
    f = ctx.fault(f"SIGKILL the consumer process (pid {pid}) mid-batch")
    ctx.reader.kill()
    time.sleep(0.5)  # a commit already on the wire lands before we look
    written = ctx.reader.next_offsets()
    committed = ctx.committed(ctx.topic)
    bound = redelivery_bound(written, committed)
    ctx.notes["uncommitted_at_kill"] = bound
    ctx.notes["read_before_kill"] = len(ctx.reader.seen)
    ctx.say(f"processed but not committed at the kill: {bound} record(s)")
    time.sleep(ctx.pause)
    before = len(ctx.reader.seen)
    ctx.say("restart the consumer in the same group")
    ctx.reader.start()
    waited = ctx.reader.wait_for_new(before, 60)
    if waited is None:
        raise ClusterError(f"the restarted consumer read nothing within 60s: "
                           f"{ctx.reader.last_error() or 'no error output'}")
    f.recovery_s = time.monotonic() - f.at
    ctx.notes["consumer_recovery"] = True


def _consumer_kill_criteria(ctx: Context, c: DeliveryCheck) -> list[Criterion]:
    bound = ctx.notes.get("uncommitted_at_kill")
    if bound is None:
        return [Criterion("the consumer was killed", False, "the fault never happened")]
    return [Criterion("re-delivered only what was processed but not committed",
                      c.redelivered <= bound, f"{c.redelivered} re-delivered, {bound} uncommitted")]


def _full_restart(ctx: Context) -> None:
    ctx.reach(0)
    f = ctx.fault("stop every node (down), then up")
    ctx.cluster.down()
    ctx.release(0)
    ctx.say("all nodes stopped")
    time.sleep(ctx.pause)
    f.recover_from = time.monotonic()
    ctx.say("up")
    ctx.cluster.up(timeout=300)
    ctx.at(1)  # the traffic held here while the cluster was down resumes now
    ctx.say(f"replicas back in sync after {ctx.wait_in_sync():.1f}s")


def _slow_follower(ctx: Context) -> None:
    ctx.reach(0)
    parts = ctx.partitions()
    leader = parts[0].leader
    quorum = ctx.cluster.quorum_leader()
    followers = [n for n in parts[0].replicas if n != leader]
    victim = next((n for n in followers if n != quorum), followers[0])
    lag_ms = int(ctx.node_config(victim, "replica.lag.time.max.ms") or 30000)
    hold = lag_ms / 1000 + 2
    ctx.fault(f"SIGSTOP node {victim} (follower of partition 0) for {hold:g}s "
                  f"(replica.lag.time.max.ms={lag_ms})")
    ctx.cluster.signal_node(victim, signal.SIGSTOP)
    ctx.release(0)
    shrank = False
    end = time.monotonic() + hold
    while time.monotonic() < end:
        if not shrank and any(victim not in p.isrs for p in ctx.partitions().values()):
            shrank = True
            ctx.say(f"ISR shrank: node {victim} out")
        time.sleep(0.5)
    ctx.notes["isr_shrank"] = shrank
    ctx.cluster.signal_node(victim, signal.SIGCONT)
    # recovery counts from the SIGSTOP: how long writes stalled until the ISR let go of it
    ctx.say(f"SIGCONT node {victim}")
    took = ctx.wait_in_sync()
    ctx.notes["isr_rejoin_s"] = round(took, 3)
    ctx.say(f"ISR recovered after {took:.1f}s")


def _slow_follower_criteria(ctx: Context, c: DeliveryCheck) -> list[Criterion]:
    return [Criterion("ISR shrank while the follower was stopped",
                      bool(ctx.notes.get("isr_shrank"))),
            Criterion("ISR recovered after SIGCONT", "isr_rejoin_s" in ctx.notes,
                      f"{ctx.notes.get('isr_rejoin_s', '-')} s")]


SCENARIOS: dict[int, Scenario] = {s.number: s for s in [
    Scenario(1, "leader-kill", "SIGKILL the leader of partition 0, restart it; 3 times",
             _leader_kill, (0.2, 0.45, 0.7), messages=50_000),
    Scenario(2, "bounce", "clean bounce (SIGTERM, restart) of each broker in turn",
             _bounce, (0.2, 0.45, 0.7)),
    Scenario(3, "quorum-kill", "SIGKILL the KRaft quorum leader mid-run, restart it",
             _quorum_kill, (0.4,)),
    Scenario(4, "two-down", "two of three brokers down: no false acks, failures reported",
             _two_down, (0.3, 0.6), message_timeout_ms=5_000, failures_expected=True,
             criteria=_two_down_criteria),
    Scenario(5, "consumer-kill", "SIGKILL the consumer mid-batch, restart it in the same group",
             _consumer_kill, (0.3, 0.6), criteria=_consumer_kill_criteria, static_reader=True),
    Scenario(6, "full-restart", "stop every node (down) and start them again (up)",
             _full_restart, (0.4, 0.7)),
    Scenario(7, "slow-follower", "SIGSTOP a follower beyond replica.lag.time.max.ms, SIGCONT",
             _slow_follower, (0.3,), criteria=_slow_follower_criteria),
    Scenario(9, "outage-recovery", "two of three brokers down while producing, kpoc's producer "
             "settings: no acknowledged message twice", _outage_through, (0.1, 0.5),
             messages=20_000, rate=200.0, message_timeout_ms=None,
             criteria=_outage_through_criteria),
]}


#: The queue scenario (KIP-932, run by :mod:`kpoc.chaos.queue`): only a share-group member dies,
#: so it needs no node of the cluster and is not a :class:`Scenario`.
SHARE_KILL = (8, "share-kill")


def resolve(scenario: int | str) -> Scenario:
    """A scenario by number (``1``) or name (``leader-kill``)."""
    text = str(scenario).strip().lower()
    for s in SCENARIOS.values():
        if text in (str(s.number), s.name):
            return s
    numbered = sorted([(s.number, s.name) for s in SCENARIOS.values()] + [SHARE_KILL])
    names = ", ".join(f"{number}|{name}" for number, name in numbered)
    raise UsageError(f"unknown chaos scenario {scenario!r}", f"pick one of: {names}")


# -- the run --------------------------------------------------------------------------------------

def _preflight(cluster: LocalCluster) -> str:
    st = cluster.status()
    if len(st.nodes) != 3:
        raise UsageError(f"chaos scenarios need a 3-node cluster; {cluster.data_dir} has "
                         f"{len(st.nodes)}", "create one with `kpoc cluster up --nodes 3`")
    down = [n.node_id for n in st.nodes if not n.up]
    if down:
        raise ClusterError(f"node(s) {', '.join(map(str, down))} of {cluster.data_dir} are down",
                           "start them with `kpoc cluster up` first")
    return st.bootstrap_servers


def heal(cluster: LocalCluster, progress: Progress = _silent) -> list[int]:
    """Wake stopped nodes and start dead ones; return the ids started."""
    started = []
    st = cluster.state()
    for nid in st.node_ids if st is not None else []:
        cluster.signal_node(nid, signal.SIGCONT)
    for n in cluster.status().nodes:
        if n.pid is None:
            progress(f"heal: start node {n.node_id}")
            cluster.start_node(n.node_id, timeout=300)
            started.append(n.node_id)
    return started


def _load(sc: Scenario, bootstrap: str, topic: str, n: int, rate: float) -> Load:
    """The scenario's producer: its own message timeout, or kpoc's producer settings."""
    if sc.message_timeout_ms is not None:
        return Load(bootstrap, topic, PARTITIONS, n, rate, message_timeout_ms=sc.message_timeout_ms)
    from ..config import ClientConfig
    from ..producer import producer_defaults

    kpoc = producer_defaults(ClientConfig(bootstrap))
    return Load(bootstrap, topic, PARTITIONS, n, rate,
                message_timeout_ms=int(str(kpoc["message.timeout.ms"])), extra=kpoc)


def reader_settings(group_protocol: str | None = None, session_timeout_ms: int | None = None
                    ) -> dict[str, str]:
    """The reading group's settings: kpoc's consumer's for the protocol (classic by default), with
    ``session_timeout_ms`` (classic only: KIP-848 moved the session to the broker)."""
    from ..config import ClientConfig
    from ..consumer import CLASSIC_ONLY, CONSUMER_DEFAULTS, protocol_properties

    given = {} if session_timeout_ms is None else {"session.timeout.ms": str(session_timeout_ms)}
    if session_timeout_ms is not None and session_timeout_ms <= 0:
        raise UsageError(f"--session-timeout-ms {session_timeout_ms} must be positive",
                         "e.g. --session-timeout-ms 10000")
    props = {**protocol_properties(group_protocol, ClientConfig(properties=given),
                                   CONSUMER_DEFAULTS), **given}
    return {k: str(v) for k, v in props.items() if k in CLASSIC_ONLY or k == "group.protocol"}


def run(scenario: int | str, cluster: LocalCluster, messages: int | None = None,
        rate: float | None = None, pause: float = 2.0, progress: Progress = _silent,
        keep_topic: bool = False, group_protocol: str | None = None,
        session_timeout_ms: int | None = None) -> Verdict:
    """Run one scenario against the cluster in ``cluster``; the cluster is left whole.

    ``group_protocol`` and ``session_timeout_ms`` set the reading group's protocol (classic or
    consumer, KIP-848) and classic session timeout; by default kpoc's consumer's."""
    from ..config import ClientConfig

    sc = resolve(scenario)
    settings = reader_settings(group_protocol, session_timeout_ms)
    n = sc.messages if messages is None else messages
    r = sc.rate if rate is None else rate
    if n < 100:
        raise UsageError(f"--messages {n} is too few for a fault run", "use at least 100")
    if r <= 0:
        raise UsageError(f"--rate {r:g} must be positive", "e.g. --rate 1000")
    bootstrap = _preflight(cluster)
    topic = f"kpoc-chaos-{sc.number}-{sc.name}-{uuid.uuid4().hex[:8]}"
    config = ClientConfig(bootstrap_servers=bootstrap, timeout=30)
    _create_topic(config, topic)
    load = _load(sc, bootstrap, topic, n, r)
    progress(f"scenario {sc.number} {sc.name}: {sc.title}")
    progress(f"topic {topic}: {PARTITIONS} partitions, RF {REPLICATION}, min.insync.replicas "
             f"{MIN_ISR}; {n} messages at {r:g}/s, message.timeout.ms={load.message_timeout_ms}")

    work = Path(tempfile.mkdtemp(prefix="kpoc-chaos-"))
    reader = Reader(bootstrap, topic, topic, work, settings, static=sc.static_reader)
    progress(f"reading group: {', '.join(f'{k}={v}' for k, v in settings.items())}"
             + (", static membership" if sc.static_reader else ""))
    checkpoints = [Checkpoint(int(f * n), threading.Event(), threading.Event())
                   for f in sc.checkpoints]
    ctx = Context(cluster, bootstrap, topic, load, reader, checkpoints, progress, pause)
    ctx.wait_in_sync(60)
    reader.start()
    t_start = time.monotonic()
    left, catch_up, healthy = _drive(sc, ctx)
    duration = time.monotonic() - t_start

    acked_at = load.ack_times()
    read_at = [s.at for s in reader.seen if s.at is not None]
    for f in ctx.faults:
        if f.recovery_s is None:
            f.recovery_s = load.recovery_after(f.recover_from)
        new = load.produced_since(f.recover_from)
        f.group_recovery_s = group_recovery(
            acked_at, read_at, f.recover_from,
            [s.at for s in reader.seen if s.at is not None and (s.partition, s.seq) in new])
    c = check(load.deliveries(), reader.seen, produced=load.sent)
    ttr = _worst([f.recovery_s for f in ctx.faults])
    group_rec = _worst([f.group_recovery_s for f in ctx.faults])
    crit = _criteria(sc, ctx, c, left, catch_up, ttr, healthy)
    _note_run(ctx, work)
    if all(cr.ok for cr in crit):
        shutil.rmtree(work, ignore_errors=True)
        ctx.notes.pop("workdir")
    if not keep_topic:
        _drop_topic(config, topic)
    return Verdict(sc.number, sc.name, sc.title, topic, n, r, c, crit,
                   [f.to_dict(ctx.t0) for f in ctx.faults], ttr, catch_up, duration, ctx.notes,
                   group_rec,
                   {**settings, **({"group.instance.id": "static"} if sc.static_reader else {})})


def _worst(figures: list[float | None]) -> float | None:
    """The largest of the faults' figures; None if there were none or any is missing."""
    if not figures or any(x is None for x in figures):
        return None
    return max(x for x in figures if x is not None)


def _create_topic(config: ClientConfig, topic: str) -> None:
    from ..admin import Admin

    with Admin(config) as admin:
        admin.create_topic(topic, PARTITIONS, REPLICATION, {"min.insync.replicas": str(MIN_ISR)})


def _drop_topic(config: ClientConfig, topic: str) -> None:
    """Delete the run's topic and its consumer group, as far as the cluster lets us."""
    from ..admin import Admin

    try:
        with Admin(config) as admin:
            admin.delete_topic(topic)
            admin.client.delete_consumer_groups([topic], request_timeout=10)
    except Exception:
        pass


def _drive(sc: Scenario, ctx: Context) -> tuple[int, float | None, bool]:
    """Produce while the fault script runs beside, then wait for the consumer and heal the
    cluster whatever happened; return (messages without a report, catch-up seconds or None,
    whether the cluster is whole again)."""
    load, reader = ctx.load, ctx.reader

    def script() -> None:
        try:
            sc.script(ctx)
        except Exception as exc:  # reported in the verdict; the run still ends cleanly
            ctx.error = f"{type(exc).__name__}: {exc}"
            ctx.say(f"fault script failed: {ctx.error}")
            ctx.stop.set()

    thread = threading.Thread(target=script, name=f"chaos-{sc.name}", daemon=True)
    catch_up: float | None = None
    left = 0
    healthy = False
    thread.start()
    try:
        load.run(ctx.checkpoints, stop=ctx.stop)
        ctx.say(f"all {load.sent} messages handed to the producer"
                + (f" (held {load.held:.1f}s at checkpoints)" if load.held >= 0.1 else ""))
        thread.join(timeout=900)
        if thread.is_alive():
            ctx.error = ctx.error or "the fault script did not finish within 900s"
            ctx.stop.set()
        left = load.flush(load.message_timeout_ms / 1000 + 30)
        catch_up = _catch_up(ctx)
    finally:
        ctx.stop.set()
        for cp in ctx.checkpoints:
            cp.released.set()
        thread.join(timeout=60)
        reader.stop()
        load.close()
        try:
            heal(ctx.cluster, ctx.say)
            ctx.wait_in_sync(120)
            healthy = True
        except Exception as exc:
            ctx.say(f"cluster not healthy after the run: {exc}")
    return left, catch_up, healthy


def _catch_up(ctx: Context) -> float | None:
    """Seconds until the consumer has read every acknowledged message after the last delivery
    report; None if it did not within :data:`CATCH_UP_BOUND` (or exited)."""
    load, reader = ctx.load, ctx.reader
    t_reports = time.monotonic()
    acked = load.acked_keys()
    ctx.say(f"every delivery report in: {len(acked)} acknowledged; waiting for the consumer")
    reader.poll()
    have = {(s.partition, s.seq) for s in reader.seen if s.seq is not None}
    last_new = time.monotonic()
    stall = STALL_RESTART + int(reader.settings.get("session.timeout.ms", 0)) / 1000
    while True:
        fresh = {(s.partition, s.seq) for s in reader.poll() if s.seq is not None}
        if fresh - have:
            last_new = time.monotonic()
        have |= fresh
        if acked <= have:
            return time.monotonic() - t_reports
        if time.monotonic() - t_reports > CATCH_UP_BOUND:
            return None
        if time.monotonic() - last_new > stall and not ctx.notes.get("reader_restarts"):
            # A safety net, no longer expected to fire: the stalls once seen here (after a
            # leader or quorum-leader kill) were the reader's consumer fenced and dead while
            # it ignored the fatal error; it now rejoins itself (reader_rejoins_…). Restart it
            # once (at least once: what it re-reads is counted as re-delivered) and say so
            # in the verdict, rather than let a client stall read as data loss.
            ctx.say(f"the consumer made no progress for {stall:g}s with "
                    f"{len(acked - have)} acknowledged message(s) unread: restarting it")
            ctx.notes["reader_restarts"] = 1
            reader.stop()
            reader.start()
            last_new = time.monotonic()
        if not reader.alive():
            ctx.say(f"the consumer exited: {reader.last_error() or 'no error output'}")
            return None
        time.sleep(0.1)


def _criteria(sc: Scenario, ctx: Context, c: DeliveryCheck, left: int, catch_up: float | None,
              ttr: float | None, healthy: bool) -> list[Criterion]:
    """What every run must show, then the scenario's own criteria."""
    load = ctx.load
    crit = [
        Criterion("faults injected as planned", ctx.error is None and bool(ctx.faults),
                  ctx.error or f"{len(ctx.faults)} fault(s)"),
        Criterion("no acknowledged message missing", c.missing == 0, f"{c.missing} missing"),
        Criterion("no acknowledged message written twice",
                  c.duplicates == c.duplicates_of_failed, f"{c.duplicates} duplicates"
                  + (f", {c.duplicates_of_failed} of them copies of failed (possibly persisted) "
                     "messages" if c.duplicates_of_failed else "")),
        Criterion("order kept in every partition", c.reordered == c.reordered_failed,
                  f"{c.reordered} reordered" + (f", {c.reordered_failed} of them failed messages"
                                                if c.reordered_failed else "")),
        Criterion("nothing consumed that was not produced", c.unexpected == 0
                  and c.offset_mismatch == 0,
                  f"{c.unexpected} unexpected, {c.offset_mismatch} at the wrong offset"),
        Criterion("every message got a delivery report", c.unreported == 0 and left == 0,
                  f"{max(c.unreported, left)} without a report"),
        Criterion(f"consumer caught up within {CATCH_UP_BOUND:g}s of the last report",
                  catch_up is not None, "-" if catch_up is None else f"{catch_up:.1f}s"),
        Criterion("recovered from every fault", ttr is not None,
                  "-" if ttr is None else f"{ttr:.1f}s"),
        Criterion("cluster whole again afterwards", healthy),
    ]
    if not sc.failures_expected:
        crit.append(Criterion("no delivery failed", c.failed == 0, f"{c.failed} failed"))
    if load.fatal:
        crit.append(Criterion("no fatal producer error", False, load.fatal[0]))
    return crit + sc.criteria(ctx, c)


def _note_run(ctx: Context, work: Path) -> None:
    """What the verdict's notes say beyond the criteria."""
    load, reader = ctx.load, ctx.reader
    if load.error_names:
        ctx.notes.setdefault("errors", sorted(set(load.error_names.values())))
    if reader.torn:
        ctx.notes["torn_lines"] = reader.torn
    if reader.rejoins():
        ctx.notes["reader_rejoins_after_fatal_error"] = reader.rejoins()
    ctx.notes["held_s"] = round(load.held, 3)
    ctx.notes["workdir"] = str(work)
