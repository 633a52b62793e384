"""kpoc doctor against real brokers: a healthy cluster, weak topics, and a broker that advertises
an address nobody can reach (the classic Docker/Kafka mistake)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from kpoc._wire import api_versions
from kpoc.cluster import LocalCluster
from kpoc.config import ClientConfig
from kpoc.doctor import diagnose
from kpoc.errors import PrerequisiteError

BASE = int(os.environ.get("KPOC_TEST_PORT", "29092"))
# A one-node cluster beside the session's (which uses BASE..BASE+2 and BASE+100..BASE+102).
BAD_PORT = BASE + 5  # its PLAINTEXT listener, advertised correctly (kpoc's own readiness check)
BAD_EXTERNAL = BASE + 6  # its EXTERNAL listener: what a client on "the host" bootstraps from…
BAD_ADVERTISED = BASE + 7  # …and what EXTERNAL advertises, where nothing listens


def _doc(proc) -> dict:
    return json.loads(proc.stdout)


def _problems(doc: dict) -> list[dict]:
    return [c for c in doc["checks"] if not c["ok"]]


def test_healthy_cluster_and_topic(run_kpoc, make_topic, cluster):
    topic = make_topic()
    proc = run_kpoc("doctor", "--topic", topic, "-o", "json")
    doc = _doc(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert doc["ok"] is True and doc["problems"] == 0
    advertised = [c for c in doc["checks"] if c["check"] == "advertised"]
    assert [c["subject"] for c in advertised] == ["broker 1", "broker 2", "broker 3"]
    version = next(c for c in doc["checks"] if c["check"] == "version")
    assert "Apache Kafka 4.3 in KRaft mode" in version["detail"]
    durability = [c["detail"] for c in doc["checks"] if c["check"] == "durability"]
    assert durability == ["replication factor 3", "min.insync.replicas=2",
                          "unclean leader election off"]


def test_weak_topic_is_three_problems_with_fixes(run_kpoc, make_topic):
    topic = make_topic(replication_factor=1, config={
        "min.insync.replicas": "1", "unclean.leader.election.enable": "true"})
    proc = run_kpoc("doctor", "--topic", topic, "-o", "json")
    assert proc.returncode == 1
    problems = _problems(_doc(proc))
    details = " | ".join(p["detail"] for p in problems)
    assert len(problems) == 3, details
    assert "replication factor 1" in details
    assert "min.insync.replicas=1" in details
    assert "unclean.leader.election.enable=true" in details
    assert all(p["fix"] for p in problems)
    assert any("min.insync.replicas=2" in p["fix"] for p in problems)
    assert "kpoc: error: 3 problems found" in proc.stderr


def test_text_output_names_problem_and_fix(run_kpoc, unique_name):
    missing = unique_name("nope")
    proc = run_kpoc("doctor", "--topic", missing)
    assert proc.returncode == 1
    assert f"PROBLEM  durability  topic {missing}: does not exist" in proc.stdout
    assert f"fix: create it with 3 replicas: kpoc topics create {missing}" in proc.stdout
    assert proc.stdout.count("ok ") >= 5  # bootstrap, 3 brokers, version


def test_no_topic_skips_the_topic_check(run_kpoc):
    proc = run_kpoc("doctor", "--no-topic", "-o", "json")
    assert proc.returncode == 0, proc.stdout
    assert {c["check"] for c in _doc(proc)["checks"]} == {"bootstrap", "advertised", "version"}


def test_unreachable_bootstrap_is_one_bounded_problem(run_kpoc):
    start = time.monotonic()
    proc = run_kpoc("doctor", "-o", "json", "--timeout", "2",
                    env={"KPOC_BOOTSTRAP_SERVERS": f"127.0.0.1:{BAD_ADVERTISED}"})
    assert time.monotonic() - start < 20
    assert proc.returncode == 1
    (problem,) = _problems(_doc(proc))
    assert problem["check"] == "bootstrap"
    assert f"cannot connect to 127.0.0.1:{BAD_ADVERTISED}" in problem["detail"]


def test_api_versions_reads_the_release(cluster):
    host, port = cluster.bootstrap_servers.split(",")[0].rsplit(":", 1)
    info = api_versions(host, int(port), 5)
    assert info.error_code == 0
    assert 18 in info.api_keys  # ApiVersions itself
    level = info.finalized_features["metadata.version"][1]
    if cluster.manager is not None:  # kpoc's own cluster: Kafka 4.3.x
        assert level == 30


@pytest.fixture(scope="module")
def misadvertised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real broker with the Docker mistake: its EXTERNAL listener advertises a port where
    nothing listens. Returns the EXTERNAL bootstrap address."""
    manager = LocalCluster(tmp_path_factory.mktemp("misadvertised") / "cluster")
    host = "127.0.0.1"
    overrides = {
        "listeners": f"PLAINTEXT://{host}:{BAD_PORT},CONTROLLER://{host}:{BAD_PORT + 100},"
                     f"EXTERNAL://{host}:{BAD_EXTERNAL}",
        "advertised.listeners": f"PLAINTEXT://{host}:{BAD_PORT},"
                                f"EXTERNAL://{host}:{BAD_ADVERTISED}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                                          "EXTERNAL:PLAINTEXT",
    }
    try:
        manager.up(nodes=1, port=BAD_PORT, timeout=240, overrides=overrides)
    except PrerequisiteError as exc:
        pytest.skip(f"cannot start the broker: {exc}")
    try:
        props = (manager.node_dir(1) / "server.properties").read_text()
        assert f"EXTERNAL://{host}:{BAD_ADVERTISED}" in props
        yield f"{host}:{BAD_EXTERNAL}"
    finally:
        manager.destroy()


def test_wrong_advertised_listener_is_found(misadvertised):
    report = diagnose(ClientConfig(misadvertised, timeout=30), topic=None)
    by_check = {c.check: c for c in report.checks}
    assert by_check["bootstrap"].ok  # the bootstrap address itself works…
    bad = by_check["advertised"]  # …but what the broker tells clients to use does not
    assert not bad.ok
    assert f"advertises 127.0.0.1:{BAD_ADVERTISED}" in bad.detail
    assert "cannot reach" in bad.detail and "refused" in bad.detail.lower()
    assert bad.fix and "advertised.listeners" in bad.fix
    assert by_check["version"].ok  # asked through the bootstrap address instead
    assert len(report.problems) == 1


def test_wrong_advertised_listener_cli_exit_code(misadvertised, run_kpoc):
    proc = run_kpoc("doctor", "--no-topic", "--timeout", "30",
                    env={"KPOC_BOOTSTRAP_SERVERS": misadvertised})
    assert proc.returncode == 1
    assert f"PROBLEM  advertised  broker 1: advertises 127.0.0.1:{BAD_ADVERTISED}" in proc.stdout
    assert "kpoc: error: 1 problem found" in proc.stderr
