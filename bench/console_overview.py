"""Benchmark: server time of the console's overview with many topics, and of its groups page
with many consumer groups.

Creates TOPICS topics (3 partitions, RF 3 by default) and GROUPS consumer groups (each with
committed offsets on one of those topics) on the cluster, then times the overview page
(``GET /``), its API (``GET /api/overview``), the groups page (``GET /groups``) and its API
(``GET /api/groups``) in process, so the figure is server time (handler + template), not
network. Prints one JSON line; the README quotes the medians.

    python bench/console_overview.py                       # local cluster from `kpoc cluster up`
    python bench/console_overview.py -b 127.0.0.1:9092 --topics 200 --groups 200 --runs 30
    python bench/console_overview.py --cleanup             # delete the bench topics afterwards
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from fastapi.testclient import TestClient

from kpoc.admin import Admin
from kpoc.cli.console import managed_cluster
from kpoc.config import load_config
from kpoc.console import create_app

PREFIX = "bench-console-"


def ensure_topics(admin: Admin, n: int, partitions: int, rf: int) -> None:
    have = set(admin.topic_names())
    for i in range(n):
        name = f"{PREFIX}{i:03d}"
        if name not in have:
            admin.create_topic(name, partitions, rf)


def ensure_groups(admin: Admin, n: int, topics: int) -> None:
    """Groups with committed offsets (state EMPTY), as left behind by stopped consumers."""
    have = {g.group_id for g in admin.list_groups()}
    for i in range(n):
        group = f"{PREFIX}g{i:03d}"
        if group in have:
            continue
        topic = f"{PREFIX}{i % max(topics, 1):03d}"
        req = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p, 0)
                                                    for p in range(admin.partition_count(topic))])]
        admin.client.alter_consumer_group_offsets(req)[group].result(timeout=30)


def timed(client: TestClient, path: str, runs: int) -> list[float]:
    client.get(path)  # warm: template compiled, connections open
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text[:300]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", "--bootstrap-servers")
    ap.add_argument("--topics", type=int, default=200)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--replication-factor", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--cleanup", action="store_true")
    a = ap.parse_args()
    config = load_config(bootstrap_servers=a.bootstrap_servers)
    with Admin(config) as admin:
        t0 = time.perf_counter()
        ensure_topics(admin, a.topics, a.partitions, a.replication_factor)
        ensure_groups(admin, a.groups, a.topics)
        setup_s = time.perf_counter() - t0
        # The sampler on, as `kpoc console` runs it: the groups page reads its last round.
        app = create_app(config, local_cluster=managed_cluster(config, None), sample_interval=5)
        with TestClient(app) as client:
            overview = client.get("/api/overview").json()
            page = timed(client, "/", a.runs)
            api = timed(client, "/api/overview", a.runs)
            # The page reads the lag sampler's rounds: time it once the first round is done.
            deadline = time.monotonic() + 600
            while any(g["sampled_at"] is None for g in client.get("/api/groups").json()):
                if time.monotonic() > deadline:
                    raise SystemExit("the lag sampler did not finish a round in 10 minutes")
                time.sleep(1)
            groups = len(client.get("/api/groups").json())
            groups_page = timed(client, "/groups", a.runs)
            groups_api = timed(client, "/api/groups", a.runs)
        if a.cleanup:
            for name in admin.topic_names():
                if name.startswith(PREFIX):
                    admin.delete_topic(name)
            gone = [g.group_id for g in admin.list_groups() if g.group_id.startswith(PREFIX)]
            if gone:
                for f in admin.client.delete_consumer_groups(gone).values():
                    f.result(timeout=30)

    def stats(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {"median_ms": round(statistics.median(xs), 1),
                "p95_ms": round(xs[int(0.95 * (len(xs) - 1))], 1), "max_ms": round(xs[-1], 1)}

    print(json.dumps({"topics": overview["topics"], "partitions": overview["partitions"],
                      "brokers": len(overview["brokers"]), "runs": a.runs,
                      "page": stats(page), "api": stats(api), "groups": groups,
                      "groups_page": stats(groups_page), "groups_api": stats(groups_api),
                      "setup_s": round(setup_s, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
