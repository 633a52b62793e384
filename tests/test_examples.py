"""Every program in examples/ run as a user would (``python examples/NAME.py``) against the real
test cluster: what it printed, and what the topic holds afterwards."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kpoc import Admin, Consumer, Producer

EXAMPLES = Path(__file__).parents[1] / "examples"


def _topic_values(bootstrap: str, topic: str, group: str) -> list[tuple[int, int, bytes]]:
    """(partition, offset, value) of every message in ``topic``, read by a fresh group."""
    with Consumer(topic, group, bootstrap, timeout=30) as c:
        return [(r.partition or 0, r.offset or 0, r.value or b"")
                for r in c.records(exit_at_end=True)]


def _run(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=90, env=env)


def _wait_for(what: str, check: Callable[[], bool], bound: float = 60) -> None:
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {bound:g}s: {what}")
        time.sleep(0.2)


@pytest.fixture
def env(kpoc_env: dict[str, str], make_topic: Callable[..., str],
        unique_name: Callable[[str], str]) -> dict[str, str]:
    return {**kpoc_env, "KPOC_TOPIC": make_topic(), "KPOC_GROUP": unique_name("group")}


def test_every_example_is_short_and_reads_the_environment():
    names = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert names == ["async_producer.py", "consumer.py", "kpoc_consumer.py", "kpoc_producer.py",
                     "producer.py"]
    for name in names:
        text = (EXAMPLES / name).read_text()
        assert len(text.splitlines()) <= 70, name
        assert "KPOC_BOOTSTRAP_SERVERS" in text and "KPOC_TOPIC" in text, name


@pytest.mark.parametrize("name", ["producer.py", "kpoc_producer.py"])
def test_producer_prints_the_delivery_report_of_what_landed(name, env, cluster, unique_name):
    proc = _run(name, env, "olá kafka")
    assert proc.returncode == 0, proc.stderr
    m = re.match(rf"delivered to {env['KPOC_TOPIC']} partition (\d) offset (\d+)", proc.stdout)
    assert m, proc.stdout
    held = _topic_values(cluster.bootstrap_servers, env["KPOC_TOPIC"], unique_name("check"))
    assert held == [(int(m[1]), int(m[2]), "olá kafka".encode())]


@pytest.mark.parametrize(("name", "reason", "bound"), [
    # librdkafka waits for the topic to appear until message.timeout.ms (10 s in producer.py);
    ("producer.py", "not delivered: _MSG_TIMED_OUT", 30),
    # kpoc asks for the topic's metadata first and names the problem at once.
    ("kpoc_producer.py", "does not exist", 8),
])
def test_producer_to_a_missing_topic_exits_non_zero_with_the_reason(name, reason, bound, env,
                                                                     unique_name):
    env = {**env, "KPOC_TOPIC": unique_name("missing")}
    start = time.monotonic()
    proc = _run(name, env)
    assert time.monotonic() - start < bound
    assert proc.returncode == 1 and proc.stdout == ""
    assert reason in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["consumer.py", "kpoc_consumer.py"])
def test_four_consumers_on_three_partitions_one_idle_all_read_sigterm_leaves(
        name, env, cluster, tmp_path):
    topic, group = env["KPOC_TOPIC"], env["KPOC_GROUP"]
    sent = {f"m{i}".encode() for i in range(30)}
    with Producer(cluster.bootstrap_servers) as p:
        deliveries = [p.send(topic, v, key=v) for v in sorted(sent)]
        assert all(d.result().ok for d in deliveries)
    outs = [tmp_path / f"c{i}.out" for i in range(4)]
    # A 45 s session (librdkafka's default, which consumer.py has; kpoc's is 10 s), so that a
    # member gone within the bound below left the group rather than timed out.
    session = tmp_path / "session.properties"
    session.write_text("session.timeout.ms=45000\n")
    env = {**env, "KPOC_CONFIG_FILE": str(session)}
    procs = [subprocess.Popen([sys.executable, str(EXAMPLES / name)], env=env, text=True,
                              stdout=o.open("w"), stderr=subprocess.STDOUT) for o in outs]
    try:
        printed = re.compile(rf"^{topic}\[(\d)\] offset (\d+): (m\d+)$", re.M)

        def read_all() -> bool:
            got = [m[3] for o in outs for m in printed.finditer(o.read_text())]
            return {g.encode() for g in got} == sent

        _wait_for("all 30 messages printed", read_all, 120)
        with Admin(cluster.bootstrap_servers, timeout=30) as admin:
            def one_idle() -> bool:
                info = admin.describe_group(group)
                return len(info.members) == 4 and len(info.idle_members) == 1
            _wait_for("4 members, one idle", one_idle, 90)
            # The idle member says so from its rebalance callback, which runs in its next poll:
            # a moment after the group shows it idle.
            _wait_for("a consumer to print that it is idle",
                      lambda: any("idle" in o.read_text() for o in outs), 30)
            # A rolling stop, one SIGTERM at a time once the group has settled: n members, stable,
            # and all 3 partitions assigned again. (cooperative-sticky rebalances in two rounds;
            # "stable" alone is also true between them, and a member stopped in the middle of the
            # second round stays listed until the coordinator gives up on its rejoin.)
            def settled(n: int) -> bool:
                info = admin.describe_group(group)
                held = {tp for m in info.members for tp in m.assignment}
                return (len(info.members) == n and info.state == "STABLE"
                        and held == {(topic, i) for i in range(3)})

            for left, (p, o) in enumerate(zip(procs, outs, strict=True), 1):
                members = 5 - left
                _wait_for(f"the group settled with {members} members",
                          lambda n=members: settled(n), 90)
                p.send_signal(signal.SIGTERM)
                assert p.wait(timeout=30) == 0, o.read_text()[-500:]
                assert o.read_text().rstrip().endswith("left the group")

                def gone(n: int = 4 - left) -> bool:
                    info = admin.describe_group(group)
                    return len(info.members) == n
                # Left cleanly: gone from the group before the session timeout (45 s) could
                # have removed it.
                _wait_for(f"{4 - left} members left in the group", gone, 40)
            assert admin.describe_group(group).total_lag == 0  # all read and committed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_async_producer_answers_each_line_with_its_delivery_report(env, cluster, unique_name):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "async_producer.py")],
                            env={**env, "KPOC_PORT": str(port)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(f"listening on 127.0.0.1:{port}")
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(b"um\ndois\ntres\n")
            reader = s.makefile("r")
            reports = [json.loads(reader.readline()) for _ in range(3)]
        assert [r["status"] for r in reports] == ["delivered"] * 3, reports
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert out.strip() == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    held = _topic_values(cluster.bootstrap_servers, env["KPOC_TOPIC"], unique_name("check"))
    assert sorted(held) == sorted((r["partition"], r["offset"], v)
                                  for r, v in zip(reports, [b"um", b"dois", b"tres"],
                                                  strict=True))
