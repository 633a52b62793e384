"""Secure mode of the local cluster: TLS everywhere, SASL/SCRAM for clients, ACLs enforced.

Layout per node (ports for node N, client port P):

- ``SASL_SSL://127.0.0.1:P+N-1`` — clients; TLS (server certificate only) + SCRAM-SHA-512.
- ``CONTROLLER`` (SSL) on ``P+100+N-1`` — KRaft quorum and broker→controller traffic,
  mutual TLS: each node proves itself with its certificate (principal ``User:CN=kpoc-node-N``).
- ``INTERNAL`` (SSL) on ``P+200+N-1`` — replication between brokers, mutual TLS as above.

The nodes' principals and ``admin`` are super users; everyone else needs ACLs
(``StandardAuthorizer``, ``allow.everyone.if.no.acl.found=false``). SCRAM users are written into
the bootstrap metadata at format time, so no broker ever holds a password: the only secrets on
disk are the node keys, the credentials file and the client properties files, all mode 0600.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClusterError, NotFound
from ._props import CONTROLLER_PORT_OFFSET, NodeSpec
from ._tls import generate, node_principal, write_private

MECHANISM = "SCRAM-SHA-512"
ADMIN_USER = "admin"
DEMO_USER = "demo"
#: The demo user may use topics and groups whose names start with this.
DEMO_PREFIX = "demo"
INTERNAL_PORT_OFFSET = 2 * CONTROLLER_PORT_OFFSET
CREDENTIALS_FILE = "credentials.json"
ADMIN_PROPERTIES = "client.properties"
DEMO_PROPERTIES = "demo.properties"
_SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


def internal_port(node: NodeSpec) -> int:
    return node.client_port + INTERNAL_PORT_OFFSET


def tls_dir(data_dir: Path) -> Path:
    return data_dir / "tls"


def ca_path(data_dir: Path) -> Path:
    return tls_dir(data_dir) / "ca.pem"


def node_keystore(data_dir: Path, node_id: int) -> Path:
    return data_dir / f"node-{node_id}" / "tls" / "node.pem"


def secure_properties(node: NodeSpec, nodes: Sequence[NodeSpec], data_dir: Path) -> dict[str, str]:
    """The settings that turn a node's ``server.properties`` secure (merged over the plain ones)."""
    h = node.host
    supers = ";".join([f"User:{ADMIN_USER}", *(node_principal(n.node_id) for n in nodes)])
    return {
        "listeners": (
            f"SASL_SSL://{h}:{node.client_port},CONTROLLER://{h}:{node.controller_port},"
            f"INTERNAL://{h}:{internal_port(node)}"
        ),
        "advertised.listeners": f"SASL_SSL://{h}:{node.client_port},"
                                f"INTERNAL://{h}:{internal_port(node)}",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL,INTERNAL:SSL",
        "inter.broker.listener.name": "INTERNAL",
        "controller.listener.names": "CONTROLLER",
        # Node-to-node: mutual TLS; clients: server TLS + SCRAM.
        "ssl.client.auth": "required",
        "listener.name.sasl_ssl.ssl.client.auth": "none",
        "sasl.enabled.mechanisms": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": _SCRAM_JAAS,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(node_keystore(data_dir, node.node_id)),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca_path(data_dir)),
        "ssl.endpoint.identification.algorithm": "https",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": supers,
    }


@dataclass(frozen=True)
class Credentials:
    """The SCRAM users of a secure local cluster (never printed unless asked)."""

    users: dict[str, str]
    mechanism: str = MECHANISM

    def __repr__(self) -> str:
        return f"Credentials(users={sorted(self.users)}, mechanism={self.mechanism!r})"


def new_credentials() -> Credentials:
    return Credentials({u: secrets.token_urlsafe(24) for u in (ADMIN_USER, DEMO_USER)})


def write_tls(data_dir: Path, nodes: Sequence[NodeSpec]) -> None:
    """A fresh CA and per-node key+certificate files (keys 0600; the CA key is not kept)."""
    ca, certs = generate([n.node_id for n in nodes], nodes[0].host)
    tls_dir(data_dir).mkdir(parents=True, exist_ok=True)
    ca_path(data_dir).write_text(ca)
    for c in certs:
        # Key, then the chain up to the CA: what Kafka's PEM key store expects.
        write_private(node_keystore(data_dir, c.node_id), (c.key_pem + c.cert_pem + ca).encode())


def scram_args(creds: Credentials) -> list[str]:
    """``kafka-storage format`` arguments adding every user (go in a 0600 @argfile, not argv)."""
    args = []
    for name, pw in creds.users.items():
        args += ["--add-scram", f"{creds.mechanism}=[name={name},password={pw}]"]
    return args


def java_argfile(args: Sequence[str]) -> str:
    """Arguments in the JVM launcher's @argfile syntax (each quoted, backslashes escaped)."""
    return "\n".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a in args) + "\n"


def client_properties(data_dir: Path, bootstrap: str, user: str, password: str) -> dict[str, str]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": str(ca_path(data_dir)),
    }


def properties_file(user: str) -> str:
    return ADMIN_PROPERTIES if user == ADMIN_USER else f"{user}.properties"


def write_credentials(data_dir: Path, bootstrap: str, creds: Credentials) -> None:
    """``credentials.json`` and one client properties file per user, all mode 0600."""
    doc = {
        "mechanism": creds.mechanism,
        "security_protocol": "SASL_SSL",
        "ca": str(ca_path(data_dir)),
        "bootstrap_servers": bootstrap,
        "users": [
            {"name": u, "password": pw, "super_user": u == ADMIN_USER,
             "config_file": str(data_dir / properties_file(u))}
            for u, pw in creds.users.items()
        ],
    }
    write_private(data_dir / CREDENTIALS_FILE, (json.dumps(doc, indent=2) + "\n").encode())
    for u, pw in creds.users.items():
        role = ("super user: may do anything" if u == ADMIN_USER
                else f"may use topics and groups named {DEMO_PREFIX}*")
        lines = [f"# Written by `kpoc cluster up --secure`: connect as {u!r} ({role}).",
                 "# Contains a password: keep it private (mode 0600). Use: kpoc … -F <this file>"]
        lines += [f"{k}={v}" for k, v in client_properties(data_dir, bootstrap, u, pw).items()]
        write_private(data_dir / properties_file(u), ("\n".join(lines) + "\n").encode())


def read_credentials(data_dir: Path) -> dict:
    """The credentials document of the secure cluster in ``data_dir``."""
    path = data_dir / CREDENTIALS_FILE
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise NotFound(
            f"no credentials in {data_dir}: the cluster there is not a secure one",
            "create one with `kpoc cluster up --secure` (after `kpoc cluster destroy`)",
        )
    except (OSError, ValueError) as exc:
        raise ClusterError(f"credentials file {path} is unreadable: {exc}")


def admin_client_properties(data_dir: Path, bootstrap: str) -> dict[str, str]:
    """librdkafka properties for the cluster manager's own admin connections."""
    doc = read_credentials(data_dir)
    pw = next(u["password"] for u in doc["users"] if u["name"] == ADMIN_USER)
    return client_properties(data_dir, bootstrap, ADMIN_USER, pw)


def demo_acls() -> list[tuple[str, str, str]]:
    """(resource type, prefix, operation) the demo user is granted on a new secure cluster."""
    topic_ops = ("read", "write", "describe", "create", "describe_configs")
    return [("topic", DEMO_PREFIX, op) for op in topic_ops] + [
        ("group", DEMO_PREFIX, op) for op in ("read", "describe")]


def grant_demo_acls(admin_props: dict[str, str], timeout: float) -> None:
    """Let the demo user use ``demo*`` topics and groups (prefixed ACLs), as admin."""
    from ..acls import AclSpec, add_acls
    from ..config import ClientConfig
    from ..errors import KpocError

    props = {k: v for k, v in admin_props.items() if k != "bootstrap.servers"}
    config = ClientConfig(admin_props["bootstrap.servers"], props, timeout=timeout)
    grants: dict[tuple[str, str], list[str]] = {}
    for rt, prefix, op in demo_acls():
        grants.setdefault((rt, prefix), []).append(op)
    try:
        for (rt, prefix), ops in grants.items():
            add_acls(config, AclSpec(rt, prefix, f"User:{DEMO_USER}", tuple(ops), "prefixed"))
    except KpocError as exc:
        raise ClusterError(f"could not grant the demo user its ACLs: {exc.message}",
                           "see `kpoc cluster logs 1`; `kpoc acls add` can grant them by hand"
                           ) from exc
