"""docker-compose.yml brought up for real on a Docker engine (`make test-containers`).

Marked ``containers``: plain ``make test`` deselects it (it needs a Docker engine, root and a
few minutes); ``make test-containers`` prepares the engine, Compose and the stand-in images and
runs ``pytest -m containers``. The images come from the environment exactly as a user would pass
them: ``KAFKA_IMAGE`` and ``PYTHON_IMAGE`` (unset: the official images). The stack gets its own
compose project, image tag and host ports (``KPOC_CONTAINER_TEST_PORT``, default 28092: brokers
on +0..+2, console on +3), so it never touches a user's ``kpoc`` project or a local cluster.

The tests run in file order on one stack; the last three are destructive (a broker killed, the
stack taken down and up, then down with its volumes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.containers, pytest.mark.timeout(3600)]

ROOT = Path(__file__).parents[2]
BASE = int(os.environ.get("KPOC_CONTAINER_TEST_PORT", "28092"))
PROJECT = f"kpoc-test-{BASE}"
MESSAGES = 100  # what the compose file's producer sends
TIMINGS = ROOT / "tests" / "artifacts" / "containers-timings.json"


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout:.0f} s (last: {last!r})"[:2000])


@dataclass
class Stack:
    env: dict[str, str]
    host_env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    down: bool = False
    volumes_before: set[str] = field(default_factory=set)  # the engine's, before the first up

    bootstrap = ",".join(f"127.0.0.1:{BASE + i}" for i in range(3))
    console_url = f"http://127.0.0.1:{BASE + 3}"

    def compose(self, *args: str, timeout: float = 180, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["docker", "compose", "-p", PROJECT, *args], cwd=ROOT, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            pytest.fail(f"docker compose {' '.join(args)} exited {r.returncode}: "
                        f"{r.stderr[-1500:]}\n{self.diagnosis()}")
        return r

    def diagnosis(self) -> str:
        ps = subprocess.run(["docker", "compose", "-p", PROJECT, "ps", "-a"], cwd=ROOT,
                            env=self.env, capture_output=True, text=True, timeout=60)
        return ps.stdout

    def kpoc(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """The kpoc CLI on the host, through the published ports."""
        return subprocess.run([sys.executable, "-m", "kpoc", *args], env=self.host_env,
                              capture_output=True, text=True, timeout=timeout)

    def kpoc_json(self, *args: str) -> Any:
        r = self.kpoc(*args, "-o", "json")
        assert r.returncode == 0, f"kpoc {' '.join(args)}: {r.stderr[-1000:]}"
        return json.loads(r.stdout)

    def containers(self) -> list[dict[str, Any]]:
        out = self.compose("ps", "-a", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def state(self, service: str) -> list[dict[str, Any]]:
        return [c for c in self.containers() if c["Service"] == service]

    def logs(self, service: str, timestamps: bool = False) -> str:
        args = ["logs", "--no-color", "--no-log-prefix", *(["-t"] if timestamps else []), service]
        return self.compose(*args).stdout

    def consumed(self) -> Counter[int]:
        """How often each demo message appears across the four consumers' logs."""
        return Counter(int(n) for n in re.findall(r"^\s+demo message (\d+)$",
                                                  self.logs("consumer"), re.M))

    def consumed_if(self, done: Callable[[Counter[int]], bool]) -> Counter[int] | None:
        counts = self.consumed()
        return counts if done(counts) else None

    def healthy(self, service: str) -> bool:
        return all(c.get("Health") == "healthy" for c in self.state(service))


def _engine_answers() -> str | None:
    try:
        r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


def _volumes() -> list[str]:
    r = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    problem = _engine_answers()
    if problem:
        pytest.fail(f"no Docker engine answers ({problem}); `make test-containers` starts one")
    env = {k: v for k, v in os.environ.items() if k != "KPOC_CONSOLE_TOKEN"}  # no setup at all
    env.update({f"KAFKA_{i + 1}_HOST_PORT": str(BASE + i) for i in range(3)})
    env["CONSOLE_HOST_PORT"] = str(BASE + 3)
    env["KPOC_IMAGE"] = f"{PROJECT}/kpoc:local"  # never overwrite a user's kpoc:local
    host_env = {k: v for k, v in os.environ.items() if not k.startswith("KPOC_")}
    host_env.update({"KPOC_BOOTSTRAP_SERVERS": Stack.bootstrap, "KPOC_TIMEOUT": "30",
                     "KPOC_DATA_DIR": str(tmp_path_factory.mktemp("no-local-cluster")),
                     "NO_COLOR": "1"})
    s = Stack(env, host_env, volumes_before=set(_volumes()))
    if s.compose("version", check=False).returncode != 0:
        pytest.fail("no `docker compose` plugin; `make test-containers` installs it")
    s.compose("down", "-v", "--remove-orphans", timeout=300)  # what an aborted run left
    t = time.monotonic()
    s.compose("build", timeout=1800)
    s.timings["build_s"] = time.monotonic() - t
    try:
        yield s
    finally:
        if not s.down:
            s.compose("down", "-v", "--remove-orphans", timeout=300, check=False)
        TIMINGS.parent.mkdir(parents=True, exist_ok=True)
        TIMINGS.write_text(json.dumps({k: round(v, 1) for k, v in s.timings.items()}, indent=2))


def test_up_wait_brings_everything_up_without_any_setup(stack: Stack) -> None:
    """The documented `up --wait` returns 0 with no KPOC_CONSOLE_TOKEN in the environment."""
    started = time.time()
    t = time.monotonic()
    stack.compose("up", "-d", "--wait", "--wait-timeout", "900", timeout=960)
    stack.timings["up_wait_s"] = time.monotonic() - t
    by_service = Counter(c["Service"] for c in stack.containers() if c["State"] == "running")
    assert by_service == {"kafka-1": 1, "kafka-2": 1, "kafka-3": 1, "console": 1, "consumer": 4}
    for broker in ("kafka-1", "kafka-2", "kafka-3"):
        assert stack.healthy(broker), stack.state(broker)
    first = wait_for("a consumed demo message in the consumers' logs",
                     lambda: re.findall(r"^(\S+)\s+demo message \d+$",
                                        stack.logs("consumer", timestamps=True), re.M), 120)
    stamp = min(datetime.fromisoformat(s[:26] + "+00:00") for s in first)
    stack.timings["up_to_first_consumed_s"] = stamp.timestamp() - started


def test_topic_teste_is_durable_read_from_the_host(stack: Stack) -> None:
    topic = stack.kpoc_json("topics", "describe", "teste")
    assert len(topic["partitions"]) == 3
    assert all(len(p["replicas"]) == 3 and len(p["isr"]) == 3 for p in topic["partitions"])
    assert topic["configs"].get("min.insync.replicas") == "2", topic["configs"]


def test_producer_delivered_everything_and_each_message_was_consumed_once(stack: Stack) -> None:
    (producer,) = stack.state("producer")
    assert producer["State"] == "exited" and producer["ExitCode"] == 0
    reports = re.findall(r"^delivered to teste \[\d\] @ offset \d+", stack.logs("producer"), re.M)
    assert len(reports) == MESSAGES
    counts = wait_for(f"all {MESSAGES} demo messages consumed",
                      lambda: stack.consumed_if(lambda c: len(c) == MESSAGES), 120)
    assert set(counts) == set(range(1, MESSAGES + 1))
    assert set(counts.values()) == {1}, {n: k for n, k in counts.items() if k != 1}


def test_group_demo_has_four_members_told_apart_one_idle_no_lag(stack: Stack) -> None:
    def settled() -> dict[str, Any] | None:
        g = stack.kpoc_json("groups", "describe", "demo")
        return g if len(g["members"]) == 4 and g["total_lag"] == 0 else None

    group = wait_for("group demo with 4 members and lag 0", settled, 120)
    members = group["members"]
    assert len({m["client_id"] for m in members}) == 4, members
    assert all(m["client_id"].startswith("kpoc-") for m in members)
    assert [m["idle"] for m in members].count(True) == 1, members


def test_console_answers_login_works_overview_shows_three_brokers(stack: Stack) -> None:
    (console,) = stack.state("console")
    assert console["Health"] == "healthy"
    assert {(p["URL"], p["PublishedPort"]) for p in console["Publishers"]} == {
        ("127.0.0.1", BASE + 3)}  # published on loopback only
    log = stack.logs("console")
    found = re.search(r"this run's token is (\w+)\nlog in at (\S+)/login", log)
    assert found, log[-2000:]
    token, url = found.groups()
    assert url == stack.console_url
    with httpx.Client(base_url=url, timeout=30) as web:
        assert web.get("/api/overview").status_code == 401  # nothing without the token
        page = web.get("/login")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text[:500]
        wrong = web.post("/login", data={"token": "x" * 32, "csrf_token": csrf[1], "next": "/"})
        assert wrong.status_code == 401
        ok = web.post("/login", data={"token": token, "csrf_token": csrf[1], "next": "/"})
        assert ok.status_code == 303, ok.text[:500]
        overview = web.get("/api/overview").json()
        assert overview["brokers_up"] == 3 and overview["brokers_down"] == 0, overview
        assert web.get("/").status_code == 200


def test_doctor_from_the_host_finds_no_problem(stack: Stack) -> None:
    r = stack.kpoc("doctor", "--topic", "teste")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PROBLEM" not in r.stdout


def test_sigkilled_broker_loses_no_acknowledged_message_and_rejoins(stack: Stack) -> None:
    topic = "kill-test"
    r = stack.kpoc("topics", "create", topic, "--partitions", "3", "--replication-factor", "3",
                   "--timeout", "120", timeout=180)
    assert r.returncode == 0, r.stderr
    producer = subprocess.Popen(
        [sys.executable, "-m", "kpoc", "produce", "--topic", topic, "-K", ":", "-o", "json",
         "--timeout", "120"],
        env=stack.host_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert producer.stdin is not None
    sent = 0

    def send(seconds: float) -> None:
        nonlocal sent
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sent += 1
            producer.stdin.write(f"k{sent}:kill-test {sent}\n")  # type: ignore[union-attr]
            producer.stdin.flush()  # type: ignore[union-attr]
            time.sleep(0.02)

    try:
        send(5)
        stack.compose("kill", "-s", "SIGKILL", "kafka-2")
        send(10)
        stack.compose("start", "kafka-2")
        send(5)
        out, err = producer.communicate(timeout=300)
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.communicate(timeout=30)
    reports = [json.loads(line) for line in out.splitlines()]
    assert len(reports) == sent, err[-1000:]  # a report for every message, acked or not
    acked = {r["key"] for r in reports if r["status"] == "delivered"}
    assert len(acked) > sent // 2, err[-1000:]  # the cluster kept taking writes on two brokers
    wait_for("kafka-2 healthy again", lambda: stack.healthy("kafka-2"), 600, every=5)
    wait_for(f"{topic}: all 3 replicas in sync again", lambda: all(
        len(p["isr"]) == 3 for p in stack.kpoc_json("topics", "describe", topic)["partitions"]),
        300, every=5)
    r = stack.kpoc("consume", topic, "--group", "kill-test-check", "--from", "beginning", "-e",
                   "-o", "json", "-q", timeout=180)
    assert r.returncode == 0, r.stderr[-1000:]
    read = Counter(json.loads(line)["key"] for line in r.stdout.splitlines())
    lost = acked - set(read)
    assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
    stack.timings["kill_test_messages_sent"] = sent
    stack.timings["kill_test_messages_acked"] = len(acked)


def test_down_and_up_keeps_the_messages(stack: Stack) -> None:
    before = {t: stack.kpoc_json("topics", "describe", t)["messages"]
              for t in ("teste", "kill-test")}
    stack.compose("down", timeout=300)
    assert not stack.containers()
    t = time.monotonic()
    # The README's command exactly (images are built, so --build costs little).
    stack.compose("up", "-d", "--build", "--wait", "--wait-timeout", "900", timeout=1500)
    stack.timings["second_up_wait_s"] = time.monotonic() - t
    after = {t: stack.kpoc_json("topics", "describe", t)["messages"] for t in before}
    assert after["kill-test"] == before["kill-test"]
    assert after["teste"] == before["teste"] + MESSAGES  # the producer ran once more
    # Logs are per container: the new consumers read only the second run's messages.
    counts = wait_for("the second run's messages consumed too",
                      lambda: stack.consumed_if(lambda c: sum(c.values()) == MESSAGES), 120)
    assert set(counts) == set(range(1, MESSAGES + 1))


def test_down_with_volumes_leaves_nothing_behind(stack: Stack) -> None:
    ids = [c["ID"] for c in stack.containers()]
    volumes = set()
    for cid in ids:
        mounts = subprocess.run(["docker", "inspect", "-f", "{{json .Mounts}}", cid],
                                capture_output=True, text=True, timeout=60)
        volumes |= {m["Name"] for m in json.loads(mounts.stdout) if m["Type"] == "volume"}
    assert len(volumes) >= 3  # the brokers' named volumes at least
    stack.compose("down", "-v", timeout=300)
    stack.down = True
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind in ("container", "network", "volume"):
        extra = ["-a"] if kind == "container" else []
        left = subprocess.run(["docker", kind, "ls", *extra, "-q", "--filter", label],
                              capture_output=True, text=True, timeout=60)
        assert left.returncode == 0 and not left.stdout.strip(), (kind, left.stdout)
    existing = set(_volumes())
    assert not volumes & existing  # the images' anonymous volumes too
    # ... and none left by the plain `down` before the second `up` either.
    assert not existing - stack.volumes_before, sorted(existing - stack.volumes_before)
