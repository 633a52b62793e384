"""``<data-dir>/cluster.json``: what every engine records about the cluster it runs there, and
what the CLI needs of an engine (:class:`Engine`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import ClusterError
from ._props import NodeSpec

STATE_FILE = "cluster.json"
#: Nodes of a new cluster when --nodes is not given.
DEFAULT_NODES = 3

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ClusterState:
    """A cluster as its engine recorded it at creation."""

    engine: str  # "kafka" or "mock"
    bootstrap_servers: str
    nodes: tuple[NodeSpec, ...]
    cluster_id: str = ""
    kafka_version: str = ""
    secure: bool = False

    @property
    def node_ids(self) -> list[int]:
        return [n.node_id for n in self.nodes]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "engine": self.engine, "cluster_id": self.cluster_id,
            "kafka_version": self.kafka_version, "bootstrap_servers": self.bootstrap_servers,
            "nodes": [asdict(n) for n in self.nodes]}
        if self.secure:
            doc["secure"] = True
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ClusterState:
        return cls(str(doc.get("engine", "kafka")), str(doc.get("bootstrap_servers", "")),
                   tuple(NodeSpec(**n) for n in doc.get("nodes", [])),
                   str(doc.get("cluster_id", "")), str(doc.get("kafka_version", "")),
                   bool(doc.get("secure")))

    def write(self, data_dir: Path) -> None:
        (data_dir / STATE_FILE).write_text(json.dumps(self.to_json(), indent=2) + "\n")


@dataclass(frozen=True)
class NodeStatus:
    node_id: int
    pid: int | None
    client_port: int
    controller_port: int
    up: bool
    quorum_leader: bool


@dataclass(frozen=True)
class ClusterStatus:
    engine: str
    cluster_id: str
    kafka_version: str
    bootstrap_servers: str
    data_dir: str
    nodes: list[NodeStatus]
    quorum_leader: int | None
    secure: bool = False
    #: What the engine is, when it is not real Kafka (the mock cluster's warning).
    label: str | None = None

    @property
    def running(self) -> int:
        return sum(n.up for n in self.nodes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["running"] = self.running
        return d



def read_state(data_dir: Path) -> ClusterState | None:
    """The recorded state, or None when there is no cluster in ``data_dir``."""
    path = data_dir / STATE_FILE
    try:
        return ClusterState.from_json(dict(json.loads(path.read_text())))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ClusterError(f"cluster state {path} is unreadable: {exc}",
                           "run `kpoc cluster destroy` to start afresh")


class Engine(Protocol):
    """What ``kpoc cluster up|status|down|destroy`` need of an engine (``LocalCluster``: real
    Kafka; ``MockCluster``: librdkafka's test double)."""

    data_dir: Path
    #: Shown wherever the cluster is; None for real Kafka.
    label: str | None

    def state(self) -> ClusterState | None: ...

    def up(self, *, nodes: int | None = None, port: int = ..., timeout: float = ...,
           progress: Progress = ..., secure: bool = False) -> tuple[str, bool]: ...

    def status(self) -> ClusterStatus: ...

    def down(self, timeout: float = ...) -> list[int]: ...

    def destroy(self) -> bool: ...
