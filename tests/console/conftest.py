"""Fixtures for the console: the app on the session cluster, a CSRF-ready client, a live server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from confluent_kafka import Consumer, Producer, TopicPartition
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kpoc.config import ClientConfig
from kpoc.console import create_app

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
SHOTS = ARTIFACTS / "console"
CHROMIUM = "/usr/bin/chromium"


def make_app(cluster, **kw) -> FastAPI:
    kw.setdefault("sample_interval", 0.5)
    return create_app(ClientConfig(cluster.bootstrap_servers, timeout=20.0),
                      local_cluster=cluster.manager, **kw)


def csrf_client(app: FastAPI, **kw) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False, **kw)
    token = client.get("/api/session").json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return client


# Package scope, not session: the consoles (and their lag samplers) stop when the console tests
# are done, before the tests that kill nodes of the session cluster run (they run last).
@pytest.fixture(scope="package")
def console_app(cluster) -> Iterator[FastAPI]:
    yield make_app(cluster)


@pytest.fixture(scope="package")
def client(console_app) -> Iterator[TestClient]:
    with csrf_client(console_app) as c:
        c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf_token"]
        yield c


def produce(bootstrap: str, topic: str, values: list[str], key: str | None = None,
            headers: list | None = None, partition: int | None = None) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    errors: list = []
    for v in values:
        kw = {"partition": partition} if partition is not None else {}
        p.produce(topic, value=v.encode(), key=key.encode() if key else None,
                  headers=headers, on_delivery=lambda e, m: e and errors.append(e), **kw)
    assert p.flush(30) == 0 and not errors, errors


def commit_group(bootstrap: str, group: str, topic: str, count: int) -> None:
    """Consume ``count`` messages of ``topic`` as ``group``, commit, leave: lag = rest."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    while got < count and time.monotonic() < deadline:
        for m in c.consume(num_messages=count - got, timeout=1):
            if m.error() is None:
                got += 1
    assert got == count, f"consumed {got}/{count}"
    c.commit(asynchronous=False)
    c.close()


class Members:
    """N live consumers of one group, polled on a thread until stopped."""

    def __init__(self, bootstrap: str, group: str, topic: str, n: int) -> None:
        self.consumers = [Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                    "client.id": f"member-{i}", "auto.offset.reset": "earliest",
                                    "enable.auto.commit": True, "auto.commit.interval.ms": 200})
                          for i in range(n)]
        for c in self.consumers:
            c.subscribe([topic])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for c in self.consumers:
                c.poll(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for c in self.consumers:
            c.close()


@pytest.fixture
def members() -> Iterator[Callable[..., Members]]:
    made: list[Members] = []

    def make(bootstrap: str, group: str, topic: str, n: int) -> Members:
        m = Members(bootstrap, group, topic, n)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


def wait_for(check: Callable[[], object], timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for(lambda: self.server.started, 20, "the console to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="package")
def live_console(cluster) -> Iterator[LiveServer]:
    with LiveServer(make_app(cluster, sample_interval=1.0)) as server:
        yield server


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip("needs Debian's chromium (make system-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser, live_console):
    ctx = browser.new_context(base_url=live_console.url, viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    pg.dialogs = dialogs
    yield pg
    ctx.close()


def read_raw(bootstrap: str, topic: str, partition: int, count: int) -> list:
    """The first ``count`` messages of a partition as (key, value, headers) bytes, exactly."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kpoc-test-reader",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, partition, 0)])
    got: list = []
    deadline = time.monotonic() + 30
    while len(got) < count and time.monotonic() < deadline:
        for m in c.consume(num_messages=count - len(got), timeout=1):
            if m.error() is None:
                got.append((m.key(), m.value(), m.headers() or []))
    c.close()
    assert len(got) == count, f"read {len(got)}/{count}"
    return got


AUTH_TOKEN = "admin-token-0123456789"
READONLY_TOKEN = "viewer-token-0123456789"


@pytest.fixture(scope="package")
def auth_console(cluster) -> Iterator[LiveServer]:
    app = make_app(cluster, sample_interval=0, auth=AUTH_TOKEN, read_only_auth=READONLY_TOKEN,
                   allowed_hosts=["127.0.0.1", "localhost"])
    with LiveServer(app) as server:
        yield server
