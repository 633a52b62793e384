"""The local cluster manager against real Kafka JVMs."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from kpoc.cluster import LocalCluster
from kpoc.cluster.local import _null_logger
from kpoc.errors import UsageError


def _isr(cluster, topic: str) -> dict[int, list[int]]:
    md = cluster.admin().list_topics(topic, timeout=10).topics[topic]
    return {p.id: sorted(p.isrs) for p in md.partitions.values()}


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_status_shows_three_nodes_and_one_quorum_leader(cluster, run_kpoc):
    cluster.require_manager()
    r = run_kpoc("cluster", "status", "-o", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [n["node_id"] for n in doc["nodes"]] == [1, 2, 3]
    assert all(n["up"] for n in doc["nodes"])
    assert sum(n["quorum_leader"] for n in doc["nodes"]) == 1
    assert doc["quorum_leader"] in (1, 2, 3)


def test_human_status_is_a_table(cluster, run_kpoc):
    cluster.require_manager()
    r = run_kpoc("cluster", "status")
    assert r.returncode == 0, r.stderr
    assert "3/3 up" in r.stdout
    assert "leader" in r.stdout
    assert f"BOOTSTRAP_SERVERS={cluster.bootstrap_servers}" in r.stdout


def test_up_on_running_cluster_is_idempotent(cluster, run_kpoc):
    cluster.require_manager()
    r = run_kpoc("cluster", "up")
    assert r.returncode == 0, r.stderr
    assert "already running" in r.stderr
    assert r.stdout.strip() == f"BOOTSTRAP_SERVERS={cluster.bootstrap_servers}"


def test_metadata_lists_three_brokers(cluster):
    md = cluster.admin().list_topics(timeout=10)
    assert sorted(md.brokers) == [1, 2, 3]


def test_generated_config_is_durable(cluster):
    m = cluster.require_manager()
    props = (m.node_dir(1) / "server.properties").read_text()
    for line in ("default.replication.factor=3", "min.insync.replicas=2",
                 "unclean.leader.election.enable=false", "auto.create.topics.enable=false",
                 "offsets.topic.replication.factor=3", "process.roles=broker,controller"):
        assert line in props.splitlines()


def test_rf3_topic_has_three_in_sync_replicas(cluster, make_topic):
    topic = make_topic(partitions=3, replication_factor=3)
    assert all(isr == [1, 2, 3] for isr in _isr(cluster, topic).values())


def test_kill_shrinks_isr_and_start_restores_it(cluster, make_topic, run_kpoc):
    m = cluster.require_manager()
    topic = make_topic(partitions=3, replication_factor=3)
    victim = 2
    r = run_kpoc("cluster", "kill", str(victim))
    assert r.returncode == 0 and "killed" in r.stderr
    try:
        st = json.loads(run_kpoc("cluster", "status", "-o", "json").stdout)
        assert [n["up"] for n in st["nodes"]] == [True, False, True]
        _wait(lambda: all(victim not in isr for isr in _isr(cluster, topic).values()),
              60, "ISR to drop the killed node")
    finally:
        r = run_kpoc("cluster", "start", str(victim))
    assert r.returncode == 0, r.stderr
    assert m.status().running == 3
    _wait(lambda: all(isr == [1, 2, 3] for isr in _isr(cluster, topic).values()),
          60, "ISR to recover")


def test_data_survives_down_and_up(cluster, make_topic):
    m = cluster.require_manager()
    topic = make_topic(partitions=1)
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all"})
    p.produce(topic, b"persisted", key=b"k")
    assert p.flush(30) == 0
    assert m.down() == [1, 2, 3]
    assert m.status().running == 0
    bootstrap, already = m.up(nodes=3, timeout=120)
    assert not already and bootstrap == cluster.bootstrap_servers
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": topic,
                  "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        msg = _wait(lambda: (lambda m_: m_ if m_ is not None and not m_.error() else None)(
            c.poll(1)), 60, "the message back")
        assert (msg.key(), msg.value()) == (b"k", b"persisted")
    finally:
        c.close()


def test_port_taken_is_named(run_kpoc, tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_kpoc("cluster", "up", "--nodes", "1", "--port", str(port),
                     "--data-dir", str(tmp_path / "c"))
    assert r.returncode == 3
    assert f"port {port} (node 1 client listener) is already in use" in r.stderr
    assert "Traceback" not in r.stderr


def test_java_missing(run_kpoc, tmp_path: Path, free_base_port):
    r = run_kpoc("cluster", "up", "--data-dir", str(tmp_path / "c"), "--port", str(free_base_port),
                 env={"PATH": "/nonexistent", "JAVA_HOME": "", "KPOC_JAVA": ""})
    assert r.returncode == 3
    assert r.stderr.startswith("kpoc: error: Java not found")
    assert "Traceback" not in r.stderr


def test_java_too_old(run_kpoc, tmp_path: Path, free_base_port):
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    fake.chmod(0o755)
    r = run_kpoc("cluster", "up", "--data-dir", str(tmp_path / "c"), "--port", str(free_base_port),
                 env={"KPOC_JAVA": str(fake)})
    assert r.returncode == 3
    assert "is Java 11, Kafka 4.3.1 needs ≥ 17" in r.stderr


def test_maven_missing(run_kpoc, tmp_path: Path, free_base_port):
    import shutil

    java = shutil.which("java")
    r = run_kpoc("cluster", "up", "--data-dir", str(tmp_path / "c"), "--port", str(free_base_port),
                 env={"PATH": "/nonexistent", "KPOC_JAVA": str(java),
                      "KPOC_KAFKA_LIBS": str(tmp_path / "nolibs")})
    assert r.returncode == 3
    assert "Maven (mvn) is not installed" in r.stderr


def test_data_dir_not_writable(run_kpoc, tmp_path: Path, free_base_port):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "x").write_text("")
    r = run_kpoc("cluster", "up", "--data-dir", str(ro / "x" / "c"), "--port", str(free_base_port))
    assert r.returncode == 3
    assert "is not writable" in r.stderr


def test_unknown_node(run_kpoc, cluster):
    cluster.require_manager()  # `cluster kill` acts on the cluster in KPOC_DATA_DIR
    r = run_kpoc("cluster", "kill", "9")
    assert r.returncode == 6
    assert "node 9 is not in the cluster; pick one of: 1, 2, 3" in r.stderr


def test_timeout_and_failed_start_are_reported(run_kpoc, tmp_path: Path, free_base_port):
    """A one-node side cluster: a too-short bound, then a node that cannot start."""
    data = str(tmp_path / "side")
    args = ("--nodes", "1", "--port", str(free_base_port), "--data-dir", data)
    try:
        r = run_kpoc("cluster", "up", *args, "--timeout", "0.5")
        assert r.returncode == 4
        assert "was not ready within 0.5s" in r.stderr
        run_kpoc("cluster", "down", "--data-dir", data)
        props = Path(data) / "node-1" / "server.properties"
        props.write_text(props.read_text() + "num.network.threads=not-a-number\n")
        r = run_kpoc("cluster", "up", *args)
        assert r.returncode == 4
        assert "node 1 exited during start-up" in r.stderr
        assert "kpoc cluster logs 1" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        run_kpoc("cluster", "destroy", "--yes", "--data-dir", data)
    assert not Path(data).exists()


def test_help_teaches_with_examples(run_kpoc):
    for sub in ("up", "status", "down", "destroy", "logs", "stop", "kill", "start"):
        r = run_kpoc("cluster", sub, "--help")
        assert r.returncode == 0
        assert "Example" in r.stdout, sub
    assert "Example" in run_kpoc("cluster", "--help").stdout


def test_status_without_cluster(run_kpoc, tmp_path: Path):
    r = run_kpoc("cluster", "status", "--data-dir", str(tmp_path / "none"))
    assert r.returncode == 6
    assert "no local cluster" in r.stderr


def test_manager_reports_quorum_leader_after_its_death(cluster):
    m: LocalCluster = cluster.require_manager()
    leader = m.quorum_leader()
    assert leader in (1, 2, 3)
    m.kill_node(leader)
    try:
        new = _wait(lambda: m.quorum_leader(), 60, "a new quorum leader")
        assert new != leader
    finally:
        m.start_node(leader)
    assert m.status().running == 3


def test_an_explicit_node_count_must_match_the_existing_cluster(tmp_path: Path):
    # 3 is also the default: given explicitly, it is still checked (it was once taken for unset).
    d = tmp_path / "c"
    d.mkdir()
    (d / "cluster.json").write_text(json.dumps({"engine": "kafka", "nodes": [{
        "node_id": 1, "client_port": 1, "controller_port": 2}], "bootstrap_servers": "x"}))
    with pytest.raises(UsageError, match="has 1 nodes, not 3"):
        LocalCluster(d).up(nodes=3)


def test_waiting_for_readiness_adds_no_log_handler():
    # Counted by kind: pytest's own capture handlers may sit on the logger too.
    def nulls() -> int:
        log = logging.getLogger("kpoc.cluster.librdkafka")
        return sum(isinstance(h, logging.NullHandler) for h in log.handlers)

    _null_logger()
    for _ in range(3):
        _null_logger()
    assert nulls() == 1


def test_a_stopped_mock_cluster_can_be_destroyed(tmp_path: Path):
    d = tmp_path / "mock"
    d.mkdir()
    (d / "mock.log").write_text("")  # what `kpoc cluster down` leaves of a mock cluster
    assert LocalCluster(d).destroy() and not d.exists()
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="does not look like a kpoc cluster"):
        LocalCluster(stranger).destroy()
