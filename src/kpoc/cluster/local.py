"""A real Apache Kafka KRaft cluster run as local JVM processes on 127.0.0.1.

Each node is a combined broker+controller in ``<data-dir>/node-N`` with its own
``server.properties``, data, logs and pid file. ``cluster.json`` records the cluster id and ports,
so ``up`` after ``down`` restarts the same cluster with its data.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ClusterError, NotFound, PrerequisiteError, UsageError
from . import _secure
from ._java import check_java, ensure_jars, find_java
from ._props import (
    KAFKA_VERSION,
    LOG4J2_PROPERTIES,
    NodeSpec,
    node_properties,
    node_specs,
    render_properties,
)
from ._state import (
    DEFAULT_NODES,
    STATE_FILE,
    ClusterState,
    ClusterStatus,
    NodeStatus,
    Progress,
    read_state,
)
from .mock import stop_mock

DEFAULT_PORT = 9092
_WATCHDOG = str(Path(__file__).with_name("_watchdog.py"))
DEFAULT_TIMEOUT = 90.0
_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]

def _silent(_: str) -> None:
    pass


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _owner_pid(env: Mapping[str, str]) -> int | None:
    text = env.get("KPOC_CLUSTER_OWNER_PID", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"KPOC_CLUSTER_OWNER_PID={text!r} is not a process id",
                         "set it to the pid the cluster must not outlive, or unset it")
    return int(text)


def _pid_alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and its command line mentions ``marker`` (guards pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and marker in cmdline


def tail(path: Path, lines: int = 20) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


class LocalCluster:
    """Start, stop and inspect a local cluster rooted at ``data_dir``."""

    def __init__(self, data_dir: Path, env: Mapping[str, str] | None = None,
                 owner: int | None = None) -> None:
        """``owner``: the pid of a process the nodes this object starts must not outlive (a
        test session; default ``KPOC_CLUSTER_OWNER_PID``, else none: `kpoc cluster up`'s nodes
        outlive the CLI). A watchdog SIGKILLs each such node within a second of its owner's end,
        SIGKILL of the owner included."""
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.env = dict(os.environ if env is None else env)
        self.owner = owner if owner is not None else _owner_pid(self.env)
        self.state_path = self.data_dir / STATE_FILE
        self._warmups: list = []  # in-flight warm-up requests of _wait_ready

    # -- state ---------------------------------------------------------------------------------
    label: str | None = None

    def state(self) -> ClusterState | None:
        return read_state(self.data_dir)

    def _require_state(self) -> ClusterState:
        st = self.state()
        if st is None:
            raise NotFound(
                f"no local cluster in {self.data_dir}", "create one with `kpoc cluster up`"
            )
        return st

    def node_dir(self, node_id: int) -> Path:
        return self.data_dir / f"node-{node_id}"

    def _node(self, st: ClusterState, node_id: int) -> NodeSpec:
        for n in st.nodes:
            if n.node_id == node_id:
                return n
        ids = ", ".join(str(i) for i in st.node_ids)
        raise NotFound(f"node {node_id} is not in the cluster", f"pick one of: {ids}")

    def _pid(self, node_id: int) -> int | None:
        try:
            pid = int((self.node_dir(node_id) / "pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid, str(self.node_dir(node_id))) else None

    # -- inspection ----------------------------------------------------------------------------
    def quorum_leader(self, st: ClusterState | None = None) -> int | None:
        """The KRaft quorum leader, read from the live nodes' ``quorum-state`` files."""
        st = st or self._require_state()
        best: tuple[int, int] | None = None
        for n in st.nodes:
            if self._pid(n.node_id) is None:
                continue
            qs = self.node_dir(n.node_id) / "data" / "__cluster_metadata-0" / "quorum-state"
            try:
                data = json.loads(qs.read_text())
            except (OSError, ValueError):
                continue
            leader, epoch = int(data.get("leaderId", -1)), int(data.get("leaderEpoch", -1))
            if leader >= 0 and (best is None or epoch > best[1]):
                best = (leader, epoch)
        if best is None or self._pid(best[0]) is None:
            return None
        return best[0]

    def status(self) -> ClusterStatus:
        st = self._require_state()
        leader = self.quorum_leader(st)
        nodes = []
        for n in st.nodes:
            pid = self._pid(n.node_id)
            nodes.append(
                NodeStatus(
                    n.node_id, pid, n.client_port, n.controller_port,
                    up=pid is not None and port_open(n.client_port, n.host),
                    quorum_leader=leader == n.node_id,
                )
            )
        return ClusterStatus(
            "kafka", st.cluster_id, st.kafka_version, st.bootstrap_servers,
            str(self.data_dir), nodes, leader, secure=st.secure,
        )

    def logs(self, node_id: int, lines: int = 50) -> list[str]:
        st = self._require_state()
        self._node(st, node_id)
        d = self.node_dir(node_id) / "logs"
        return tail(d / "server.log", lines) or tail(d / "stdout.log", lines)

    # -- lifecycle -----------------------------------------------------------------------------
    def up(
        self,
        nodes: int | None = None,
        port: int = DEFAULT_PORT,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress = _silent,
        overrides: Mapping[str, str] | None = None,
        secure: bool = False,
    ) -> tuple[str, bool]:
        """Create (first time) and start every node; return (bootstrap, was_already_running).

        ``overrides`` replace generated broker properties of every node at creation (tests use it
        to add a listener, e.g. a deliberately misadvertised one).

        ``secure`` (at creation only) makes a TLS + SASL/SCRAM + ACL cluster (see ``_secure``).
        ``nodes`` None: DEFAULT_NODES at creation, the existing cluster's size afterwards; a
        number given must match an existing cluster's.
        """
        if nodes is not None and not 1 <= nodes <= 9:
            raise UsageError(f"--nodes {nodes} is out of range", "use 1 to 9 nodes")
        st = self.state()
        if st is not None and st.engine != "kafka":
            raise UsageError(
                f"{self.data_dir} holds a {st.engine} cluster",
                "run `kpoc cluster destroy` first or pick another --data-dir",
            )
        if st is not None and nodes is not None and len(st.nodes) != nodes:
            raise UsageError(
                f"the cluster in {self.data_dir} has {len(st.nodes)} nodes, not {nodes}",
                "run `kpoc cluster destroy` first to change its size",
            )
        if st is not None and secure and not st.secure:
            raise UsageError(
                f"the cluster in {self.data_dir} was created without --secure",
                "run `kpoc cluster destroy` first, or pick another --data-dir",
            )
        if st is not None and all(self._pid(i) for i in st.node_ids):
            return st.bootstrap_servers, True
        start = time.monotonic()
        java = find_java(self.env)
        check_java(java)
        libs = ensure_jars(self.env)
        created = st is None
        if st is None:
            st = self._create(nodes or DEFAULT_NODES, port, java, libs, progress, overrides or {},
                              secure)
        specs = [n for n in list(st.nodes) if self._pid(n.node_id) is None]
        self._check_ports(specs, st.secure)
        progress(f"starting {len(specs)} node(s): " + ", ".join(str(n.node_id) for n in specs))
        for n in specs:
            self._spawn(n, java, libs)
        self._wait_ready(st, [n.node_id for n in specs], start + timeout, timeout)
        if created and st.secure:
            _secure.grant_demo_acls(self.admin_properties(st), max(5.0, start + timeout -
                                                                   time.monotonic()))
        progress(f"ready in {time.monotonic() - start:.1f}s")
        return st.bootstrap_servers, False

    def _create(self, count: int, port: int, java: str, libs: Path, progress: Progress,
                overrides: Mapping[str, str], secure: bool = False) -> ClusterState:
        specs = node_specs(count, port)
        self._check_ports(specs, secure)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise PrerequisiteError(
                f"data dir {self.data_dir} is not writable: {exc.strerror}",
                "pick another with --data-dir or KPOC_DATA_DIR",
            )
        cid = new_cluster_id()
        progress(f"formatting {count} node(s), cluster id {cid}" + (" (secure)" if secure else ""))
        bootstrap = ",".join(n.client_address for n in specs)
        scram: list[str] = []
        if secure:
            progress("generating a private CA, node certificates and SCRAM users")
            _secure.write_tls(self.data_dir, specs)
            creds = _secure.new_credentials()
            _secure.write_credentials(self.data_dir, bootstrap, creds)
            scram = _secure.scram_args(creds)
        procs = []
        for n in specs:
            d = self.node_dir(n.node_id)
            (d / "logs").mkdir(parents=True, exist_ok=True)
            props = node_properties(n, specs, str(d / "data"))
            props.update(overrides)
            if secure:
                props.update(_secure.secure_properties(n, specs, self.data_dir))
            header = f"Written by kpoc for Apache Kafka {KAFKA_VERSION}: node {n.node_id}/{count}."
            (d / "server.properties").write_text(render_properties(props, header))
            (d / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
            args = ["-Xmx256m", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
                    "-t", cid, "-c", str(d / "server.properties"), *scram]
            if scram:
                # Passwords go through a 0600 @argfile, never the process's argv (ps, /proc).
                argfile = d / "format.args"
                _secure.write_private(argfile, _secure.java_argfile(args).encode())
                args = [f"@{argfile}"]
            procs.append((n, subprocess.Popen([java, *args], stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)))
        try:
            for n, p in procs:
                try:
                    out, _ = p.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    raise ClusterError(f"formatting node {n.node_id} took over 120s", "retry")
                if p.returncode != 0:
                    last = (out or "").strip().splitlines()[-1:] or ["(no output)"]
                    raise ClusterError(f"formatting node {n.node_id} failed: {last[0][:300]}")
        finally:
            for n in specs:
                (self.node_dir(n.node_id) / "format.args").unlink(missing_ok=True)
        st = ClusterState("kafka", bootstrap, tuple(specs), cid, KAFKA_VERSION, secure)
        st.write(self.data_dir)
        return st

    def admin_properties(self, st: ClusterState | None = None) -> dict[str, str]:
        """librdkafka properties for an admin connection (a secure cluster's: as ``admin``)."""
        st = st or self._require_state()
        if st.secure:
            return _secure.admin_client_properties(self.data_dir, st.bootstrap_servers)
        return {"bootstrap.servers": st.bootstrap_servers}

    def _check_ports(self, specs: list[NodeSpec], secure: bool = False) -> None:
        for n in specs:
            ports = [(n.client_port, "client"), (n.controller_port, "controller")]
            if secure:
                ports.append((_secure.internal_port(n), "inter-broker"))
            for port, what in ports:
                if port_in_use(port, n.host):
                    raise PrerequisiteError(
                        f"port {port} (node {n.node_id} {what} listener) is already in use",
                        "stop what listens there, or choose other ports with --port",
                    )

    def _spawn(self, n: NodeSpec, java: str, libs: Path) -> None:
        d = self.node_dir(n.node_id)
        heap = self.env.get("KPOC_BROKER_HEAP", "512m")
        cmd = [
            java, f"-Xmx{heap}", "-Xms128m", *_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={d / 'logs'}",
            "-cp", f"{libs}/*", "kafka.Kafka", str(d / "server.properties"),
        ]
        log = str(d / "logs" / "stdout.log")
        if self.owner is not None:
            # The watchdog forks away from us too, and stays the JVM's parent (see _watchdog).
            launcher = subprocess.run(
                [sys.executable, "-I", "-S", _WATCHDOG, str(self.owner), log, *cmd],
                stdin=subprocess.DEVNULL, capture_output=True, start_new_session=True,
                timeout=30,
            )
            if launcher.returncode != 0 or not launcher.stdout.strip():
                why = launcher.stderr.decode(errors="replace").strip().splitlines()[-1:]
                raise ClusterError(f"node {n.node_id} did not start: "
                                   f"{why[0] if why else 'the watchdog failed'}",
                                   "check KPOC_CLUSTER_OWNER_PID names a running process")
        else:
            # Double fork through sh so the JVM is re-parented away from us: no zombie when a
            # long-lived caller (a test session, the console) outlives a killed node.
            launcher = subprocess.run(
                ["sh", "-c", 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!', "sh",
                 log, *cmd],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                timeout=30,
            )
        (d / "pid").write_text(launcher.stdout.decode().strip() + "\n")

    def _wait_ready(self, st: ClusterState, started: list[int], deadline: float,
                    timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        specs = list(st.nodes)
        expected = {n.node_id for n in specs if self._pid(n.node_id) or n.node_id in started}
        conf: dict[str, Any] = {**self.admin_properties(st), "log_level": 0,
                                "logger": _null_logger()}
        admin = AdminClient(conf)
        self._warmups = []
        try:
            self._wait_loop(admin, st, started, expected, deadline, timeout)
        finally:
            # No request may be in flight when the admin client is destroyed (librdkafka
            # would call back into a handle that is gone).
            import concurrent.futures

            concurrent.futures.wait(self._warmups, timeout=5)
            self._warmups = []

    def _wait_loop(self, admin, st: ClusterState, started: list[int], expected: set[int],
                   deadline: float, timeout: float) -> None:
        while True:
            for nid in started:
                if self._pid(nid) is None:
                    lines = self.logs(nid, 200)
                    last = _first_error(lines)
                    raise ClusterError(
                        f"node {nid} exited during start-up: {last.strip()[:300]}",
                        f"see `kpoc cluster logs {nid}`",
                    )
            if self._ready(admin, expected, st):
                return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the cluster was not ready within {timeout:g}s",
                    "see `kpoc cluster status` and `kpoc cluster logs N`; raise the bound with "
                    "--timeout / KPOC_CLUSTER_TIMEOUT",
                )
            time.sleep(0.25)

    def _ready(self, admin, expected: set[int], st: ClusterState) -> bool:
        specs = {n.node_id: n for n in list(st.nodes)}
        if not all(port_open(specs[i].client_port, specs[i].host) for i in expected):
            return False
        try:
            md = admin.list_topics(timeout=2)
        except Exception:
            return False
        if not (expected <= set(md.brokers) and self.quorum_leader(st) is not None):
            return False
        return self._offsets_topic_ready(admin, md)

    def _offsets_topic_ready(self, admin, md) -> bool:
        """Group coordinators need __consumer_offsets, which Kafka creates on the first group
        request; creating it here keeps that delay out of the user's first `kpoc consume`."""
        topic = md.topics.get("__consumer_offsets")
        if topic is not None and topic.error is None and topic.partitions and all(
                p.leader >= 0 for p in topic.partitions.values()):
            return True
        if not any(not f.done() for f in self._warmups):
            # DescribeGroups' FindCoordinator creates the topic too. Not an OffsetFetch
            # (list_consumer_group_offsets): librdkafka dereferences a NULL consumer group when
            # an admin OffsetFetch meets NOT_COORDINATOR and crashes the process (seen here
            # during a slow secure start; confluent-kafka-javascript#374, librdkafka PR #5318).
            futs = admin.describe_consumer_groups(["kpoc-warm-up"], request_timeout=2)
            self._warmups.extend(futs.values())
        return False

    def start_node(self, node_id: int, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Start one stopped node and wait until it has rejoined; False if it was running."""
        st = self._require_state()
        n = self._node(st, node_id)
        if self._pid(node_id) is not None:
            return False
        java = find_java(self.env)
        libs = ensure_jars(self.env)
        self._check_ports([n], st.secure)
        self._spawn(n, java, libs)
        self._wait_ready(st, [node_id], time.monotonic() + timeout, timeout)
        return True

    def stop_node(self, node_id: int, timeout: float = 30.0) -> bool:
        """SIGTERM (controlled shutdown), SIGKILL after ``timeout``; False if it was not running."""
        return self._signal_nodes([node_id], signal.SIGTERM, timeout)[node_id]

    def kill_node(self, node_id: int) -> bool:
        """SIGKILL, for fault tests: no controlled shutdown, no flush."""
        return self._signal_nodes([node_id], signal.SIGKILL, 10.0)[node_id]

    def signal_node(self, node_id: int, sig: int) -> bool:
        """Send any signal (e.g. SIGSTOP/SIGCONT for slow-follower tests)."""
        st = self._require_state()
        self._node(st, node_id)
        pid = self._pid(node_id)
        if pid is None:
            return False
        os.kill(pid, sig)
        return True

    def down(self, timeout: float = 30.0) -> list[int]:
        """Stop every running node; return the ids that were running."""
        st = self._require_state()
        ids = st.node_ids
        done = self._signal_nodes(ids, signal.SIGTERM, timeout)
        return [i for i, was in done.items() if was]

    def _signal_nodes(self, ids: list[int], sig: int, timeout: float) -> dict[int, bool]:
        st = self._require_state()
        pids: dict[int, int] = {}
        for i in ids:
            self._node(st, i)
            pid = self._pid(i)
            if pid is not None:
                pids[i] = pid
                # A stopped JVM cannot handle SIGTERM; wake it first.
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while any(self._pid(i) for i in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        for i, pid in pids.items():
            if self._pid(i) is not None:
                os.kill(pid, signal.SIGKILL)
        hard = time.monotonic() + 10
        while any(self._pid(i) for i in pids) and time.monotonic() < hard:
            time.sleep(0.05)
        for i in pids:
            (self.node_dir(i) / "pid").unlink(missing_ok=True)
        return {i: i in pids for i in ids}

    def destroy(self) -> bool:
        """Stop everything and delete the data dir; False if there was nothing."""
        if not self.data_dir.exists():
            return False
        st = self.state()
        if st is not None and st.engine == "kafka":
            self.down(timeout=15)
        elif st is not None:
            stop_mock(self.data_dir)
        ours = (self.data_dir / "node-1").exists() or (self.data_dir / "mock.log").exists()
        if st is None and not ours and any(self.data_dir.iterdir()):
            raise UsageError(
                f"{self.data_dir} does not look like a kpoc cluster; refusing to delete it",
                "delete it by hand if you are sure",
            )
        shutil.rmtree(self.data_dir)
        return True


def _first_error(lines: list[str]) -> str:
    """The first ERROR record of a log tail with its exception line (the cause, not the echo)."""
    for i, ln in enumerate(lines):
        if " ERROR " in ln:
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            return f"{ln.strip()} {nxt.strip()}" if nxt and not nxt.startswith("[") else ln
    errors = [ln for ln in lines if "Exception" in ln]
    return (errors or lines or ["(empty log)"])[-1]


def _null_logger() -> logging.Logger:
    """A logger that drops librdkafka's start-up noise; its one handler is added once."""
    log = logging.getLogger("kpoc.cluster.librdkafka")
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    log.propagate = False
    return log
