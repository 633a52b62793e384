"""``kpoc cluster``: a real local Apache Kafka cluster, managed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..cluster import (
    ADMIN_PROPERTIES,
    DEFAULT_NODES,
    DEFAULT_PORT,
    DEMO_PREFIX,
    KAFKA_VERSION,
    SECURE_MECHANISM,
    LocalCluster,
    engine_at,
    ensure_jars,
    read_credentials,
)
from ..config import default_data_dir
from ._common import emit_json, err, old_flag, out, output_option

_data_dir = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="KPOC_DATA_DIR",
    help="Where nodes keep config, data and logs [env KPOC_DATA_DIR; "
         "default ~/.local/share/kpoc/cluster].",
)
_node = click.argument("node", type=int)


def _cluster(data_dir: Path | None) -> LocalCluster:
    return LocalCluster(data_dir or default_data_dir())


@click.group(help=f"""Run a real Apache Kafka {KAFKA_VERSION} cluster (KRaft, no ZooKeeper) on
    127.0.0.1.

    The jars come from Maven Central on first use and are cached; each node is a local JVM
    process acting as broker and controller.

    \b
    Example:
      kpoc cluster up            # 3 nodes on ports 9092-9094
      kpoc cluster status
      kpoc cluster kill 2        # SIGKILL node 2, for fault tests
      kpoc cluster start 2
      kpoc cluster down          # data kept; `destroy` deletes it
    """)
def cluster() -> None:
    pass


@cluster.command()
@click.option("--nodes", type=int,
              help=f"Number of broker+controller nodes [default: {DEFAULT_NODES} at creation; "
                   "an existing cluster keeps its size, and a different number is an error].")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, envvar="KPOC_PORT",
              help="Client port of node 1; node N uses PORT+N-1, controllers PORT+100+N-1 "
                   "[env KPOC_PORT].")
@click.option("--timeout", default=90.0, show_default=True, type=float,
              envvar="KPOC_CLUSTER_TIMEOUT",
              help="Seconds to wait for every broker to be ready [env KPOC_CLUSTER_TIMEOUT].")
@click.option("--engine", type=click.Choice(["kafka", "mock"]), default="kafka",
              show_default=True,
              help="kafka: real Apache Kafka. mock: librdkafka's in-memory test double, "
                   "for machines without Java.")
@click.option("--secure", is_flag=True, envvar="KPOC_SECURE",
              help="At creation: TLS everywhere, SASL/SCRAM-SHA-512 users, ACLs enforced; "
                   "writes a client properties file for -F [env KPOC_SECURE].")
@_data_dir
def up(nodes: int | None, port: int, timeout: float, engine: str, secure: bool,
       data_dir: Path | None) -> None:
    """Create (first time) and start the cluster; wait until it is ready.

    Prints BOOTSTRAP_SERVERS=… on stdout, so `eval "$(kpoc cluster up)"` exports it; a secure
    cluster also prints KPOC_CONFIG_FILE=… (its admin client properties, for -F).
    Running `up` on a running cluster says so and changes nothing.

    \b
    Example:
      kpoc cluster up
      kpoc cluster up --nodes 1 --port 19092 --data-dir /tmp/k1
      kpoc cluster up --secure && kpoc cluster credentials
    """
    c = engine_at(data_dir or default_data_dir(), engine)
    bootstrap, already = c.up(nodes=nodes, port=port, timeout=timeout, secure=secure,
                              progress=lambda m: err.print(f"[dim]{m}[/]"))
    if c.label:
        err.print(f"[yellow]engine: {c.label}[/]")
    if already:
        err.print(f"cluster in {c.data_dir} is already running")
    out.print(f"BOOTSTRAP_SERVERS={bootstrap}", markup=False)
    st = c.state()
    if st is not None and st.secure:
        cfg = c.data_dir / ADMIN_PROPERTIES
        err.print(f"secure: SASL_SSL + {SECURE_MECHANISM}, ACLs enforced; connect with -F {cfg} "
                  "(admin) — passwords: `kpoc cluster credentials`", markup=False)
        out.print(f"KPOC_CONFIG_FILE={cfg}", markup=False)


@cluster.command()
@_data_dir
@output_option
def credentials(data_dir: Path | None, output: str) -> None:
    """Print a secure cluster's users, passwords and ready client config files.

    The passwords are random, made by `kpoc cluster up --secure`, and kept (mode 0600) in
    <data-dir>/credentials.json; this is the only command that prints them. Each user has a
    properties file for -F (admin: client.properties; demo, limited to demo* topics and
    groups by ACLs: demo.properties).

    \b
    Example:
      kpoc cluster credentials
      kpoc topics list -F "$(kpoc cluster credentials -o json | jq -r '.users[0].config_file')"
      export KPOC_CONFIG_FILE=~/.local/share/kpoc/cluster/client.properties
    """
    c = _cluster(data_dir)
    doc = read_credentials(c.data_dir)
    if output == "json":
        emit_json(doc)
        return
    # Plain lines, never a table: a password must not be wrapped or truncated.
    for u in doc["users"]:
        role = "super user" if u["super_user"] else f"ACLs on {DEMO_PREFIX}* topics and groups"
        out.print(f"{u['name']}\t{u['password']}\t{role}\t-F {u['config_file']}", markup=False)
    out.print(f"{doc['security_protocol']} + {doc['mechanism']} at {doc['bootstrap_servers']}; "
              f"CA certificate: {doc['ca']}", markup=False)
    out.print(f"e.g. kpoc topics list -F {doc['users'][0]['config_file']}   "
              "(or export KPOC_CONFIG_FILE=…; a password in KPOC_SASL_PASSWORD overrides the "
              "file's)", markup=False)


@cluster.command()
def fetch() -> None:
    """Download Apache Kafka's jars from Maven Central into the cache (once).

    `up` does this by itself; run it ahead to do the download at a time of your choosing.
    The folder is ~/.cache/kpoc/kafka-<version>/libs, or KPOC_KAFKA_LIBS.

    \b
    Example:
      kpoc cluster fetch
    """
    out.print(str(ensure_jars()), markup=False)


@cluster.command()
@_data_dir
@output_option
@old_flag("--json", "output", "-o json (--json checks values in `kpoc produce`)", value="json",
          is_flag=True)
def status(data_dir: Path | None, output: str) -> None:
    """Show each node: id, pid, ports, up/down, and which one leads the KRaft quorum.

    \b
    Example:
      kpoc cluster status
      kpoc cluster status -o json | jq '.nodes[] | select(.up | not)'
    """
    s = engine_at(data_dir or default_data_dir()).status()
    if output == "json":
        emit_json(s.to_dict())
        return
    what = s.label or f"Apache Kafka {s.kafka_version}"
    out.print(f"cluster {s.cluster_id}  {what}  {s.running}/{len(s.nodes)} up  "
              f"data: {s.data_dir}", markup=False)
    if s.secure:
        out.print(f"secure: SASL_SSL + {SECURE_MECHANISM}, TLS between nodes, ACLs enforced; "
                  f"client config: {Path(s.data_dir) / ADMIN_PROPERTIES}", markup=False)
    t = Table("node", "pid", "client", "controller", "state", "quorum")
    for n in s.nodes:
        t.add_row(str(n.node_id), str(n.pid or "-"), str(n.client_port), str(n.controller_port),
                  "[green]up[/]" if n.up else "[red]down[/]", "leader" if n.quorum_leader else "")
    out.print(t)
    out.print(f"BOOTSTRAP_SERVERS={s.bootstrap_servers}", markup=False)


@cluster.command()
@_data_dir
def down(data_dir: Path | None) -> None:
    """Stop every node cleanly (SIGTERM, SIGKILL after 30 s). Data is kept.

    \b
    Example:
      kpoc cluster down && kpoc cluster up    # same cluster, same data
    """
    ids = engine_at(data_dir or default_data_dir()).down()
    err.print(f"stopped node(s) {', '.join(map(str, ids))}" if ids else "no node was running")


@cluster.command()
@_data_dir
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy(data_dir: Path | None, yes: bool) -> None:
    """Stop the cluster and delete its data directory.

    \b
    Example:
      kpoc cluster destroy --yes
    """
    c = engine_at(data_dir or default_data_dir())
    if not yes and not click.confirm(f"Delete {c.data_dir} and every message in it?",
                                     err=True):
        raise click.Abort()
    err.print(f"deleted {c.data_dir}" if c.destroy() else f"nothing at {c.data_dir}")


@cluster.command()
@_node
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines.")
@_data_dir
def logs(node: int, lines: int, data_dir: Path | None) -> None:
    """Print the last lines of a node's server log.

    \b
    Example:
      kpoc cluster logs 1 -n 200
    """
    for line in _cluster(data_dir).logs(node, lines):
        click.echo(line)


@cluster.command()
@_node
@_data_dir
def stop(node: int, data_dir: Path | None) -> None:
    """Stop one node cleanly (controlled shutdown).

    \b
    Example:
      kpoc cluster stop 3
    """
    was = _cluster(data_dir).stop_node(node)
    err.print(f"node {node} stopped" if was else f"node {node} was not running")


@cluster.command()
@_node
@_data_dir
def kill(node: int, data_dir: Path | None) -> None:
    """SIGKILL one node, as a crash would: no controlled shutdown.

    \b
    Example:
      kpoc cluster kill 1 && kpoc cluster status
    """
    was = _cluster(data_dir).kill_node(node)
    err.print(f"node {node} killed" if was else f"node {node} was not running")


@cluster.command()
@_node
@click.option("--timeout", default=90.0, show_default=True, type=float,
              envvar="KPOC_CLUSTER_TIMEOUT", help="Seconds to wait for the node to rejoin.")
@_data_dir
def start(node: int, timeout: float, data_dir: Path | None) -> None:
    """Start one stopped node and wait until it has rejoined.

    \b
    Example:
      kpoc cluster start 1
    """
    started = _cluster(data_dir).start_node(node, timeout)
    err.print(f"node {node} started" if started else f"node {node} is already running")
