"""ACLs on a secure cluster: a user allowed on topic A only, and `kpoc acls`."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    NewTopic,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)


@dataclass
class User:
    name: str
    password: str
    config_file: Path
    topic_a: str
    topic_b: str
    group: str

    @property
    def env(self) -> dict[str, str]:
        return {"KPOC_CONFIG_FILE": str(self.config_file), "KPOC_SASL_PASSWORD": self.password}


@pytest.fixture(scope="module")
def alice(secure_cluster, tmp_path_factory) -> Iterator[User]:
    """A new SCRAM user with ACLs (added with `kpoc acls add`) on topic A and one group only."""
    sc = secure_cluster
    name, pw = f"alice-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
    sc.extra_secrets.append(pw)
    admin = AdminClient(sc.props())
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
    for fut in admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(name, info, pw.encode())]).values():
        fut.result(timeout=30)
    a, b, group = f"{name}-a", f"{name}-b", f"{name}-g"
    for fut in admin.create_topics([NewTopic(a, 1, -1), NewTopic(b, 1, -1)]).values():
        fut.result(timeout=30)
    # The new credential reaches every broker through the metadata log: wait for it.
    deadline = time.monotonic() + 30
    while True:
        try:
            AdminClient({**sc.props(name, pw), "error_cb": lambda e: None}).list_topics(
                timeout=3)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
    f = tmp_path_factory.mktemp("alice") / "alice.properties"
    props = {k: v for k, v in sc.props(name, pw).items() if k != "sasl.password"}
    f.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    f.chmod(0o600)
    adm = ["-F", str(sc.admin_file)]
    for args in (["--operation", "read", "--operation", "write", "--topic", a],
                 ["--operation", "read", "--group", group]):
        p = sc.run("acls", "add", "--principal", f"User:{name}", *args, *adm)
        assert p.returncode == 0, p.stderr
    yield User(name, pw, f, a, b, group)


def test_allowed_topic_and_group_work(secure_cluster, alice):
    sc = secure_cluster
    p = sc.run("produce", "-t", alice.topic_a, "hello-a", env=alice.env)
    assert p.returncode == 0, p.stderr
    p = sc.run("consume", alice.topic_a, "-g", alice.group, "--from", "beginning", "-n", "1",
               "-o", "json", "--timeout", "60", env=alice.env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[0])["value"] == "hello-a"


def test_other_topic_is_refused_naming_the_missing_acl(secure_cluster, alice):
    sc = secure_cluster
    p = sc.run("produce", "-t", alice.topic_b, "nope", "--timeout", "10", env=alice.env)
    assert p.returncode == 7, p.stderr
    assert f"User:{alice.name} may not WRITE topic '{alice.topic_b}'" in p.stderr
    assert f"kpoc acls add --principal User:{alice.name} --operation write --topic " \
           f"{alice.topic_b}" in p.stderr
    p = sc.run("consume", alice.topic_b, "-g", alice.group, "-n", "1", "--timeout", "10",
               env=alice.env)
    assert p.returncode == 7, p.stderr
    assert f"may not READ topic '{alice.topic_b}'" in p.stderr
    assert "TOPIC_AUTHORIZATION_FAILED" in p.stderr


def test_group_without_acl_cannot_be_joined(secure_cluster, alice):
    other = f"{alice.group}-other"
    p = secure_cluster.run("consume", alice.topic_a, "-g", other, "-n", "1", "--timeout", "20",
                           env=alice.env)
    assert p.returncode == 7, p.stderr
    assert f"User:{alice.name} may not READ group '{other}'" in p.stderr
    assert "GROUP_AUTHORIZATION_FAILED" in p.stderr


def test_acls_list_add_remove(secure_cluster, alice, names):
    sc = secure_cluster
    adm = ["-F", str(sc.admin_file)]
    p = sc.run("acls", "list", "--principal", alice.name, "-o", "json", *adm)
    assert p.returncode == 0, p.stderr
    got = {(d["resource_type"], d["resource_name"], d["operation"])
           for d in map(json.loads, p.stdout.splitlines())}
    assert got == {("topic", alice.topic_a, "read"), ("topic", alice.topic_a, "write"),
                   ("group", alice.group, "read")}
    prefix = names("pfx")
    p = sc.run("acls", "add", "-P", alice.name, "--operation", "describe", "--topic", prefix,
               "--prefixed", *adm)
    assert p.returncode == 0, p.stderr
    # With a name, list shows every ACL that applies to it, prefixed ones included.
    p = sc.run("acls", "list", "--topic", f"{prefix}-x", "-o", "json", *adm)
    assert [(d["resource_name"], d["pattern"]) for d in map(json.loads, p.stdout.splitlines())
            if d["principal"] == f"User:{alice.name}"] == [(prefix, "prefixed")]
    p = sc.run("acls", "remove", "--topic", prefix, "--prefixed", "-o", "json", *adm)
    assert p.returncode == 0, p.stderr
    assert [json.loads(x)["operation"] for x in p.stdout.splitlines()] == ["describe"]
    p = sc.run("acls", "list", "--topic", prefix, "--prefixed", "-o", "json", *adm)
    assert p.stdout.strip() == ""


def test_only_an_admin_manages_acls(secure_cluster, alice):
    p = secure_cluster.run("acls", "list", env=alice.env)
    assert p.returncode == 7
    assert "listing ACLs needs DESCRIBE on the cluster" in p.stderr
    p = secure_cluster.run("acls", "add", "-P", alice.name, "--operation", "all", "--topic",
                           alice.topic_b, env=alice.env)
    assert p.returncode == 7
    assert "managing ACLs needs" in p.stderr
