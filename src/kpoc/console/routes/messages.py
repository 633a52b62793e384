"""Messages: browse and filter, produce (and produce again), export and import JSON lines."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...envelope import Record
from ...errors import UsageError
from .._context import Console, console_of
from .._messages import (
    MAX_COUNT,
    MAX_EXPORT,
    MAX_PATTERN,
    Browse,
    BrowseResult,
    Filter,
    browse,
    fetch_one,
    parse_headers,
    pretty,
    read_import,
)

router = APIRouter()
MAX_UPLOAD = 10 * 1024 * 1024
Mode = Literal["newest", "oldest", "offset", "timestamp"]
Field_ = Literal["any", "key", "value", "headers"]


class Header(BaseModel):
    key: str
    value: str | None = None
    encoding: Literal["utf-8", "base64"] = "utf-8"


class ProduceMessage(BaseModel):
    """One message in kpoc's JSON-lines envelope (topic, offset and timestamp are ignored)."""

    key: str | None = None
    key_encoding: Literal["utf-8", "base64"] = "utf-8"
    value: str | None = Field(examples=["hello"])
    value_encoding: Literal["utf-8", "base64"] = "utf-8"
    headers: list[Header] = Field(default_factory=list)
    partition: int | None = Field(None, ge=0, description="omit to partition by key")


def parse_timestamp(text: str | None) -> int | None:
    """Milliseconds since the epoch, or an ISO date-time (UTC unless it says otherwise)."""
    if text is None or not text.strip():
        return None
    t = text.strip()
    if t.isdigit():
        return int(t)
    try:
        when = dt.datetime.fromisoformat(t)
    except ValueError:
        raise UsageError(f"invalid timestamp {text!r}",
                         "give ms since the epoch or an ISO date-time, e.g. 2026-11-25T14:00")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _query(name: str, partition: int | None, mode: str, offset: int | None,
           timestamp: str | None, count: int, q: str | None, regex: bool, field: str,
           limit: int = MAX_COUNT) -> Browse:
    return Browse(name, partition, mode, offset, parse_timestamp(timestamp), count,
                  Filter.build(q, regex, field), limit)


def _browse(c: Console, query: Browse) -> BrowseResult:
    return browse(c.config, query)


def _produce(c: Console, topic: str, rec: Record, partition: int | None) -> dict[str, Any]:
    return c.sender.send(topic, [rec], partition=partition)[0]


class _Params:
    """The browse query string, shared by the API, the page and the export."""

    def __init__(self, partition: int | None = Query(None, ge=0),
                 mode: Mode = "newest", offset: int | None = Query(None, ge=0),
                 timestamp: str | None = Query(None, max_length=40,
                                               description="ms since epoch or ISO date-time"),
                 q: str | None = Query(None, max_length=MAX_PATTERN,
                                       description="text (or regex) to find"),
                 regex: bool = False, field: Field_ = "any") -> None:
        self.partition, self.mode, self.offset, self.timestamp = partition, mode, offset, timestamp
        self.q, self.regex, self.field = q, regex, field

    def browse(self, name: str, count: int, limit: int = MAX_COUNT) -> Browse:
        return _query(name, self.partition, self.mode, self.offset, self.timestamp, count,
                      self.q, self.regex, self.field, limit)


# -- API ----------------------------------------------------------------------------------------



@router.get("/api/topics/{name}/messages", tags=["messages"])
def api_messages(request: Request, name: str, p: Annotated[_Params, Depends()],
                 count: int = Query(50, ge=1, le=MAX_COUNT)) -> dict[str, Any]:
    """Browse messages: newest first, or oldest first from the start, an offset or a timestamp;
    one partition or all; filtered by text or regex on key, value or headers. Bounded in count,
    scan size and time (``complete`` is false when a bound stopped the scan)."""
    return _browse(console_of(request), p.browse(name, count)).to_dict()


@router.post("/api/topics/{name}/messages", tags=["messages"], status_code=201)
def api_produce(request: Request, name: str, body: ProduceMessage) -> dict[str, Any]:
    """Produce one message (acks=all, idempotent); answers with its partition and offset."""
    rec = Record.from_envelope(body.model_dump())
    return _produce(console_of(request), name, rec, body.partition)


@router.get("/api/topics/{name}/export", tags=["messages"],
            response_class=Response,
            responses={200: {"content": {"application/x-ndjson": {}}}})
def api_export(request: Request, name: str, p: Annotated[_Params, Depends()],
               count: int = Query(1000, ge=1, le=MAX_EXPORT)) -> Response:
    """Messages as JSON lines (kpoc's envelope, as `kpoc consume --output json`), oldest first."""
    res = _browse(console_of(request), p.browse(name, count, MAX_EXPORT))
    records = sorted(res.records, key=lambda r: (r.timestamp or 0, r.partition or 0,
                                                 r.offset or 0))
    body = "".join(r.to_json() + "\n" for r in records)
    return Response(body, media_type="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="{name}.jsonl"'})


async def _read_upload(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise UsageError(f"the file is larger than {MAX_UPLOAD // (1024 * 1024)} MiB",
                         "split it, or use `kpoc produce --input json`")
    return data


def _import(c: Console, name: str, data: bytes, keep_partition: bool) -> dict[str, Any]:
    records = read_import(data)
    reports = c.sender.send(name, records, keep_partition=keep_partition)
    return {"topic": name, "produced": len(reports)}


@router.post("/api/topics/{name}/import", tags=["messages"])
async def api_import(request: Request, name: str, file: Annotated[UploadFile, File()],
                     keep_partition: bool = Form(False)) -> dict[str, Any]:
    """Produce every message of an uploaded JSON-lines export (≤ 10 MiB)."""
    from starlette.concurrency import run_in_threadpool

    data = await _read_upload(file)
    return await run_in_threadpool(_import, console_of(request), name, data, keep_partition)


# -- pages --------------------------------------------------------------------------------------

@router.get("/topics/{name}/messages", include_in_schema=False)
def messages_page(request: Request, name: str, p: Annotated[_Params, Depends()],
                  count: int = Query(50, ge=1, le=MAX_COUNT),
                  produced: str | None = Query(None, pattern=r"^\d+:\d+$"),
                  imported: int | None = None) -> Response:
    c = console_of(request)
    res = _browse(c, p.browse(name, count))
    notice = None
    if produced:
        part, off = produced.split(":")
        notice = f"Produced to partition {int(part)} at offset {int(off)}."
    elif imported is not None:
        notice = f"Imported {imported} message(s)."
    return c.render(request, "messages.html", {
        "topic": name, "res": res, "messages": [pretty(r) for r in res.records], "p": p,
        "count": count, "notice": notice, "page": "topics", "max_count": MAX_COUNT})


@router.get("/topics/{name}/produce", include_in_schema=False)
def produce_page(request: Request, name: str, partition: int | None = Query(None, ge=0),
                 offset: int | None = Query(None, ge=0)) -> Response:
    """The produce form; with partition and offset, prefilled from that message."""
    c = console_of(request)
    count = c.admin.partition_count(name)
    prefill: dict[str, Any] = {"key": "", "value": "", "headers": "", "partition": ""}
    if partition is not None and offset is not None:
        rec = fetch_one(c.config, name, partition, offset)
        env = rec.to_envelope()
        if env["key_encoding"] != "utf-8" or env["value_encoding"] != "utf-8" or any(
                h["encoding"] != "utf-8" for h in env["headers"]):
            raise UsageError("this message has binary content the form cannot hold",
                             "use the API (POST /api/topics/{name}/messages) with base64")
        prefill = {"key": env["key"] or "", "value": env["value"] or "",
                   "headers": "\n".join(f"{h['key']}={h['value'] or ''}"
                                        for h in env["headers"]),
                   "partition": "", "again": f"{partition}:{offset}",
                   "value_null": env["value"] is None}
    return c.render(request, "produce.html", {"topic": name, "prefill": prefill,
                                              "partitions": count, "page": "topics"})


@router.post("/topics/{name}/produce", include_in_schema=False)
def produce_form(request: Request, name: str, key: str = Form(""), value: str = Form(""),
                 headers: str = Form(""), partition: str = Form(""),
                 value_null: bool = Form(False)) -> Response:
    c = console_of(request)
    part = None
    if partition.strip():
        if not partition.strip().isdigit():
            raise UsageError(f"partition {partition!r} is not a number", "leave it empty or 0..")
        part = int(partition.strip())
    rec = Record(value=None if value_null else value.encode(),
                 key=key.encode() if key else None, headers=tuple(parse_headers(headers)))
    rep = _produce(c, name, rec, part)
    return RedirectResponse(f"/topics/{name}/messages?produced={rep['partition']}:"
                            f"{rep['offset']}", status_code=303)


@router.post("/topics/{name}/import", include_in_schema=False)
async def import_form(request: Request, name: str, file: Annotated[UploadFile, File()],
                      keep_partition: bool = Form(False)) -> Response:
    from starlette.concurrency import run_in_threadpool

    data = await _read_upload(file)
    res = await run_in_threadpool(_import, console_of(request), name, data, keep_partition)
    return RedirectResponse(f"/topics/{name}/messages?imported={res['produced']}",
                            status_code=303)
