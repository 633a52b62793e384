"""Messages: browse and filter, produce (and produce again), export and import JSON lines."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ...envelope import Record, decode_bytes
from ...errors import KpocError, UsageError
from .._context import Console, console_of, status_of
from .._messages import (
    MAX_COUNT,
    MAX_EXPORT,
    MAX_PATTERN,
    Browse,
    BrowseResult,
    Filter,
    browse,
    fetch_one,
    form_field,
    form_text,
    format_cursor,
    headers_field,
    parse_cursor,
    parse_headers,
    pretty,
    read_import,
)
from .topics import topic_page_with

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


def optional_int(text: str | None, what: str, example: str = "0") -> int | None:
    """A form's number field: empty means "not given" (a browser sends ``offset=`` for an
    empty box, and "all" partitions is the empty option), anything else must be an integer ≥ 0."""
    if text is None or not text.strip():
        return None
    t = text.strip()
    if not t.isdigit():
        raise UsageError(f"{what} {text!r} is not a whole number ≥ 0",
                         f"type one (e.g. {example}) or leave it empty")
    return int(t)


def _query(name: str, partition: int | None, mode: str, offset: int | None,
           timestamp: str | None, count: int, q: str | None, regex: bool, field: str,
           limit: int = MAX_COUNT, before: str | None = None, after: str | None = None) -> Browse:
    return Browse(name, partition, mode, offset, parse_timestamp(timestamp), count,
                  Filter.build(q, regex, field), limit, parse_cursor(before), parse_cursor(after))


def _browse(c: Console, query: Browse) -> BrowseResult:
    return browse(c.config, query)


def _produce(c: Console, topic: str, rec: Record, partition: int | None) -> dict[str, Any]:
    return c.sender.send(topic, [rec], partition=partition)[0]


class _Params:
    """The browse query string, shared by the API, the page and the export. Every field may be
    empty, as a browser sends it for an untouched form: ``partition=&offset=&timestamp=``."""

    def __init__(self, partition: str | None = Query(None, max_length=10,
                                                     description="empty or absent: all"),
                 mode: Mode = "newest",
                 offset: str | None = Query(None, max_length=20,
                                            description="where mode=offset starts"),
                 timestamp: str | None = Query(None, max_length=40,
                                               description="ms since epoch or ISO date-time"),
                 q: str | None = Query(None, max_length=MAX_PATTERN,
                                       description="text (or regex) to find"),
                 regex: bool = False, field: Field_ = "any",
                 before: str | None = Query(None, max_length=20_000,
                                            description="the page older than a page: its "
                                                        "'before' cursor"),
                 after: str | None = Query(None, max_length=20_000,
                                           description="the page newer than a page: its "
                                                       "'after' cursor")) -> None:
        self.before, self.after = before, after
        self.raw = {"partition": partition or "", "offset": offset or "",
                    "timestamp": timestamp or ""}
        self.mode, self.timestamp, self.q, self.regex, self.field = (
            mode, timestamp, q, regex, field)
        self.partition: int | None = None
        self.offset: int | None = None
        self.problem: UsageError | None = None
        try:
            self.partition = optional_int(partition, "partition")
            self.offset = optional_int(offset, "offset", "42")
        except UsageError as exc:
            self.problem = exc

    def browse(self, name: str, count: int, limit: int = MAX_COUNT) -> Browse:
        if self.problem is not None:
            raise self.problem
        return _query(name, self.partition, self.mode, self.offset, self.timestamp, count,
                      self.q, self.regex, self.field, limit, self.before, self.after)


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


@router.get("/api/topics/{name}/message", tags=["messages"])
def api_message(request: Request, name: str, partition: int = Query(ge=0),
                offset: int = Query(ge=0)) -> Response:
    """One message as kpoc's envelope (as a download: the console's "download" link)."""
    rec = fetch_one(console_of(request).config, name, partition, offset)
    return Response(rec.to_json() + "\n", media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}-{partition}-{offset}.json"'})


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
                  count: str | None = Query(None, max_length=10),
                  view: Literal["pretty", "raw"] = "pretty",
                  produced: str | None = Query(None, pattern=r"^\d+:\d+$"),
                  imported: int | None = None) -> Response:
    c = console_of(request)
    problem = None
    res = BrowseResult([], 0, True, {})
    shown = 50
    try:
        shown = optional_int(count, "count", "50") or 50
        res = _browse(c, p.browse(name, shown))
    except UsageError as exc:
        # The form stays as the person filled it, with the problem above it.
        problem = exc
        if not res.watermarks:
            res.watermarks = {i: (0, 0) for i in range(c.admin.partition_count(name))}
    notice = None
    here = [(k, v) for k, v in request.query_params.multi_items()
            if k not in ("before", "after", "produced", "imported")]
    pages = {way: f"?{urlencode([*here, (way, format_cursor(cursor))])}"
             for way, cursor in (("before", res.before), ("after", res.after)) if cursor}
    if produced:
        part, off = produced.split(":")
        notice = f"Produced to partition {int(part)} at offset {int(off)}."
    elif imported is not None:
        notice = f"Imported {imported} message(s)."
    return c.render(request, "messages.html", {
        "topic": name, "res": res, "messages": [pretty(r) for r in res.records], "p": p,
        "count": count if count is not None else shown, "notice": notice, "page": "topics",
        "max_count": MAX_COUNT, "problem": problem, "view": view, "pages": pages,
        "tail_from": format_cursor({p: hi for p, (_, hi) in res.watermarks.items()}),
        "internal": name.startswith("__")}, status_code=400 if problem else 200)


def _writable(c: Console, request: Request, name: str) -> None:
    """The produce form is for admins, and never for Kafka's internal topics."""
    if c.security.request_read_only(request):
        raise HTTPException(403, "read-only: producing needs the admin role")
    if name.startswith("__"):
        raise UsageError(f"{name!r} is one of Kafka's internal topics",
                         "produce to your own topics; Kafka writes this one itself")


def _produce_form(c: Console, request: Request, name: str, prefill: dict[str, Any],
                  problem: KpocError | None = None) -> Response:
    return c.render(request, "produce.html", {
        "topic": name, "prefill": prefill, "partitions": c.admin.partition_count(name),
        "page": "topics", "problem": problem}, status_code=status_of(problem) if problem else 200)


@router.get("/topics/{name}/produce", include_in_schema=False)
def produce_page(request: Request, name: str, partition: int | None = Query(None, ge=0),
                 offset: int | None = Query(None, ge=0)) -> Response:
    """The produce form; with partition and offset, prefilled with that message's exact bytes
    (text where the form can carry it back unchanged, base64 where it cannot)."""
    c = console_of(request)
    _writable(c, request, name)
    prefill: dict[str, Any] = {"key": "", "value": "", "headers": "", "partition": "",
                               "key_encoding": "utf-8", "value_encoding": "utf-8"}
    if partition is not None and offset is not None:
        rec = fetch_one(c.config, name, partition, offset)
        key, key_enc = form_field(rec.key, single_line=True)
        value, value_enc = form_field(rec.value)
        prefill = {"key": key, "key_encoding": key_enc, "key_null": rec.key is None,
                   "value": value, "value_encoding": value_enc,
                   "value_null": rec.value is None, "headers": headers_field(rec.headers),
                   "partition": "", "again": f"{partition}:{offset}"}
    return _produce_form(c, request, name, prefill)


@router.post("/topics/{name}/produce", include_in_schema=False)
def produce_form(request: Request, name: str, key: str = Form(""), value: str = Form(""),
                 headers: str = Form(""), partition: str = Form(""),
                 key_encoding: Literal["utf-8", "base64"] = Form("utf-8"),
                 value_encoding: Literal["utf-8", "base64"] = Form("utf-8"),
                 value_null: bool = Form(False)) -> Response:
    c = console_of(request)
    _writable(c, request, name)
    value = form_text(value)
    try:
        part = optional_int(partition, "partition")
        rec = Record(value=None if value_null else decode_bytes(value, value_encoding),
                     key=decode_bytes(key, key_encoding) if key or key_encoding == "base64"
                     else None,
                     headers=tuple(parse_headers(form_text(headers))))
        rep = _produce(c, name, rec, part)
    except UsageError as exc:
        return _produce_form(c, request, name, {
            "key": key, "key_encoding": key_encoding, "value": value,
            "value_encoding": value_encoding, "value_null": value_null,
            "headers": form_text(headers), "partition": partition}, exc)
    return RedirectResponse(f"/topics/{quote(name, safe='')}/messages?produced="
                            f"{rep['partition']}:{rep['offset']}", status_code=303)


@router.post("/topics/{name}/import", include_in_schema=False)
async def import_form(request: Request, name: str, file: Annotated[UploadFile, File()],
                      keep_partition: bool = Form(False)) -> Response:
    from starlette.concurrency import run_in_threadpool

    c = console_of(request)
    try:
        data = await _read_upload(file)
        res = await run_in_threadpool(_import, c, name, data, keep_partition)
    except UsageError as exc:
        return await run_in_threadpool(topic_page_with, c, request, name, problem=exc,
                                       where="import")
    return RedirectResponse(f"/topics/{quote(name, safe='')}/messages?imported={res['produced']}",
                            status_code=303)
