"""Brokers: per broker its leader and replica counts, log-dir size, and every config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...errors import NotFound
from .._context import Console, console_of
from .overview import build_overview

router = APIRouter()


def _dir_size(path: Path) -> int | None:
    """Bytes under ``path`` (a broker's log dir), or None when it is not on this machine."""
    if not path.is_dir():
        return None
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:  # a segment deleted by retention meanwhile
                continue
    return total


def list_brokers(c: Console) -> list[dict[str, Any]]:
    """The overview's brokers (up/down, quorum leader) with their partition counts from the
    same metadata, and their log-dir size when kpoc runs the cluster on this machine (the
    client API has no DescribeLogDirs)."""
    o = build_overview(c)
    leaders: dict[int, int] = {}
    replicas: dict[int, int] = {}
    for t in c.admin.list_topics(include_internal=True, watermarks=False):
        for p in t.partitions:
            leaders[p.leader] = leaders.get(p.leader, 0) + 1
            for r in p.replicas:
                replicas[r] = replicas.get(r, 0) + 1
    out = []
    for b in o["brokers"]:
        size = (_dir_size(c.local.node_dir(b["id"]) / "data") if c.local is not None else None)
        out.append({**b, "leaders": leaders.get(b["id"], 0), "replicas": replicas.get(b["id"], 0),
                    "log_dir_bytes": size})
    return out


def broker_detail(c: Console, broker: int) -> dict[str, Any]:
    found = [b for b in list_brokers(c) if b["id"] == broker]
    if not found:
        raise NotFound(f"broker {broker} is not in this cluster", "see the brokers page")
    configs = c.admin.broker_config_entries(broker) if found[0]["up"] else []
    return {**found[0], "configs": [e.to_dict() for e in configs]}


@router.get("/api/brokers", tags=["brokers"])
def api_brokers(request: Request) -> list[dict[str, Any]]:
    """Brokers with up/down, quorum leader, leader and replica counts, log-dir size."""
    return list_brokers(console_of(request))


@router.get("/api/brokers/{broker}", tags=["brokers"])
def api_broker(request: Request, broker: int) -> dict[str, Any]:
    """One broker and every config of it, with each value's source."""
    return broker_detail(console_of(request), broker)


@router.get("/brokers", include_in_schema=False)
def brokers_page(request: Request) -> Response:
    c = console_of(request)
    return c.render(request, "brokers.html", {"brokers": list_brokers(c), "page": "brokers"})


@router.get("/brokers/{broker}", include_in_schema=False)
def broker_page(request: Request, broker: int) -> Response:
    c = console_of(request)
    return c.render(request, "broker.html", {"b": broker_detail(c, broker), "page": "brokers"})
