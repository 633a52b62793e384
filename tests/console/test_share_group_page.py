"""The console's group page for a share group: its type, and partitions drawn as shared."""

from __future__ import annotations

import threading

from kpoc.admin import Admin
from kpoc.config import ClientConfig
from kpoc.share import ShareReader

from .conftest import produce


def test_share_group_page_shows_type_and_shared_partitions(client, cluster, make_topic,
                                                           unique_name):
    topic, group = make_topic(1), unique_name("sg")
    config = ClientConfig(cluster.bootstrap_servers, timeout=20)
    readers = [ShareReader(ClientConfig(config.bootstrap_servers, {"client.id": f"m{i}"},
                                        config.timeout), [topic], group) for i in (1, 2)]

    def member(r: ShareReader) -> None:
        with r:  # opened, polled and closed in this thread
            for _ in r.deliveries():
                pass

    threads = [threading.Thread(target=member, args=(r,), daemon=True) for r in readers]
    for t in threads:
        t.start()
    try:
        with Admin(config) as admin:
            admin.wait_members(group, 2, "SHARE")
        produce(cluster.bootstrap_servers, topic, ["a", "b"])
        api = client.get(f"/api/groups/{group}").json()
        assert api["type"] == "SHARE" and api["group_epoch"] >= 1
        [cell] = api["assignment_map"]["topics"][0]["partitions"]
        assert sorted(cell["shared_by"]) == ["m1", "m2"]  # one partition, two readers
        page = client.get(f"/groups/{group}").text
        assert 'id="group-type">share<' in page and "shared by m1, m2" in page
        assert "start offset" in page and 'id="reset"' not in page
    finally:
        for r in readers:
            r.stop()
        for t in threads:
            t.join(30)
