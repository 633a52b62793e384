"""Topics: list, detail (partitions, configs, live rate), create and delete."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...admin import TopicInfo
from ...config import parse_property
from ...errors import UsageError
from .._context import Console, console_of, retry

router = APIRouter()


class TopicCreate(BaseModel):
    name: str = Field(min_length=1, max_length=249, examples=["orders"])
    partitions: int = Field(3, ge=1, le=10_000)
    replication_factor: int = Field(3, ge=1, le=64)
    configs: dict[str, str] = Field(default_factory=dict, examples=[{"retention.ms": "86400000"}])


class TopicDelete(BaseModel):
    confirm: str = Field(description="the topic's name again, to confirm")


def _create(c: Console, body: TopicCreate) -> TopicInfo:
    return c.admin.create_topic(body.name, body.partitions, body.replication_factor,
                                dict(body.configs))


def _delete(c: Console, name: str, confirm: str) -> None:
    if confirm != name:
        raise UsageError(f"confirmation {confirm!r} does not match topic {name!r}",
                         "type the topic's name to confirm deletion")
    c.admin.delete_topic(name)


def watermarks(c: Console, name: str) -> dict[str, Any]:
    t = retry(lambda: c.admin.describe_topic(name))
    return {"topic": name, "time": time.time(),
            "partitions": [{"partition": p.id, "low": p.low, "high": p.high}
                           for p in t.partitions],
            "messages": t.messages, "high_sum": sum(p.high or 0 for p in t.partitions)}


# -- API ----------------------------------------------------------------------------------------

@router.get("/api/topics", tags=["topics"])
def api_topics(request: Request, internal: bool = False) -> list[dict[str, Any]]:
    """Topics with partitions, replication factor, health and message count."""
    admin = console_of(request).admin
    return [t.summary() for t in retry(lambda: admin.list_topics(include_internal=internal))]


@router.post("/api/topics", tags=["topics"], status_code=201)
def api_create_topic(request: Request, body: TopicCreate) -> dict[str, Any]:
    """Create a topic; answers once every partition has a leader."""
    return _create(console_of(request), body).to_dict()


@router.get("/api/topics/{name}", tags=["topics"])
def api_topic(request: Request, name: str) -> dict[str, Any]:
    """Per-partition leader, replicas, ISR and watermarks, and the topic's non-default configs."""
    admin = console_of(request).admin
    return retry(lambda: admin.describe_topic(name)).to_dict()


@router.post("/api/topics/{name}/delete", tags=["topics"])
def api_delete_topic(request: Request, name: str, body: TopicDelete) -> dict[str, Any]:
    """Delete a topic; ``confirm`` must repeat its name."""
    _delete(console_of(request), name, body.confirm)
    return {"deleted": name}


@router.get("/api/topics/{name}/watermarks", tags=["topics"])
def api_watermarks(request: Request, name: str) -> dict[str, Any]:
    """Low/high watermarks now, with the server time: two calls give messages/s."""
    return watermarks(console_of(request), name)


# -- pages --------------------------------------------------------------------------------------

@router.get("/topics", include_in_schema=False)
def topics_page(request: Request, internal: bool = False) -> Response:
    c = console_of(request)
    topics = [t.summary() for t in retry(lambda: c.admin.list_topics(include_internal=internal))]
    return c.render(request, "topics.html", {"topics": topics, "internal": internal,
                                             "page": "topics"})


def _parse_configs(text: str) -> dict[str, str]:
    return dict(parse_property(line, "config", "retention.ms=86400000")
                for line in text.splitlines() if line.strip())


@router.post("/topics", include_in_schema=False)
def create_topic_form(request: Request, name: str = Form(...), partitions: int = Form(3),
                      replication_factor: int = Form(3), configs: str = Form("")) -> Response:
    c = console_of(request)
    body = TopicCreate(name=name.strip() or "?", partitions=max(partitions, 1),
                       replication_factor=max(replication_factor, 1),
                       configs=_parse_configs(configs))
    if partitions < 1 or replication_factor < 1:
        raise UsageError("partitions and replication factor must be ≥ 1", "e.g. 3 and 3")
    _create(c, body)
    return RedirectResponse(f"/topics/{body.name}", status_code=303)


@router.get("/topics/{name}", include_in_schema=False)
def topic_page(request: Request, name: str) -> Response:
    c = console_of(request)
    t = retry(lambda: c.admin.describe_topic(name))
    return c.render(request, "topic.html", {"t": t, "s": t.summary(), "page": "topics"})


@router.post("/topics/{name}/delete", include_in_schema=False)
def delete_topic_form(request: Request, name: str, confirm: str = Form("")) -> Response:
    _delete(console_of(request), name, confirm.strip())
    return RedirectResponse("/topics", status_code=303)
