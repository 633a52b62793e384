"""Lag history without Prometheus: periodic samples of every group's lag, kept in memory.

A background thread asks :class:`kpoc.admin.Admin` for each group's committed offsets and the
partitions' high watermarks every ``interval`` seconds and keeps the last ``keep`` samples per
group in a deque, so memory is bounded by ``max_groups × keep``. From two samples it estimates how
fast the group consumes, how fast producers add messages, and so how long the lag takes to drain.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from ..admin import Admin, GroupInfo
from ..config import ClientConfig
from ..errors import KpocError, NotFound


@dataclass(frozen=True)
class LagSample:
    time: float
    lag: int
    committed: int
    high: int
    members: int
    #: Partitions with a committed offset: rates compare only samples over the same set.
    partitions: int = 0


def sample_of(info: GroupInfo, now: float | None = None) -> LagSample:
    committed = sum(p.committed or 0 for p in info.lags if p.committed is not None)
    high = sum(p.high or 0 for p in info.lags if p.committed is not None)
    return LagSample(time.time() if now is None else now, info.total_lag, committed, high,
                     len(info.members), sum(1 for p in info.lags if p.committed is not None))


def estimate(samples: list[LagSample], window: float = 120.0) -> dict[str, Any]:
    """Consumption and production rates over the last ``window`` seconds and time to drain."""
    out: dict[str, Any] = {"lag": samples[-1].lag if samples else None, "consume_rate": None,
                           "produce_rate": None, "seconds_to_drain": None, "draining": None}
    if len(samples) < 2:
        return out
    last = samples[-1]
    same = [s for s in samples[:-1]
            if s.partitions == last.partitions and last.time - s.time <= window]
    if not same:
        return out
    first = same[0]
    dt = last.time - first.time
    if dt <= 0:
        return out
    consume = max(last.committed - first.committed, 0) / dt
    produce = max(last.high - first.high, 0) / dt
    drain = consume - produce
    out.update(consume_rate=round(consume, 3), produce_rate=round(produce, 3))
    if last.lag == 0:
        out.update(seconds_to_drain=0.0, draining=True)
    elif drain > 0:
        out.update(seconds_to_drain=round(last.lag / drain, 1), draining=True)
    else:
        out["draining"] = False
    return out


class LagHistory:
    """Samples every group's lag on a daemon thread; read with :meth:`history`."""

    def __init__(self, config: ClientConfig, interval: float = 5.0, keep: int = 720,
                 max_groups: int = 200) -> None:
        self.config = config
        self.interval = interval
        self.keep = keep
        self.max_groups = max_groups
        self._samples: dict[str, deque[LagSample]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_run: float | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kpoc-lag-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.timeout + 2)
            self._thread = None

    def _loop(self) -> None:
        with Admin(self.config) as admin:
            while not self._stop.is_set():
                started = time.monotonic()
                self.sample(admin)
                self._stop.wait(max(self.interval - (time.monotonic() - started), 0.1))

    def sample(self, admin: Admin) -> None:
        """One round over every group (at most ``max_groups``); errors are kept, not raised."""
        try:
            groups = admin.list_groups()[: self.max_groups]
        except KpocError as exc:
            self.last_error = str(exc)
            return
        seen = set()
        for g in groups:
            if self._stop.is_set():
                return
            try:
                info = admin.describe_group(g.group_id, g.type)  # type known: no extra trip
            except NotFound:
                continue
            except KpocError as exc:
                self.last_error = str(exc)
                continue
            self.record(info)
            seen.add(g.group_id)
        with self._lock:
            for gone in set(self._samples) - seen:
                del self._samples[gone]
        self.last_error = None
        self.last_run = time.time()

    def record(self, info: GroupInfo) -> None:
        with self._lock:
            dq = self._samples.get(info.group_id)
            if dq is None:
                if len(self._samples) >= self.max_groups:
                    return
                dq = self._samples[info.group_id] = deque(maxlen=self.keep)
            dq.append(sample_of(info))

    def history(self, group: str) -> list[LagSample]:
        with self._lock:
            return list(self._samples.get(group, ()))

    def to_dict(self, group: str) -> dict[str, Any]:
        samples = self.history(group)
        return {"group_id": group, "interval": self.interval, "keep": self.keep,
                "samples": [asdict(s) for s in samples], "estimate": estimate(samples),
                "sampler_error": self.last_error}
