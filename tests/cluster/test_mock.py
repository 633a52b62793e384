"""`--engine mock` through the same `kpoc cluster` commands as real Kafka (one Engine protocol)."""

from __future__ import annotations

import json
from pathlib import Path


def test_the_mock_engine_answers_the_cluster_commands(run_kpoc, tmp_path: Path):
    d = str(tmp_path / "mock")
    try:
        up = run_kpoc("cluster", "up", "--engine", "mock", "--nodes", "2", "--data-dir", d,
                      timeout=60)
        assert up.returncode == 0, up.stderr
        assert up.stdout.startswith("BOOTSTRAP_SERVERS=127.0.0.1:")
        assert "in-memory test double" in up.stderr
        status = run_kpoc("cluster", "status", "-o", "json", "--data-dir", d, timeout=30)
        doc = json.loads(status.stdout)
        assert (doc["engine"], doc["running"], doc["kafka_version"]) == ("mock", 2, "mock")
        assert "not Apache Kafka" in doc["label"]
        again = run_kpoc("cluster", "up", "--data-dir", d, timeout=30)
        assert again.returncode == 2 and "holds a mock cluster" in again.stderr
        down = run_kpoc("cluster", "down", "--data-dir", d, timeout=30)
        assert down.returncode == 0 and "stopped node(s) 1, 2" in down.stderr
    finally:
        gone = run_kpoc("cluster", "destroy", "--yes", "--data-dir", d, timeout=30)
    assert gone.returncode == 0 and not Path(d).exists()
