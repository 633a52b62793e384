"""Group admin calls in a child process, so that a librdkafka abort takes the child, not the caller.

librdkafka (2.16, and its main branch as of mid-2026: issue 4605, fix proposed in pull request
5397) can abort the whole process with ``Assertion 'eonce->refcnt > 0' failed`` when a request to a
group coordinator (DescribeConsumerGroups, ListConsumerGroupOffsets) fails because the coordinator's
connection dropped, which is what a broker crash does. A one-shot command can be run again; the
console, which describes every group every few seconds, met it on coordinator losses and died.

:class:`AdminProcess` runs :class:`kpoc.admin.Admin`'s group calls in a child process started on
first use. The calls are reads: if the child dies during one, a warning names the signal and the
call is made once more in a new child; a second death raises :class:`~kpoc.errors.ClusterError`.
Every call has a bound; a child that does not answer within it is killed, and one whose call
timed out inside librdkafka is replaced at the next call.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import weakref
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from .admin import Admin, GroupInfo, GroupSummary
from .config import ClientConfig
from .errors import ClusterError, KafkaUnavailable, KpocError

__all__ = ["AdminProcess"]

_log = logging.getLogger("kpoc.isolated")


class _Died(Exception):
    """The child died during a call; ``error`` is what the caller is told."""

    def __init__(self, error: ClusterError) -> None:
        super().__init__(str(error))
        self.error = error


def _serve(requests: Connection, answers: Connection) -> None:
    """The child: a ClientConfig first, then answer each (method, args, kwargs) with (True,
    result) or (False, KpocError) until the parent closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        config: ClientConfig = requests.recv()
    except (EOFError, OSError):
        return
    with Admin(config) as admin:
        while True:
            try:
                method, args, kwargs = requests.recv()
            except (EOFError, OSError):
                return  # the parent closed the pipe or died
            try:
                answer: tuple[bool, Any] = (True, getattr(admin, method)(*args, **kwargs))
            except KpocError as exc:
                answer = (False, exc)
            answers.send(answer)


def _release(requests: Connection, answers: Connection, proc: subprocess.Popen[bytes]) -> None:
    """Close the pipes (the child's loop ends at EOF) and reap the child; kill it if it lingers."""
    requests.close()
    answers.close()
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _death(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class AdminProcess:
    """:meth:`list_groups`, :meth:`describe_group` and :meth:`describe_groups` of an
    :class:`~kpoc.admin.Admin` living in a child process (``python -m kpoc._isolated``, so no
    main module of the caller is imported again). Thread-safe: calls take turns. :meth:`close`
    stops the child. ``deaths`` counts children that died during a call."""

    def __init__(self, config: ClientConfig, bound: float | None = None) -> None:
        self.config = config
        #: Seconds a call may take: a describe of many groups makes several bounded requests.
        self.bound = bound if bound is not None else 3 * config.timeout + 30
        self.deaths = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._answers: Connection | None = None
        #: Releases the child if this object is dropped without close().
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __enter__(self) -> AdminProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, or None before the first call and after a death."""
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        """Start the child now rather than on the first call (it takes a moment to import)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> tuple[Connection, Connection]:
        if self._proc is not None and self._proc.poll() is not None:
            self.deaths += 1
            _log.warning("the admin process had died (%s) since the last call; starting a new "
                         "one", _death(self._proc.returncode))
            self._stop()
        if self._proc is None:
            from_parent, to_child = os.pipe()
            from_child, to_parent = os.pipe()
            # The child imports kpoc from where this process did, installed or not.
            here = str(Path(__file__).resolve().parent.parent)
            path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "kpoc._isolated", str(from_parent), str(to_parent)],
                    pass_fds=(from_parent, to_parent), stdin=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": path})
            finally:
                os.close(from_parent)
                os.close(to_parent)
            self._requests = Connection(to_child, readable=False)
            self._answers = Connection(from_child, writable=False)
            self._finalizer = weakref.finalize(self, _release, self._requests, self._answers,
                                               self._proc)
            self._requests.send(self.config)  # a child that died at once: BrokenPipeError
        assert self._requests is not None and self._answers is not None
        return self._requests, self._answers

    def _stop(self) -> None:
        finalizer, self._finalizer = self._finalizer, None
        self._proc = self._requests = self._answers = None
        if finalizer is not None:
            finalizer()  # _release, once

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``method`` in the child. These are reads, so a call whose child died is made once
        more in a new child (a lost coordinator has moved by then); a second death raises."""
        with self._lock:
            try:
                return self._call_once(method, args, kwargs)
            except _Died as died:
                _log.warning("%s; asking again in a new process", died.error.message)
            try:
                return self._call_once(method, args, kwargs)
            except _Died as died:
                raise died.error from died.__cause__

    def _call_once(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            requests, answers = self._ensure()
            requests.send((method, args, kwargs))
            answer: tuple[bool, Any] | None = (
                answers.recv() if answers.poll(self.bound) else None)
        except (EOFError, OSError) as exc:
            proc = self._proc
            assert proc is not None
            try:
                exitcode: int | None = proc.wait(5)
            except subprocess.TimeoutExpired:
                exitcode = None
            self.deaths += 1
            self._stop()
            why = (": librdkafka aborts this way when a group coordinator is lost mid-request "
                   "(librdkafka issue 4605)" if exitcode == -signal.SIGABRT else
                   " (its error, if any, is on stderr above)")
            raise _Died(ClusterError(
                f"the admin process died ({_death(exitcode)}) during {method}{why}",
                "the next call starts a new one; nothing else was affected")) from exc
        if answer is None:
            self._stop()
            raise KafkaUnavailable(f"{method} got no answer within {self.bound:g} s",
                                   "check the cluster with `kpoc doctor`; the next call "
                                   "starts a new admin process")
        ok, value = answer
        if ok:
            return value
        if isinstance(value, KafkaUnavailable):
            # After a coordinator's loss, librdkafka's admin handle can go on timing out group
            # descriptions long after the cluster is whole (seen: 120 s and more, while a new
            # handle answered at once). A call that hit its bound retires the child with it.
            self._stop()
        raise cast(KpocError, value)

    def list_groups(self, with_lag: bool = False) -> list[GroupSummary]:
        result: list[GroupSummary] = self._call("list_groups", with_lag=with_lag)
        return result

    def describe_group(self, group: str, group_type: str | None = None) -> GroupInfo:
        result: GroupInfo = self._call("describe_group", group, group_type)
        return result

    def describe_groups(self, groups: list[str], workers: int = 16,
                        types: dict[str, str] | None = None) -> dict[str, GroupInfo]:
        result: dict[str, GroupInfo] = self._call("describe_groups", groups, workers=workers,
                                                  types=types)
        return result


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]),
                                                                  readable=False))
