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


def test_python_api_jobs_send_and_read_every_payload(cluster, make_topic, tmp_path: Path):
    """Each API row's job, raw and kpoc, against the real cluster: what it sent is what the
    topic holds, and both readers read all of it."""
    from kpoc import Admin
    from kpoc.bench import _api_jobs

    payload = str(payload_file(tmp_path, 100, 2000))
    topics = {job: make_topic() for job in ("raw-produce", "api-produce", "aio-produce")}
    for job, topic in topics.items():
        res = _api_jobs.run({"job": job, "bootstrap": cluster.bootstrap_servers, "topic": topic,
                             "payload_file": payload, "count": 2000,
                             "properties": PRODUCER_PROPS})
        assert res["messages"] == 2000 and res["seconds"] > 0, job
    with Admin(cluster.bootstrap_servers, timeout=30) as admin:
        assert {job: admin.describe_topic(t).messages for job, t in topics.items()} == {
            job: 2000 for job in topics}
    for job in ("raw-consume", "api-consume"):
        res = _api_jobs.run({"job": job, "bootstrap": cluster.bootstrap_servers,
                             "topic": topics["api-produce"], "count": 2000})
        assert res["messages"] == 2000 and res["bytes"] == 200_000, job
