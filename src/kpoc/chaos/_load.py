"""The chaos producer: numbered messages at a steady rate, every delivery report recorded.

Idempotent (``enable.idempotence=true``, hence ``acks=all``), round-robin over the partitions
with an explicit partition per message, so message ``seq`` of partition ``p`` is
``format_value(p, seq)``. Each message's produce time, report time, error and offset are kept for
the checker and for measuring recovery.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

from .checker import Delivery, format_value

_quiet = logging.getLogger("kpoc.chaos.producer")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

ACKED = 0
PENDING = -99_999  # not a librdkafka error code (those run from -200 to ~100)


@dataclass
class Checkpoint:
    """Where the producer holds until the fault script has caught up (see ``Load.run``)."""

    index: int
    reached: threading.Event
    released: threading.Event


class Load:
    """Produce ``count`` messages to ``partitions`` partitions of ``topic`` at ``rate``/s."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, count: int, rate: float,
                 size: int = 100, message_timeout_ms: int = 120_000,
                 extra: dict[str, Any] | None = None) -> None:
        self.topic, self.partitions, self.count, self.rate, self.size = (
            topic, partitions, count, rate, size)
        self.message_timeout_ms = message_timeout_ms
        self.props: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": message_timeout_ms,
            "request.timeout.ms": min(30_000, message_timeout_ms),
            "queue.buffering.max.messages": max(100_000, count + 1),
            "queue.buffering.max.kbytes": 1_048_576,
            "logger": _quiet,
            "error_cb": self._on_error,
        }
        self.props.update(extra or {})
        self.sent = 0
        # Per message (index i): produce time, report time, status (ACKED, PENDING or an error
        # code), offset. Arrays keep 50,000+ messages cheap.
        self.t_produce = array("d", bytes(8 * count))
        self.t_report = array("d", bytes(8 * count))
        self.status = array("i", [PENDING]) * count
        self.offset = array("q", [-1]) * count
        self.error_names: dict[int, str] = {}
        self.fatal: list[str] = []
        self.errors: list[str] = []
        self.held = 0.0
        self._producer: Producer | None = None

    # -- callbacks ---------------------------------------------------------------------------
    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal.append(f"{err.name()}: {err.str()}")
        elif len(self.errors) < 20:
            self.errors.append(f"{err.name()}: {err.str()}")

    def _report(self, i: int, err: KafkaError | None, msg: Any) -> None:
        self.t_report[i] = time.monotonic()
        if err is None:
            self.status[i] = ACKED
            # None when the broker answered a retried batch with DUPLICATE_SEQUENCE_NUMBER:
            # stored once, at an offset the answer does not carry (an exception here would
            # surface from poll() as confluent-kafka's SystemError).
            off = msg.offset()
            self.offset[i] = -1 if off is None else off
        else:
            code = err.code()
            self.status[i] = code if code not in (ACKED, PENDING) else -2
            self.error_names.setdefault(self.status[i], err.name())

    # -- the run ------------------------------------------------------------------------------
    def run(self, checkpoints: Sequence[Checkpoint] = (), stop: threading.Event | None = None,
            hold_timeout: float = 600.0) -> None:
        """Produce every message at the steady rate, then flush.

        At each checkpoint the producer signals ``reached`` and waits for ``released``: a fault
        script that is still busy with the previous fault holds the traffic there instead of
        letting it finish before the fault it is meant to meet. Time held is excluded from the
        schedule (``self.held``), so the rate stays the same on both sides.
        """
        from ..errors import ConfigError

        try:
            p = Producer(self.props)
        except Exception as exc:
            raise ConfigError(f"invalid chaos producer configuration: {exc}")
        self._producer = p
        interval = 1.0 / self.rate if self.rate > 0 else 0.0
        pending = sorted(checkpoints, key=lambda c: c.index)
        seqs = [0] * self.partitions
        t0 = time.monotonic()
        for i in range(self.count):
            while pending and pending[0].index <= i:
                cp = pending.pop(0)
                cp.reached.set()
                h0 = time.monotonic()
                while not cp.released.is_set():
                    if stop is not None and stop.is_set():
                        break
                    if time.monotonic() - h0 > hold_timeout:
                        raise TimeoutError(f"fault script did not release message {i} "
                                           f"within {hold_timeout:g}s")
                    p.poll(0.05)
                self.held += time.monotonic() - h0
            if stop is not None and stop.is_set():
                break
            due = t0 + self.held + i * interval
            now = time.monotonic()
            while now < due:
                p.poll(due - now)
                now = time.monotonic()
            part = i % self.partitions
            value = format_value(part, seqs[part], self.size)
            seqs[part] += 1
            cb = self._callback(i)
            while True:
                try:
                    self.t_produce[i] = time.monotonic()
                    p.produce(self.topic, value, partition=part, on_delivery=cb)
                    break
                except BufferError:
                    p.poll(0.1)
            self.sent = i + 1
            p.poll(0)
        for cp in pending:  # stopped early: let the script through
            cp.reached.set()

    def _callback(self, i: int) -> Callable[[KafkaError | None, Any], None]:
        return lambda err, msg: self._report(i, err, msg)

    def flush(self, timeout: float) -> int:
        """Wait for every report (bounded); return how many are still outstanding."""
        if self._producer is None:
            return 0
        deadline = time.monotonic() + timeout
        left = len(self._producer)
        while left and time.monotonic() < deadline:
            left = self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
        return left

    def close(self) -> None:
        self._producer = None

    # -- views for the checker -----------------------------------------------------------------
    def deliveries(self) -> list[Delivery]:
        out = []
        seqs = [0] * self.partitions
        for i in range(self.sent):
            part = i % self.partitions
            seq = seqs[part]
            seqs[part] += 1
            st = self.status[i]
            if st == PENDING:
                continue
            out.append(Delivery(part, seq, None if st == ACKED else self.error_names[st],
                                self.offset[i] if st == ACKED else None))
        return out

    def produced_since(self, t: float) -> set[tuple[int, int]]:
        """(partition, seq) of every message produced at or after ``t``."""
        return {(i % self.partitions, i // self.partitions)
                for i in self.produced_between(t, math.inf)}

    def acked_keys(self) -> set[tuple[int, int]]:
        return {(d.partition, d.seq) for d in self.deliveries() if d.error is None}

    def recovery_after(self, t: float) -> float | None:
        """Seconds from ``t`` until every partition acknowledged a message produced after ``t``."""
        first: dict[int, float] = {}
        for i in range(self.sent):
            if self.t_produce[i] >= t and self.status[i] == ACKED:
                part = i % self.partitions
                if part not in first or self.t_report[i] < first[part]:
                    first[part] = self.t_report[i]
        if len(first) < self.partitions:
            return None
        return max(first.values()) - t

    def ack_times(self) -> list[float]:
        """When each acknowledged message's report came (``time.monotonic()``)."""
        return [self.t_report[i] for i in range(self.sent) if self.status[i] == ACKED]

    def acked_between(self, start: float, end: float) -> int:
        """Acknowledgements whose report arrived in ``[start, end]``."""
        return sum(1 for i in range(self.sent)
                   if self.status[i] == ACKED and start <= self.t_report[i] <= end)

    def produced_between(self, start: float, end: float) -> list[int]:
        return [i for i in range(self.sent) if start <= self.t_produce[i] <= end]
