"""The local cluster: real Apache Kafka in KRaft mode, started from Maven Central jars."""

from ._java import ensure_jars, find_java, libs_dir
from ._props import KAFKA_VERSION, NodeSpec, durability_settings, node_properties, node_specs
from ._secure import ADMIN_PROPERTIES, DEMO_PREFIX, read_credentials
from ._secure import MECHANISM as SECURE_MECHANISM
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
    "ADMIN_PROPERTIES",
    "DEFAULT_NODES",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "DEMO_PREFIX",
    "KAFKA_VERSION",
    "MOCK_LABEL",
    "SECURE_MECHANISM",
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
    "read_credentials",
]
