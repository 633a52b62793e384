"""A secure cluster (TLS, SASL/SCRAM-SHA-512, ACLs) for the tests in this folder, per session.

Started with the real CLI, `kpoc cluster up --secure`, on KPOC_SECURE_TEST_PORT (default
KPOC_TEST_PORT + 300, so it runs beside the plain test cluster: client ports P..P+2, controller
P+100.., inter-broker P+200..). KPOC_SECURE_TEST_NODES picks the size: default 1, to keep the
suite lean beside the plain 3-node cluster (on a loaded 2-core machine a second 3-node cluster
did not always start within 240 s); set 3 to also exercise replication over the brokers' mutual-
TLS listener and the demo. Every CLI output is kept so a test can scan it for secrets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kpoc.cluster import LocalCluster


@dataclass
class SecureCluster:
    data_dir: Path
    bootstrap_servers: str
    manager: LocalCluster
    credentials: dict
    #: (args, stdout, stderr) of every CLI run, to scan for leaked secrets.
    outputs: list[tuple[str, str, str]] = field(default_factory=list)
    #: Passwords of users the tests create, for the same scans.
    extra_secrets: list[str] = field(default_factory=list)

    @property
    def admin_file(self) -> Path:
        return self.data_dir / "client.properties"

    @property
    def ca(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def password(self, user: str) -> str:
        return next(u["password"] for u in self.credentials["users"] if u["name"] == user)

    def props(self, user: str = "admin", password: str | None = None) -> dict[str, str]:
        """librdkafka properties for ``user`` (as a confluent_kafka client needs them)."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password or self.password(user),
            "ssl.ca.location": str(self.ca),
        }

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("KPOC_") or k == "KPOC_CLUSTER_OWNER_PID"}
        # PYTHONFAULTHANDLER: should librdkafka ever crash the CLI, the Python stack is shown.
        env.update(KPOC_DATA_DIR=str(self.data_dir), NO_COLOR="1", PYTHONFAULTHANDLER="1")
        return env

    def run(self, *args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120, record: bool = True) -> subprocess.CompletedProcess[str]:
        """The real `kpoc` CLI in a subprocess, bounded in time; output kept for scans."""
        p = subprocess.run(
            [sys.executable, "-m", "kpoc", *args], input=input, capture_output=True, text=True,
            timeout=timeout, env={**self.env(), **(env or {})},
        )
        if record:
            self.outputs.append((" ".join(args), p.stdout, p.stderr))
        return p


@pytest.fixture(scope="session")
def secure_cluster() -> Iterator[SecureCluster]:
    base = int(os.environ.get("KPOC_TEST_PORT", "29092"))
    port = int(os.environ.get("KPOC_SECURE_TEST_PORT", str(base + 300)))
    nodes = int(os.environ.get("KPOC_SECURE_TEST_NODES", "1"))
    data_dir = Path(tempfile.mkdtemp(prefix="kpoc-secure-")) / "cluster"
    manager = LocalCluster(data_dir)
    sc = SecureCluster(data_dir, "", manager, {})
    try:
        up = sc.run("cluster", "up", "--secure", "--nodes", str(nodes), "--port", str(port),
                    "--timeout", "240", timeout=300)
        assert up.returncode == 0, up.stderr
        sc.bootstrap_servers = up.stdout.splitlines()[0].split("=", 1)[1]
        sc.credentials = json.loads((data_dir / "credentials.json").read_text())
        yield sc
    finally:
        manager.destroy()
        data_dir.parent.rmdir()


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Callable[[str], str]:
    import uuid

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make
