"""Overview: cluster id, brokers up/down, the KRaft quorum leader, partition health."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...admin import ClusterInfo, TopicInfo
from ...errors import KpocError
from .._context import Console, console_of

router = APIRouter()


def build_overview(c: Console) -> dict[str, Any]:
    """One describe-cluster and one metadata request (no watermarks): fast with many topics.

    Expected brokers come from the local cluster's state when kpoc manages the cluster, else from
    the replicas named in the metadata; a broker that is expected but not live is down.
    """
    started = time.perf_counter()
    info = c.admin.cluster()
    topics = c.admin.list_topics(include_internal=True, watermarks=False)
    brokers, quorum_leader, kafka_version, source = _brokers(c, info, topics)
    down = {i for i, b in brokers.items() if not b["up"]}
    return {
        "cluster_id": info.cluster_id,
        "kafka_version": kafka_version,
        "bootstrap_servers": c.config.bootstrap_servers,
        "brokers_source": source,
        "brokers": [brokers[i] for i in sorted(brokers)],
        "brokers_up": len(brokers) - len(down),
        "brokers_down": len(down),
        "quorum_leader": quorum_leader,
        # Not the metadata's controller id: in KRaft a broker names a random live broker there
        # (clients cannot reach controllers), so it changes between requests.
        "topics": sum(1 for t in topics if not t.internal),
        "internal_topics": sum(1 for t in topics if t.internal),
        **_partition_health(topics, down),
        "server_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _brokers(c: Console, info: ClusterInfo, topics: list[TopicInfo]
             ) -> tuple[dict[int, dict[str, Any]], int | None, str | None, str]:
    """Every broker expected, up or down; the quorum leader and Kafka version when known; and
    where the list of brokers came from."""
    live = {b.id: b for b in info.brokers}
    brokers: dict[int, dict[str, Any]] = {}
    quorum_leader = kafka_version = None
    source = "metadata"
    if c.local is not None:
        try:
            status = c.local.status()
        except KpocError:
            status = None
        if status is not None:
            source = "local cluster"
            quorum_leader, kafka_version = status.quorum_leader, status.kafka_version
            for n in status.nodes:
                b = live.get(n.node_id)
                brokers[n.node_id] = {
                    "id": n.node_id, "address": b.address if b else f"127.0.0.1:{n.client_port}",
                    "up": n.up and b is not None, "quorum_leader": n.quorum_leader}
    for b in live.values():
        brokers.setdefault(b.id, {"id": b.id, "address": b.address, "up": True,
                                  "quorum_leader": quorum_leader == b.id})
    for t in topics:
        for p in t.partitions:
            for r in p.replicas:
                brokers.setdefault(r, {"id": r, "address": None, "up": False,
                                       "quorum_leader": False})
    return brokers, quorum_leader, kafka_version, source


def _partition_health(topics: list[TopicInfo], down: set[int]) -> dict[str, Any]:
    """Partition counts, and the partitions under-replicated or offline (a replica or leader on
    a broker that is down counts too)."""
    unhealthy = []
    urp = offline = partitions = internal_partitions = 0
    for t in topics:
        t_urp = sum(1 for p in t.partitions
                    if p.under_replicated or any(r in down for r in p.replicas))
        t_off = sum(1 for p in t.partitions if p.offline or p.leader in down)
        if t.internal:
            internal_partitions += len(t.partitions)
        else:
            partitions += len(t.partitions)
        urp += t_urp
        offline += t_off
        if t_urp or t_off:
            unhealthy.append({"name": t.name, "under_replicated": t_urp, "offline": t_off})
    return {"partitions": partitions, "internal_partitions": internal_partitions,
            "under_replicated": urp, "offline": offline, "unhealthy_topics": unhealthy[:50]}


@router.get("/api/overview", tags=["overview"])
def api_overview(request: Request) -> dict[str, Any]:
    """Cluster id, brokers (up/down, quorum leader), topic and partition health."""
    return build_overview(console_of(request))


@router.get("/", include_in_schema=False)
def overview_page(request: Request) -> Response:
    c = console_of(request)
    return c.render(request, "overview.html", {"o": build_overview(c), "page": "overview"})
