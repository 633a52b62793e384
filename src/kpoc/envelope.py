"""kpoc's lossless JSON-lines message format.

``kpoc consume --output json`` writes one envelope per line; ``kpoc produce --input json`` and the
console's import read them back, so a topic can be saved, copied and replayed without loss. Keys,
values and header values are text when they are valid UTF-8 and base64 otherwise; headers are a
list so repeated names survive.

Schema (one JSON object per line)::

    {
      "topic": "teste",            # string; ignored on produce unless no topic is given
      "partition": 0,              # int; on produce, used only with --keep-partition
      "offset": 42,                # int; informational
      "timestamp": 1732467000000,  # int ms since epoch, or null
      "timestamp_type": "create",  # "create" | "log_append" | "none"
      "key": "user-1",             # string or null
      "key_encoding": "utf-8",     # "utf-8" | "base64"
      "value": "hello",            # string or null (a tombstone)
      "value_encoding": "utf-8",   # "utf-8" | "base64"
      "headers": [{"key": "h", "value": "v", "encoding": "utf-8"}]
    }

A header's ``key`` is text too; a name that is not valid UTF-8 (Kafka allows any bytes) is
written base64 with ``"key_encoding": "base64"``. A name with a NUL byte is text with ``\u0000``.
Both are written back as they were (kpoc sends them through librdkafka's C API, see
kpoc._rawproduce).

Only ``value`` is required when reading; every other field has the obvious default.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._rawheaders import Headers, message_headers
from .config import escaped, text_bytes
from .errors import UsageError

__all__ = [
    "Record",
    "UnusualHeaderName",
    "check_header_name",
    "decode_bytes",
    "decode_name",
    "encode_bytes",
    "encode_name",
    "header_name_bytes",
    "parse_line",
]

_TS_TYPES = {0: "none", 1: "create", 2: "log_append"}
# Outside JSON's required escapes (json.dumps escapes below U+0020 already).
_LINE_BREAKS = {c: f"\\u{c:04x}" for c in (0x85, 0x2028, 0x2029)}


def encode_name(name: str) -> tuple[str, str]:
    """A header name: as is when it is valid UTF-8, else base64 of its bytes (the name holds
    them as lone surrogates, see kpoc._rawheaders)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return base64.b64encode(text_bytes(name)).decode("ascii"), "base64"
    return name, "utf-8"


def decode_name(text: str, encoding: str = "utf-8") -> str:
    raw = decode_bytes(text, encoding)
    return (raw or b"").decode("utf-8", "surrogateescape")


class UnusualHeaderName(Exception):
    """A header name confluent-kafka cannot send: not UTF-8, or holding a NUL byte (it passes
    names to librdkafka as C strings). kpoc sends such a record through librdkafka's C API
    (kpoc._rawproduce)."""


def header_name_bytes(name: str | bytes) -> bytes:
    """A header name's bytes: those that are not UTF-8 are held as lone surrogates
    (surrogateescape); any other lone surrogate stands for no byte and is refused."""
    if isinstance(name, bytes):
        return name
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise UsageError(f"header name '{escaped(name)}' holds a lone surrogate (not valid "
                         "Unicode)", "give the name as bytes, or as text that decodes them "
                         "with surrogateescape") from None


def check_header_name(name: object) -> str:
    """A header name confluent-kafka can send: text that is valid UTF-8, without NUL (``bytes``
    that are UTF-8 are taken as their text). Any other name that stands for bytes raises
    :class:`UnusualHeaderName`; what is not a name, :class:`UsageError`.

    confluent-kafka passes the name to librdkafka as a C string: a name that does not encode
    to UTF-8 becomes a NULL pointer and crashes the process, a NUL cuts the name short.
    """
    if isinstance(name, bytes):  # confluent-kafka would send str(b"…"), quotes and all
        name = name.decode("utf-8", "surrogateescape")
    if not isinstance(name, str):
        raise UsageError(f"header name {name!r} is not text", "give header names as str")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        header_name_bytes(name)
        raise UnusualHeaderName(name) from None
    if "\0" in name:
        raise UnusualHeaderName(name)
    return name


def encode_bytes(data: bytes | None) -> tuple[str | None, str]:
    """(text, encoding): UTF-8 text when the bytes are valid UTF-8, base64 otherwise."""
    if data is None:
        return None, "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def decode_bytes(text: str | None, encoding: str = "utf-8") -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise UsageError(f"expected a string or null, got {type(text).__name__}",
                         "see the envelope schema in README.md")
    if encoding == "utf-8":
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start]
            raise UsageError(f"text holds a lone surrogate {bad!r} (not valid Unicode)",
                             "send bytes that are not UTF-8 base64-encoded, with the field's "
                             "encoding set to \"base64\"") from None
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError("invalid base64 data", "fix the value or set its encoding to utf-8")
    raise UsageError(f"unknown encoding {encoding!r}", "use 'utf-8' or 'base64'")


@dataclass(slots=True)
class Record:
    """A Kafka message as plain data, independent of librdkafka's Message object.

    A slotted, not frozen, dataclass: one is built per message read, and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) cost several times the read itself."""

    value: bytes | None
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=tuple)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp: int | None = None
    timestamp_type: str = "none"

    @classmethod
    def from_message(cls, msg: Any,
                     reread: Callable[[str, int, int], Headers] | None = None) -> Record:
        """From a confluent_kafka.Message. Headers confluent-kafka cannot decode are read again
        with ``reread`` (see :func:`kpoc._rawheaders.reread_headers`), or raise
        :class:`~kpoc._rawheaders.UnreadableRecord` naming the record."""
        ts_type, ts = msg.timestamp()
        # Positional (value, key, headers, topic, partition, offset, timestamp, type): the hot
        # path of every read.
        return cls(msg.value(), msg.key(), message_headers(msg, reread), msg.topic(),
                   msg.partition(), msg.offset(), ts if ts_type else None,
                   _TS_TYPES.get(ts_type, "none"))

    def to_envelope(self) -> dict[str, Any]:
        key, key_enc = encode_bytes(self.key)
        value, value_enc = encode_bytes(self.value)
        headers = []
        for name, hv in self.headers:
            text, enc = encode_bytes(hv)
            hkey, name_enc = encode_name(name)
            header = {"key": hkey, "value": text, "encoding": enc}
            if name_enc != "utf-8":
                header["key_encoding"] = name_enc
            headers.append(header)
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "timestamp_type": self.timestamp_type,
            "key": key,
            "key_encoding": key_enc,
            "value": value,
            "value_encoding": value_enc,
            "headers": headers,
        }

    def to_json(self) -> str:
        """One line: the characters that line splitters other than ``\n`` break at (Python's
        ``str.splitlines``, JavaScript) are escaped, so a value holding them stays on its line."""
        text = json.dumps(self.to_envelope(), ensure_ascii=False, separators=(",", ":"))
        return text.translate(_LINE_BREAKS)

    @classmethod
    def from_envelope(cls, doc: Any) -> Record:
        if not isinstance(doc, dict):
            raise UsageError("an envelope must be a JSON object", "see the schema in README.md")
        if "value" not in doc:
            raise UsageError("envelope has no 'value' field", "add \"value\": … (null for none)")
        headers = []
        raw_headers = doc.get("headers") or []
        if not isinstance(raw_headers, list):
            raise UsageError("'headers' must be a list of {key, value, encoding}", "fix it")
        for h in raw_headers:
            if not isinstance(h, dict) or not isinstance(h.get("key"), str):
                raise UsageError("each header needs a string 'key'", "fix the headers list")
            headers.append((decode_name(h["key"], h.get("key_encoding", "utf-8")),
                            decode_bytes(h.get("value"), h.get("encoding", "utf-8"))))
        partition, ts, offset = (_int(doc.get(k)) for k in ("partition", "timestamp", "offset"))
        if ts is not None and ts < 0:
            raise UsageError(f"timestamp {ts} is negative (Kafka's Java producer refuses it)",
                             "give ms since the epoch, or null for the time of sending")
        if ts is not None and ts >= 2**63:
            raise UsageError(f"timestamp {ts} does not fit Kafka's 64-bit field",
                             "give ms since the epoch, or null for the time of sending")
        return cls(
            value=decode_bytes(doc.get("value"), doc.get("value_encoding", "utf-8")),
            key=decode_bytes(doc.get("key"), doc.get("key_encoding", "utf-8")),
            headers=tuple(headers),
            topic=doc["topic"] if isinstance(doc.get("topic"), str) else None,
            partition=partition,
            offset=offset,
            timestamp=ts,
            timestamp_type=str(doc.get("timestamp_type") or "none"),
        )


def _int(value: Any) -> int | None:
    """An integer field (JSON true/false are not numbers here)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_line(line: str, lineno: int) -> Record:
    """One JSON-lines envelope; errors name the line."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"input line {lineno} is not valid JSON: {exc.msg}",
                         "give one envelope object per line")
    try:
        return Record.from_envelope(doc)
    except UsageError as exc:
        raise UsageError(f"input line {lineno}: {exc.message}", exc.fix)
