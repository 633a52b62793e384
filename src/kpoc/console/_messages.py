"""Browsing, producing, exporting and importing messages for the console.

Every read is bounded three ways: a number of messages returned, a number scanned and a wall-clock
budget, so a browse of a huge topic or a slow regular expression answers in time with whatever it
found and says that it stopped early. Filters are plain text or regular expressions run by the
``regex`` engine with a per-search timeout; user input is never evaluated as code.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import regex
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from .._client import base_properties, make_client, no_topic, translate, unavailable
from .._kafka_errors import UNKNOWN_TOPIC
from .._rawheaders import Headers, reread_headers
from ..admin import validate_topic_name
from ..cli._text import escape_text
from ..config import ClientConfig
from ..envelope import Record, encode_bytes, parse_line
from ..errors import DeliveryError, KpocError, NotFound, UsageError
from ..producer import DeliveryReport, Producer

MAX_COUNT = 500
MAX_EXPORT = 10_000
MAX_SCAN = 50_000
MAX_PATTERN = 200
#: Seconds one regular-expression search may take before the filter is refused.
REGEX_TIMEOUT = 0.05
#: Display cap for values in pages; the API and exports carry full values.
DISPLAY_CAP = 16 * 1024
MODES = ("newest", "oldest", "offset", "timestamp")
FIELDS = ("any", "key", "value", "headers")


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Filter:
    """Text or regular-expression match on a message's key, value or headers."""

    text: str = ""
    is_regex: bool = False
    field: str = "any"
    _pattern: Any = None

    @classmethod
    def build(cls, text: str | None, is_regex: bool = False, fld: str = "any") -> Filter:
        text = text or ""
        if fld not in FIELDS:
            raise UsageError(f"unknown filter field {fld!r}", f"use one of {', '.join(FIELDS)}")
        if len(text) > MAX_PATTERN:
            raise UsageError(f"filter is {len(text)} characters long",
                             f"use at most {MAX_PATTERN}")
        pattern = None
        if text and is_regex:
            try:
                pattern = regex.compile(text, regex.IGNORECASE)
            except (regex.error, ValueError, OverflowError) as exc:
                raise UsageError(f"invalid regular expression {text!r}: {exc}",
                                 "fix the pattern, or untick 'regex' for a plain text search")
        return cls(text, is_regex, fld, pattern)

    @property
    def active(self) -> bool:
        return bool(self.text)

    def _haystacks(self, rec: Record) -> Iterator[str]:
        if self.field in ("any", "key"):
            yield _text(rec.key)
        if self.field in ("any", "value"):
            yield _text(rec.value)
        if self.field in ("any", "headers"):
            for name, hv in rec.headers:
                yield f"{name}={_text(hv)}"

    def matches(self, rec: Record) -> bool:
        if not self.text:
            return True
        if self._pattern is None:
            needle = self.text.lower()
            return any(needle in h.lower() for h in self._haystacks(rec))
        try:
            return any(self._pattern.search(h, timeout=REGEX_TIMEOUT) is not None
                       for h in self._haystacks(rec))
        except TimeoutError:
            raise UsageError(f"regular expression {self.text!r} took longer than "
                             f"{REGEX_TIMEOUT * 1000:g} ms on one message",
                             "simplify it (avoid nested repetition like (a+)+)")


@dataclass
class Browse:
    """What to read: a topic, one partition or all, where to start, how many."""

    topic: str
    partition: int | None = None
    mode: str = "newest"
    offset: int | None = None
    timestamp: int | None = None
    count: int = 50
    filter: Filter = field(default_factory=Filter)
    limit: int = MAX_COUNT
    #: Paging: the page just before (older than) these offsets, per partition…
    before: dict[int, int] | None = None
    #: …or the page from these offsets on (newer).
    after: dict[int, int] | None = None

    @property
    def backward(self) -> bool:
        """Read the newest messages of a window (else the oldest from a start)."""
        return self.before is not None or (self.mode == "newest" and self.after is None)

    def check(self) -> None:
        validate_topic_name(self.topic)
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}", f"use one of {', '.join(MODES)}")
        if not 1 <= self.count <= self.limit:
            raise UsageError(f"count {self.count} is out of range", f"use 1..{self.limit}")
        if self.mode == "offset" and (self.offset is None or self.offset < 0):
            raise UsageError("reading from an offset needs the offset to start at",
                             "type one (e.g. 0), or pick 'oldest first'")
        if self.mode == "timestamp" and (self.timestamp is None or self.timestamp < 0):
            raise UsageError("reading from a timestamp needs the time to start at",
                             "type ms since the epoch or an ISO date-time "
                             "(e.g. 2026-11-25T14:00, UTC unless it says otherwise)")
        if self.partition is not None and self.partition < 0:
            raise UsageError(f"partition {self.partition} is negative", "use 0 or more")


@dataclass
class BrowseResult:
    records: list[Record]
    scanned: int
    complete: bool
    watermarks: dict[int, tuple[int, int]]
    #: Cursors of the neighbouring pages: ``before`` the older one, ``after`` the newer one
    #: (None when there is nothing that way).
    before: dict[int, int] | None = None
    after: dict[int, int] | None = None
    #: Forward reads: where the next read continues so that it sees every message once (the
    #: console's live tail polls with it).
    resume: dict[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": [r.to_envelope() for r in self.records],
            "scanned": self.scanned,
            "complete": self.complete,
            "watermarks": [{"partition": p, "low": lo, "high": hi}
                           for p, (lo, hi) in sorted(self.watermarks.items())],
            "before": format_cursor(self.before), "after": format_cursor(self.after),
            "resume": format_cursor(self.resume),
        }


def format_cursor(cursor: dict[int, int] | None) -> str | None:
    """``{0: 15, 1: 7}`` as ``0:15,1:7`` (the ``before``/``after`` query parameter)."""
    return None if cursor is None else ",".join(f"{p}:{o}" for p, o in sorted(cursor.items()))


def parse_cursor(text: str | None) -> dict[int, int] | None:
    if not text:
        return None
    try:
        pairs = [item.split(":") for item in text.split(",")]
        return {int(p): int(o) for p, o in pairs}
    except ValueError:
        raise UsageError(f"invalid page cursor {text!r}",
                         "use the page links, or partition:offset pairs like 0:15,1:7")


def _consumer(config: ClientConfig) -> Consumer:
    # A throwaway group id that never commits and never joins: assign() reads without a group.
    return make_client(Consumer, base_properties(config, {
        "group.id": f"kpoc-console-browse-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "socket.timeout.ms": int(config.timeout * 1000),
    }))


def _partitions(consumer: Consumer, config: ClientConfig, topic: str) -> list[int]:
    # A topic created a moment ago may be unknown to the broker asked: ask again briefly.
    for attempt in range(5):
        try:
            md = consumer.list_topics(topic, timeout=config.timeout)
        except KafkaException as exc:
            raise translate(exc, config, "a metadata request") from exc
        tmd = md.topics.get(topic)
        if tmd is not None and tmd.error is None:
            return sorted(tmd.partitions)
        if attempt < 4:
            time.sleep(0.2)
    if tmd is None or tmd.error.code() in UNKNOWN_TOPIC:
        raise no_topic(config, topic)
    raise KpocError(f"metadata of {topic!r}: {tmd.error.str()}")


def browse(config: ClientConfig, query: Browse, budget: float | None = None) -> BrowseResult:
    """Read messages as ``query`` asks, newest first for mode 'newest', oldest first otherwise."""
    query.check()
    deadline = time.monotonic() + (budget if budget is not None else min(config.timeout, 8.0))
    consumer = _consumer(config)
    try:
        parts = _partitions(consumer, config, query.topic)
        if query.partition is not None:
            if query.partition not in parts:
                raise UsageError(f"partition {query.partition} out of range: {query.topic!r} "
                                 f"has {len(parts)} partitions",
                                 f"use 0..{len(parts) - 1}")
            parts = [query.partition]
        marks: dict[int, tuple[int, int]] = {}
        for p in parts:
            try:
                marks[p] = consumer.get_watermark_offsets(
                    TopicPartition(query.topic, p), timeout=config.timeout)
            except KafkaException as exc:
                raise translate(exc, config, f"watermarks of {query.topic}[{p}]") from exc
            if marks[p] is None:
                raise unavailable(config, "a watermark request")
        starts, ends = _window(consumer, config, query, marks)
        return _read(consumer, query, marks, starts, ends, deadline,
                     partial(reread_headers, config))
    finally:
        consumer.close()


def _window(consumer: Consumer, config: ClientConfig, q: Browse,
            marks: dict[int, tuple[int, int]]) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition, where reading starts and the offset it must stay below."""
    def clamp(p: int, off: int) -> int:
        return min(max(off, marks[p][0]), marks[p][1])

    ends = {p: hi for p, (_, hi) in marks.items()}
    if q.before is not None:
        ends = {p: clamp(p, q.before.get(p, marks[p][1])) for p in marks}
    if q.backward:
        per = q.count if not q.filter.active else max(q.count, MAX_SCAN // len(marks))
        return {p: max(marks[p][0], ends[p] - per) for p in marks}, ends
    if q.after is not None:
        return {p: clamp(p, q.after.get(p, marks[p][1])) for p in marks}, ends
    if q.mode == "oldest":
        return {p: lo for p, (lo, _) in marks.items()}, ends
    if q.mode == "offset":
        return {p: clamp(p, int(q.offset or 0)) for p in marks}, ends
    req = [TopicPartition(q.topic, p, int(q.timestamp or 0)) for p in marks]
    try:
        found = consumer.offsets_for_times(req, timeout=config.timeout)
    except KafkaException as exc:
        raise translate(exc, config, "offsets for a timestamp") from exc
    return {tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition][1]
            for tp in found}, ends


def _read(consumer: Consumer, q: Browse, marks: dict[int, tuple[int, int]],
          starts: dict[int, int], ends: dict[int, int], deadline: float,
          reread: Callable[[str, int, int], Headers]) -> BrowseResult:
    pos = dict(starts)  # per partition, the offset after the last one read
    found: dict[int, list[Record]] = {p: [] for p in marks}
    scanned, complete = _scan(consumer, q, {p: s for p, s in starts.items() if s < ends[p]},
                              ends, deadline, reread, found, pos)
    return _page(q, marks, starts, ends, found, pos, scanned, complete)


def _scan(consumer: Consumer, q: Browse, todo: dict[int, int], ends: dict[int, int],
          deadline: float, reread: Callable[[str, int, int], Headers],
          found: dict[int, list[Record]], pos: dict[int, int]) -> tuple[int, bool]:
    """Read the partitions in ``todo`` from their start offsets up to ``ends``, keeping the
    records the filter matches in ``found`` and each partition's next offset in ``pos``; return
    how many were scanned and whether every window was read (within the deadline and budget)."""
    scanned = 0
    if todo:
        consumer.assign([TopicPartition(q.topic, p, s) for p, s in todo.items()])
    while todo:
        if time.monotonic() > deadline or scanned >= MAX_SCAN:
            return scanned, False
        for msg in consumer.consume(num_messages=500, timeout=0.2):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KpocError(f"reading {q.topic}: {err.str()}",
                                code=err.code()) from KafkaException(err)
            p = msg.partition()
            if p not in todo or (msg.offset() or 0) >= ends[p]:
                continue
            scanned += 1
            pos[p] = (msg.offset() or 0) + 1
            rec = Record.from_message(msg, reread)
            if q.filter.matches(rec):
                found[p].append(rec)
                # Forward reads stop a partition once it has enough; backward ones read their
                # whole window and keep its newest.
                if not q.backward and len(found[p]) >= q.count:
                    _done(consumer, q.topic, todo, p)
                    continue
            if (msg.offset() or 0) + 1 >= ends[p]:
                _done(consumer, q.topic, todo, p)
    return scanned, True


def _page(q: Browse, marks: dict[int, tuple[int, int]], starts: dict[int, int],
          ends: dict[int, int], found: dict[int, list[Record]], pos: dict[int, int],
          scanned: int, complete: bool) -> BrowseResult:
    """The page of records ``q`` asks for out of those found, and where the pages before and
    after it start."""
    records = [r for rs in found.values() for r in rs]
    records.sort(key=lambda r: (r.timestamp or 0, r.partition or 0, r.offset or 0),
                 reverse=q.backward)
    page = records[:q.count]
    shown: dict[int, list[int]] = {}
    for r in page:
        shown.setdefault(r.partition or 0, []).append(r.offset or 0)
    # A partition with nothing on this page keeps its window edge: what it holds there is all
    # on the older side (backward read) or the newer side (forward read).
    edge = ends if q.backward else starts
    before = {p: min(shown[p]) if p in shown else edge[p] for p in marks}
    after = {p: max(shown[p]) + 1 if p in shown else edge[p] for p in marks}
    # Messages found but cut from the page must be read again: resume after the page there.
    cut = {r.partition or 0 for r in records[q.count:]}
    resume = {p: after[p] if p in cut else pos[p] for p in marks}
    page.sort(key=lambda r: (r.timestamp or 0, r.partition or 0, r.offset or 0),
              reverse=q.mode == "newest")
    return BrowseResult(
        page, scanned, complete, marks,
        before if any(before[p] > marks[p][0] for p in marks) else None,
        after if any(after[p] < marks[p][1] for p in marks) else None,
        None if q.backward else resume)


def _done(consumer: Consumer, topic: str, todo: dict[int, int], p: int) -> None:
    if todo.pop(p, None) is not None:
        consumer.pause([TopicPartition(topic, p)])


def fetch_one(config: ClientConfig, topic: str, partition: int, offset: int) -> Record:
    """The message at ``partition``/``offset`` (for "produce again")."""
    res = browse(config, Browse(topic, partition, "offset", offset=offset, count=1))
    if not res.records or res.records[0].offset != offset:
        raise NotFound(f"no message at {topic}[{partition}]@{offset}",
                       "it may have been deleted by retention; browse the topic")
    return res.records[0]


class Sender:
    """Produces for the console through :class:`kpoc.producer.Producer` (acks=all, idempotent).

    One producer per call: sends are rare and small next to the CLI's, and a fresh producer never
    holds a stale partition count of a topic deleted and re-created meanwhile.
    """

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def send(self, topic: str, records: Iterable[Record], keep_partition: bool = False,
             partition: int | None = None) -> list[dict[str, Any]]:
        """Produce and wait for every report; raises DeliveryError if any message failed.
        A record's timestamp (an import's) is kept; one without gets the time it is sent."""
        validate_topic_name(topic)
        reports: list[DeliveryReport] = []
        # A web request answers within the console's bound: an outage reports the messages
        # "possibly persisted" instead of holding the request for the producer's 300 s.
        bound: dict[str, object] = {"message.timeout.ms": int(self.config.timeout * 1000)}
        with Producer(self.config, reports.append, defaults=bound) as producer:
            producer.check_partition(topic, partition)
            count = producer.partitions(topic)
            sent = 0
            for rec in records:
                target = partition if partition is not None else (
                    rec.partition if keep_partition else None)
                if target is not None and not 0 <= target < count:
                    raise UsageError(f"partition {target} out of range: {topic!r} has {count} "
                                     "partitions", "untick 'keep partition' or fix the file")
                producer.send(topic, rec.value, rec.key, list(rec.headers) or None, target,
                              rec.timestamp)
                sent += 1
            producer.flush()
        failed = [r for r in reports if not r.ok]
        if failed or len(reports) < sent:
            first = failed[0].error if failed else "no delivery report"
            raise DeliveryError(f"{len(failed) or sent - len(reports)} of {sent} message(s) to "
                                f"{topic!r} not acknowledged: {first}",
                                "check the overview page (brokers, under-replicated partitions) "
                                "and retry")
        return [{"topic": r.topic, "partition": r.partition, "offset": r.offset}
                for r in sorted(reports, key=lambda r: r.seq)]


def parse_headers(text: str | None) -> list[tuple[str, bytes | None]]:
    """Kafka headers from the produce form: ``name=value`` per line, or JSON.

    JSON is either an object ``{"name": "value"}`` or kpoc's envelope list
    ``[{"key": …, "value": …, "encoding": "utf-8"|"base64"}]``, which holds any header exactly
    (repeated names, null or binary values, newlines). Lines keep their value's bytes as typed:
    nothing is stripped but the line break (a browser sends CRLF; see :func:`form_text`)."""
    text = text or ""
    if not text.strip():
        return []
    if text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"headers are not valid JSON: {exc.msg}",
                             'use {"name": "value"} or one name=value per line')
        if isinstance(doc, list):
            return list(Record.from_envelope({"value": None, "headers": doc}).headers)
        if not isinstance(doc, dict):
            raise UsageError("headers JSON must be an object or a list",
                             'e.g. {"trace": "abc"}')
        try:
            return [(str(k), None if v is None else str(v).encode()) for k, v in doc.items()]
        except UnicodeEncodeError:
            raise UsageError("a header value holds a lone surrogate (not valid Unicode)",
                             "send binary header values through the API, base64-encoded")
    out: list[tuple[str, bytes | None]] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not name.strip():
            raise UsageError(f"header line {n} has no name",
                             "e.g. trace-id=abc123 (a name alone: a null value)")
        out.append((name.strip(), value.encode() if sep else None))
    return out


def form_text(text: str) -> str:
    """A textarea's value as the person typed it: browsers submit every line break as CRLF
    (HTML's form encoding), and a textarea cannot hold a lone CR, so CRLF means LF."""
    return text.replace("\r\n", "\n")


#: Characters an HTML form cannot carry back unchanged (the parser turns NUL into U+FFFD and CR
#: into LF); text holding one goes into the form as base64.
_FORM_UNSAFE = ("\x00", "\r")


def form_field(data: bytes | None, single_line: bool = False) -> tuple[str, str]:
    """(text, encoding) to prefill a form field so that submitting it sends ``data`` again."""
    text, enc = encode_bytes(data)
    if text is None:
        return "", "utf-8"
    if single_line and not text:
        return "", "base64"  # an empty key, not "no key" (what an empty text field means)
    if enc == "utf-8" and (any(c in text for c in _FORM_UNSAFE)
                           or (single_line and "\n" in text)):
        return base64.b64encode(data or b"").decode("ascii"), "base64"
    return text, enc


def headers_field(headers: Iterable[tuple[str, bytes | None]]) -> str:
    """Headers for the form: ``name=value`` lines (a null value: the name alone) when that
    notation holds them exactly, else kpoc's JSON list (binary values, line breaks, '=' in a
    name...)."""
    headers = list(headers)
    lines = []
    for name, value in headers:
        text, enc = encode_bytes(value)
        if (enc != "utf-8" or name != name.strip() or not name
                or "=" in name or name.startswith(("{", "[")) or not name.isprintable()
                or any(c in name + (text or "") for c in ("\n", *_FORM_UNSAFE))):
            # The envelope's list: a name that is not UTF-8 goes base64 with its key_encoding.
            return json.dumps(Record(None, headers=headers).to_envelope()["headers"],
                              ensure_ascii=False)
        lines.append(name if text is None else f"{name}={text}")
    return "\n".join(lines)


def read_import(data: bytes, max_lines: int = 100_000) -> list[Record]:
    """JSON-lines envelopes from an uploaded file; errors name the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the file is not UTF-8 text", "upload a JSON-lines export")
    records: list[Record] = []
    # Lines end at \n only: str.splitlines() would also cut at U+2028, U+0085, \x1c ….
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if len(records) >= max_lines:
            raise UsageError(f"more than {max_lines} messages in one import",
                             "split the file, or use `kpoc produce --input json`")
        records.append(parse_line(line, n))
    if not records:
        raise UsageError("the file has no messages", "upload a JSON-lines export")
    return records


def reindent_json(text: str, indent: str = "  ") -> str | None:
    """``text`` re-indented when it is a JSON object or array, else None.

    Only whitespace between tokens changes: numbers, strings, escapes and repeated keys stay as
    stored (a parse-and-dump would turn 1.10 into 1.1, 1e400 into Infinity and drop a repeated
    key), so the pretty form differs from the bytes in layout alone."""
    stripped = text.strip()
    if stripped[:1] not in ("{", "["):
        return None

    def no_constants(name: str) -> None:
        raise ValueError(name)

    try:
        json.loads(stripped, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None
    out: list[str] = []
    depth = 0
    i, n = 0, len(stripped)
    while i < n:
        c = stripped[i]
        if c == '"':
            j = i + 1
            while stripped[j] != '"':
                j += 2 if stripped[j] == "\\" else 1
            out.append(stripped[i:j + 1])
            i = j + 1
            continue
        if c in " \t\r\n":
            pass
        elif c in "{[":
            close = "}" if c == "{" else "]"
            k = i + 1
            while k < n and stripped[k] in " \t\r\n":
                k += 1
            if k < n and stripped[k] == close:
                out.append(c + close)
                i = k + 1
                continue
            depth += 1
            out.append(c + "\n" + indent * depth)
        elif c in "}]":
            depth -= 1
            out.append("\n" + indent * depth + c)
        elif c == ",":
            out.append(",\n" + indent * depth)
        elif c == ":":
            out.append(": ")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def pretty(rec: Record) -> dict[str, Any]:
    """A message for a page: text fields capped, JSON values re-indented (layout only)."""
    env = rec.to_envelope()
    value = env["value"]
    env["value_json"] = None
    if value is not None and env["value_encoding"] == "utf-8" and len(value) <= DISPLAY_CAP:
        env["value_json"] = reindent_json(value)
    env["value_cut"] = value is not None and len(value) > DISPLAY_CAP
    if env["value_cut"]:
        env["value"] = value[:DISPLAY_CAP]
    # Control characters (a terminal escape, U+202E …) shown as \x1b escapes, not passed on.
    for k in ("key", "value"):
        if env[k] is not None and env[f"{k}_encoding"] == "utf-8":
            env[k] = escape_text(env[k], keep_newlines=True)
    if env["value_json"] is not None:
        env["value_json"] = escape_text(env["value_json"], keep_newlines=True)
    for h in env["headers"]:
        h["key"] = escape_text(h["key"])
        if h["value"] is not None and h["encoding"] == "utf-8":
            h["value"] = escape_text(h["value"])
    return env
