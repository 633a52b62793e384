"""Share groups (KIP-932) against the real cluster: records spread over members that share
partitions, release → redelivered with a delivery count, reject → never again, a SIGKILLed
member's records redelivered, and the one-line refusal on a cluster without share groups."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from confluent_kafka import Producer

from kpoc.admin import Admin
from kpoc.config import ClientConfig
from kpoc.share import Delivery, ShareReader, pattern_decider


def _produce(bootstrap: str, topic: str, values: list[bytes], partition: int | None = None,
             partitions: int = 1, per_50ms: int | None = None) -> None:
    """``values`` round-robin over ``partitions`` (or all to ``partition``); with ``per_50ms``,
    paced like a live producer instead of one backlog."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, v in enumerate(values):
        p.produce(topic, v, partition=i % partitions if partition is None else partition)
        if per_50ms and i % per_50ms == per_50ms - 1:
            p.flush(30)
            time.sleep(0.05)
    assert p.flush(30) == 0


def test_four_members_on_three_partitions_all_receive(cluster, make_topic, unique_name):
    """The seed's idle fourth consumer, put to work: with ~5 ms per record, each of 4 members
    gets ≥ 10 % of 2,000 records, none lost, and the group reads as SHARE in describe and
    list."""
    topic, group = make_topic(3, 3), unique_name("share")
    config = ClientConfig(cluster.bootstrap_servers, timeout=30)
    got: dict[int, list[tuple[int, int]]] = {i: [] for i in range(4)}
    total = 2000
    seen: set[tuple[int, int]] = set()
    lock = threading.Lock()
    done = threading.Event()
    with Admin(config) as admin:
        admin.set_group_configs(group, {"share.auto.offset.reset": "earliest"})
    errors: list[BaseException] = []
    readers = [ShareReader(config, [topic], group) for _ in range(4)]

    def run(i: int) -> None:
        # A share consumer belongs to the thread that opens it: open, poll and close there.
        try:
            with readers[i] as r:
                for d in r.deliveries():
                    time.sleep(0.005)  # the work a record takes
                    key = (d.record.partition or 0, d.record.offset or 0)
                    with lock:
                        got[i].append(key)
                        seen.add(key)
                        if len(seen) >= total:
                            done.set()
        except BaseException as exc:
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    try:
        with Admin(config) as admin:
            admin.wait_members(group, 4, "SHARE")
            info = admin.describe_group(group)
            assert info.type == "SHARE" and {g.group_id: g.type for g in admin.list_groups()
                                             }[group] == "SHARE"
            # Members share partitions: 4 members hold more assignments than 3 partitions.
            assert sum(len(m.assignment) for m in info.members) > 3
        # Produced live (~400/s, under the members' ~800/s): a backlog written at once is
        # acquired by whichever sharer fetches first (up to 2,000 locks per partition).
        _produce(cluster.bootstrap_servers, topic, [b"job %d" % i for i in range(total)],
                 partitions=3, per_50ms=20)
        assert done.wait(120), f"only {len(seen)} of {total} records arrived"
    finally:
        for r in readers:
            r.stop()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert len(seen) == total
    shares = {i: len(v) for i, v in got.items()}
    assert all(n >= total // 10 for n in shares.values()), shares


def test_release_redelivers_with_count_2_and_reject_never(cluster, make_topic, unique_name):
    topic, group = make_topic(1, 3), unique_name("share")
    config = ClientConfig(cluster.bootstrap_servers, timeout=30)
    _produce(cluster.bootstrap_servers, topic, [b"ok 1", b"retry 2", b"poison 3", b"ok 4"])
    first = pattern_decider("^poison", "^retry")

    def decide(rec, count):  # release once; the redelivery is accepted
        verdict = first(rec, count)
        return "accept" if verdict == "release" and count > 1 else verdict

    seen: list[Delivery] = []
    with ShareReader(config, [topic], group, "explicit", decide) as r:
        # exit_at_end returns only once Kafka's share lag is 0: nothing left to deliver.
        for d in r.deliveries(exit_at_end=True):
            seen.append(d)
            assert len(seen) < 20, seen
    by_value = Counter(d.record.value for d in seen)
    assert by_value[b"poison 3"] == 1, by_value  # rejected: never delivered again
    retries = [(d.delivery_count, d.ack) for d in seen if d.record.value == b"retry 2"]
    assert retries == [(1, "release"), (2, "accept")]
    assert by_value[b"ok 1"] == by_value[b"ok 4"] == 1


def test_sigkilled_member_records_are_redelivered(cluster, make_topic, unique_name, kpoc_env):
    """A member killed while it holds acquired records (its stdout pipe is full, so it is stuck
    mid-batch): another member gets them after the lock, each marked as a redelivery."""
    topic, group = make_topic(1, 3), unique_name("share")
    config = ClientConfig(cluster.bootstrap_servers, timeout=30)
    with Admin(config) as admin:  # the broker's minimum lock, for test speed
        admin.set_group_configs(group, {"share.record.lock.duration.ms": "15000",
                                        "share.auto.offset.reset": "earliest"})
    values = [b"%04d " % i + b"x" * 2000 for i in range(300)]
    _produce(cluster.bootstrap_servers, topic, values, partition=0)
    victim = subprocess.Popen(
        [sys.executable, "-m", "kpoc", "consume", topic, "--share-group", group, "-q",
         "-f", "%s\\n"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=kpoc_env)
    try:
        assert victim.stdout is not None
        first = victim.stdout.readline()  # it has records; the unread pipe now stalls it
        assert first.startswith(b"0")
        time.sleep(2)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    printed = {ln[:4] for ln in (first + victim.stdout.read()).splitlines() if ln}
    redelivered, got = [], set()
    t0 = time.monotonic()
    with ShareReader(config, [topic], group) as r:
        for d in r.deliveries(exit_at_end=True):
            got.add((d.record.value or b"")[:4])
            if d.delivery_count > 1:
                redelivered.append(d.record.offset)
    assert {v[:4] for v in values} <= got | printed  # no record lost
    assert redelivered, "the killed member's records came back without a delivery count"
    assert time.monotonic() - t0 < 90


def test_share_group_on_a_cluster_without_share_groups_is_one_line(run_kpoc):
    """librdkafka's mock cluster has no share.version: one line, within the bound."""
    mock = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "",
                     "logger": __import__("logging").getLogger("mock")})
    md = mock.list_topics(timeout=10)
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in md.brokers.values())
    t0 = time.monotonic()
    r = run_kpoc("consume", "teste", "--share-group", "q", "-b", bootstrap, "--timeout", "5",
                 timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "no share groups" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 20


def test_cli_explicit_acks_print_delivery_counts(run_kpoc, cluster, make_topic, unique_name):
    topic, group = make_topic(1, 3), unique_name("share")
    _produce(cluster.bootstrap_servers, topic, [b"retry me", b"fine"])
    r = run_kpoc("consume", topic, "--share-group", group, "--ack", "explicit",
                 "--release-if", "^retry", "-e", "-o", "json", timeout=90)
    assert r.returncode == 0, r.stderr
    docs = [json.loads(ln) for ln in r.stdout.splitlines()]
    retry = [(d["delivery_count"], d["ack"]) for d in docs if d["value"] == "retry me"]
    # Released until the group's delivery limit (group.share.delivery.count.limit, 5).
    assert retry == [(n, "release") for n in range(1, 6)], retry
    assert [d["ack"] for d in docs if d["value"] == "fine"] == ["accept"]
    bad = run_kpoc("consume", topic, "--share-group", group, "--reject-if", "x", "--ack",
                   "implicit")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--ack explicit" in bad.stderr
