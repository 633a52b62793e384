"""Broker configuration as plain data: one source for ``kpoc cluster`` and docker-compose.

Nothing here touches the disk or the network, so tests (and the compose check) call it directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KAFKA_VERSION = "4.3.1"
CONTROLLER_PORT_OFFSET = 100


@dataclass(frozen=True)
class NodeSpec:
    """Where one combined broker+controller node listens."""

    node_id: int
    client_port: int
    controller_port: int
    host: str = "127.0.0.1"

    @property
    def client_address(self) -> str:
        return f"{self.host}:{self.client_port}"


def node_specs(count: int, port: int, host: str = "127.0.0.1") -> list[NodeSpec]:
    """Nodes 1..count: client ports ``port``.., controller ports ``port+100``.."""
    return [
        NodeSpec(i, port + i - 1, port + CONTROLLER_PORT_OFFSET + i - 1, host)
        for i in range(1, count + 1)
    ]


def durability_settings(count: int) -> dict[str, str]:
    """Settings that make an acknowledged message survive a broker loss.

    Replication is min(3, N); with three or more nodes a write needs two in-sync copies, so one
    broker may die without losing an acknowledged message or refusing writes. Auto-creation is off
    so that a typo in a topic name is an error, not a new topic.
    """
    rf = min(3, count)
    min_isr = 2 if count >= 3 else 1
    return {
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
    }


def dev_settings() -> dict[str, str]:
    """Small-machine settings: quick group joins and a heap-friendly log cleaner."""
    return {
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": "33554432",
        "num.partitions": "3",
        # 50 by default: 150 replicas to create on the first group request, slow on 2 cores.
        "offsets.topic.num.partitions": "10",
        # 60 s by default: a node restarted on a busy 2-core machine can need longer to catch up
        # with the controller, and then exits instead of waiting.
        "initial.broker.registration.timeout.ms": "300000",
    }


def node_properties(node: NodeSpec, nodes: Sequence[NodeSpec], log_dir: str) -> dict[str, str]:
    """``server.properties`` for one KRaft combined-mode node of a static quorum."""
    voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in nodes)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": (
            f"PLAINTEXT://{node.host}:{node.client_port},"
            f"CONTROLLER://{node.host}:{node.controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{node.host}:{node.client_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": log_dir,
    }
    props.update(durability_settings(len(nodes)))
    props.update(dev_settings())
    return props


def render_properties(props: Mapping[str, str], header: str = "") -> str:
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{k}={v}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


LOG4J2_PROPERTIES = """\
# Written by kpoc: one rolling file per node, nothing on the console.
status = warn
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 20MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""
