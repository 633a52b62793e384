"""One real Kafka cluster per test session, shared by every test.

Set KPOC_BOOTSTRAP_SERVERS to test against a cluster you run yourself (tests that need to kill
or restart nodes are then skipped). Otherwise a 3-node cluster is started on KPOC_TEST_PORT
(default 29092, so it never collides with a developer's `kpoc cluster up` on 9092) in a temporary
data dir, and destroyed at the end; only when a selected test asks for it. Every Kafka node the
session starts (fixtures, `kpoc cluster up` in a test) dies with the pytest process, even on
SIGKILL: KPOC_CLUSTER_OWNER_PID names it (see kpoc.cluster._watchdog).

The fast tier (`pytest -m fast`, `make test-fast`): every test that uses none of
``BROKER_FIXTURES`` and is not marked ``slow`` or ``broker`` is marked ``fast`` here. A fast test
runs with KPOC_BOOTSTRAP_SERVERS unset and may not start a Kafka node, a mock cluster or
``kpoc cluster up|start`` (it fails, naming the fix); marking ``fast`` by hand a test that uses a
broker fixture is a collection error.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from kpoc.admin import Admin
from kpoc.cluster import LocalCluster
from kpoc.config import ClientConfig

# Set at import, before any fixture or `kpoc` subprocess starts a node: this process's, not an
# outer pytest's (tests run pytest in pytest).
os.environ["KPOC_CLUSTER_OWNER_PID"] = str(os.getpid())

#: Fixtures that start a Kafka cluster or hand out one's address: a test using one is not fast.
BROKER_FIXTURES = frozenset({"cluster", "chaos_cluster", "secure_cluster", "free_base_port",
                             "misadvertised"})
#: Command-line words that start a broker (JVM main classes, the mock engine, kpoc's CLI).
_CLUSTER_STARTERS = ("kafka.Kafka", "kafka.tools.StorageTool", "kpoc.cluster.mock")


def _broker_fixtures(item: pytest.Item) -> set[str]:
    return BROKER_FIXTURES & set(getattr(item, "fixturenames", ()))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = _broker_fixtures(item)
        if item.get_closest_marker("fast") is not None:
            if used:
                raise pytest.UsageError(f"{item.nodeid} is marked fast but uses "
                                        f"{', '.join(sorted(used))}: remove the fast mark")
        elif not used and not any(item.get_closest_marker(m) for m in ("slow", "broker")):
            item.add_marker(pytest.mark.fast)
    # Tests that SIGKILL session-cluster nodes go last: librdkafka aborted (SIGABRT) twice in
    # later console tests of a full run once the new coordinator-kill test ran before them.
    items.sort(key=lambda item: item.get_closest_marker("disrupts_cluster") is not None)


def starts_a_cluster(argv: object) -> bool:
    """Would running ``argv`` start a Kafka node, a mock cluster or `kpoc cluster up|start`?"""
    words = [str(a) for a in argv] if isinstance(argv, list | tuple) else [str(argv)]
    if any(w in _CLUSTER_STARTERS for w in words):
        return True
    return any(words[i:i + 2] in (["cluster", "up"], ["cluster", "start"])
               for i in range(len(words)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A fast test (its fixtures included, whatever their scope) sees no KPOC_BOOTSTRAP_SERVERS
    and cannot launch a cluster process."""
    if item.get_closest_marker("fast") is None:
        yield
        return
    popen = subprocess.Popen

    class GuardedPopen(popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: object, *a: object, **kw: object) -> None:
            if starts_a_cluster(args):
                pytest.fail(f"{item.nodeid} is fast (no broker fixture) but starts a cluster: "
                            "use the `cluster` fixture or mark it @pytest.mark.broker",
                            pytrace=False)
            super().__init__(args, *a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("KPOC_BOOTSTRAP_SERVERS", raising=False)
        mp.setattr(subprocess, "Popen", GuardedPopen)
        yield


@dataclass
class TestCluster:
    bootstrap_servers: str
    manager: LocalCluster | None

    def require_manager(self) -> LocalCluster:
        if self.manager is None:
            pytest.skip("needs a kpoc-managed cluster (KPOC_BOOTSTRAP_SERVERS is set)")
        return self.manager

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap_servers})


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    external = os.environ.get("KPOC_BOOTSTRAP_SERVERS")
    if external:
        yield TestCluster(external, None)
        return
    port = int(os.environ.get("KPOC_TEST_PORT", "29092"))
    manager = LocalCluster(tmp_path_factory.mktemp("kafka") / "cluster")
    try:  # a cluster that failed to start still has JVMs to stop
        bootstrap, _ = manager.up(nodes=3, port=port, timeout=240)
        yield TestCluster(bootstrap, manager)
    finally:
        manager.destroy()


_seq = itertools.count()


@pytest.fixture
def free_base_port() -> int:
    """A base port for `cluster up` whose client and controller ports (base..+2, base+100..+102)
    are all free, below Linux's ephemeral range: a fixed port there, or one the kernel hands out
    (bind to 0), can have busy neighbours, and then `up` reports the port clash instead of the
    error a test is about."""
    for _ in range(200):
        base = random.randrange(20_000, 27_000)
        try:
            for port in (*range(base, base + 3), *range(base + 100, base + 103)):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports in 20000-27102")


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names no other test (or earlier run) uses: prefix-testname-N-random."""
    base = request.node.name.replace("[", "-").replace("]", "")[:40]

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{base}-{next(_seq)}-{uuid.uuid4().hex[:6]}"

    return make


@pytest.fixture
def make_topic(cluster: TestCluster, unique_name: Callable[[str], str]) -> Callable[..., str]:
    """Create a fresh topic (default 3 partitions, RF 3) and wait until it is usable."""

    def make(partitions: int = 3, replication_factor: int = 3, config: dict | None = None) -> str:
        name = unique_name("topic")
        with Admin(ClientConfig(cluster.bootstrap_servers, timeout=30)) as admin:
            admin.create_topic(name, partitions, replication_factor, config or {})
        return name

    return make


@pytest.fixture
def kpoc_env(cluster: TestCluster, tmp_path: Path) -> dict[str, str]:
    """Environment for a `kpoc` subprocess aimed at the test cluster."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KPOC_") or k == "KPOC_CLUSTER_OWNER_PID"}
    env["KPOC_BOOTSTRAP_SERVERS"] = cluster.bootstrap_servers
    if cluster.manager is not None:
        env["KPOC_DATA_DIR"] = str(cluster.manager.data_dir)
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def run_kpoc(kpoc_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `kpoc` CLI in a subprocess, bounded in time."""

    def run(*args: str, input: str | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kpoc", *args], input=input, capture_output=True, text=True,
            timeout=timeout, env={**kpoc_env, **(env or {})},
        )

    return run


@dataclass
class ForeignCorpus:
    topic: str
    records: list  # foreign_records.Foreign, in offset order


@pytest.fixture(scope="session")
def foreign_corpus(cluster: TestCluster) -> Iterator[ForeignCorpus]:
    """Records written by Kafka's Java producer, kcat and raw confluent-kafka into a fresh
    one-partition topic, once per session (see tests/foreign_records.py)."""
    from foreign_records import write_corpus

    if shutil.which("kcat") is None:
        pytest.skip("Debian's kcat is not installed (make setup installs it)")
    topic = f"foreign-corpus-{uuid.uuid4().hex[:8]}"
    config = ClientConfig(cluster.bootstrap_servers, timeout=30)
    with Admin(config) as admin:
        admin.create_topic(topic, 1, min(3, len(admin.cluster().brokers)))
    try:
        yield ForeignCorpus(topic, write_corpus(cluster.bootstrap_servers, topic))
    finally:
        with Admin(config) as admin:
            admin.delete_topic(topic)
