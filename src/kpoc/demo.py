"""The seed's diagram, live: topic ``teste`` on 3 brokers, a producer with delivery reports, and
a group of 4 consumers of which one is idle because the topic has only 3 partitions. Then Kafka
4's answer: the same four consumers in a share group (KIP-932), where all four receive records.

Each step explains itself in a line or two so a newcomer can follow what Kafka is doing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .admin import Admin, GroupInfo
from .config import DEFAULT_TOPIC, ClientConfig
from .consumer import Consumer, GroupEvent
from .errors import KpocError, NotFound
from .producer import DeliveryReport, Producer
from .share import ShareReader, require_share_groups

__all__ = ["DemoResult", "run_demo"]

Say = Callable[[str], None]
# Keys cliente-0..6: with murmur2 (Java's partitioner, kpoc's default) they cover all three of
# teste's partitions (cliente-0..4 land on only two), so every assigned consumer gets messages.
KEYS = 7


@dataclass
class _Member:
    name: str
    consumer: Consumer
    received: Counter = field(default_factory=Counter)
    events: list[GroupEvent] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def run(self) -> None:
        try:
            for rec in self.consumer.records():
                self.received[rec.partition] += 1
        except BaseException as exc:  # reported by the demo, not lost in a thread
            self.error = exc


@dataclass
class DemoResult:
    delivered: int
    failed: int
    received: dict[str, dict[int, int]]
    idle: list[str]
    final_lag: int
    #: The second act: records each consumer of the share group received (empty if skipped).
    shared: dict[str, int] = field(default_factory=dict)


def _step(say: Say, n: int, title: str, why: str) -> None:
    say("")
    say(f"[{n}/6] {title}")
    say(f"      {why}")


def _wait_stable(admin: Admin, group: str, members: int, partitions: int,
                 timeout: float) -> GroupInfo:
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = admin.describe_group(group)
            if (info.state == "STABLE" and len(info.members) == members
                    and sum(len(m.assignment) for m in info.members) == partitions):
                return info
        except NotFound:
            pass
        if time.monotonic() > deadline:
            raise KpocError(f"the demo group {group!r} did not settle within {timeout:g}s",
                            "check `kpoc cluster status`; raise the bound with --timeout")
        time.sleep(0.3)


def run_demo(config: ClientConfig, say: Say, topic: str = DEFAULT_TOPIC, group: str = "demo",
             consumers: int = 4, messages: int = 12, keep_running: bool = False) -> DemoResult:
    """Run the six steps; with ``keep_running`` the consumers stay up until Ctrl-C."""
    with Admin(config) as admin:
        brokers = _show_cluster(admin, say)
        partitions = _show_topic(admin, say, topic, brokers)
        _step(say, 3, f"A group of {consumers} consumers", f"Kafka gives each partition to "
              f"exactly one member of group {group!r}; with {partitions} partitions and "
              f"{consumers} consumers, {max(0, consumers - partitions)} must wait idle.")
        members = _start_members(config, topic, group, consumers)
        idle = _show_assignment(admin, say, group, consumers, partitions,
                                max(30.0, config.timeout))
        committed_before = {x.partition: x.committed or 0
                            for x in admin.describe_group(group).lags}
        delivered, failed = _produce(config, say, topic, messages)
        lag = _show_lag(admin, say, group, partitions, committed_before,
                        max(30.0, config.timeout))
        _show_received(say, topic, members, idle)
        _stop_members(say, members, keep_running, config.timeout + 5)
        shared = _share_act(admin, config, say, topic, partitions, f"{group}-share",
                            consumers, max(60, 5 * messages))
    return DemoResult(delivered, failed, {m.name: dict(m.received) for m in members}, idle, lag,
                      shared)


def _show_cluster(admin: Admin, say: Say) -> int:
    """Step 1; returns how many brokers answered."""
    cluster = admin.cluster()
    _step(say, 1, "The cluster", "Real Apache Kafka brokers in KRaft mode: they elect a "
          "controller among themselves (no ZooKeeper).")
    for b in cluster.brokers:
        role = " (active controller)" if b.id == cluster.controller_id else ""
        say(f"      broker {b.id} at {b.address}{role}")
    return len(cluster.brokers)


def _show_topic(admin: Admin, say: Say, topic: str, brokers: int) -> int:
    """Step 2: the topic, created if need be; returns its partition count."""
    _step(say, 2, f"Topic {topic!r}", "Split into partitions; every partition is copied to "
          "every broker (replication factor 3), so one broker can die without loss.")
    try:
        info = admin.describe_topic(topic)
        say(f"      {topic} exists already")
    except NotFound:
        admin.create_topic(topic, 3, min(3, brokers))
        info = admin.describe_topic(topic)
        say(f"      created {topic}")
    for p in info.partitions:
        say(f"      partition {p.id}: leader broker {p.leader}, replicas {p.replicas}, "
            f"in sync {p.isr}")
    return len(info.partitions)


def _start_members(config: ClientConfig, topic: str, group: str, consumers: int
                   ) -> list[_Member]:
    """The group's consumers, each reading in a thread of its own."""
    members = []
    for i in range(1, consumers + 1):
        name = f"consumer-{i}"
        events: list[GroupEvent] = []
        c = Consumer(ClientConfig(config.bootstrap_servers,
                                  {**config.properties, "client.id": name}, config.timeout),
                     [topic], group, on_event=events.append,
                     defaults={"session.timeout.ms": 10_000, "auto.commit.interval.ms": 500})
        m = _Member(name, c, events=events)
        m.thread = threading.Thread(target=m.run, name=name, daemon=True)
        members.append(m)
        m.thread.start()
    return members


def _show_assignment(admin: Admin, say: Say, group: str, consumers: int, partitions: int,
                     timeout: float) -> list[str]:
    """Step 3's outcome once the group is stable; returns the idle members' names."""
    ginfo = _wait_stable(admin, group, consumers, partitions, timeout)
    idle = []
    for gm in sorted(ginfo.members, key=lambda x: x.client_id):
        if gm.idle:
            idle.append(gm.client_id)
            say(f"      {gm.client_id} -> (idle: no partition left for it)")
        else:
            parts = ", ".join(f"{t}[{p}]" for t, p in gm.assignment)
            say(f"      {gm.client_id} -> {parts}")
    return idle


def _produce(config: ClientConfig, say: Say, topic: str, messages: int) -> tuple[int, int]:
    """Step 4; returns (delivered, failed)."""
    _step(say, 4, f"Producing {messages} messages", "Each one is acknowledged by all "
          "in-sync replicas (acks=all) before its delivery report says where it landed.")
    reports: list[DeliveryReport] = []
    shown = 0

    def report(r: DeliveryReport) -> None:
        nonlocal shown
        reports.append(r)
        if shown < 6 or not r.ok:
            shown += 1
            where = (f"partition {r.partition}, offset {r.offset}, {r.latency_ms:.1f} ms"
                     if r.ok else f"FAILED: {r.error}")
            say(f"      message {r.seq + 1} (key {r.key.decode() if r.key else '-'}): {where}")

    with Producer(config, report) as producer:
        for i in range(messages):
            producer.send(topic, f"mensagem {i + 1}".encode(), f"cliente-{i % KEYS}".encode())
    failed = sum(not r.ok for r in reports)
    if len(reports) > shown:
        say(f"      … {len(reports) - shown} more reports")
    say(f"      {len(reports) - failed} delivered, {failed} failed")
    return len(reports) - failed, failed


def _show_lag(admin: Admin, say: Say, group: str, partitions: int,
              committed_before: dict[int, int], timeout: float) -> int:
    """Step 5: the group's lag until it is zero (or the bound); returns the last figure."""
    _step(say, 5, "The group's lag falling to zero", "Lag = messages written but not yet "
          "committed by the group. The consumers read and commit; it drains.")
    deadline = time.monotonic() + timeout
    lag_line: list[str] = []
    while True:
        g = admin.describe_group(group)
        lag = sum(max(0, (x.high or 0) - (x.committed if x.committed is not None
                                           else committed_before.get(x.partition, 0)))
                  for x in g.lags)
        if not lag_line or lag_line[-1] != str(lag):
            lag_line.append(str(lag))
        if lag == 0 and len(g.lags) == partitions and all(x.committed is not None
                                                          for x in g.lags):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    say(f"      lag: {' -> '.join(lag_line)}")
    return lag


def _show_received(say: Say, topic: str, members: list[_Member], idle: list[str]) -> None:
    """Step 6."""
    _step(say, 6, "Who received what", "Messages with the same key always land in the same "
          "partition, so one consumer sees all of a key's messages, in order.")
    for m in members:
        got = ", ".join(f"{n} from {topic}[{p}]" for p, n in sorted(m.received.items()))
        # An assigned member can get nothing too: with fewer than KEYS messages, or more
        # partitions than keys, no key need land on its partition.
        empty = ("nothing (idle)" if m.name in idle
                 else "nothing (no key landed on its partition)")
        say(f"      {m.name}: {got or empty}")


def _stop_members(say: Say, members: list[_Member], keep_running: bool, bound: float) -> None:
    """Stop the group's consumers (after Ctrl-C with ``keep_running``); a member's error is
    raised here."""
    if keep_running:
        say("")
        say("      Still running: try `kpoc produce hello` in another terminal, or open the "
            "web console with `kpoc console`. Ctrl-C to stop.")
        try:
            while all(m.thread and m.thread.is_alive() for m in members):
                time.sleep(0.5)
        except KeyboardInterrupt:
            say("      stopping: the consumers commit and leave the group")
    for m in members:
        m.consumer.stop()
    for m in members:
        assert m.thread is not None
        m.thread.join(timeout=bound)
        m.consumer.close()
    errors = [m.error for m in members if m.error is not None]
    if errors:
        raise errors[0]


def _share_act(admin: Admin, config: ClientConfig, say: Say, topic: str, partitions: int,
               group: str, consumers: int, messages: int) -> dict[str, int]:
    """Act two: the same consumers as members of a share group; every one of them works."""
    say("")
    say(f"[Kafka 4, 1/2] The same {consumers} consumers in share group {group!r}")
    say("      A share group (KIP-932, a queue) lets members read the same partition: each "
        "record is acquired by one member, then acknowledged.")
    try:
        require_share_groups(config)
    except KpocError as exc:
        say(f"      skipped: {exc.message}")
        return {}
    names = [f"consumer-{i}" for i in range(1, consumers + 1)]
    crew = _ShareCrew(config, topic, group, names)
    try:
        info = admin.wait_members(group, consumers, "SHARE", max(60.0, config.timeout))
    except KpocError:
        crew.stop()
        if crew.errors:
            raise crew.errors[0] from None
        raise
    if crew.errors:
        crew.stop()
        raise crew.errors[0]
    for m in sorted(info.members, key=lambda x: x.client_id):
        say(f"      {m.client_id} -> " + ", ".join(f"{t}[{p}]" for t, p in m.assignment))
    # Members learn their assignment from their next heartbeat (every 5 s by default).
    time.sleep(6)
    say("")
    say(f"[Kafka 4, 2/2] Producing {messages} messages; each takes a consumer ~20 ms")
    messages = _produce_tasks(config, topic, messages, partitions)
    end = time.monotonic() + max(30.0, config.timeout)
    while sum(crew.got.values()) < messages and time.monotonic() < end and not crew.errors:
        time.sleep(0.2)
    crew.stop()
    if crew.errors:
        raise crew.errors[0]
    got = crew.got
    for n in names:
        say(f"      {n}: {got[n]} records")
    working = sum(1 for n in names if got[n])
    say(f"      {working} of {consumers} consumers received records — none idle"
        if working == consumers else f"      {working} of {consumers} consumers received "
        "records this time")
    return {n: got[n] for n in names}



class _ShareCrew:
    """The share group's members, each reading in a thread of its own (a share consumer belongs
    to its thread: it is opened, polled and closed there); each record takes ~20 ms of work."""

    def __init__(self, config: ClientConfig, topic: str, group: str, names: list[str]) -> None:
        self.got: Counter[str] = Counter()
        self.errors: list[BaseException] = []
        self.bound = config.timeout + 5
        self.readers = {n: ShareReader(ClientConfig(config.bootstrap_servers,
                                                    {**config.properties, "client.id": n},
                                                    config.timeout), [topic], group, start="end")
                        for n in names}
        self.threads = [threading.Thread(target=self._member, args=(n,), daemon=True)
                        for n in names]
        for t in self.threads:
            t.start()

    def _member(self, name: str) -> None:
        try:
            with self.readers[name] as r:
                for _ in r.deliveries():
                    self.got[name] += 1
                    time.sleep(0.02)  # the work each record takes
        except BaseException as exc:  # reported by the demo, not lost in a thread
            self.errors.append(exc)

    def stop(self) -> None:
        for r in self.readers.values():
            r.stop()  # returns within ~0.2 s; the thread then closes its consumer
        for t in self.threads:
            t.join(self.bound)


def _produce_tasks(config: ClientConfig, topic: str, messages: int, partitions: int) -> int:
    """Send the share act's records round-robin over the partitions, in small flushed bursts;
    returns how many were delivered."""
    sent: list[DeliveryReport] = []
    with Producer(config, sent.append) as producer:
        for i in range(messages):
            producer.send(topic, f"tarefa {i + 1}".encode(), partition=i % partitions)
            if i % 10 == 9:
                producer.flush()
                time.sleep(0.05)
    return sum(r.ok for r in sent)
