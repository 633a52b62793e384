"""Consumer groups: list with lag, detail with the assignment map, lag history, offset reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...admin import GroupInfo, parse_reset_target
from .._context import Console, console_of, retry

router = APIRouter()


class ResetOffsets(BaseModel):
    topic: str = Field(min_length=1, max_length=249)
    target: str = Field("earliest", max_length=40,
                        description="earliest | latest | an offset | @<ms since epoch>")
    partitions: list[int] | None = Field(None, description="default: every partition")
    dry_run: bool = False


def assignment_map(info: GroupInfo) -> dict[str, Any]:
    """Partitions drawn to members: per topic, which member owns each partition; idle flagged."""
    topics: dict[str, dict[int, dict[str, Any]]] = {}
    clients = {m.member_id: m.client_id for m in info.members}
    for lag in info.lags:
        # A share group's partition has no owner: every member in ``shared_by`` reads it.
        topics.setdefault(lag.topic, {})[lag.partition] = {
            "partition": lag.partition, "member_id": lag.member_id, "lag": lag.lag,
            "shared_by": [clients.get(m, m[:8]) for m in lag.shared_by]}
    for m in info.members:
        for t, p in m.assignment:
            topics.setdefault(t, {}).setdefault(
                p, {"partition": p, "member_id": m.member_id, "lag": None, "shared_by": []})
    return {
        "members": [{"member_id": m.member_id, "client_id": m.client_id, "host": m.host,
                     "partitions": len(m.assignment), "idle": m.idle} for m in info.members],
        "topics": [{"topic": t, "partitions": [parts[p] for p in sorted(parts)]}
                   for t, parts in sorted(topics.items())],
        "idle_members": [m.member_id for m in info.idle_members],
    }


def detail(c: Console, group: str) -> dict[str, Any]:
    info = retry(lambda: c.admin.describe_group(group))
    c.lag.record(info)
    d = info.to_dict()
    d["assignment_map"] = assignment_map(info)
    return d


def list_groups(c: Console) -> list[dict[str, Any]]:
    # Listing groups with no broker up answers an empty list; say that Kafka is down instead.
    c.admin.cluster()
    return [g.to_dict() for g in retry(lambda: c.admin.list_groups(with_lag=True))]


def _reset(c: Console, group: str, body: ResetOffsets) -> list[dict[str, Any]]:
    target = parse_reset_target(body.target)
    res = c.admin.reset_offsets(group, body.topic, target, body.partitions, body.dry_run)
    return [r.to_dict() for r in res]


# -- API ----------------------------------------------------------------------------------------

@router.get("/api/groups", tags=["groups"])
def api_groups(request: Request) -> list[dict[str, Any]]:
    """Consumer groups with state, member count and total lag."""
    return list_groups(console_of(request))


@router.get("/api/groups/{group}", tags=["groups"])
def api_group(request: Request, group: str) -> dict[str, Any]:
    """Members and their partitions, committed offsets, lag per partition, the assignment map."""
    return detail(console_of(request), group)


@router.get("/api/groups/{group}/lag-history", tags=["groups"])
def api_lag_history(request: Request, group: str) -> dict[str, Any]:
    """Sampled total lag over time (in memory, bounded) and the estimated time to drain."""
    return console_of(request).lag.to_dict(group)


@router.post("/api/groups/{group}/reset-offsets", tags=["groups"])
def api_reset(request: Request, group: str, body: ResetOffsets) -> list[dict[str, Any]]:
    """Rewrite committed offsets of an empty group (refused while it has members)."""
    return _reset(console_of(request), group, body)


# -- pages --------------------------------------------------------------------------------------

@router.get("/groups", include_in_schema=False)
def groups_page(request: Request) -> Response:
    c = console_of(request)
    groups = list_groups(c)
    return c.render(request, "groups.html", {"groups": groups, "page": "groups"})


@router.get("/groups/{group}", include_in_schema=False)
def group_page(request: Request, group: str, reset: int | None = None) -> Response:
    c = console_of(request)
    d = detail(c, group)
    hist = c.lag.to_dict(group)
    topics = sorted({lag["topic"] for lag in d["lags"]})
    return c.render(request, "group.html", {"g": d, "hist": hist, "topics": topics,
                                            "reset": reset, "page": "groups"})


@router.post("/groups/{group}/reset", include_in_schema=False)
def reset_form(request: Request, group: str, topic: str = Form(...),
               target: str = Form("earliest")) -> Response:
    body = ResetOffsets(topic=topic, target=target, partitions=None)
    res = _reset(console_of(request), group, body)
    return RedirectResponse(f"/groups/{group}?reset={len(res)}", status_code=303)
