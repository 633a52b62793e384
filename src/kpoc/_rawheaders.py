"""Reading headers that confluent-kafka cannot hand over.

Kafka stores header names as arbitrary bytes (the Java client writes any ``String`` as UTF-8,
other clients write whatever they like). confluent-kafka's ``Message.headers()`` turns every
name into ``str`` with ``PyUnicode_FromString`` and does not check for failure
(``c_headers_to_py`` in confluent_kafka.c): one name that is not valid UTF-8 makes it return a
broken list with an exception set. Python reports that as ``SystemError: … returned a result
with an exception set`` — or, from a call site CPython has specialized, not at all until some
later, unrelated call fails. The raw headers are freed by then, and calling ``headers()`` again
hands back the broken list (touching it crashes the interpreter).

So kpoc does not let ``headers()`` decode them. librdkafka keeps a record's headers as a list of
``rd_kafka_header_t`` (rdkafka_header.h: ``rkhdr_ser_size``, ``rkhdr_value_size``,
``rkhdr_name_size``, ``rkhdr_value``, then the name's bytes), and confluent-kafka's Message holds
that list (``c_headers``) until ``headers()`` converts it. :func:`message_headers` reads it there,
through librdkafka's C API (``rd_kafka_header_get_all``) on the very library confluent-kafka
loaded, and takes each name's full length from the header item: librdkafka's API hands names
over as C strings, and confluent-kafka's ``headers()`` cuts a name with a NUL byte short,
silently. Each item is checked before its length is trusted (value pointer and size as the API
returned them, serialized size, NUL terminators); an item that fails the check gives its C-string
name and a warning, never silently a wrong one. The Message's layout is checked once, on the
first record (its topic, value and key pointers); where it does not match, headers come from
``headers()`` and a warning says names read up to a NUL. Once the first record's header list,
read through the API, matched the list in memory (``_list_matches``), later lists are read in
memory: a ctypes call per header cost more than the rest of the read.

Names that are not UTF-8 become ``str`` with their bytes kept as lone surrogates
(``surrogateescape``, as ``os.fsdecode`` does), so they survive the envelope (base64) and text mode
(``\\xff`` escapes) unchanged. When the layout does not match and ``headers()`` fails, the record
is read again by its coordinates (:func:`reread_headers`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import operator
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from .config import ClientConfig
from .errors import KpocError

__all__ = ["UnreadableRecord", "message_headers", "new_handle", "reread_headers"]

Headers = tuple[tuple[str, bytes | None], ...]


class UnreadableRecord(KpocError):
    """A record kpoc could not read; carries its coordinates so it is never skipped silently."""

    def __init__(self, topic: str, partition: int, offset: int, why: str) -> None:
        super().__init__(
            f"cannot read the record at {topic}[{partition}]@{offset}: {why}",
            "retry (raise --timeout if the cluster is slow); the group's offset stays before it")
        self.coordinates = (topic, partition, offset)


class _Message(ctypes.Structure):
    # rd_kafka_message_t from librdkafka's public rdkafka.h (stable ABI).
    _fields_ = [("err", ctypes.c_int), ("rkt", ctypes.c_void_p), ("partition", ctypes.c_int32),
                ("payload", ctypes.c_void_p), ("len", ctypes.c_size_t),
                ("key", ctypes.c_void_p), ("key_len", ctypes.c_size_t),
                ("offset", ctypes.c_int64), ("_private", ctypes.c_void_p)]


def _library_path() -> str:
    """The librdkafka that confluent-kafka's extension actually loaded (bundled in the wheel,
    or the system's): the same copy, so its handles and ABI match."""
    import confluent_kafka  # noqa: F401  (loads cimpl, and with it librdkafka)

    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "librdkafka" in path.rsplit("/", 1)[-1]:
                    return path
    except OSError:
        pass
    found = ctypes.util.find_library("rdkafka")
    if not found:
        raise KpocError("cannot locate librdkafka to read raw headers",
                        "install confluent-kafka from its wheel")
    return found


@functools.cache
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(_library_path())
    p, i, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    sigs: dict[str, tuple[list[Any], Any]] = {
        "rd_kafka_conf_new": ([], p),
        "rd_kafka_conf_set": ([p, s, s, s, ctypes.c_size_t], i),
        "rd_kafka_conf_destroy": ([p], None),
        "rd_kafka_new": ([i, p, s, ctypes.c_size_t], p),
        "rd_kafka_poll_set_consumer": ([p], i),
        "rd_kafka_topic_partition_list_new": ([i], p),
        "rd_kafka_topic_partition_list_add": ([p, s, ctypes.c_int32], p),
        "rd_kafka_topic_partition_list_set_offset": ([p, s, ctypes.c_int32, ctypes.c_int64], i),
        "rd_kafka_topic_partition_list_destroy": ([p], None),
        "rd_kafka_assign": ([p, p], i),
        "rd_kafka_consumer_poll": ([p, i], ctypes.POINTER(_Message)),
        "rd_kafka_message_headers": ([ctypes.POINTER(_Message), ctypes.POINTER(p)], i),
        # Its three out-parameters as addresses (see _headers_of).
        "rd_kafka_header_get_all": ([p, ctypes.c_size_t, p, p, p], i),
        "rd_kafka_message_destroy": ([ctypes.POINTER(_Message)], None),
        "rd_kafka_consumer_close": ([p], i),
        "rd_kafka_destroy": ([p], None),
        # The producer side (kpoc._rawproduce).
        "rd_kafka_conf_set_dr_msg_cb": ([p, p], None),
        "rd_kafka_conf_set_log_cb": ([p, p], None),
        "rd_kafka_headers_new": ([ctypes.c_size_t], p),
        "rd_kafka_header_add": ([p, s, ctypes.c_ssize_t, p, ctypes.c_ssize_t], i),
        "rd_kafka_headers_destroy": ([p], None),
        "rd_kafka_produceva": ([p, p, ctypes.c_size_t], p),
        "rd_kafka_error_code": ([p], i),
        "rd_kafka_error_destroy": ([p], None),
        "rd_kafka_flush": ([p, i], i),
        "rd_kafka_purge": ([p, i], i),
        "rd_kafka_poll": ([p, i], i),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


def _scalar_properties(props: dict[str, Any]) -> dict[str, str]:
    """The string-valued client properties (callbacks and loggers stay with confluent-kafka)."""
    out = {}
    for k, v in props.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, str | int | float):
            out[k] = str(v)
    return out


#: A read-only view of this process's memory (bytes, and 8-byte words at ``address >> 3``): it
#: reads a field of librdkafka's or confluent-kafka's structures in tens of nanoseconds, where
#: ctypes' ``from_address`` and ``string_at`` take hundreds. Read only at addresses those
#: libraries handed over, and only fields checked against them (see _header, _layout_matches).
_MEMORY = memoryview((ctypes.c_char * (sys.maxsize & ~7)).from_address(0)).cast("B").toreadonly()
_WORDS = _MEMORY.cast("Q")
_WORD = 8
#: rd_kafka_header_t (rdkafka_header.h): ser_size, value_size, name_size, value, then the name.
_ITEM = 4 * _WORD


def _varint_size(n: int) -> int:
    """Bytes of librdkafka's zig-zag varint of a non-negative ``n`` (rd_uvarint_enc_i64)."""
    return 1 if n < 64 else ((n << 1).bit_length() + 6) // 7


#: Whether a record's header list can be read in memory, skipping a ctypes call per header:
#: rd_kafka_headers_t is an rd_list_t (rdlist.h: int size, int count, void **elems, … 40 bytes)
#: then the headers' total serialized size. None until the first record with headers, read
#: through the API, has been compared with it (see _list_matches).
_walk: bool | None = None


def _from_api(lib: ctypes.CDLL, hdrs: int) -> list[tuple[int, int, int]]:
    """(name address, value address or 0, value size) of each header in ``hdrs`` (an
    ``rd_kafka_headers_t *``), from rd_kafka_header_get_all."""
    out = []
    slots = (ctypes.c_size_t * 3)()  # the name, value and size rd_kafka_header_get_all sets
    at = ctypes.addressof(slots)
    get, name_at, value_at, size_at = lib.rd_kafka_header_get_all, at, at + 8, at + 16
    idx = 0
    while get(hdrs, idx, name_at, value_at, size_at) == 0:
        out.append((slots[0], slots[1], slots[2]))
        idx += 1
    return out


def _from_list(hdrs: int) -> list[tuple[int, int, int]]:
    """The same, read from the list and its header items in memory (see _walk)."""
    at = hdrs >> 3
    count, elems = _WORDS[at] >> 32, _WORDS[at + 1] >> 3
    return [(item + _ITEM, _WORDS[(item >> 3) + 3], _WORDS[(item >> 3) + 1])
            for item in _WORDS[elems:elems + count].tolist()]


def _list_matches(hdrs: int, api: list[tuple[int, int, int]]) -> bool:
    """Whether the list in memory holds what the API gave: first its count and the total
    serialized size of those headers (read only after both match), then the same headers."""
    at = hdrs >> 3
    head, elems = _WORDS[at], _WORDS[at + 1]
    total = sum(_WORDS[(name - _ITEM) >> 3] for name, _, _ in api)
    return (sys.byteorder == "little" and head >> 32 == len(api) <= head & 0xFFFFFFFF
            and _WORDS[at + 5] == total and elems > 0 and not elems & 7
            and _from_list(hdrs) == api)


def _headers_of(lib: ctypes.CDLL, hdrs: int) -> Headers:
    """The headers in librdkafka's list ``hdrs`` (an ``rd_kafka_headers_t *``)."""
    global _walk
    if _walk:
        found = _from_list(hdrs)
    else:
        found = _from_api(lib, hdrs)
        if _walk is None:
            _walk = _list_matches(hdrs, found)
    return tuple([_header(*h) for h in found])


def _header(name: int, value: int, value_size: int,
            words: memoryview = _WORDS, memory: memoryview = _MEMORY) -> tuple[str, bytes | None]:
    """The header whose name is at address ``name``: its full name, NUL bytes included — the
    ``rkhdr_name_size`` in front of it, trusted only when the item around it is consistent
    with the header's ``value`` (address, 0 for null) and ``value_size`` — and its value.
    Names that are not UTF-8 keep their bytes as lone surrogates. (``words`` and ``memory``
    are locals for speed: this runs once per header read.)"""
    at = (name - _ITEM) >> 3
    if name > _ITEM and not name & 7:
        ser, vsize, size, vptr = words[at], words[at + 1], words[at + 2], words[at + 3]
        if (vsize == value_size and vptr == value and size < 1 << 31
                and ser == size + vsize + (1 if size < 64 else _varint_size(size))
                + (1 if vsize < 64 else _varint_size(vsize))
                and not memory[name + size]):  # the name's NUL terminator
            text = str(memory[name:name + size], "utf-8", "surrogateescape")
            if not value:  # a null value
                return text, None
            if value == name + size + 1 and not memory[value + vsize]:  # the value follows
                return text, memory[value:value + vsize].tobytes()
    warnings.warn("a header item does not look as kpoc expects from this librdkafka: its name "
                  "is read up to its first NUL byte", RuntimeWarning, stacklevel=2)
    raw = ctypes.string_at(value, value_size) if value else None
    cut = ctypes.string_at(name) if name > _ITEM else b""  # never NULL from librdkafka
    return cut.decode("utf-8", "surrogateescape"), raw


def new_handle(kind: int, properties: dict[str, Any], dr_msg_cb: Any = None) -> int:
    """A librdkafka handle (``kind`` 0: producer, 1: consumer) on the library confluent-kafka
    loaded, from ``properties``' string values, its log lines off the user's terminal (as kpoc's
    other clients) and, for a producer, ``dr_msg_cb`` as its delivery callback;
    :class:`KpocError` naming what librdkafka refused. ``rd_kafka_destroy`` it."""
    lib = _lib()
    errbuf = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    for k, v in _scalar_properties(properties).items():
        if lib.rd_kafka_conf_set(conf, k.encode(), v.encode(), errbuf, len(errbuf)) != 0:
            lib.rd_kafka_conf_destroy(conf)
            raise KpocError(f"property {k}: {errbuf.value.decode(errors='replace')}",
                            "fix the -X setting")
    if dr_msg_cb is not None:
        lib.rd_kafka_conf_set_dr_msg_cb(conf, ctypes.cast(dr_msg_cb, ctypes.c_void_p))
    lib.rd_kafka_conf_set_log_cb(conf, None)
    rk: int | None = lib.rd_kafka_new(kind, conf, errbuf, len(errbuf))
    if not rk:
        lib.rd_kafka_conf_destroy(conf)
        raise KpocError(f"cannot create a {('producer', 'consumer')[kind]}: "
                        f"{errbuf.value.decode(errors='replace')}", "check the -X settings")
    return rk


def reread_headers(config: ClientConfig, topic: str, partition: int, offset: int) -> Headers:
    """The headers of the record at ``topic[partition]@offset``, names as surrogate-escaped
    text; bounded by ``config.timeout``."""
    from ._client import base_properties

    lib = _lib()
    props = base_properties(config, {"group.id": "kpoc-reread"})
    props.update({"enable.auto.commit": "false", "enable.partition.eof": "false"})
    try:
        rk = new_handle(1, props)
    except KpocError as exc:
        raise UnreadableRecord(topic, partition, offset, exc.message) from exc
    try:
        lib.rd_kafka_poll_set_consumer(rk)
        tps = lib.rd_kafka_topic_partition_list_new(1)
        lib.rd_kafka_topic_partition_list_add(tps, topic.encode(), partition)
        lib.rd_kafka_topic_partition_list_set_offset(tps, topic.encode(), partition, offset)
        lib.rd_kafka_assign(rk, tps)
        lib.rd_kafka_topic_partition_list_destroy(tps)
        deadline = time.monotonic() + config.timeout
        while time.monotonic() < deadline:
            msg = lib.rd_kafka_consumer_poll(rk, 200)
            if not msg:
                continue
            try:
                m = msg.contents
                if m.err == 0 and m.partition == partition and m.offset == offset:
                    hdrs = ctypes.c_void_p()
                    if lib.rd_kafka_message_headers(msg, ctypes.byref(hdrs)) != 0:
                        return ()  # RD_KAFKA_RESP_ERR__NOENT: the record has no headers
                    return _headers_of(lib, hdrs.value or 0)
                if m.err == 0 and m.offset > offset:
                    break
            finally:
                lib.rd_kafka_message_destroy(msg)
        raise UnreadableRecord(topic, partition, offset,
                               f"reading it again took over {config.timeout:g}s")
    finally:
        lib.rd_kafka_consumer_close(rk)
        lib.rd_kafka_destroy(rk)


#: ``msg.headers()`` through a generic call, which checks for an exception left set. A plain
#: ``msg.headers()`` does not once CPython has specialized the call site (3.11+: after a few
#: runs): the broken list is then returned and the exception surfaces later, at an unrelated
#: call (measured: 7 of 300 bad records raised at the call, 293 leaked past it).
_headers_checked = operator.methodcaller("headers")


#: Where confluent-kafka's Message (confluent_kafka.h) keeps, after the object header, its
#: ``topic``, ``value``, ``key``, ``headers`` (the converted list) and ``c_headers`` pointers.
_FIELDS = object.__basicsize__
_PY_HEADERS, _C_HEADERS = _FIELDS + 3 * _WORD, _FIELDS + 4 * _WORD
_PY_HEADERS_WORD, _C_HEADERS_WORD = _PY_HEADERS // _WORD, _C_HEADERS // _WORD
#: Whether this process's Message has that layout: None until the first record is checked.
_layout: bool | None = None


def _layout_matches(msg: Any) -> bool:
    """Whether ``msg``'s topic, value and key pointers sit where confluent_kafka.h puts them."""
    if (ctypes.sizeof(ctypes.c_void_p) != _WORD or type(msg).__basicsize__ < _C_HEADERS + _WORD
            or msg.topic() is None):
        return False
    at = (id(msg) + _FIELDS) >> 3
    return all(_WORDS[at + k] in (id(obj), 0 if obj is None else -1)
               for k, obj in enumerate((msg.topic(), msg.value(), msg.key())))


def message_headers(msg: Any, reread: Callable[[str, int, int], Headers] | None) -> Headers:
    """The headers of a confluent_kafka.Message, names in full (see the module's docstring).
    Where the Message's layout is not the expected one: ``msg.headers()``, or, when
    confluent-kafka fails to decode them, ``reread`` of the record's coordinates; without
    ``reread``, :class:`UnreadableRecord`."""
    global _layout
    if _layout is None:
        _layout = _layout_matches(msg)
        if not _layout:
            warnings.warn("kpoc does not know this confluent-kafka's Message layout: header "
                          "names are read up to their first NUL byte", RuntimeWarning,
                          stacklevel=2)
    if _layout:
        at = id(msg) >> 3
        hdrs, converted = _WORDS[at + _C_HEADERS_WORD], _WORDS[at + _PY_HEADERS_WORD]
        if not converted:
            return _headers_of(_lib(), hdrs) if hdrs else ()
    try:
        return tuple(_headers_checked(msg) or ())
    except SystemError:
        # Never call msg.headers() again: confluent-kafka kept the broken list.
        coords = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        if reread is None:
            raise UnreadableRecord(*coords, "a header name is not valid UTF-8") from None
        return reread(*coords)
