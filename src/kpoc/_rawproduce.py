"""Producing records whose header names confluent-kafka cannot send.

Kafka header names are arbitrary bytes, but confluent-kafka hands them to librdkafka as C
strings made from ``str``: a name that is not UTF-8 (kpoc holds its bytes as lone surrogates, see
kpoc._rawheaders) becomes a NULL pointer and crashes the process, and a NUL byte cuts the name
short. A record with such a name is produced here instead, through librdkafka's C API on the
library confluent-kafka loaded: ``rd_kafka_header_add`` takes the name's length, and
``rd_kafka_produceva`` the record (``rd_kafka_vu_t`` array, the array form of
``rd_kafka_producev``). The handle is a producer of its own, made with the same settings as
kpoc's (acks, idempotence, partitioner), and each send waits for its delivery report, so a
caller that flushes its main producer first keeps the records' order.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError

from ._kafka_errors import NO_REPORT
from ._rawheaders import _lib, _Message, new_handle

__all__ = ["RawDelivery", "RawProducer"]

# rd_kafka_vtype_t (rdkafka.h)
_TOPIC, _PARTITION, _VALUE, _KEY, _MSGFLAGS, _TIMESTAMP, _HEADERS = 1, 3, 4, 5, 7, 8, 10
_MSG_F_COPY = 0x2
_PURGE_QUEUE_AND_INFLIGHT = 0x1 | 0x2
_PRODUCER = 0


class _Mem(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("size", ctypes.c_size_t)]


class _Union(ctypes.Union):
    _fields_ = [("ptr", ctypes.c_void_p), ("i", ctypes.c_int), ("i32", ctypes.c_int32),
                ("i64", ctypes.c_int64), ("mem", _Mem), ("_pad", ctypes.c_char * 64)]


class _Vu(ctypes.Structure):
    # rd_kafka_vu_t (rdkafka.h): a vtype and its value.
    _fields_ = [("vtype", ctypes.c_int), ("u", _Union)]


_DeliveryCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Message),
                                     ctypes.c_void_p)


class RawDelivery:
    """Where a record went, shaped like the confluent_kafka.Message a delivery callback gets."""

    __slots__ = ("_offset", "_partition")

    def __init__(self, partition: int | None, offset: int | None) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int | None:
        return self._partition

    def offset(self) -> int | None:
        return self._offset


class RawProducer:
    """A librdkafka producer driven through its C API; use it as a context manager (or call
    :meth:`close`): its handle is destroyed there."""

    def __init__(self, properties: dict[str, Any]) -> None:
        self._lib = _lib()
        self._report: tuple[int, int, int] | None = None
        self._callback = _DeliveryCallback(self._on_delivery)  # kept alive with the handle
        # Failures come back as delivery reports, not log lines.
        self._rk: int | None = new_handle(_PRODUCER, properties, self._callback)

    def __enter__(self) -> RawProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_delivery(self, _rk: int, msg: Any, _opaque: int) -> None:
        m = msg.contents
        self._report = (m.err, m.partition, m.offset)

    def send(self, topic: str, value: bytes | None, key: bytes | None,
             headers: Sequence[tuple[bytes, bytes | None]], partition: int | None,
             timestamp: int | None, bound: float) -> tuple[KafkaError | None, RawDelivery]:
        """Produce one record and wait for its delivery report, at most ``bound`` seconds
        (then it is purged: reported timed out or possibly persisted, never left pending)."""
        lib, rk = self._lib, self._rk
        hdrs = lib.rd_kafka_headers_new(max(1, len(headers)))
        for name, hv in headers:
            lib.rd_kafka_header_add(hdrs, name, len(name), hv, -1 if hv is None else len(hv))
        buffers = [ctypes.create_string_buffer(topic.encode("utf-8"))]
        where = _Union(i32=-1 if partition is None else partition)  # -1: the partitioner's
        vus = [_Vu(_TOPIC, _Union(ptr=ctypes.addressof(buffers[0]))), _Vu(_PARTITION, where)]
        for vtype, data in ((_VALUE, value), (_KEY, key)):
            vu = _Vu(vtype)
            if data is not None:
                buffers.append(ctypes.create_string_buffer(data, len(data)))
                vu.u.mem.ptr, vu.u.mem.size = ctypes.addressof(buffers[-1]), len(data)
            vus.append(vu)
        vus.append(_Vu(_MSGFLAGS, _Union(i=_MSG_F_COPY)))
        if timestamp is not None:
            vus.append(_Vu(_TIMESTAMP, _Union(i64=timestamp)))
        vus.append(_Vu(_HEADERS, _Union(ptr=hdrs)))
        array = (_Vu * len(vus))(*vus)
        self._report = None
        error = lib.rd_kafka_produceva(rk, array, len(vus))
        if error:  # the headers stay the caller's when produceva fails
            code = lib.rd_kafka_error_code(error)
            lib.rd_kafka_error_destroy(error)
            lib.rd_kafka_headers_destroy(hdrs)
            return KafkaError(code), RawDelivery(partition, None)
        deadline = time.monotonic() + bound
        while self._report is None and time.monotonic() < deadline:
            lib.rd_kafka_poll(rk, 100)
        if self._report is None:
            lib.rd_kafka_purge(rk, _PURGE_QUEUE_AND_INFLIGHT)
            lib.rd_kafka_flush(rk, 5000)  # serves the purged message's report
        if self._report is None:
            return KafkaError(NO_REPORT), RawDelivery(partition, None)
        code, part, offset = self._report
        if code:
            return KafkaError(code), RawDelivery(part, None)
        return None, RawDelivery(part, offset)

    def close(self) -> None:
        if self._rk:
            self._lib.rd_kafka_flush(self._rk, 0)
            self._lib.rd_kafka_destroy(self._rk)
            self._rk = None
