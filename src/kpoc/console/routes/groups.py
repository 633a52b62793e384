"""Consumer groups: list with lag, detail with the assignment map, lag history, offset reset,
delete.

A group id is free text ('/', '..', spaces and all), so every group URL has two spellings: the
group in the query string (``/group?group=ID``, what the pages link to, works for any id) and,
for ids a path can carry, in the path (``/groups/ID``, ``/api/groups/ID``; the sub-resource
routes are registered first, so an id ending in ``/lag-history`` needs the query form)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...admin import GroupInfo, GroupSummary, OffsetReset, parse_reset_target
from ...errors import UsageError
from .._context import Console, console_of, retry
from .messages import optional_int

router = APIRouter()
#: Groups not yet sampled that one groups page describes itself (each costs a request).
LIVE_LIMIT = 20


class ResetOffsets(BaseModel):
    topic: str = Field(min_length=1, max_length=249)
    target: str = Field("earliest", max_length=40,
                        description="earliest | latest | an offset | @<ms since epoch>")
    partitions: list[int] | None = Field(None, description="default: every partition")
    dry_run: bool = False


def member_labels(info: GroupInfo) -> dict[str, str]:
    """A short name per member that tells members apart: the client id when it is unique in
    the group (librdkafka's default, 'rdkafka', rarely is), else client id plus the start of
    the member id's own part."""
    counts: dict[str, int] = {}
    for m in info.members:
        counts[m.client_id] = counts.get(m.client_id, 0) + 1
    labels = {}
    for m in info.members:
        if counts[m.client_id] == 1 and m.client_id:
            labels[m.member_id] = m.client_id
        else:
            own = m.member_id.removeprefix(m.client_id).lstrip("-")
            labels[m.member_id] = f"{m.client_id or '?'}·{own[:6]}"
    return labels


def assignment_map(info: GroupInfo) -> dict[str, Any]:
    """Partitions drawn to members: per topic, which member owns each partition; idle flagged."""
    labels = member_labels(info)
    hosts = {m.member_id: m.host for m in info.members}
    topics: dict[str, dict[int, dict[str, Any]]] = {}
    for lag in info.lags:
        # A share group's partition has no owner: every member in ``shared_by`` reads it.
        topics.setdefault(lag.topic, {})[lag.partition] = {
            "partition": lag.partition, "member_id": lag.member_id, "lag": lag.lag,
            "shared_by": [labels.get(m, m[:8]) for m in lag.shared_by]}
    for m in info.members:
        for t, p in m.assignment:
            topics.setdefault(t, {}).setdefault(
                p, {"partition": p, "member_id": m.member_id, "lag": None, "shared_by": []})
    for parts in topics.values():
        for cell in parts.values():
            cell["label"] = labels.get(cell["member_id"] or "")
            cell["host"] = hosts.get(cell["member_id"] or "")
    return {
        "members": [{"member_id": m.member_id, "client_id": m.client_id, "host": m.host,
                     "label": labels[m.member_id], "partitions": len(m.assignment),
                     "idle": m.idle} for m in info.members],
        "topics": [{"topic": t, "partitions": [parts[p] for p in sorted(parts)]}
                   for t, parts in sorted(topics.items())],
        "idle_members": [m.member_id for m in info.idle_members],
    }


def detail(c: Console, group: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The group now and its lag history up to this very sample: one snapshot per render."""
    info = retry(lambda: c.groups.describe_group(group))
    sample = c.lag.record(info, viewed=True)
    d = info.to_dict()
    d["assignment_map"] = assignment_map(info)
    return d, c.lag.to_dict(group, until=sample)


def list_groups(c: Console) -> list[dict[str, Any]]:
    """Every group, listed now; its state, members and lag as the lag sampler's last two
    rounds saw them (``sampled_at``), else described now.

    Describing a group means one committed-offsets request per group (Kafka's batched
    OffsetFetch is not in librdkafka), ~2.5 s for 200 groups: the sampler does that work in the
    background, so this page answers in milliseconds with each row saying how old it is."""
    # Listing groups with no broker up answers an empty list; say that Kafka is down instead.
    c.admin.cluster()
    listed = retry(c.groups.list_groups)
    cached = c.lag.latest()
    # Groups the sampler has not seen yet (new ones, or all of them while its first round
    # runs): a few are described now, the rest say "sampling" until its round reaches them.
    missing = [g.group_id for g in listed if g.group_id not in cached][:LIVE_LIMIT]
    now = time.time()
    for info in retry(lambda: c.groups.describe_groups(missing)).values():
        c.lag.record(info)
        cached[info.group_id] = (now, GroupSummary(info.group_id, info.state, info.type,
                                                   len(info.members), info.total_lag))
    rows = []
    for g in listed:
        at, row = cached.get(g.group_id, (None, g))
        rows.append({**row.to_dict(), "sampled_at": None if at is None else round(at, 3),
                     "age": None if at is None else max(round(now - at), 0)})
    return rows


def _reset(c: Console, group: str, body: ResetOffsets) -> list[dict[str, Any]]:
    target = parse_reset_target(body.target)
    res = c.admin.reset_offsets(group, body.topic, target, body.partitions, body.dry_run)
    return [_explained(r, target) for r in res]


def _explained(r: OffsetReset, target: str | int) -> dict[str, Any]:
    """A reset's row, saying when an offset asked for was outside the partition's range."""
    d = r.to_dict()
    d["note"] = None
    if isinstance(target, int) and target != r.new:
        d["note"] = (f"{target} is past the end of the partition: set to its end, {r.new}"
                     if target > r.new else
                     f"{target} is before the partition's first offset: set to {r.new}")
    return d


# -- API ----------------------------------------------------------------------------------------

@router.get("/api/groups", tags=["groups"])
def api_groups(request: Request) -> list[dict[str, Any]]:
    """Consumer groups with state, member count and total lag."""
    return list_groups(console_of(request))


@router.get("/api/groups/{group:path}/lag-history", tags=["groups"])
@router.get("/api/group/lag-history", tags=["groups"])
def api_lag_history(request: Request, group: str) -> dict[str, Any]:
    """Sampled total lag over time (in memory, bounded) and the estimated time to drain."""
    return console_of(request).lag.to_dict(group)


@router.post("/api/groups/{group:path}/reset-offsets", tags=["groups"])
@router.post("/api/group/reset-offsets", tags=["groups"])
def api_reset(request: Request, group: str, body: ResetOffsets) -> list[dict[str, Any]]:
    """Rewrite committed offsets of an empty group (refused while it has members); with
    ``dry_run`` only say what would change."""
    return _reset(console_of(request), group, body)


@router.post("/api/groups/{group:path}/delete", tags=["groups"])
@router.post("/api/group/delete", tags=["groups"])
def api_delete_group(request: Request, group: str) -> dict[str, Any]:
    """Delete an empty group and its committed offsets."""
    console_of(request).admin.delete_group(group)
    return {"deleted": group}


@router.get("/api/groups/{group:path}", tags=["groups"])
@router.get("/api/group", tags=["groups"])
def api_group(request: Request, group: str) -> dict[str, Any]:
    """Members and their partitions, committed offsets, lag per partition, the assignment map."""
    return detail(console_of(request), group)[0]


# -- pages --------------------------------------------------------------------------------------

@router.get("/groups", include_in_schema=False)
def groups_page(request: Request, deleted: str | None = None) -> Response:
    c = console_of(request)
    groups = list_groups(c)
    return c.render(request, "groups.html", {"groups": groups, "page": "groups",
                                             "deleted": deleted})


def _group_page(c: Console, request: Request, group: str, **extra: Any) -> Response:
    d, hist = detail(c, group)
    topics = sorted({lag["topic"] for lag in d["lags"]})
    status = 400 if extra.get("problem") else 200
    return c.render(request, "group.html", {"g": d, "hist": hist, "topics": topics,
                                            "page": "groups", **extra}, status_code=status)


@router.get("/group", include_in_schema=False)
@router.get("/groups/{group:path}", include_in_schema=False)
def group_page(request: Request, group: str) -> Response:
    return _group_page(console_of(request), request, group)


@router.post("/group/reset", include_in_schema=False)
def reset_form(request: Request, group: str, topic: str = Form(...),
               target: str = Form("earliest"), partitions: str = Form(""),
               dry_run: bool = Form(False)) -> Response:
    """Reset (or, with the preview button, only show) a group's offsets, for every partition
    of a topic or the partitions listed; the page shows each partition's old and new offset."""
    c = console_of(request)
    form = {"topic": topic, "target": target, "partitions": partitions}
    try:
        parts = [p for p in (optional_int(x, "partition") for x in partitions.split(","))
                 if p is not None] or None
        res = _reset(c, group, ResetOffsets(topic=topic, target=target, partitions=parts,
                                            dry_run=dry_run))
    except UsageError as exc:
        return _group_page(c, request, group, problem=exc, form=form)
    return _group_page(c, request, group, reset=res, dry_run=dry_run, form=form)


@router.post("/group/delete", include_in_schema=False)
def delete_group_form(request: Request, group: str, confirm: str = Form("")) -> Response:
    c = console_of(request)
    if confirm != group:
        return _group_page(c, request, group, problem=UsageError(
            f"confirmation {confirm!r} does not match group {group!r}",
            "type the group's id exactly to confirm"))
    try:
        c.admin.delete_group(group)
    except UsageError as exc:
        return _group_page(c, request, group, problem=exc)
    return RedirectResponse(f"/groups?deleted={quote(group, safe='')}", status_code=303)
