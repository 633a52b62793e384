"""Lag history without Prometheus: periodic samples of every group's lag, kept in memory.

A background thread asks :class:`kpoc.admin.Admin`, in a child process (:mod:`kpoc._isolated`:
librdkafka can abort on a coordinator's loss), for each group's committed offsets and the
partitions' high watermarks every ``interval`` seconds and keeps the last ``keep`` samples per
group in a deque, so memory is bounded by ``max_groups × keep``. From two samples it estimates how
fast the group consumes, how fast producers add messages, and so how long the lag takes to drain.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from .._isolated import AdminProcess
from ..admin import GroupInfo, GroupSummary
from ..config import ClientConfig
from ..errors import KpocError


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
    """Consumption and production rates over the last ``window`` seconds and time to drain.

    Consumption counts only committed-offset moves between two samples that both had members:
    Kafka refuses an offset reset while a group has members, so a move without members is a
    reset (or a tool's commit), not consumption. A group with no members is not draining."""
    out: dict[str, Any] = {"lag": samples[-1].lag if samples else None, "consume_rate": None,
                           "produce_rate": None, "seconds_to_drain": None, "draining": None}
    if not samples:
        return out
    last = samples[-1]
    if last.members == 0:
        out["draining"] = last.lag == 0
        if last.lag == 0:
            out["seconds_to_drain"] = 0.0
        return out
    recent = [s for s in samples if last.time - s.time <= window]
    pairs = [(a, b) for a, b in pairwise(recent)
             if a.partitions == b.partitions and b.time > a.time]
    if not pairs:
        return out
    dt = sum(b.time - a.time for a, b in pairs)
    consumed = sum(max(b.committed - a.committed, 0) for a, b in pairs
                   if a.members and b.members)
    produced = sum(max(b.high - a.high, 0) for a, b in pairs)
    consume, produce = consumed / dt, produced / dt
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
        #: Each sampled group's last summary row (state, members, lag) and when it was taken.
        self._latest: dict[str, tuple[float, GroupSummary]] = {}
        #: When each group's page was last looked at (decides whose history is kept).
        self._viewed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_run: float | None = None
        #: How long the last round took (many groups on a busy machine: longer than interval).
        self.round_seconds = 0.0

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
        with AdminProcess(self.config) as admin:
            while not self._stop.is_set():
                started = time.monotonic()
                self.sample(admin)
                self._stop.wait(max(self.interval - (time.monotonic() - started), 0.1))

    def sample(self, admin: AdminProcess) -> None:
        """One round over every group; errors are kept, not raised."""
        started = time.time()
        try:
            # Every group's summary row is kept (the groups page reads it); history only for
            # the first max_groups (see record).
            groups = admin.list_groups()
        except KpocError as exc:
            self.last_error = str(exc)
            return
        try:
            infos = admin.describe_groups([g.group_id for g in groups],
                                          types={g.group_id: g.type for g in groups})
        except KpocError as exc:
            self.last_error = str(exc)
            return
        seen = set()
        for info in infos.values():
            self.record(info)
            seen.add(info.group_id)
        with self._lock:
            for gone in set(self._samples) - seen:
                del self._samples[gone]
            for gone in set(self._latest) - seen:
                del self._latest[gone]
                self._viewed.pop(gone, None)
        self.last_error = None
        self.round_seconds = time.time() - started
        self.last_run = time.time()

    def record(self, info: GroupInfo, viewed: bool = False) -> LagSample:
        """Keep a sample of ``info``. History is kept for ``max_groups`` groups: beyond that a
        group gets one only when someone looks at it (``viewed``), in place of the group looked
        at least recently (never, for most)."""
        sample = sample_of(info)
        with self._lock:
            self._latest[info.group_id] = (sample.time, GroupSummary(
                info.group_id, info.state, info.type, len(info.members), info.total_lag))
            if viewed:
                self._viewed[info.group_id] = sample.time
            dq = self._samples.get(info.group_id)
            if dq is None:
                if len(self._samples) >= self.max_groups:
                    if not viewed:
                        return sample
                    del self._samples[min(self._samples, key=lambda g: self._viewed.get(g, 0))]
                dq = self._samples[info.group_id] = deque(maxlen=self.keep)
            dq.append(sample)
        return sample

    def latest(self) -> dict[str, tuple[float, GroupSummary]]:
        """The groups seen by the last two rounds: when, and their summary row then. Empty
        when the sampler is off (nothing would keep the rows fresh)."""
        if self.interval <= 0 or self._thread is None:
            return {}
        max_age = 2 * max(self.interval, self.round_seconds) + 1
        now = time.time()
        with self._lock:
            return {g: v for g, v in self._latest.items() if now - v[0] <= max_age}

    def history(self, group: str) -> list[LagSample]:
        with self._lock:
            return list(self._samples.get(group, ()))

    def to_dict(self, group: str, until: LagSample | None = None) -> dict[str, Any]:
        """History and estimate; with ``until``, only up to that sample (one page, one snapshot:
        the sampler may add a newer one while the page renders)."""
        samples = self.history(group)
        if until is not None:
            samples = [s for s in samples if s.time <= until.time]
            if not samples or samples[-1] != until:
                samples.append(until)
        return {"group_id": group, "interval": self.interval, "keep": self.keep,
                "samples": [asdict(s) for s in samples], "estimate": estimate(samples),
                "points": [[s.time, s.lag] for s in samples],
                "sampler_error": self.last_error}
