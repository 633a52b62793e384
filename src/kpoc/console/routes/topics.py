"""Topics: list, detail (partitions, configs, live rate), create and delete."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...admin import TopicInfo
from ...config import parse_property
from ...errors import KpocError, UsageError
from .._context import Console, console_of, retry, status_of

router = APIRouter()


class TopicCreate(BaseModel):
    name: str = Field(min_length=1, max_length=249, examples=["orders"])
    partitions: int = Field(3, ge=1, le=10_000)
    replication_factor: int = Field(3, ge=1, le=64)
    configs: dict[str, str] = Field(default_factory=dict, examples=[{"retention.ms": "86400000"}])


class TopicConfigChange(BaseModel):
    set: dict[str, str] = Field(default_factory=dict, examples=[{"retention.ms": "3600000"}])
    reset: list[str] = Field(default_factory=list, description="configs back to their default",
                             examples=[["cleanup.policy"]])


class PartitionCount(BaseModel):
    count: int = Field(ge=1, le=100_000, description="the new total (Kafka only adds)")


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


@router.get("/api/topics/{name}/configs", tags=["topics"])
def api_topic_configs(request: Request, name: str) -> list[dict[str, Any]]:
    """Every config of the topic with its value, whether it is the default, and its source."""
    return [e.to_dict() for e in console_of(request).admin.topic_config_entries(name)]


@router.post("/api/topics/{name}/configs", tags=["topics"])
def api_alter_configs(request: Request, name: str,
                      body: TopicConfigChange) -> list[dict[str, Any]]:
    """Set configs and return others to their default; answers every config afterwards."""
    admin = console_of(request).admin
    admin.alter_topic_config(name, body.set, body.reset)
    return [e.to_dict() for e in admin.topic_config_entries(name)]


@router.post("/api/topics/{name}/partitions", tags=["topics"])
def api_add_partitions(request: Request, name: str, body: PartitionCount) -> dict[str, Any]:
    """Grow the topic to ``count`` partitions; answers once every new partition has a leader."""
    return console_of(request).admin.add_partitions(name, body.count).to_dict()


@router.get("/api/topics/{name}/watermarks", tags=["topics"])
def api_watermarks(request: Request, name: str) -> dict[str, Any]:
    """Low/high watermarks now, with the server time: two calls give messages/s."""
    return watermarks(console_of(request), name)


# -- pages --------------------------------------------------------------------------------------

SORTS = ("name", "partitions", "replication_factor", "under_replicated", "messages")
Sort = Literal["name", "partitions", "replication_factor", "under_replicated", "messages"]
PER_PAGE = 100


def _topics_page(c: Console, request: Request, internal: bool = False, q: str = "",
                 sort: str = "name", desc: bool = False, page: int = 1,
                 **extra: Any) -> Response:
    """The topics list, searched (name contains ``q``), sorted and cut into pages of 100."""
    topics = [t.summary() for t in retry(lambda: c.admin.list_topics(include_internal=internal))]
    needle = q.strip().lower()
    found = [t for t in topics if needle in t["name"].lower()]
    found.sort(key=lambda t: (t[sort], t["name"]), reverse=desc)
    pages = max(1, -(-len(found) // PER_PAGE))
    page = min(max(page, 1), pages)
    return c.render(request, "topics.html", {
        "topics": found[(page - 1) * PER_PAGE:page * PER_PAGE], "total": len(topics),
        "matching": len(found), "internal": internal, "q": q, "sort": sort, "desc": desc,
        "pageno": page, "pages": pages, "sorts": SORTS, "page": "topics", "form": {}, **extra},
        status_code=400 if extra.get("problem") else 200)


@router.get("/topics", include_in_schema=False)
def topics_page(request: Request, internal: bool = False, q: str = Query("", max_length=249),
                sort: Sort = "name", desc: bool = False,
                page: int = Query(1, ge=1, le=1_000_000)) -> Response:
    return _topics_page(console_of(request), request, internal, q, sort, desc, page)


_CLI_FLAG = re.compile(r"(?:^|\s)(?:--?[a-z][a-z-]*)[ =]")


def in_form(exc: KpocError) -> KpocError:
    """A library error for a form: a fix that names a CLI flag ("-c KEY=VALUE") means nothing
    on a page, so it becomes the form's own wording."""
    if exc.fix and _CLI_FLAG.search(exc.fix):
        return UsageError(exc.message, "correct the field above: configs are key=value, one "
                                       "per line, with Kafka's topic config names")
    return exc


def _parse_configs(text: str) -> dict[str, str]:
    return dict(parse_property(line, "config", "retention.ms=86400000")
                for line in text.splitlines() if line.strip())


def _form_count(text: str, what: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise UsageError(f"{what} {text!r} is not a whole number ≥ 1", "e.g. 3")
    return int(text)


@router.post("/topics", include_in_schema=False)
def create_topic_form(request: Request, name: str = Form(""), partitions: str = Form("3"),
                      replication_factor: str = Form("3"), configs: str = Form("")) -> Response:
    c = console_of(request)
    form = {"name": name, "partitions": partitions, "replication_factor": replication_factor,
            "configs": configs}
    try:
        body = TopicCreate(name=name.strip() or "?",
                           partitions=_form_count(partitions, "partitions"),
                           replication_factor=_form_count(replication_factor,
                                                          "replication factor"),
                           configs=_parse_configs(configs))
        brokers = len(c.admin.cluster().brokers)
        if body.replication_factor > brokers:
            raise UsageError(f"replication factor {body.replication_factor} needs as many "
                             f"brokers; {brokers} are up", f"use 1..{brokers}")
        _create(c, body)
    except KpocError as exc:
        if status_of(exc) != 400:
            raise
        return _topics_page(c, request, problem=in_form(exc), form=form)
    return RedirectResponse(f"/topics/{body.name}", status_code=303)


def topic_page_with(c: Console, request: Request, name: str, **extra: Any) -> Response:
    t = retry(lambda: c.admin.describe_topic(name))
    return c.render(request, "topic.html", {
        "t": t, "s": t.summary(), "page": "topics", "configs": c.admin.topic_config_entries(name),
        "form": {}, **extra}, status_code=400 if extra.get("problem") else 200)


_NOTICES = {"configs": "Configs changed.", "partitions": "Partitions added."}


@router.get("/topics/{name}", include_in_schema=False)
def topic_page(request: Request, name: str, done: str | None = None) -> Response:
    return topic_page_with(console_of(request), request, name, notice=_NOTICES.get(done or ""))


def _topic_form(request: Request, name: str, where: str, form: dict[str, str],
                action: Callable[[Console], object], then: str) -> Response:
    """Run a topic page's form action: on a usage error the page again with the problem
    above that form and the input kept, else a redirect to ``then``."""
    c = console_of(request)
    try:
        action(c)
    except UsageError as exc:
        return topic_page_with(c, request, name, problem=in_form(exc), where=where, form=form)
    return RedirectResponse(then, status_code=303)


@router.post("/topics/{name}/configs", include_in_schema=False)
def configs_form(request: Request, name: str, set_: str = Form("", alias="set"),
                 reset: str = Form("")) -> Response:
    """Set ``key=value`` lines, and return the configs named in ``reset`` to their default."""
    keys = [k.strip() for k in reset.split(",") if k.strip()]
    return _topic_form(request, name, "configs", {"set": set_},
                       lambda c: c.admin.alter_topic_config(name, _parse_configs(set_), keys),
                       f"/topics/{name}?done=configs")


@router.post("/topics/{name}/partitions", include_in_schema=False)
def partitions_form(request: Request, name: str, count: str = Form("")) -> Response:
    return _topic_form(request, name, "partitions", {"count": count},
                       lambda c: c.admin.add_partitions(
                           name, _form_count(count, "partition count")),
                       f"/topics/{name}?done=partitions")


@router.post("/topics/{name}/delete", include_in_schema=False)
def delete_topic_form(request: Request, name: str, confirm: str = Form("")) -> Response:
    return _topic_form(request, name, "delete", {},
                       lambda c: _delete(c, name, confirm.strip()), "/topics")
