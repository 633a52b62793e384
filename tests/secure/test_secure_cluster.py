"""Cluster side of secure mode: files, permissions, listeners, state."""

from __future__ import annotations

import json
import socket
import ssl
import stat

from kpoc.cluster import LocalCluster


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_on_disk_are_readable_by_the_owner_only(secure_cluster):
    d = secure_cluster.data_dir
    private = [d / "credentials.json", d / "client.properties", d / "demo.properties"]
    private += sorted(d.glob("node-*/tls/node.pem"))
    assert len(private) == 3 + len(secure_cluster.manager.status().nodes)
    for path in private:
        assert _mode(path) == 0o600, path
    # The CA certificate is public; the CA key is never written anywhere.
    assert "PRIVATE KEY" not in secure_cluster.ca.read_text()
    keys = [p for p in d.rglob("*") if p.is_file() and p.suffix in (".pem", ".key")
            and "PRIVATE KEY" in p.read_text(errors="replace")]
    assert sorted(keys) == sorted(d.glob("node-*/tls/node.pem"))
    assert not list(d.glob("node-*/format.args")), "the @argfile with passwords must be gone"


def test_every_node_is_secure_and_holds_no_password(secure_cluster):
    pws = [u["password"] for u in secure_cluster.credentials["users"]]
    for f in secure_cluster.data_dir.glob("node-*/server.properties"):
        text = f.read_text()
        props = dict(line.split("=", 1) for line in text.splitlines()
                     if "=" in line and not line.startswith("#"))
        assert "PLAINTEXT" not in props["listeners"]
        assert props["listener.security.protocol.map"] == \
            "SASL_SSL:SASL_SSL,CONTROLLER:SSL,INTERNAL:SSL"
        assert props["authorizer.class.name"].endswith("StandardAuthorizer")
        assert props["allow.everyone.if.no.acl.found"] == "false"
        assert props["ssl.client.auth"] == "required"  # nodes: mutual TLS
        assert "User:admin" in props["super.users"].split(";")
        assert not any(pw in text for pw in pws)


def test_state_records_secure_and_up_is_idempotent(secure_cluster):
    st = json.loads((secure_cluster.data_dir / "cluster.json").read_text())
    assert st["secure"] is True
    assert LocalCluster(secure_cluster.data_dir).status().secure
    bootstrap, already = LocalCluster(secure_cluster.data_dir).up(secure=True)
    assert already and bootstrap == secure_cluster.bootstrap_servers
    p = secure_cluster.run("cluster", "status", "-o", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["secure"] is True and doc["running"] == len(doc["nodes"])


def test_credentials_prints_the_users_and_their_config_files(secure_cluster):
    p = secure_cluster.run("cluster", "credentials", record=False)
    assert p.returncode == 0, p.stderr
    for u in secure_cluster.credentials["users"]:
        assert u["password"] in p.stdout
        assert f"-F {u['config_file']}" in p.stdout
    j = secure_cluster.run("cluster", "credentials", "-o", "json", record=False)
    assert json.loads(j.stdout) == secure_cluster.credentials
    props = (secure_cluster.data_dir / "client.properties").read_text()
    for line in ("security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
                 "sasl.username=admin", f"ssl.ca.location={secure_cluster.ca}"):
        assert line in props


def test_plain_cluster_data_dir_cannot_be_reused_as_secure(tmp_path):
    # `up --secure` on an existing plain cluster is refused before anything starts.
    d = tmp_path / "c"
    d.mkdir()
    (d / "cluster.json").write_text(json.dumps({"engine": "kafka", "nodes": [{
        "node_id": 1, "client_port": 1, "controller_port": 2}], "bootstrap_servers": "x"}))
    import pytest

    from kpoc.errors import UsageError
    with pytest.raises(UsageError, match="without --secure"):
        LocalCluster(d).up(nodes=1, secure=True)


def test_controller_listener_refuses_a_client_without_a_node_certificate(secure_cluster):
    node = secure_cluster.manager.status().nodes[0]
    ctx = ssl.create_default_context(cafile=str(secure_cluster.ca))
    with socket.create_connection(("127.0.0.1", node.controller_port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                # TLS 1.3: the server checks the (missing) client certificate after the
                # handshake; its alert arrives on the first read.
                s.sendall(b"\x00\x00\x00\x01\x00")
                data = s.recv(64)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            data = b""
    assert data == b""


def test_up_prints_the_client_config_to_use(secure_cluster):
    args, out, err = secure_cluster.outputs[0]
    assert args.startswith("cluster up --secure")
    assert f"KPOC_CONFIG_FILE={secure_cluster.admin_file}" in out.splitlines()
    assert "kpoc cluster credentials" in err
