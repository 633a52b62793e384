"""kpoc's API for asyncio: ``await producer.send(...)`` and ``async for record in consumer``.

    from kpoc import aio

    async with aio.Producer() as producer:
        report = await producer.send("teste", b"hello")

The same clients as :mod:`kpoc.api` (one implementation), driven without blocking the loop. The
producer's ``send()`` queues the message at once and returns its :class:`Delivery`, a future
asyncio accepts anywhere; while messages are in flight the loop itself serves librdkafka's
delivery reports every :data:`~kpoc.producer.POLL_INTERVAL` (a non-blocking poll) and resolves
them in one batch — no thread that would fight the loop for the GIL, no task or thread hop per
message — so many sends can be awaited together (``asyncio.gather``) instead of one round trip
per ``await``. The consumer reads each batch in the loop's default executor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from contextvars import Context, copy_context

from . import api
from . import producer as _producer
from .api import ConfigValue, DeliveryReport, Record
from .consumer import GroupEvent
from .errors import DeliveryError, UsageError
from .producer import POLL_INTERVAL, Headers, delivery_error

__all__ = ["Consumer", "Delivery", "Producer"]


_PENDING, _CANCELLED, _FINISHED = "PENDING", "CANCELLED", "FINISHED"

#: A waiter's context that was a copy of an empty one: it runs in a new empty context.
_EMPTY = None


def _context(context: Context | None) -> Context:
    return Context() if context is _EMPTY else context


class Delivery(_producer.Delivery):
    """What :meth:`Producer.send` returns: the message's report (a :class:`kpoc.Delivery`) and
    an asyncio future of it at once.

    ``await`` it for the :class:`DeliveryReport` of a delivered message, or the
    :class:`DeliveryError` (``.code``, ``.report``) of one that failed or was possibly
    persisted. It is a future of the kind asyncio accepts wherever it takes one (``gather``,
    ``wait``, ``wait_for``, ``as_completed``, ``ensure_future``: see :func:`asyncio.isfuture`):
    ``done()``, ``result()``, ``exception()``, ``cancel()``, ``add_done_callback()`` behave as
    :class:`asyncio.Future`'s. Cancelling it stops the wait, not the message: its report still
    goes to ``on_report``.

    Why not an :class:`asyncio.Future` per message: a second object per message, and
    ``set_result`` schedules each waiter's callback as its own loop handle; here the producer
    runs the callbacks of every report served in one loop callback (:meth:`Producer._resolve`).
    Measured with 100k sends awaited by ``asyncio.gather`` (README, Python API speed)."""

    __slots__ = ("_asyncio_future_blocking", "_callback", "_cancel_message", "_context",
                 "_exception", "_more", "_state")
    producer: _Sync
    #: Set by asyncio while a task waits on this future (the duck-typed Future protocol).
    _asyncio_future_blocking: bool
    #: The first waiter's callback not yet called, and its context (the one waiter of nearly
    #: every message: gather's or a task's); None when there is none. _EMPTY: a new empty
    #: context (see add_done_callback).
    _callback: Callable[[Delivery], object] | None
    _context: Context | None
    #: (callback, context) of every further waiter, if any.
    _more: list[tuple[Callable[[Delivery], object], Context | None]] | None
    #: The future's state, as asyncio.Future's: FINISHED once :meth:`Producer._resolve` has
    #: handed the report on (on the loop: a report served by flush() in the executor is not
    #: yet), or CANCELLED.
    _state: str
    _exception: DeliveryError
    #: cancel()'s message (set by cancel(); asyncio.gather reads it by this name).
    _cancel_message: object
    # Each object kept alive per awaited message costs ~1 µs of garbage collection (README,
    # Python API speed); reading the message at once, three C calls, much less.
    read_at_once = True

    # A future is itself, not its value: equal only to itself, and hashable (gather keys by it).
    __eq__ = object.__eq__
    __hash__ = object.__hash__  # type: ignore[assignment]

    def get_loop(self) -> asyncio.AbstractEventLoop:
        loop = self.producer.loop
        assert loop is not None  # set by the first send()
        return loop

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self) -> DeliveryReport:  # type: ignore[override]  # asyncio's, not the sync wait
        """The report of a delivered message; raises what ``await`` raises."""
        if self._state == _FINISHED and self.status == "delivered":
            return self
        exc = self.exception()
        if exc is not None:
            raise exc
        return self

    def exception(self) -> BaseException | None:
        state = self._state
        if state == _FINISHED:
            return None if self.status == "delivered" else self._error()
        if state == _CANCELLED:
            raise self._make_cancelled_error()
        raise asyncio.InvalidStateError("the delivery report has not arrived yet")

    def _error(self) -> DeliveryError:
        """The one :class:`DeliveryError` of this failed message (the same object each time)."""
        try:
            return self._exception
        except AttributeError:  # a slot set on the first ask: only failed messages have one
            self._exception = delivery_error(self)
            return self._exception

    def wait(self, timeout: float | None = None) -> DeliveryReport:
        raise UsageError("wait() would block the event loop", "await the delivery instead")

    def cancel(self, msg: object = None) -> bool:
        """Stop waiting for the report (the message is still sent and reported to
        ``on_report``); False once it has arrived."""
        if self._state != _PENDING:
            return False
        self._state, self._cancel_message = _CANCELLED, msg
        self._schedule_callbacks()
        return True

    def _make_cancelled_error(self) -> asyncio.CancelledError:
        """What awaiting a cancelled future raises (asyncio.gather asks for it by this name)."""
        msg = self._cancel_message
        return asyncio.CancelledError() if msg is None else asyncio.CancelledError(msg)

    def add_done_callback(self, fn: Callable[[Delivery], object], *,
                          context: Context | None = None) -> None:
        if context is None:
            context = copy_context()
            if not context:
                # No context variable is set (most programs): kept as None, and the callback
                # runs in a new empty context, which is the same to it, without a context
                # object per message kept alive for the garbage collector (~1 µs each).
                context = _EMPTY
        if self._state != _PENDING:
            self.get_loop().call_soon(fn, self, context=_context(context))
        elif self._callback is None:
            self._callback, self._context = fn, context
        elif self._more is None:
            self._more = [(fn, context)]
        else:
            self._more.append((fn, context))

    def remove_done_callback(self, fn: Callable[[Delivery], object]) -> int:
        waiters = self._waiters()
        kept = [(f, c) for f, c in waiters if f != fn]
        for f, c in kept:
            self.add_done_callback(f, context=c)
        return len(waiters) - len(kept)

    def __await__(self) -> Generator[Delivery, None, DeliveryReport]:
        if not self.done():
            self._asyncio_future_blocking = True
            yield self  # the task waits on this future (asyncio's protocol)
            if not self.done():
                raise RuntimeError("await wasn't used with future")
        return self.result()

    __iter__ = __await__

    def _waiters(self) -> list[tuple[Callable[[Delivery], object], Context]]:
        """Every callback not yet called, with its context, and none left behind."""
        fn, context, more = self._callback, self._context, self._more
        self._callback = self._context = self._more = None
        first = [] if fn is None else [(fn, _context(context))]
        return first + [(f, _context(c)) for f, c in more or ()]

    def _schedule_callbacks(self) -> None:
        """Each waiter's callback as its own loop handle, as asyncio.Future does (cancel())."""
        loop = self.get_loop()
        for fn, context in self._waiters():
            loop.call_soon(fn, self, context=context)

    def _run_callbacks(self) -> None:
        """Run each waiter's callback now, in its context, its exception to the loop's handler
        (as a loop handle would): :meth:`Producer._resolve`, in a loop callback. Nothing is
        built for the one waiter of nearly every message."""
        fn, context, more = self._callback, self._context, self._more
        self._callback = self._context = self._more = None
        while fn is not None:
            try:
                _context(context).run(fn, self)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.get_loop().call_exception_handler(
                    {"message": "Exception in a kpoc.aio.Delivery callback", "exception": exc,
                     "future": self})
            fn, context = more.pop(0) if more else (None, None)


class _Sync(api.Producer):
    """The sync producer inside :class:`Producer`: its sends are :class:`Delivery` futures."""

    delivery_class = Delivery
    #: The event loop of its first send (:meth:`Producer._start`).
    loop: asyncio.AbstractEventLoop | None = None


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
        self._sync = _Sync(bootstrap_servers, config=config, timeout=timeout,
                           on_report=self._ready.append)  # type: ignore[arg-type]
        self._send = self._sync.send
        self.on_report = on_report
        #: The next poll of the loop while messages are in flight.
        self._tick: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Producer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def send(self, topic: str, value: bytes | None, *, key: bytes | None = None,
             headers: Headers | None = None, partition: int | None = None,
             timestamp: int | None = None) -> Delivery:
        """Queue one message now; the returned :class:`Delivery` is its future.

        No task, thread hop or second object per message: the sync producer's send queues it
        (its own poll may serve earlier reports), and :meth:`_poll` resolves every report
        served, in one batch."""
        if self._tick is None:
            self._start()
        d: Delivery = self._send(topic, value, key, headers, partition,  # type: ignore[assignment]
                                 timestamp)
        d._asyncio_future_blocking = False
        d._state = _PENDING
        d._callback = d._context = d._more = None
        return d

    async def partitions(self, topic: str) -> int:
        """``topic``'s partition count (see :meth:`kpoc.Producer.partitions`)."""
        return await asyncio.get_running_loop().run_in_executor(None, self._sync.partitions,
                                                                topic)

    def _start(self) -> None:
        """Poll on the loop from now on while messages are in flight."""
        loop = asyncio.get_running_loop()
        if self._sync.loop not in (None, loop):
            raise UsageError("this Producer is used from a second event loop",
                             "create one Producer per event loop")
        self._sync.loop = loop
        self._tick = loop.call_later(POLL_INTERVAL, self._poll)

    def _poll(self) -> None:
        """Serve the reports that have arrived (without blocking) and resolve their futures;
        again after :data:`POLL_INTERVAL` while any message is still in flight."""
        self._sync.poll(0)
        self._resolve()
        loop = self._sync.loop
        self._tick = (loop.call_later(POLL_INTERVAL, self._poll)
                      if self._sync.in_flight() and loop is not None else None)

    def _resolve(self) -> None:
        """Hand every report served so far to ``on_report`` and run its waiters' callbacks.

        Runs as a loop callback, never inside a task (a task's wake-up callback must not run
        inside another task), so :meth:`flush` and :meth:`close` schedule it."""
        ready, on_report = self._ready, self.on_report
        while ready:
            d = ready.popleft()
            if on_report is not None:
                on_report(d)
            if d._state == _PENDING:
                d._state = _FINISHED
                if d._callback is not None:
                    d._run_callbacks()

    async def _resolve_served(self) -> None:
        """Resolve what the executor's flush or close served, in a loop callback, and wait
        until it has run."""
        loop = asyncio.get_running_loop()
        resolved: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            self._resolve()
            resolved.set_result(None)

        loop.call_soon(resolve)
        await resolved

    async def flush(self) -> None:
        """Wait until every message sent so far has its report (bounded)."""
        await asyncio.get_running_loop().run_in_executor(None, self._sync.flush)
        await self._resolve_served()

    async def close(self) -> None:
        """Flush, report what is left as failed, resolve every future, release the handle."""
        await asyncio.get_running_loop().run_in_executor(None, self._sync.close)
        await self._resolve_served()
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
