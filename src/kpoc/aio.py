"""kpoc's API for asyncio: ``await producer.send(...)`` and ``async for record in consumer``.

    from kpoc import aio

    async with aio.Producer() as producer:
        report = await producer.send("teste", b"hello")

The same clients as :mod:`kpoc.api` (one implementation), driven without blocking the loop. The
producer's ``send()`` queues the message at once and returns an :class:`asyncio.Future`; while
messages are in flight the loop itself serves librdkafka's delivery reports every
:data:`~kpoc.producer.POLL_INTERVAL` (a non-blocking poll) and resolves their futures in one
batch — no thread that would fight the loop for the GIL, no task or thread hop per message —
so many sends can be awaited together (``asyncio.gather``) instead of one round trip per
``await``. The consumer reads each batch in the loop's default executor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial

from . import api
from .api import ConfigValue, DeliveryReport, Record
from .consumer import GroupEvent
from .errors import UsageError
from .producer import POLL_INTERVAL, Delivery, Headers, delivery_error

__all__ = ["Consumer", "Producer"]


class Producer:
    """:class:`kpoc.Producer` for asyncio; ``send()`` returns an awaitable per message.

    Awaiting it gives the :class:`DeliveryReport` of a delivered message, or raises
    :class:`DeliveryError` (``.code``, ``.report``). ``on_report`` gets every report on the event
    loop. ``close()`` (also leaving ``async with``, e.g. on Ctrl-C) resolves every future.
    """

    def __init__(self, bootstrap_servers: str | None = None, *,
                 config: Mapping[str, ConfigValue] | None = None, timeout: float | None = None,
                 on_report: Callable[[DeliveryReport], None] | None = None) -> None:
        #: Reports served (by a poll on the loop, or flush() in the executor), not yet resolved.
        self._ready: deque[Delivery] = deque()
        self._sync = api.Producer(bootstrap_servers, config=config, timeout=timeout,
                                  on_report=self._ready.append)  # type: ignore[arg-type]
        self._send = self._sync.send
        self.on_report = on_report
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_future: Callable[[], asyncio.Future[DeliveryReport]] = asyncio.Future
        #: The future of each message sent and not yet resolved, by sequence number.
        self._futures: dict[int, asyncio.Future[DeliveryReport]] = {}
        #: The next poll of the loop while messages are in flight.
        self._tick: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Producer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
             headers: Headers | None = None, partition: int | None = None,
             timestamp: int | None = None) -> asyncio.Future[DeliveryReport]:
        """Queue one message now; the returned future resolves with its report.

        No task and no thread hop per message: the sync producer's send queues it (its own
        poll may serve earlier reports), and :meth:`_poll` resolves the futures of every report
        served, in one batch."""
        loop = self._loop or self._start()
        delivery = self._send(topic, value, key, headers, partition, timestamp)
        # Registered before any report can be resolved: _resolve runs on this loop, later.
        self._futures[delivery.seq] = future = self._new_future()
        if self._tick is None:
            self._tick = loop.call_later(POLL_INTERVAL, self._poll)
        return future

    async def partitions(self, topic: str) -> int:
        """``topic``'s partition count (see :meth:`kpoc.Producer.partitions`)."""
        return await asyncio.get_running_loop().run_in_executor(None, self._sync.partitions,
                                                                topic)

    def _start(self) -> asyncio.AbstractEventLoop:
        self._loop = loop = asyncio.get_running_loop()
        # asyncio's own loop: its Future straight from C, without create_future()'s Python
        # frame (a loop of another kind, e.g. uvloop, makes its own).
        self._new_future = (partial(asyncio.Future, loop=loop)
                            if type(loop).create_future is asyncio.BaseEventLoop.create_future
                            else loop.create_future)
        return loop

    def _poll(self) -> None:
        """Serve the reports that have arrived (without blocking) and resolve their futures;
        again after :data:`POLL_INTERVAL` while any message is still in flight."""
        self._sync.poll(0)
        self._resolve()
        loop = self._loop
        self._tick = (loop.call_later(POLL_INTERVAL, self._poll)
                      if self._futures and loop is not None else None)

    def _resolve(self) -> None:
        """Hand every report served so far to ``on_report`` and to its future."""
        ready, futures, on_report = self._ready, self._futures, self.on_report
        while ready:
            report = ready.popleft()
            future = futures.pop(report.seq)
            if on_report is not None:
                on_report(report)
            if future.cancelled():
                continue
            if report.status == "delivered":
                future.set_result(report)
            else:
                future.set_exception(delivery_error(report))

    async def flush(self) -> None:
        """Wait until every message sent so far has its report (bounded)."""
        await asyncio.get_running_loop().run_in_executor(None, self._sync.flush)
        self._resolve()

    async def close(self) -> None:
        """Flush, report what is left as failed, resolve every future, release the handle."""
        await asyncio.get_running_loop().run_in_executor(None, self._sync.close)
        self._resolve()
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None


class Consumer:
    """:class:`kpoc.Consumer` for asyncio: ``async for record in consumer``.

    Each batch is fetched in the loop's default executor; a batch's offsets are stored when the
    next one is asked for (at least once, as the sync consumer). ``close()`` (also leaving
    ``async with``) stops the read, commits what was handled and leaves the group.
    """

    def __init__(self, topics: str | Sequence[str], group: str,
                 bootstrap_servers: str | None = None, *,
                 config: Mapping[str, ConfigValue] | None = None, timeout: float | None = None,
                 start: str | None = None,
                 on_event: Callable[[GroupEvent], None] | None = None) -> None:
        self._sync = api.Consumer(topics, group, bootstrap_servers, config=config,
                                  timeout=timeout, start=start, on_event=on_event)
        self._fetch: asyncio.Future[list[Record] | None] | None = None

    async def __aenter__(self) -> Consumer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Record]:
        return self.records()

    async def records(self) -> AsyncIterator[Record]:
        async for batch in self.batches():
            for record in batch:
                yield record

    async def batches(self, max_records: int = 500) -> AsyncIterator[list[Record]]:
        """Lists of records as they arrive, until :meth:`close` or :meth:`stop`."""
        batches = self._sync.batches(max_records)
        loop = asyncio.get_running_loop()
        while True:
            if self._fetch is not None:
                raise UsageError("this Consumer is already being read",
                                 "read it from one task; start another Consumer for another")
            self._fetch = loop.run_in_executor(None, next, batches, None)
            try:
                batch = await self._fetch
            finally:
                self._fetch = None
            if batch is None:
                return
            yield batch

    def stop(self) -> None:
        """End the read loop (within ~0.2 s)."""
        self._sync.stop()

    async def close(self) -> None:
        self._sync.stop()
        if self._fetch is not None:
            await asyncio.wait([self._fetch], timeout=5)
        await asyncio.get_running_loop().run_in_executor(None, self._sync.close)
