"""``--engine mock``: librdkafka's in-memory mock cluster, for machines without Java.

It is a test double, not Kafka: no persistence, no real replication, no KRaft. kpoc labels it as
such everywhere it shows it, and never picks it by default.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import ClusterError, UsageError
from ._state import STATE_FILE, read_state

LABEL = "librdkafka mock cluster (in-memory test double, not Apache Kafka)"


def start_mock(data_dir: Path, nodes: int, timeout: float) -> tuple[str, bool]:
    """Start a mock cluster in ``data_dir``; return (bootstrap, was_already_running)."""
    st = read_state(data_dir)
    if st is not None and st.get("engine") != "mock":
        raise UsageError(
            f"{data_dir} holds a real Kafka cluster",
            "run `kpoc cluster destroy` first or pick another --data-dir",
        )
    pid = mock_pid(data_dir)
    if st is not None and pid:
        return st["bootstrap_servers"], True
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
        if st is not None and st.get("engine") == "mock":
            return st["bootstrap_servers"], False
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


def _serve(nodes: int, data_dir: Path) -> None:
    """Hold a mock cluster open until SIGTERM, publishing its address in cluster.json."""
    from confluent_kafka import Producer

    p = Producer({"test.mock.num.brokers": nodes, "bootstrap.servers": ""})
    md = p.list_topics(timeout=10)
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in sorted(md.brokers.values(),
                                                               key=lambda b: b.id))
    (data_dir / "mock.pid").write_text(f"{os.getpid()}\n")
    state = {
        "engine": "mock",
        "label": LABEL,
        "cluster_id": md.cluster_id or "mock",
        "kafka_version": "mock",
        "bootstrap_servers": bootstrap,
        "nodes": [{"node_id": b.id, "client_port": b.port, "controller_port": 0,
                   "host": b.host} for b in md.brokers.values()],
    }
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
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
