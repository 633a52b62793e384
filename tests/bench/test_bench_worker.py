"""The kpoc side of the benchmark against the real cluster, with small counts."""

from pathlib import Path

from kpoc.bench import _tools, _worker
from kpoc.bench.harness import PRODUCER_PROPS, payload_file
from kpoc.config import ClientConfig


def test_produce_then_consume_every_payload(cluster, make_topic, tmp_path: Path):
    topic = make_topic()
    payload = payload_file(tmp_path, 100, 3000)
    config = ClientConfig(cluster.bootstrap_servers, PRODUCER_PROPS, 30)
    sent = _worker.produce(config, topic, str(payload))
    assert sent["messages"] == 3000 and sent["bytes"] == 300_000 and sent["seconds"] > 0
    got = _worker.consume(ClientConfig(cluster.bootstrap_servers, {}, 30), topic, 3000)
    assert got["messages"] == 3000 and got["bytes"] == 300_000


def test_worker_subprocess_reports_json_and_peak_rss(cluster, make_topic, tmp_path: Path):
    topic = make_topic()
    payload = payload_file(tmp_path, 1024, 500)
    p = _tools.kpoc_job({"job": "produce", "bootstrap": cluster.bootstrap_servers,
                         "topic": topic, "payload_file": str(payload)}, 120)
    res = _tools.kpoc_result(p)
    assert p.returncode == 0, p.stderr
    assert res is not None and res["messages"] == 500
    assert 10 < p.max_rss_mb < 1000
