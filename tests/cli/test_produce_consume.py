"""The `kpoc produce` / `kpoc consume` commands, end to end, against the real cluster."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kpoc.admin import Admin
from kpoc.config import ClientConfig


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_produce_prints_a_report_per_message(run_kpoc, make_topic):
    topic = make_topic(1, 3)
    r = run_kpoc("produce", "-t", topic, "one", "two", "-k", "user-1", "-H", "a=1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert all(f"delivered to {topic} [" in ln and "@ offset" in ln for ln in lines)
    j = run_kpoc("produce", "-t", topic, "-o", "json", "three")
    [rep] = _json_lines(j.stdout)
    assert rep["status"] == "delivered" and rep["offset"] == 2 and rep["topic"] == topic


def test_stdin_with_key_delimiter_and_consume_formats(run_kpoc, make_topic):
    topic = make_topic(1, 3)
    r = run_kpoc("produce", "-t", topic, "-K", ":", input="k1:v1\nk2:v2\n")
    assert r.returncode == 0, r.stderr
    c = run_kpoc("consume", topic, "-e", "-g", "fmt", "-f", "%k=%s@%o\\n")
    assert c.stdout == "k1=v1@0\nk2=v2@1\n", c.stderr
    assert "assigned" in c.stderr
    human = run_kpoc("consume", topic, "-e", "-g", "human", "-q")
    assert f"{topic} [0] @ 0" in human.stdout and "key=k1" in human.stdout and "v2" in human.stdout


def test_envelope_round_trip_is_lossless(run_kpoc, make_topic, cluster):
    """consume -o json | produce --input json copies binary keys, values, repeated headers."""
    src, dst = make_topic(1, 3), make_topic(1, 3)
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    p.produce(src, value=b"\x00\xff\xfebin", key=b"\xc3\x28",
              headers=[("h", b"1"), ("h", b"\xff"), ("empty", b"")])
    p.produce(src, value="ünïcode ✓".encode(), key=None)
    p.produce(src, value=None, key=b"tombstone")
    assert p.flush(20) == 0
    exported = run_kpoc("consume", src, "-e", "-g", "exp", "-o", "json")
    assert exported.returncode == 0, exported.stderr
    docs = _json_lines(exported.stdout)
    assert docs[0]["value_encoding"] == "base64"
    assert base64.b64decode(docs[0]["value"]) == b"\x00\xff\xfebin"
    assert [h["key"] for h in docs[0]["headers"]] == ["h", "h", "empty"]
    imported = run_kpoc("produce", "-t", dst, "--input", "json", input=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    again = run_kpoc("consume", dst, "-e", "-g", "imp", "-o", "json")
    strip = [{k: v for k, v in d.items() if k not in ("topic", "timestamp")}
             for d in _json_lines(again.stdout)]
    assert strip == [{k: v for k, v in d.items() if k not in ("topic", "timestamp")}
                     for d in docs]


@pytest.mark.skipif(shutil.which("kcat") is None, reason="Debian's kcat is not installed")
def test_text_and_format_tell_a_null_header_from_an_empty_one(run_kpoc, make_topic, cluster):
    """A null header value is the bare name, an empty one ``name=`` (-o json aside)."""
    topic = make_topic(1, 3)
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    p.produce(topic, value=b"v", headers=[("gone", None), ("blank", b""), ("x", b"1")])
    assert p.flush(20) == 0
    fmt = run_kpoc("consume", topic, "-e", "-g", "fmt", "-q", "-f", "%h\\n")
    assert fmt.stdout == "gone,blank=,x=1\n", fmt.stderr
    human = run_kpoc("consume", topic, "-e", "-g", "human", "-q")
    assert "headers=gone,blank=,x=1" in human.stdout, human.stderr
    # ... and `kpoc produce -H` reads that form back: a bare name sends a null value.
    again = make_topic(1, 3)
    sent = run_kpoc("produce", "-t", again, "-H", "gone", "-H", "blank=", "-H", "x=1",
                    input="v\n")
    assert sent.returncode == 0, sent.stderr
    out = run_kpoc("consume", again, "-e", "-g", "json", "-q", "-o", "json")
    assert [(h["key"], h["value"]) for h in json.loads(out.stdout)["headers"]] == [
        ("gone", None), ("blank", ""), ("x", "1")], out.stderr


def test_interop_with_kcat_both_ways(run_kpoc, make_topic, cluster):
    topic = make_topic(1, 3)
    assert run_kpoc("produce", "-t", topic, "-k", "from-kpoc", "-H", "x=1", "-H", "x=2",
                    "hello kcat").returncode == 0
    out = subprocess.run(["kcat", "-b", cluster.bootstrap_servers, "-C", "-t", topic, "-e",
                          "-J", "-q"], capture_output=True, text=True, timeout=60)
    [msg] = _json_lines(out.stdout)
    assert (msg["key"], msg["payload"], msg["headers"]) == ("from-kpoc", "hello kcat",
                                                          ["x", "1", "x", "2"])
    subprocess.run(["kcat", "-b", cluster.bootstrap_servers, "-P", "-t", topic, "-k",
                    "from-kcat", "-H", "y=3", "-H", "y=4"], input="hello kpoc", text=True,
                   check=True, timeout=60)
    c = run_kpoc("consume", topic, "-e", "-g", "interop", "-o", "json")
    docs = _json_lines(c.stdout)
    assert docs[1]["key"] == "from-kcat" and docs[1]["value"] == "hello kpoc"
    assert [(h["key"], h["value"]) for h in docs[1]["headers"]] == [("y", "3"), ("y", "4")]


def _spawn(kpoc_env, *args, stdout=subprocess.PIPE):
    return subprocess.Popen([sys.executable, "-m", "kpoc", *args], env=kpoc_env,
                            stdout=stdout, stderr=subprocess.PIPE, text=True)


def _stop_all(procs):
    """SIGTERM every consumer still running (it commits and leaves), then reap them all."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        p.communicate(timeout=30)


def _wait_group(admin, group, members, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = admin.describe_group(group)
        except Exception:
            info = None
        if info and info.state == "STABLE" and len(info.members) == members and \
                sum(len(m.assignment) for m in info.members) == 3:
            return info
        time.sleep(0.5)
    raise AssertionError(f"group {group} did not settle with {members} members")


def test_group_of_four_has_one_idle_and_loses_nothing_on_a_kill(
        kpoc_env, make_topic, unique_name, cluster, run_kpoc, tmp_path):
    """The seed's diagram: 4 consumers, 3 partitions; kill a busy one, the idle one takes over."""
    topic, group = make_topic(), unique_name("g")
    keyed = "".join(f"k{i}:v{i}\n" for i in range(300))  # keys spread over the partitions
    assert run_kpoc("produce", "-t", topic, "-q", "-K", ":", input=keyed).returncode == 0
    procs = {f"c{i}": _spawn(kpoc_env, "consume", topic, "-g", group, "-o", "json",
                             "-X", f"client.id=c{i}", "-X", "session.timeout.ms=6000",
                             "-X", "heartbeat.interval.ms=500",
                             stdout=(tmp_path / f"c{i}.jsonl").open("w"))
             for i in range(4)}
    admin = Admin(ClientConfig(cluster.bootstrap_servers, timeout=15))
    try:
        info = _wait_group(admin, group, 4)
        idle = [m.client_id for m in info.members if m.idle]
        assert len(idle) == 1, info
        busy = next(m for m in info.members if not m.idle)
        procs[busy.client_id].kill()  # SIGKILL: no goodbye, the session must time out
        moved_to = None
        deadline = time.monotonic() + 60
        while moved_to is None and time.monotonic() < deadline:
            time.sleep(1)
            info = admin.describe_group(group)
            owners = {tp: m.client_id for m in info.members for tp in m.assignment}
            if len(info.members) == 3 and busy.assignment[0] in owners:
                moved_to = owners[busy.assignment[0]]
        assert moved_to == idle[0], info
        assert run_kpoc("produce", "-t", topic, "-q", "-K", ":", input=keyed).returncode == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every partition committed up to its end
            lags = admin.describe_group(group).lags
            if len(lags) == 3 and all(x.lag == 0 for x in lags):
                break
            time.sleep(0.5)
    finally:
        _stop_all(procs.values())
    seen = {(d["partition"], d["offset"]) for i in range(4)
            for d in _json_lines((tmp_path / f"c{i}.jsonl").read_text())}
    with admin:
        t = admin.describe_topic(topic)
    produced = {(p.id, o) for p in t.partitions for o in range(p.low or 0, p.high or 0)}
    assert len(produced) == 600
    assert produced <= seen, f"lost: {sorted(produced - seen)[:10]}"


def test_interrupt_commits_and_restart_neither_skips_nor_rereads(kpoc_env, make_topic,
                                                                 unique_name, run_kpoc):
    topic, group = make_topic(1, 3), unique_name("g")
    assert run_kpoc("produce", "-t", topic, "-q", "-n", "2000", "-s", "10").returncode == 0
    p = _spawn(kpoc_env, "consume", topic, "-g", group, "-o", "json", "-f", "")
    first = []
    assert p.stdout is not None
    while len(first) < 50:
        first.append(p.stdout.readline())
    p.send_signal(signal.SIGINT)
    # Read through the same buffered reader as readline() (communicate() would skip what it
    # already read ahead and cut a line).
    rest = p.stdout.read()
    assert p.stderr is not None
    err = p.stderr.read()
    p.wait(timeout=30)
    assert p.returncode == 0, err
    assert "committing" in err
    before = {json.loads(ln)["offset"] for ln in first + rest.splitlines(True)}
    after = run_kpoc("consume", topic, "-g", group, "-e", "-o", "json")
    again = [d["offset"] for d in _json_lines(after.stdout)]
    assert set(again) | before == set(range(2000)), "a message was skipped"
    assert len(before & set(again)) <= 1, "re-read more than the in-flight message"


@pytest.mark.parametrize("output", ["text", "json"])
def test_produce_into_a_closed_pipe_still_sends_everything(make_topic, kpoc_env, output):
    """`kpoc produce … | head -1`: the reports' reader goes away after one line; every message
    is still sent, and the exit code says the pipe closed (141), as consume's does."""
    topic = make_topic(1, 3)
    cmd = (f"seq 1 5000 | {sys.executable} -m kpoc produce -t {topic} -o {output} | head -1; "
           "exit ${PIPESTATUS[1]}")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120,
                       env=kpoc_env)
    assert r.returncode == 141, r.stderr
    assert len(r.stdout.splitlines()) == 1 and r.stderr == ""
    with Admin(ClientConfig(kpoc_env["KPOC_BOOTSTRAP_SERVERS"], timeout=30)) as admin:
        assert admin.describe_topic(topic).messages == 5000


def test_a_replacement_waits_while_the_group_waits_for_a_killed_member(
        kpoc_env, make_topic, unique_name, cluster, run_kpoc):
    """Issue 17, defect 3: the group holds its rebalance until a SIGKILLed member's session
    expires; the replacement started at once must say so, wait, and then consume."""
    topic, group = make_topic(), unique_name("g")
    keyed = "".join(f"k{i}:v{i}\n" for i in range(30))
    assert run_kpoc("produce", "-t", topic, "-q", "-K", ":", input=keyed).returncode == 0
    session = ["-X", "session.timeout.ms=10000", "-X", "heartbeat.interval.ms=500"]
    members = {name: _spawn(kpoc_env, "consume", topic, "-g", group, "-q", "-X",
                            f"client.id={name}", *session, stdout=subprocess.DEVNULL)
               for name in ("old-a", "old-b")}
    admin = Admin(ClientConfig(cluster.bootstrap_servers, timeout=15))
    try:
        _wait_group(admin, group, 2)
        members["old-a"].kill()  # no goodbye: the group waits for its session to expire
        members["old-a"].wait(timeout=10)
        started = time.monotonic()
        r = run_kpoc("consume", topic, "-g", group, "--from", "beginning", "-e", "-o", "json",
                     "--timeout", "4", "-X", "client.id=new-c", *session, timeout=60)
        took = time.monotonic() - started
    finally:
        _stop_all(members.values())
    assert r.returncode == 0, r.stderr
    events = _json_lines(r.stderr)
    waiting = [e for e in events if e["event"] == "waiting"]
    assert waiting and waiting[0]["bound"] == 10, r.stderr
    assert any(m.startswith("old-a at ") for m in waiting[0]["members"]), waiting
    assert any(e["event"] == "assigned" for e in events), r.stderr
    assert _json_lines(r.stdout), "the replacement read nothing"
    assert took > 4, f"assigned after {took:.1f}s: the group did not wait for old-a"
