"""Client side of secure mode: kpoc commands over SASL_SSL, and each refusal named in one line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kpoc.cluster._tls import generate

BOUND = 5.0


def _props_file(path: Path, props: dict[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    path.chmod(0o600)
    return path


def test_round_trip_over_sasl_ssl(secure_cluster, names):
    topic = names("rt")
    f = str(secure_cluster.admin_file)
    n = len(secure_cluster.manager.status().nodes)
    p = secure_cluster.run("topics", "create", topic, "-F", f, "--replication-factor",
                           str(min(3, n)))
    assert p.returncode == 0, p.stderr
    p = secure_cluster.run("produce", "-t", topic, "-F", f, "one", "two", "three")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("delivered") == 3
    p = secure_cluster.run("consume", topic, "-F", f, "--from", "beginning", "-n", "3",
                           "-o", "json", "--timeout", "60")
    assert p.returncode == 0, p.stderr
    assert sorted(json.loads(line)["value"] for line in p.stdout.splitlines()) == \
        ["one", "three", "two"]
    # Replicated to every node over the inter-broker TLS listener.
    d = secure_cluster.run("topics", "describe", topic, "-F", f, "-o", "json")
    parts = json.loads(d.stdout)["partitions"]
    assert all(len(part["isr"]) == min(3, n) for part in parts)


def test_password_from_the_environment(secure_cluster, tmp_path):
    props = secure_cluster.props("admin")
    pw = props.pop("sasl.password")
    f = _props_file(tmp_path / "nopw.properties", props)
    p = secure_cluster.run("topics", "list", "-F", str(f), env={"KPOC_SASL_PASSWORD": pw})
    assert p.returncode == 0, p.stderr


def test_password_on_the_command_line_is_refused(secure_cluster):
    p = secure_cluster.run("topics", "list", "-F", str(secure_cluster.admin_file),
                           "-X", "sasl.password=NotOnTheCommandLine42")
    assert p.returncode == 2
    assert "secret on the command line" in p.stderr
    assert "NotOnTheCommandLine42" not in p.stderr + p.stdout


def _untrusted_ca(tmp_path: Path) -> str:
    ca, _ = generate([1])
    path = tmp_path / "other-ca.pem"
    path.write_text(ca)
    return str(path)


CASES = {
    "wrong password": (lambda sc, tmp: {**sc.props("admin", "wrong-password")},
                       "authentication failed for user 'admin'"),
    "no credentials": (lambda sc, tmp: {k: v for k, v in sc.props().items()
                                        if not k.startswith("sasl.user")
                                        and k != "sasl.password"},
                       "no credentials"),
    "TLS without SASL": (lambda sc, tmp: {"security.protocol": "SSL",
                                          "ssl.ca.location": str(sc.ca)},
                         "probably requires SASL authentication"),
    "PLAINTEXT against TLS": (lambda sc, tmp: {}, "the listener probably requires TLS"),
    "untrusted certificate": (lambda sc, tmp: {**sc.props(),
                                               "ssl.ca.location": _untrusted_ca(tmp)},
                              "certificate is not trusted"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_a_clear_message_within_the_bound(secure_cluster, tmp_path, case):
    make, expected = CASES[case]
    props = {"bootstrap.servers": secure_cluster.bootstrap_servers, **make(secure_cluster,
                                                                           tmp_path)}
    f = _props_file(tmp_path / "client.properties", props)
    start = time.monotonic()
    p = secure_cluster.run("topics", "list", "-F", str(f), "--timeout", str(BOUND))
    elapsed = time.monotonic() - start
    assert p.returncode == 7, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kpoc: error: "), p.stderr
    assert expected in lines[0]
    # The bound, plus interpreter start-up on a busy machine.
    assert elapsed < BOUND + 5, elapsed


def test_wrong_password_stops_before_the_bound(secure_cluster, tmp_path):
    f = _props_file(tmp_path / "c.properties", secure_cluster.props("admin", "nope-nope"))
    start = time.monotonic()
    p = secure_cluster.run("topics", "list", "-F", str(f), "--timeout", "30")
    assert p.returncode == 7 and "authentication failed" in p.stderr
    assert time.monotonic() - start < 20  # librdkafka alone would retry for all 30 s


def test_demo_runs_over_sasl_ssl_on_the_local_secure_cluster(secure_cluster, names):
    if len(secure_cluster.manager.status().nodes) < 3:
        pytest.skip("the demo's topic has replication factor 3")
    # No -b/-F: the demo finds the local cluster (KPOC_DATA_DIR), sees it is secure and
    # connects with its admin client file.
    p = secure_cluster.run("demo", "-n", "5", "-t", names("demo"), "-g", names("g"),
                           timeout=240)
    assert p.returncode == 0, p.stderr
    assert "Secure cluster: SASL_SSL as admin" in p.stdout
    assert "5 delivered, 0 failed" in p.stdout and "final lag 0" in p.stdout
