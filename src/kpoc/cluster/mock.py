"""``--engine mock``: librdkafka's in-memory mock cluster, for machines without Java.

It is a test double, not Kafka: no persistence, no real replication, no KRaft. kpoc labels it as
such everywhere it shows it, and never picks it by default.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import ClusterError, NotFound, UsageError
from . import _state
from ._props import NodeSpec
from ._state import DEFAULT_NODES, STATE_FILE, ClusterState, Progress, read_state

LABEL = "librdkafka mock cluster (in-memory test double, not Apache Kafka)"


def start_mock(data_dir: Path, nodes: int, timeout: float) -> tuple[str, bool]:
    """Start a mock cluster in ``data_dir``; return (bootstrap, was_already_running)."""
    st = read_state(data_dir)
    if st is not None and st.engine != "mock":
        raise UsageError(
            f"{data_dir} holds a real Kafka cluster",
            "run `kpoc cluster destroy` first or pick another --data-dir",
        )
    pid = mock_pid(data_dir)
    if st is not None and pid:
        return st.bootstrap_servers, True
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    log = data_dir / "mock.log"
    subprocess.run(
        ["sh", "-c", 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 &', "sh", str(log),
         sys.executable, "-m", "kpoc.cluster.mock", str(nodes), str(data_dir)],
        start_new_session=True, timeout=30, check=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_state(data_dir)
        if st is not None and st.engine == "mock":
            return st.bootstrap_servers, False
        time.sleep(0.1)
    raise ClusterError(f"the mock cluster did not start within {timeout:g}s", f"see {log}")


def mock_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "mock.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_mock(data_dir: Path) -> bool:
    pid = mock_pid(data_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if mock_pid(data_dir) is None:
            break
        time.sleep(0.1)
    (data_dir / "mock.pid").unlink(missing_ok=True)
    return True


def _silent(_: str) -> None:
    pass


class MockCluster:
    """The :class:`~kpoc.cluster.Engine` of ``--engine mock``."""

    label: str | None = LABEL

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()

    def state(self) -> ClusterState | None:
        return read_state(self.data_dir)

    def up(self, nodes: int | None = None, port: int = 0, timeout: float = 90.0,
           progress: Progress = _silent, secure: bool = False) -> tuple[str, bool]:
        """Start (or find running) a mock cluster; ``port`` is the mock's own choice."""
        if secure:
            raise UsageError("--secure needs --engine kafka", "the mock cluster has no TLS or SASL")
        return start_mock(self.data_dir, nodes or DEFAULT_NODES, timeout)

    def status(self) -> _state.ClusterStatus:
        st = self.state()
        if st is None:
            raise NotFound(f"no local cluster in {self.data_dir}",
                           "create one with `kpoc cluster up`")
        pid = mock_pid(self.data_dir)
        nodes = [_state.NodeStatus(n.node_id, pid, n.client_port, 0, pid is not None, False)
                 for n in st.nodes]
        return _state.ClusterStatus("mock", st.cluster_id, st.kafka_version, st.bootstrap_servers,
                             str(self.data_dir), nodes, None, label=LABEL)

    def down(self, timeout: float = 30.0) -> list[int]:
        """Stop the mock process; the ids of the nodes it served (none if it was not running)."""
        st = self.state()
        return st.node_ids if stop_mock(self.data_dir) and st is not None else []

    def destroy(self) -> bool:
        if not self.data_dir.exists():
            return False
        stop_mock(self.data_dir)
        shutil.rmtree(self.data_dir)
        return True


def _serve(nodes: int, data_dir: Path) -> None:
    """Hold a mock cluster open until SIGTERM, publishing its address in cluster.json."""
    from confluent_kafka import Producer

    p = Producer({"test.mock.num.brokers": nodes, "bootstrap.servers": ""})
    md = p.list_topics(timeout=10)
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in sorted(md.brokers.values(),
                                                               key=lambda b: b.id))
    (data_dir / "mock.pid").write_text(f"{os.getpid()}\n")
    ClusterState("mock", bootstrap, tuple(NodeSpec(b.id, b.port, 0, b.host)
                                          for b in md.brokers.values()),
                 md.cluster_id or "mock", "mock").write(data_dir)
    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    while not stop:
        p.poll(0.5)
    (data_dir / STATE_FILE).unlink(missing_ok=True)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), Path(sys.argv[2]))
