"""The local cluster: real Apache Kafka in KRaft mode, started from Maven Central jars."""

from pathlib import Path

from ._java import ensure_jars, find_java, libs_dir
from ._props import KAFKA_VERSION, NodeSpec, durability_settings, node_properties, node_specs
from ._secure import ADMIN_PROPERTIES, DEMO_PREFIX, read_credentials
from ._secure import MECHANISM as SECURE_MECHANISM
from ._state import ClusterState, ClusterStatus, Engine, NodeStatus
from .local import DEFAULT_NODES, DEFAULT_PORT, DEFAULT_TIMEOUT, LocalCluster
from .mock import LABEL as MOCK_LABEL
from .mock import MockCluster

__all__ = [
    "ADMIN_PROPERTIES",
    "DEFAULT_NODES",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "DEMO_PREFIX",
    "KAFKA_VERSION",
    "MOCK_LABEL",
    "SECURE_MECHANISM",
    "ClusterState",
    "ClusterStatus",
    "Engine",
    "LocalCluster",
    "MockCluster",
    "NodeSpec",
    "NodeStatus",
    "durability_settings",
    "engine_at",
    "ensure_jars",
    "find_java",
    "libs_dir",
    "node_properties",
    "node_specs",
    "read_credentials",
]


def engine_at(data_dir: Path, engine: str | None = None) -> Engine:
    """The engine of the cluster in ``data_dir`` (``engine``, when given, for a new one)."""
    if engine is None:
        st = LocalCluster(data_dir).state()
        engine = st.engine if st is not None else "kafka"
    return MockCluster(data_dir) if engine == "mock" else LocalCluster(data_dir)
