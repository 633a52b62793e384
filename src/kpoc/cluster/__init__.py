"""The local cluster: real Apache Kafka in KRaft mode, started from Maven Central jars."""

from ._java import ensure_jars, find_java, libs_dir
from ._props import KAFKA_VERSION, NodeSpec, durability_settings, node_properties, node_specs
from .local import (
    DEFAULT_NODES,
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    ClusterStatus,
    LocalCluster,
    NodeStatus,
)
from .mock import LABEL as MOCK_LABEL

__all__ = [
    "DEFAULT_NODES",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "KAFKA_VERSION",
    "MOCK_LABEL",
    "ClusterStatus",
    "LocalCluster",
    "NodeSpec",
    "NodeStatus",
    "durability_settings",
    "ensure_jars",
    "find_java",
    "libs_dir",
    "node_properties",
    "node_specs",
]
