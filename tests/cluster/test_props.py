"""Pure functions of the cluster package: no broker needed."""

from kpoc.cluster import durability_settings, node_properties, node_specs
from kpoc.cluster._java import parse_java_major
from kpoc.cluster.local import new_cluster_id


def test_node_specs_ports():
    specs = node_specs(3, 9092)
    assert [(n.client_port, n.controller_port) for n in specs] == [
        (9092, 9192), (9093, 9193), (9094, 9194)]


def test_durability_scales_with_node_count():
    assert durability_settings(1)["default.replication.factor"] == "1"
    assert durability_settings(1)["min.insync.replicas"] == "1"
    assert durability_settings(3)["min.insync.replicas"] == "2"
    assert durability_settings(5)["default.replication.factor"] == "3"
    assert durability_settings(3)["auto.create.topics.enable"] == "false"


def test_static_quorum_lists_every_voter():
    specs = node_specs(3, 9092)
    props = node_properties(specs[1], specs, "/d")
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194")
    assert props["node.id"] == "2"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9093"


def test_parse_java_major():
    assert parse_java_major('openjdk version "17.0.15" 2025-04-15') == 17
    assert parse_java_major('java version "1.8.0_392"') == 8
    assert parse_java_major('openjdk version "25" 2025-09-16') == 25
    assert parse_java_major("garbage") is None


def test_cluster_id_shape():
    ids = {new_cluster_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
