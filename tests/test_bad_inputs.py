"""The bad-input catalogue: every row is a mistake a user makes, and the answer kpoc must give.

Each CLI row states the argv, stdin, a substring of the one-line message, the exit code and a
bound in seconds. For every row: no traceback, exactly one line on stderr, answered within the
bound. Library rows state the exception class and message instead. Placeholders in argv
(``{topic}``, ``{http}``, …) are filled from the module's fixtures.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer as RdConsumer
from confluent_kafka import Producer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpoc import api
from kpoc.admin import Admin, parse_reset_target, validate_topic_name
from kpoc.config import ClientConfig, load_config, read_config_file
from kpoc.consumer import Consumer, parse_start
from kpoc.envelope import parse_line
from kpoc.errors import ConfigError, KafkaUnavailable, KpocError, NotFound, UsageError
from kpoc.producer import Producer as KpocProducer
from kpoc.producer import parse_header

#: Messages in the catalogue's topic (enough to overflow the tiny tmpfs row).
FILL = 2000
#: Multiplies every bound, for machines far busier than CI (e.g. KPOC_TEST_SLOWDOWN=3).
SLOWDOWN = float(os.environ.get("KPOC_TEST_SLOWDOWN", "1"))


@dataclass
class Row:
    id: str
    argv: list[str | bytes]  # bytes: what a shell passes for text that is not UTF-8
    expect: str
    code: int
    bound: float = 15.0
    stdin: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdout_to: str | None = None  # a placeholder naming a file to send stdout to
    lines: int = 1  # stderr lines: the error, plus e.g. the failed message's own report
    bug: str | None = None  # a known bug in kpoc: the row is expected to fail until fixed
    prints: str | None = None  # a report command's stdout holds this (else stdout stays empty)
    # Side effects, checked for every row: nothing on stdout (unless stdout_to), nothing written
    # to {topic} by a `produce` row, nothing committed by a group named {unique} (unless
    # stdout_to).


DEAD = "127.0.0.1:1"
ROWS: list[Row] = [
    # -- reaching the cluster -------------------------------------------------------------------
    Row("dead-bootstrap", ["topics", "list", "-b", DEAD, "--timeout", "2"],
        "nothing listens at 127.0.0.1:1 (connection refused)", 5),
    # known at once: within the row's bound (15-20 s on a loaded machine), not the 30 s one
    Row("dns-does-not-resolve", ["topics", "list", "-b", "no-such-host.invalid:9092",
                                 "--timeout", "30"],
        "host no-such-host.invalid:9092 does not resolve", 5, bound=20),
    Row("bootstrap-port-out-of-range", ["topics", "list", "-b", "127.0.0.1:99999",
                                        "--timeout", "30"], "port '99999' is not 1-65535", 2),
    Row("bootstrap-is-a-url", ["topics", "list", "-b", "http://127.0.0.1:9092", "--timeout",
                               "30"], "is a URL, not host:port; drop 'http://'", 2),
    Row("empty-bootstrap", ["topics", "list", "-b", ""], "the bootstrap servers are empty", 2),
    Row("empty-bootstrap-property", ["produce", "-t", "{topic}", "-X", "bootstrap.servers=", "x"],
        "the bootstrap servers are empty", 2),
    Row("not-a-kafka-server", ["topics", "list", "-b", "{http}", "--timeout", "2"],
        "no Kafka broker at", 5),
    Row("produce-dead-bootstrap", ["produce", "-b", DEAD, "--timeout", "2", "-t", "x", "hello"],
        "no Kafka broker at 127.0.0.1:1", 5),
    Row("consume-dead-bootstrap", ["consume", "-b", DEAD, "--timeout", "2", "-t", "x", "-e"],
        "no Kafka broker at 127.0.0.1:1", 5),
    Row("groups-dead-bootstrap", ["groups", "list", "-b", DEAD, "--timeout", "2"],
        "no Kafka broker at 127.0.0.1:1", 5),
    # -- client configuration -------------------------------------------------------------------
    Row("unknown-X-property", ["topics", "list", "-X", "no.such.property=1"],
        "invalid client configuration", 2),
    Row("invalid-X-value", ["produce", "-t", "{topic}", "-X", "linger.ms=soon", "x"],
        "invalid client configuration", 2),
    Row("X-without-equals", ["topics", "list", "-X", "linger.ms"],
        "invalid -X 'linger.ms': expected key=value", 2),
    Row("malformed-config-file", ["topics", "list", "-F", "{bad_config}"],
        "line 2: expected key=value", 2),
    Row("missing-config-file", ["topics", "list", "-F", "{tmp}/nope.properties"],
        "does not exist", 2),
    Row("timeout-zero", ["topics", "list", "--timeout", "0"], "out of range", 2),
    Row("timeout-not-a-number-in-env", ["topics", "list"],
        "Invalid value for KPOC_TIMEOUT: 'soon' is not a valid float; fix or unset KPOC_TIMEOUT",
        2, env={"KPOC_TIMEOUT": "soon"}),
    # -- topics ---------------------------------------------------------------------------------
    Row("unknown-topic-describe", ["topics", "describe", "no-such-topic-kpoc"],
        "topic 'no-such-topic-kpoc' does not exist", 6),
    Row("unknown-topic-produce", ["produce", "-t", "no-such-topic-kpoc", "hello"],
        "topic 'no-such-topic-kpoc' does not exist", 6),
    Row("unknown-topic-consume", ["consume", "-t", "no-such-topic-kpoc", "-e", "-q"],
        "does not exist", 6),
    Row("invalid-topic-name-create", ["topics", "create", "bad name!"],
        "invalid topic name 'bad name!'", 2),
    Row("invalid-topic-name-produce", ["produce", "-t", "bad/name", "x"],
        "invalid topic name", 2),
    Row("rf-greater-than-brokers", ["topics", "create", "{unique}", "--replication-factor", "5"],
        "replication factor 5 is not possible with 3", 2),
    Row("zero-partitions", ["topics", "create", "{unique}", "--partitions", "0"],
        "--partitions must be ≥ 1", 2),
    Row("topic-already-exists", ["topics", "create", "{topic}"], "already exists", 2),
    Row("delete-unknown-topic", ["topics", "delete", "no-such-topic-kpoc", "--yes"],
        "does not exist", 6),
    Row("delete-unknown-topic-asks-nothing", ["topics", "delete", "no-such-topic-kpoc"],
        "does not exist", 6),
    Row("topic-name-collision", ["topics", "create", "{collides}"],
        "collides with existing topic", 2),
    Row("bad-topic-config-keeps-the-reason", ["topics", "create", "{unique}", "-c",
                                              "cleanup.policy=bogus"],
        "Invalid value bogus for configuration cleanup.policy: String must be one of", 2),
    Row("alter-config-bad-value", ["topics", "alter-config", "{topic}", "-c",
                                   "cleanup.policy=bogus"],
        "Invalid value bogus for configuration cleanup.policy", 2),
    Row("alter-config-unknown-key", ["topics", "alter-config", "{topic}", "-c", "no.such=1"],
        "Unknown topic config name: no.such", 2),
    Row("alter-config-unknown-topic", ["topics", "alter-config", "no-such-topic-kpoc", "-c",
                                       "retention.ms=1"], "does not exist", 6),
    Row("alter-config-nothing", ["topics", "alter-config", "{topic}"], "nothing to change", 2),
    # -- producing ------------------------------------------------------------------------------
    Row("message-of-2MB", ["produce", "-t", "{topic}", "--file", "-"], "MSG_SIZE_TOO_LARGE", 8,
        bound=30, stdin=b"x" * (2 * 1024 * 1024), lines=2),
    Row("negative-partition", ["produce", "-t", "{topic}", "-p", "-1", "x"],
        "partition -1 out of range", 2),
    Row("partition-beyond-count", ["produce", "-t", "{topic}", "-p", "3", "x"],
        "partition 3 out of range", 2),
    Row("non-utf8-stdin-as-json-input", ["produce", "-t", "{topic}", "--input", "json"],
        "line 1: not UTF-8", 2, stdin=b"\xff\xfe{}\n"),
    Row("non-utf8-stdin-with-json-check", ["produce", "-t", "{topic}", "--json"],
        "message 1 is not valid JSON", 2, stdin=b"\xff\xfe\n"),
    Row("invalid-json-envelope", ["produce", "-t", "{topic}", "--input", "json"],
        "line 1", 2, stdin=b"{not json\n"),
    Row("empty-key-delimiter", ["produce", "-t", "{topic}", "-K", ""],
        "--key-delimiter must not be empty", 2, stdin=b"k:v\n"),
    Row("message-without-key-delimiter", ["produce", "-t", "{topic}", "-K", ":"],
        "message 1 has no key delimiter", 2, stdin=b"no-delimiter-here\n"),
    Row("header-without-name", ["produce", "-t", "{topic}", "-H", "=value", "x"],
        "invalid header '=value': the name is empty", 2),
    Row("json-header-name-lone-surrogate", ["produce", "-t", "{topic}", "--input", "json"],
        "input line 1: text holds a lone surrogate", 2,
        stdin=b'{"value":"x","headers":[{"key":"\\udcff","value":"v"}]}\n'),
    Row("json-value-lone-surrogate", ["produce", "-t", "{topic}", "--input", "json"],
        "input line 1: text holds a lone surrogate", 2, stdin=b'{"value":"\\udcff"}\n'),
    Row("json-key-lone-surrogate", ["produce", "-t", "{topic}", "--input", "json"],
        "input line 1: text holds a lone surrogate", 2,
        stdin=b'{"key":"\\udcff","value":"a"}\n'),
    Row("json-negative-timestamp", ["produce", "-t", "{topic}", "--input", "json"],
        "input line 1: timestamp -5 is negative", 2, stdin=b'{"value":"a","timestamp":-5}\n'),
    # text that is not UTF-8 reaching librdkafka was a NULL pointer: abort (134) or segfault (139)
    Row("group-name-not-utf8", ["consume", "-t", "{topic}", "-g", b"\xff", "-e", "-q"],
        "value of group.id '\\xff' is not valid UTF-8", 2),
    Row("X-name-not-utf8", ["produce", "-t", "{topic}", "-X", b"\xff=1", "v"],
        "client property name '\\xff' is not valid UTF-8", 2),
    Row("X-value-not-utf8", ["produce", "-t", "{topic}", "-X", b"linger.ms=\xff", "v"],
        "value of linger.ms '\\xff' is not valid UTF-8", 2),
    Row("describe-group-not-utf8", ["groups", "describe", b"\xff"],
        "group name '\\xff' is not valid UTF-8", 2),
    Row("keep-partition-without-json", ["produce", "-t", "{topic}", "--keep-partition", "x"],
        "--keep-partition needs --input json", 2),
    Row("keep-partition-beyond-count", ["produce", "-t", "{topic}", "--input", "json",
                                        "--keep-partition"],
        "partition 7 out of range", 2, stdin=b'{"value":"a","partition":7}\n'),
    Row("load-count-zero", ["produce", "-t", "{topic}", "--count", "0"], "--count must be", 2),
    Row("load-rate-zero", ["produce", "-t", "{topic}", "--count", "10", "--rate", "0"],
        "--rate must be > 0", 2),
    # -- consuming ------------------------------------------------------------------------------
    Row("from-offset-beyond-end", ["consume", "-t", "{topic}", "-g", "{unique}",
                                   "--from", "999999", "-e", "-q"],
        "--from 999999 is beyond the end", 2, bound=30),
    Row("from-timestamp-in-future", ["consume", "-t", "{topic}", "--from", "@99999999999999"],
        "the timestamp is in the future", 2),
    Row("from-garbage", ["consume", "-t", "{topic}", "--from", "yesterday"],
        "invalid --from 'yesterday'", 2),
    Row("consume-partition-beyond-count", ["consume", "-t", "{topic}", "-p", "7", "-e", "-q"],
        "partition 7 out of range", 2, bound=30),
    # confluent-kafka asserted on librdkafka's missing consumer queue: the process aborted
    Row("consume-empty-group", ["consume", "-t", "{topic}", "-e", "-q", "-g", ""],
        "the group id is empty", 2),
    Row("consume-count-zero", ["consume", "-t", "{topic}", "-n", "0", "-q"],
        "--count must be ≥ 1", 2, bound=30),
    Row("stdout-on-a-full-disk", ["consume", "-t", "{topic}", "-g", "{unique}", "--from",
                                  "beginning", "-e", "-q", "-o", "json"],
        "No space left on device", 1, bound=30, stdout_to="{tiny}/out.jsonl"),
    # -- groups ---------------------------------------------------------------------------------
    Row("describe-unknown-group", ["groups", "describe", "no-such-group-kpoc"],
        "consumer group 'no-such-group-kpoc' does not exist", 6),
    Row("reset-invalid-target", ["groups", "reset-offsets", "g", "-t", "{topic}",
                                 "--to", "sideways"], "invalid reset target 'sideways'", 2),
    Row("reset-while-group-active", ["groups", "reset-offsets", "{active_group}", "-t",
                                     "{topic}", "--to", "earliest"],
        "offsets can only be reset while it has none", 2),
    Row("reset-partition-out-of-range", ["groups", "reset-offsets", "{idle_group}", "-t",
                                         "{topic}", "--to", "earliest", "-p", "9"],
        "partition 9 out of range", 2),
    # -- the local cluster ----------------------------------------------------------------------
    Row("cluster-port-taken", ["cluster", "up", "--port", "{busy_port}", "--data-dir",
                               "{tmp}/busy"], "is already in use", 3, bound=60),
    Row("data-dir-not-writable", ["cluster", "up", "--port", "{free_port}", "--data-dir",
                                  "{tmp}/a-file/cluster"], "is not writable", 3, bound=60),
    Row("java-missing", ["cluster", "up", "--port", "{free_port}", "--data-dir", "{tmp}/nojava"],
        "Java not found", 3, env={"KPOC_JAVA": "", "JAVA_HOME": "", "PATH": "/nonexistent"}),
    Row("nodes-out-of-range", ["cluster", "up", "--nodes", "12", "--data-dir", "{tmp}/big"],
        "--nodes 12 is out of range", 2),
    Row("status-without-cluster", ["cluster", "status", "--data-dir", "{tmp}/none"],
        "no local cluster in", 6),
    Row("logs-of-unknown-node", ["cluster", "logs", "9", "--data-dir", "{data_dir}"],
        "node 9 is not in the cluster", 6),
    Row("chaos-unknown-scenario", ["chaos", "99"], "unknown chaos scenario '99'", 2),
    Row("chaos-without-cluster", ["chaos", "1", "--data-dir", "{tmp}/none"],
        "no local cluster in", 1),
    Row("chaos-session-with-kip848", ["chaos", "9", "--group-protocol", "consumer",
                                      "--session-timeout-ms", "10000", "--data-dir", "{tmp}/none"],
        "-X session.timeout.ms is a classic-protocol setting", 2),
    Row("chaos-share-kill-with-group-protocol", ["chaos", "8", "--group-protocol", "classic"],
        "--group-protocol and --session-timeout-ms do not apply", 2),
    # -- the other commands -----------------------------------------------------------------------
    Row("demo-dead-bootstrap", ["demo", "--no-cluster", "-b", DEAD, "--timeout", "2"],
        "no Kafka broker at 127.0.0.1:1", 5),
    Row("console-port-out-of-range", ["console", "--port", "70000"],
        "--port 70000 is out of range; use 1..65535", 2),
    Row("bench-zero-runs", ["bench", "--runs", "0"], "0 is not in the range", 2),
    Row("doctor-dead-bootstrap", ["doctor", "-b", DEAD, "--timeout", "2", "--no-topic"],
        "1 problem found", 1, lines=2, prints="PROBLEM  bootstrap"),
    Row("acls-dead-bootstrap", ["acls", "list", "-b", DEAD, "--timeout", "2"],
        "no Kafka broker at 127.0.0.1:1", 5),
    Row("unknown-command", ["nosuch"], "No such command 'nosuch'", 2),
    Row("unknown-option", ["topics", "list", "--no-such-option"], "--no-such-option", 2),
    Row("missing-argument", ["topics", "create"], "Missing argument 'NAME'", 2),
]


@pytest.fixture(scope="module")
def places(cluster, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Everything the rows' placeholders name, set up once."""
    tmp = tmp_path_factory.mktemp("bad")
    config = ClientConfig(cluster.bootstrap_servers, timeout=30)
    topic = f"bad-inputs-{os.getpid()}-{int(time.time())}"
    dotted = f"bad.inputs.{os.getpid()}.{int(time.time())}"
    with Admin(config) as admin:
        admin.create_topic(topic, 3, 3)
        admin.create_topic(dotted, 1, 1)
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 20})
    for i in range(FILL):
        p.produce(topic, b"%06d" % i + b"." * 94, partition=i % 3)
    assert p.flush(60) == 0

    (tmp / "bad.properties").write_text("# a comment\nthis line has no equals sign\n")
    (tmp / "a-file").write_text("a file where a directory is expected\n")

    class NotKafka(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *a: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotKafka)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()

    tiny = tmp / "tiny"
    tiny.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tiny)],
                             capture_output=True).returncode == 0
    try:
        yield {
            "topic": topic, "tmp": str(tmp), "bad_config": str(tmp / "bad.properties"),
            "collides": dotted.replace(".", "_"),
            "http": f"127.0.0.1:{httpd.server_address[1]}",
            "busy_port": str(busy.getsockname()[1]), "tiny": str(tiny) if mounted else None,
            "bootstrap": cluster.bootstrap_servers, "config": config,
            "data_dir": str(cluster.manager.data_dir) if cluster.manager else None,
        }
    finally:
        httpd.shutdown()
        busy.close()
        if mounted:
            subprocess.run(["umount", str(tiny)], capture_output=True)
        with contextlib.suppress(Exception), Admin(config) as admin:
            admin.delete_topic(topic)
            admin.delete_topic(dotted)


@contextlib.contextmanager
def _active_group(places: dict[str, Any], kpoc_env: dict[str, str], group: str
                  ) -> Iterator[None]:
    """A `kpoc consume` holding the group's partitions while the row runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "kpoc", "consume", "-t", places["topic"], "-g", group, "-o",
         "json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=kpoc_env)
    try:
        with Admin(places["config"]) as admin:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if admin.describe_group(group).members:
                        break
                except NotFound:
                    pass
                assert time.monotonic() < deadline, "the consumer never joined"
                time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _fill(text: str | bytes, values: dict[str, str]) -> str | bytes:
    for k, v in values.items():
        if isinstance(text, bytes):
            text = text.replace(b"{" + k.encode() + b"}", v.encode())
        else:
            text = text.replace("{" + k + "}", v)
    return text


def _high_watermarks(config: ClientConfig, topic: str) -> list[int | None]:
    with Admin(config) as admin:
        return [p.high for p in admin.describe_topic(topic).partitions]


def _committed(bootstrap: str, group: str, topic: str) -> list[int]:
    """The group's committed offsets on ``topic`` (negative: none)."""
    c = RdConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                    "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=30)
        return [tp.offset for tp in got]
    finally:
        c.close()


def _params(rows: list[Row]) -> list[Any]:
    return [pytest.param(r, id=r.id, marks=[pytest.mark.xfail(strict=True, reason=r.bug)]
                         if r.bug else []) for r in rows]


@pytest.mark.parametrize("row", _params(ROWS))
def test_cli_bad_input(row: Row, places, kpoc_env, unique_name, tmp_path, free_base_port):
    values = {k: v for k, v in places.items() if isinstance(v, str)}
    values["unique"] = unique_name("bad")
    values["free_port"] = str(free_base_port)
    values["active_group"] = values["idle_group"] = unique_name("grp")
    if row.stdout_to is not None and places["tiny"] is None:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    if "{data_dir}" in row.argv and places["data_dir"] is None:
        pytest.skip("needs a kpoc-managed cluster (KPOC_BOOTSTRAP_SERVERS is set)")
    argv = [_fill(a, values) for a in row.argv]
    writes_topic = row.argv[0] == "produce" and "{topic}" in row.argv
    before = _high_watermarks(places["config"], places["topic"]) if writes_topic else None
    env = {**kpoc_env, **row.env}
    for k, v in row.env.items():
        if v == "":
            env.pop(k)
    ctx: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if row.id == "reset-while-group-active":
        ctx = _active_group(places, kpoc_env, values["active_group"])
    if row.id == "reset-partition-out-of-range":
        # an idle group with a commit: consume one message, leave
        r = subprocess.run([sys.executable, "-m", "kpoc", "consume", "-t", places["topic"],
                            "-g", values["idle_group"], "-n", "1", "-q"],
                           capture_output=True, timeout=60, env=kpoc_env)
        assert r.returncode == 0, r.stderr
    with ctx:
        out = Path(str(_fill(row.stdout_to, values))) if row.stdout_to else tmp_path / "stdout"
        with out.open("wb") as stdout:
            t0 = time.monotonic()
            r = subprocess.run([sys.executable, "-m", "kpoc", *argv], input=row.stdin or b"",
                               stdout=stdout, stderr=subprocess.PIPE, env=env,
                               timeout=row.bound * SLOWDOWN + 30)
            elapsed = time.monotonic() - t0
    stderr = r.stderr.decode(errors="replace")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    assert r.returncode == row.code, f"exit {r.returncode}, stderr: {stderr}"
    assert row.expect in stderr, stderr
    assert len(lines) == row.lines, f"expected {row.lines} stderr line(s): {stderr}"
    assert lines[-1].startswith("kpoc: error: "), stderr
    assert all(ln.strip() for ln in stderr.rstrip("\n").split("\n")), f"blank line: {stderr!r}"
    assert elapsed < row.bound * SLOWDOWN, f"took {elapsed:.1f}s, bound {row.bound}s"
    # ... and nothing happened: nothing printed, written or committed.
    if row.prints is not None:
        assert row.prints in out.read_text(errors="replace"), out.read_bytes()[:300]
    elif row.stdout_to is None:
        assert out.read_bytes() == b"", out.read_bytes()[:300]
    if before is not None:
        assert _high_watermarks(places["config"], places["topic"]) == before, "a message was sent"
    # (a full disk is the exception: what was written before it filled is committed)
    if "-g" in row.argv and row.argv[row.argv.index("-g") + 1] == "{unique}" \
            and row.stdout_to is None:
        assert max(_committed(places["bootstrap"], values["unique"], places["topic"])) < 0


# -- the library API ----------------------------------------------------------------------------

@dataclass
class ApiRow:
    id: str
    call: Callable[[dict[str, Any]], object]
    error: type[KpocError]
    expect: str
    bound: float = 15.0


def _dead_admin(_: dict[str, Any]) -> object:
    with Admin(ClientConfig(DEAD, timeout=2)) as a:
        return a.list_topics()


def _consumer_no_topic(p: dict[str, Any]) -> object:
    return Consumer(ClientConfig(p["bootstrap"]), [])


def _consume_unknown_topic(p: dict[str, Any]) -> object:
    with Consumer(ClientConfig(p["bootstrap"], timeout=5), ["no-such-topic-kpoc"]) as c:
        return list(c.records(count=1, exit_at_end=True))


def _send_surrogate_header_name(p: dict[str, Any]) -> object:
    """Through the library: a lone surrogate that stands for no byte (\\udcff would stand
    for the byte 0xff and be sent as it)."""
    reports: list[object] = []
    with KpocProducer(ClientConfig(p["bootstrap"]), reports.append) as producer:
        producer.send(p["topic"], b"v", headers=[("\ud800", b"v")])
    return reports


API_ROWS = [
    ApiRow("admin-dead-bootstrap", _dead_admin, KafkaUnavailable, "no Kafka broker at"),
    ApiRow("load-config-bad-property", lambda p: load_config(properties=["nokey"]),
           ConfigError, "expected key=value"),
    ApiRow("load-config-bad-timeout", lambda p: load_config(timeout=-1), ConfigError,
           "out of range"),
    ApiRow("read-config-file-missing", lambda p: read_config_file(p["tmp"] + "/none"),
           ConfigError, "does not exist"),
    ApiRow("topic-name-validation", lambda p: validate_topic_name("a b"), UsageError,
           "invalid topic name"),
    ApiRow("reset-target", lambda p: parse_reset_target("tomorrow"), UsageError,
           "invalid reset target"),
    ApiRow("start-in-future", lambda p: parse_start("@99999999999999"), UsageError,
           "in the future"),
    ApiRow("api-bootstrap-not-a-str",
           lambda p: api.Producer(api.client_config("127.0.0.1:1")),  # type: ignore[arg-type]
           ConfigError, "bootstrap_servers must be a str, got ClientConfig"),
    ApiRow("api-header-without-name", lambda p: parse_header("=x"), UsageError,
           "invalid header"),
    ApiRow("consumer-without-topics", _consumer_no_topic, UsageError, "no topic given"),
    ApiRow("send-header-name-lone-surrogate", _send_surrogate_header_name, UsageError,
           "header name '\\xed\\xa0\\x80' holds a lone surrogate"),
    ApiRow("parse-header-name-lone-surrogate", lambda p: parse_header("\ud800=v"), UsageError,
           "holds a lone surrogate"),
    ApiRow("envelope-lone-surrogate", lambda p: parse_line('{"value": "\\udcff"}', 3),
           UsageError, "input line 3: text holds a lone surrogate"),
    ApiRow("api-empty-bootstrap", lambda p: load_config(bootstrap_servers=""), ConfigError,
           "the bootstrap servers are empty"),
    ApiRow("consume-unknown-topic", _consume_unknown_topic, NotFound, "does not exist"),
    ApiRow("describe-unknown-topic",
           lambda p: Admin(p["config"]).describe_topic("no-such-topic-kpoc"), NotFound,
           "does not exist"),
    ApiRow("create-rf-too-high",
           lambda p: Admin(p["config"]).create_topic("never-created-kpoc", 1, 7), UsageError,
           "replication factor 7 is not possible"),
]


@pytest.mark.parametrize("row", API_ROWS, ids=[r.id for r in API_ROWS])
def test_library_bad_input(row: ApiRow, places):
    t0 = time.monotonic()
    with pytest.raises(row.error) as info:
        row.call(places)
    assert row.expect in str(info.value)
    assert "\n" not in str(info.value)
    assert time.monotonic() - t0 < row.bound * SLOWDOWN


def test_every_command_has_a_row_and_every_row_its_own_id():
    from kpoc.cli import cli

    missing = set(cli.commands) - {r.argv[0] for r in ROWS}
    assert not missing, f"add a bad-input row for: kpoc {', '.join(sorted(missing))}"
    ids = [r.id for r in ROWS] + [r.id for r in API_ROWS]
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)



# -- any bytes, anywhere ------------------------------------------------------------------------

#: Commands with one slot ("@") for arbitrary bytes (as a shell passes them, NUL aside).
FUZZ_TEMPLATES: list[list[str]] = [
    ["produce", "-t", "{topic}", "-k", "@", "@"],
    ["produce", "-t", "{topic}", "-H", "@", "v"],
    ["produce", "-t", "{topic}", "-K", "@"],
    ["produce", "-t", "{topic}", "-D", "@"],
    ["produce", "-t", "{topic}", "--input", "json"],
    ["consume", "-t", "{topic}", "-e", "-q", "-c", "1", "-f", "@", "-g", "@"],
    ["consume", "-t", "{topic}", "--from", "@", "-e", "-q", "-c", "1"],
    ["topics", "create", "@"],
    ["topics", "alter-config", "{topic}", "-c", "@"],
    ["topics", "alter-config", "{topic}", "--delete", "@"],
    ["groups", "describe", "@"],
    ["groups", "reset-offsets", "@", "-t", "{topic}", "--to", "@"],
    ["acls", "list", "--topic", "@"],
    ["topics", "list", "-b", "@", "--timeout", "3"],
    ["topics", "list", "-X", "@"],
]
_FUZZ_BYTES = st.lists(st.sampled_from(list(b"\xff\xfe\x80\xc3\n\x1b=%{}\"\\:,A ")),
                       max_size=6).map(bytes)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(FUZZ_TEMPLATES), slots=st.lists(_FUZZ_BYTES, min_size=2,
                                                                 max_size=2), stdin=_FUZZ_BYTES)
def test_arbitrary_bytes_in_any_argument_never_crash(places, kpoc_env, template, slots, stdin):
    """Whatever bytes reach an argument or stdin: no abort or segfault, no traceback, at most one
    error line (plus a failed message's own report)."""
    fill = iter(slots * 3)
    argv = [next(fill) if a == "@" else _fill(a, {"topic": places["topic"]}) for a in template]
    r = subprocess.run([sys.executable, "-m", "kpoc", *argv], input=stdin + b"\n",
                       capture_output=True, timeout=90, env=kpoc_env)
    stderr = r.stderr.decode(errors="replace")
    assert r.returncode >= 0 and r.returncode not in (134, 139), (argv, r.returncode, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    assert len([ln for ln in stderr.splitlines() if ln.strip()]) <= 2, (argv, stderr)
