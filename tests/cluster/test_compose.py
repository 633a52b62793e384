"""docker-compose.yml: generated from kpoc cluster's settings, and committed as generated."""

from pathlib import Path

import yaml

from kpoc.cluster import compose, durability_settings, node_properties, node_specs

ROOT = Path(__file__).parents[2]
COMMITTED = ROOT / "docker-compose.yml"


def _loaded() -> dict:
    return yaml.safe_load(COMMITTED.read_text())


def _broker_props(service: dict) -> dict[str, str]:
    env = service["environment"]
    return {compose.prop_name(k): v for k, v in env.items() if k not in compose.IMAGE_ENV}


def test_committed_file_is_the_generators_output():
    assert COMMITTED.read_text() == compose.render(), (
        "docker-compose.yml is stale or hand-edited: run `make compose`")


def test_broker_settings_equal_kpoc_clusters():
    local = node_specs(3, 9092)
    doc = _loaded()
    for spec in local:
        mine = node_properties(spec, local, "/some/dir")
        theirs = _broker_props(doc["services"][f"kafka-{spec.node_id}"])
        assert set(theirs) == set(mine)
        differing = {k for k in mine if mine[k] != theirs[k]}
        assert differing <= compose.LOCATION_KEYS, differing
        assert theirs["node.id"] == str(spec.node_id)


def test_durability_is_rf3_isr2_no_unclean_no_autocreate():
    doc = _loaded()
    for i in (1, 2, 3):
        props = _broker_props(doc["services"][f"kafka-{i}"])
        assert props.items() >= durability_settings(3).items()
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["unclean.leader.election.enable"] == "false"
        assert props["auto.create.topics.enable"] == "false"


def test_env_names_round_trip():
    for prop in ("a.b_c.d-e", "min.insync.replicas", "x"):
        assert compose.prop_name(compose.env_name(prop)) == prop
    assert compose.env_name("log.dirs") == "KAFKA_LOG_DIRS"


def test_topology():
    services = _loaded()["services"]
    brokers = [services[f"kafka-{i}"] for i in (1, 2, 3)]
    assert {b["image"] for b in brokers} == {"${KAFKA_IMAGE:-apache/kafka:4.3.1}"}
    assert [b["ports"] for b in brokers] == [
        [f"127.0.0.1:${{KAFKA_{i}_HOST_PORT:-{9091 + i}}}:{9091 + i}"] for i in (1, 2, 3)]
    assert len({b["volumes"][0].split(":")[0] for b in brokers}) == 3
    assert all(b["healthcheck"]["test"] for b in brokers)
    advertised = brokers[0]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "HOST://127.0.0.1:${KAFKA_1_HOST_PORT:-9092}" in advertised
    assert "PLAINTEXT://kafka-1:19092" in advertised
    init = services["init"]
    assert init["image"] == brokers[0]["image"]
    assert set(init["depends_on"]) == {"kafka-1", "kafka-2", "kafka-3"}
    assert {d["condition"] for d in init["depends_on"].values()} == {"service_healthy"}
    cmd = init["command"]
    assert cmd[cmd.index("--topic") + 1] == "teste"
    assert cmd[cmd.index("--partitions") + 1] == "3"
    assert cmd[cmd.index("--replication-factor") + 1] == "3"
    assert services["consumer"]["deploy"]["replicas"] == 4
    assert services["consumer"]["command"] == ["consume", "--group", "demo", "teste"]
    assert services["console"]["command"][0] == "console"
    assert services["console"]["healthcheck"]["test"]
    assert services["console"]["ports"] == ["127.0.0.1:${CONSOLE_HOST_PORT:-8080}:8080"]
    # one-shot producer first, then the rest: `docker compose up --wait` waits for it to succeed
    # instead of failing on its exit
    assert services["producer"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully")
    assert services["producer"]["restart"] == "no"
    for name in ("console", "consumer"):
        dep = services[name]["depends_on"]["producer"]["condition"]
        assert dep == "service_completed_successfully"
    for name in ("console", "consumer", "producer"):
        assert services[name]["image"] == "${KPOC_IMAGE:-kpoc:local}"
        assert services[name]["environment"]["KPOC_BOOTSTRAP_SERVERS"] == (
            "kafka-1:19092,kafka-2:19092,kafka-3:19092")
    # no setup needed: compose passes an empty token when none is exported, and the console
    # then generates one (tests/console/test_security.py)
    assert services["console"]["environment"]["KPOC_CONSOLE_TOKEN"] == "${KPOC_CONSOLE_TOKEN:-}"


def test_python_image_default_is_the_dockerfiles():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim\n" in dockerfile
    assert dockerfile.count("FROM ${PYTHON_IMAGE}") == 2 and "FROM python" not in dockerfile
    for name in ("console", "consumer", "producer"):
        args = _loaded()["services"][name]["build"]["args"]
        assert args == {"PYTHON_IMAGE": "${PYTHON_IMAGE:-python:3.11-slim}"}


def test_kpoc_services_run_commands_the_cli_accepts():
    """Each kpoc service's command parses with today's CLI (options renamed = test fails)."""
    import shlex

    import click

    from kpoc.cli import cli

    services = _loaded()["services"]
    producer = services["producer"]
    assert producer["entrypoint"] == ["sh"] and producer["command"][0] == "-c"
    # the producer is a shell pipeline whose last stage is kpoc
    *_, produce = producer["command"][1].split("|")
    commands = {"producer": shlex.split(produce)[1:]}
    commands.update({name: services[name]["command"] for name in ("console", "consumer")})
    for name, args in commands.items():
        cmd = cli.commands.get(args[0])
        assert cmd is not None, f"{name}: kpoc has no `{args[0]}` command"
        with click.Context(cli) as parent:
            cmd.make_context(args[0], list(args[1:]), parent=parent)
    assert commands["producer"][:3] == ["produce", "--topic", "teste"]
