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
    assert {b["image"] for b in brokers} == {"apache/kafka:4.3.1"}
    assert [b["ports"] for b in brokers] == [
        ["127.0.0.1:9092:9092"], ["127.0.0.1:9093:9093"], ["127.0.0.1:9094:9094"]]
    assert len({b["volumes"][0].split(":")[0] for b in brokers}) == 3
    assert all(b["healthcheck"]["test"] for b in brokers)
    advertised = brokers[0]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "HOST://127.0.0.1:9092" in advertised and "PLAINTEXT://kafka-1:19092" in advertised
    init = services["init"]
    assert set(init["depends_on"]) == {"kafka-1", "kafka-2", "kafka-3"}
    assert {d["condition"] for d in init["depends_on"].values()} == {"service_healthy"}
    cmd = init["command"]
    assert cmd[cmd.index("--topic") + 1] == "teste"
    assert cmd[cmd.index("--partitions") + 1] == "3"
    assert cmd[cmd.index("--replication-factor") + 1] == "3"
    assert services["consumer"]["deploy"]["replicas"] == 4
    assert services["consumer"]["command"] == ["consume", "--group", "demo", "teste"]
    producer = services["producer"]["command"]
    assert producer[0] == "produce" and producer[producer.index("--topic") + 1] == "teste"
    assert int(producer[producer.index("--count") + 1]) > 0
    assert services["console"]["command"][0] == "console"
    assert services["console"]["healthcheck"]["test"]
    for name in ("console", "consumer", "producer"):
        dep = services[name]["depends_on"]["init"]["condition"]
        assert dep == "service_completed_successfully"
        assert services[name]["environment"]["KPOC_BOOTSTRAP_SERVERS"] == (
            "kafka-1:19092,kafka-2:19092,kafka-3:19092")


def test_kpoc_services_run_commands_the_cli_accepts():
    """Each kpoc service's command parses with today's CLI (options renamed = test fails)."""
    import click

    from kpoc.cli import cli

    services = _loaded()["services"]
    checked = []
    for name in ("console", "consumer", "producer"):
        args = services[name]["command"]
        cmd = cli.commands.get(args[0])
        if cmd is None:  # the console lands separately; the other two must exist
            assert name == "console", f"kpoc has no `{args[0]}` command"
            continue
        with click.Context(cli) as parent:
            cmd.make_context(args[0], list(args[1:]), parent=parent)
        checked.append(name)
    assert {"consumer", "producer"} <= set(checked)
